//! The two migration sets must build the same schema: same tables, same columns, same
//! nullability and compatible types.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{Integer, Text};
use diesel_migrations::MigrationHarness;
use rallypoint::db::{POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

use crate::helpers::{postgres, Backend, TestDb};

#[derive(QueryableByName, Debug)]
struct Column {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Integer)]
    nullable: i32,
}

type Schema = BTreeMap<(String, String), (String, bool)>;

/// Both backends' type names reduced to the shared vocabulary.
fn normalise(data_type: &str) -> String {
    let lower = data_type.to_lowercase();
    match lower.as_str() {
        "text" | "character varying" => "text",
        "integer" | "int4" => "integer",
        "boolean" | "bool" => "boolean",
        "timestamp" | "timestamp without time zone" => "timestamp",
        "date" => "date",
        "bigint" | "int8" => "bigint",
        "blob" | "bytea" => "binary",
        other => other,
    }
    .to_owned()
}

/// Tables one backend has for its own machinery, outside the shared schema: PostgreSQL
/// notes counter changes until commit (migration `2024-11-07-000000_counts`).
const BACKEND_ONLY: [&str; 3] = [
    "__diesel_schema_migrations",
    "registration_count_changes",
    "registration_counts_pending",
];

fn collect(columns: Vec<Column>) -> Schema {
    columns
        .into_iter()
        .filter(|c| !BACKEND_ONLY.contains(&c.table_name.as_str()))
        .map(|c| {
            (
                (c.table_name, c.column_name),
                (normalise(&c.data_type), c.nullable != 0),
            )
        })
        .collect()
}

#[test]
fn both_migration_sets_create_the_same_tables_and_columns() {
    let Some(backend) = postgres() else { return };
    let sqlite_db = TestDb::new(Backend::Sqlite);
    let mut sqlite = diesel::SqliteConnection::establish(&sqlite_db.url).unwrap();
    sqlite.run_pending_migrations(SQLITE_MIGRATIONS).unwrap();
    let sqlite_schema = collect(
        diesel::sql_query(
            // A lone `INTEGER PRIMARY KEY` is the table's rowid, a 64-bit integer: the
            // `bigint` of PostgreSQL (`webhook_deliveries.seq`).
            "SELECT m.name AS table_name, p.name AS column_name, \
             CASE WHEN p.pk = 1 AND upper(p.type) = 'INTEGER' \
                 AND (SELECT count(*) FROM pragma_table_info(m.name) k WHERE k.pk > 0) = 1 \
                 THEN 'bigint' ELSE p.type END AS data_type, \
             CASE WHEN p.\"notnull\" = 1 OR p.pk > 0 THEN 0 ELSE 1 END AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .load(&mut sqlite)
        .unwrap(),
    );

    let pg_db = TestDb::new(backend);
    let mut pg = diesel::PgConnection::establish(&pg_db.url).unwrap();
    pg.run_pending_migrations(POSTGRES_MIGRATIONS).unwrap();
    let pg_schema = collect(
        diesel::sql_query(
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
             data_type::text AS data_type, CASE WHEN is_nullable = 'YES' THEN 1 ELSE 0 END AS nullable \
             FROM information_schema.columns WHERE table_schema = 'public' \
             AND table_name IN (SELECT table_name FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'BASE TABLE')",
        )
        .load(&mut pg)
        .unwrap(),
    );
    assert!(sqlite_schema.len() > 30, "{sqlite_schema:?}");
    assert_eq!(sqlite_schema, pg_schema);
    // The one definition of the waitlists is a view on both (with its upgrading branch).
    let sqlite_views = collect(
        diesel::sql_query(
            "SELECT m.name AS table_name, p.name AS column_name, '' AS data_type, 0 AS nullable \
             FROM sqlite_master m JOIN pragma_table_info(m.name) p WHERE m.type = 'view' \
             AND m.name IN ('visit_waitlist', 'visit_upgrades')",
        )
        .load(&mut sqlite)
        .unwrap(),
    );
    let pg_views = collect(
        diesel::sql_query(
            "SELECT c.table_name::text AS table_name, c.column_name::text AS column_name, \
             '' AS data_type, 0 AS nullable FROM information_schema.columns c \
             WHERE c.table_schema = 'public' AND c.table_name IN ('visit_waitlist', 'visit_upgrades')",
        )
        .load(&mut pg)
        .unwrap(),
    );
    assert_eq!(sqlite_views.len(), 6 + 5, "{sqlite_views:?}");
    assert_eq!(sqlite_views, pg_views);
}
