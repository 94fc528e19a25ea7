//! Queries on `identity_data` (docs/identity-data.md): sealed rows only; opening them is
//! the domain's (`domain::identity`), with the key from the settings.

use diesel::prelude::*;

use crate::db::schema::{identity_data, site_visits};
use crate::db::DbConnection;

/// Deletes a person's identity data for every visit (erasure); how many rows went.
pub fn forget_registration(conn: &mut DbConnection, registration_id: &str) -> QueryResult<usize> {
    diesel::delete(identity_data::table.filter(identity_data::registration_id.eq(registration_id)))
        .execute(conn)
}

/// How many visits require identity data (start-up warns when no key can seal it).
pub fn visits_requiring_identity(conn: &mut DbConnection) -> QueryResult<i64> {
    site_visits::table
        .filter(site_visits::identity.ne("[]"))
        .count()
        .get_result(conn)
}
