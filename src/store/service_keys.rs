//! Queries on `service_keys`.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::service_keys;
use crate::db::DbConnection;

pub fn find(conn: &mut DbConnection, name: &str) -> QueryResult<Option<String>> {
    service_keys::table
        .find(name)
        .select(service_keys::secret)
        .first(conn)
        .optional()
}

pub fn insert(conn: &mut DbConnection, name: &str, secret: &str, now: NaiveDateTime) -> QueryResult<()> {
    diesel::insert_into(service_keys::table)
        .values((
            service_keys::name.eq(name),
            service_keys::secret.eq(secret),
            service_keys::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}
