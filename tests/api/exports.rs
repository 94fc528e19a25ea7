//! Issue 6: admin exports (counts by country and by visit, the attendee list) in CSV,
//! JSON and XLSX, formula neutralisation, erasure with no trace left, retention, and the
//! same from the command line.

use std::collections::BTreeMap;
use std::io::{Cursor, Read};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use calamine::{open_workbook_from_rs, Data, Reader, Xlsx};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use rallypoint::domain::erasure;
use rallypoint::domain::exports::{self as domain_exports, Counts, CountsBy};
use serde_json::{json, Value};

use crate::helpers::{call, participant, send, Backend, Reply, TestApp};

crate::on_both_backends!(
    counts_match_registrations_by_country_and_visit,
    exports_neutralise_formulas_and_keep_accents,
    attendee_list_pages_through_a_large_event_in_order,
    erasure_leaves_no_trace_and_counts_stay_right,
    retention_anonymises_ended_events_only,
    the_command_line_exports_and_erases,
    exports_check_roles_and_parameters,
    counters_equal_the_rows_after_a_random_mix_of_changes,
);

/// A raw answer, for the headers and bytes of a download.
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    bytes: Vec<u8>,
}

fn download(app: &TestApp, path: &str, token: &str) -> Download {
    let response = match ureq::get(&app.url(path))
        .set("Authorization", &format!("Bearer {token}"))
        .call()
    {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(other) => panic!("request failed: {other}"),
    };
    let status = response.status();
    let content_type = response.header("content-type").unwrap_or_default().to_owned();
    let disposition = response
        .header("content-disposition")
        .unwrap_or_default()
        .to_owned();
    let mut bytes = Vec::new();
    response.into_reader().read_to_end(&mut bytes).unwrap();
    Download {
        status,
        content_type,
        disposition,
        bytes,
    }
}

/// Parses CSV as a standard reader does, after checking and dropping the BOM.
fn parse_csv(bytes: &[u8]) -> (Vec<String>, Vec<Vec<String>>) {
    let text = bytes
        .strip_prefix(b"\xEF\xBB\xBF")
        .expect("CSV starts with a UTF-8 BOM");
    let mut reader = csv::Reader::from_reader(text);
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn read_xlsx(bytes: Vec<u8>, sheet: &str) -> Vec<Vec<Data>> {
    let mut workbook: Xlsx<_> = open_workbook_from_rs(Cursor::new(bytes)).expect("a valid workbook");
    let range = workbook.worksheet_range(sheet).expect("the sheet exists");
    range.rows().map(|r| r.to_vec()).collect()
}

fn text(cell: &Data) -> String {
    match cell {
        Data::String(s) => s.clone(),
        Data::Empty => String::new(),
        other => panic!("expected text, got {other:?}"),
    }
}

fn number(cell: &Data) -> i64 {
    match cell {
        Data::Float(f) => *f as i64,
        Data::Int(i) => *i,
        other => panic!("expected a number cell, got {other:?}"),
    }
}

fn get_with(app: &TestApp, path: &str, token: &str) -> Reply {
    call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}")),
        None,
    )
}

fn register(app: &TestApp, event: &str, body: &Value) -> (String, String) {
    let reply = app.register(event, body);
    assert_eq!(reply.status, 201, "{}", reply.body);
    (
        reply.json()["id"].as_str().unwrap().to_owned(),
        reply.location.unwrap(),
    )
}

fn counts_json(app: &TestApp, event: &str, by: &str) -> Value {
    let reply = download(
        app,
        &format!("/api/v1/events/{event}/exports/counts?by={by}&format=json"),
        &app.admin,
    );
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.bytes));
    serde_json::from_slice(&reply.bytes).unwrap()
}

/// country → (registered, assigned, waitlisted, per visit), TOTAL included.
fn country_numbers(counts: &Value) -> BTreeMap<String, (i64, i64, i64, Vec<i64>)> {
    counts["rows"]
        .as_array()
        .unwrap()
        .iter()
        .chain([&counts["total"]])
        .map(|row| {
            let per_visit = counts["site_visits"]
                .as_array()
                .unwrap()
                .iter()
                .map(|slug| row["site_visits"][slug.as_str().unwrap()].as_i64().unwrap())
                .collect();
            (
                row["country"].as_str().unwrap().to_owned(),
                (
                    row["registered"].as_i64().unwrap(),
                    row["assigned"].as_i64().unwrap(),
                    row["waitlisted"].as_i64().unwrap(),
                    per_visit,
                ),
            )
        })
        .collect()
}

fn counts_match_registrations_by_country_and_visit(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("tally", json!({}), &[("a", 2), ("b", 2)]);
    // participant(n) is from BE, IT, PT, PL, DE for n % 5 = 0..4.
    let plan: [&[&str]; 8] = [
        &["a"],
        &["a", "b"],
        &["a", "b"],
        &["a"],
        &["b"],
        &[],
        &["a"],
        &["b"],
    ];
    let people: Vec<(String, String)> = plan
        .iter()
        .enumerate()
        .map(|(n, prefs)| register(&app, "tally", &participant(n, prefs)))
        .collect();
    // p0 cancels: PL (p3) takes the seat in `a`. An organiser takes DE (p4) out of `b`:
    // PT (p7) takes it, and p4 no longer waits for anything.
    assert_eq!(call(ureq::delete(&app.url(&people[0].1)), None).status, 200);
    let moved = send(
        ureq::put(&app.url(&format!(
            "/api/v1/events/tally/registrations/{}/site-visit",
            people[4].0
        ))),
        "application/json",
        &json!({"site_visit": null}).to_string(),
        Some(&app.organiser),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);

    let expected: BTreeMap<String, (i64, i64, i64, Vec<i64>)> = [
        ("BE", (1, 0, 0, vec![0, 0])),
        ("DE", (1, 0, 0, vec![0, 0])),
        ("IT", (2, 1, 1, vec![1, 0])),
        ("PL", (1, 1, 0, vec![1, 0])),
        ("PT", (2, 2, 0, vec![0, 2])),
        ("TOTAL", (7, 4, 1, vec![2, 2])),
    ]
    .into_iter()
    .map(|(c, n)| (c.to_owned(), n))
    .collect();
    let by_country = counts_json(&app, "tally", "country");
    assert_eq!(country_numbers(&by_country), expected);
    assert_eq!(by_country["rows"][3]["country_name"], "Poland");

    // CSV: the header DESIGN.md fixes, the same numbers, TOTAL last.
    let csv = download(&app, "/api/v1/events/tally/exports/counts?by=country", &app.admin);
    assert_eq!(csv.status, 200);
    assert_eq!(csv.content_type, "text/csv; charset=utf-8");
    assert!(
        csv.disposition
            .starts_with("attachment; filename=\"tally-counts-by-country-")
            && csv.disposition.ends_with(".csv\""),
        "{}",
        csv.disposition
    );
    let (header, rows) = parse_csv(&csv.bytes);
    assert_eq!(
        header,
        [
            "country",
            "country_name",
            "registered",
            "assigned",
            "waitlisted",
            "offered",
            "a",
            "b"
        ]
    );
    let from_csv: BTreeMap<String, (i64, i64, i64, Vec<i64>)> = rows
        .iter()
        .map(|r| {
            let n = |i: usize| r[i].parse::<i64>().unwrap();
            // No offers in an event that makes none.
            assert_eq!(n(5), 0);
            (r[0].clone(), (n(2), n(3), n(4), vec![n(6), n(7)]))
        })
        .collect();
    assert_eq!(from_csv, expected);
    assert_eq!(rows.last().unwrap()[0], "TOTAL");

    // By visit: the event view's numbers, then TOTAL. `a` has p6 waiting and p2 (seated
    // in b, who ranked a first) waiting for an upgrade.
    let event = app.event("tally");
    let csv = download(
        &app,
        "/api/v1/events/tally/exports/counts?by=site_visit&format=csv",
        &app.admin,
    );
    let (header, rows) = parse_csv(&csv.bytes);
    assert_eq!(
        header,
        [
            "site_visit",
            "name",
            "capacity",
            "assigned",
            "waitlisted",
            "seats_left",
            "offered",
            "checked_in",
            "no_show"
        ]
    );
    for (row, visit) in rows.iter().zip(event["site_visits"].as_array().unwrap()) {
        assert_eq!(row[0], visit["slug"].as_str().unwrap());
        for (i, key) in [
            (2, "capacity"),
            (3, "assigned"),
            (4, "waitlisted"),
            (5, "seats_left"),
            (6, "offered"),
        ] {
            assert_eq!(row[i], visit[key].to_string(), "{key} of {}", row[0]);
        }
    }
    assert_eq!(rows[0][4], "2");
    assert_eq!(rows[2], ["TOTAL", "", "4", "4", "2", "0", "0", "0", "0"]);
    let by_visit = counts_json(&app, "tally", "site_visit");
    assert_eq!(by_visit["total"]["assigned"], 4);
    assert_eq!(by_visit["rows"][1]["waitlisted"], 0);

    // XLSX opens with a standard reader: header, number cells, TOTAL.
    let xlsx = download(
        &app,
        "/api/v1/events/tally/exports/counts?by=country&format=xlsx",
        &app.admin,
    );
    assert_eq!(xlsx.status, 200);
    assert!(
        xlsx.content_type.contains("spreadsheetml"),
        "{}",
        xlsx.content_type
    );
    assert!(xlsx.disposition.ends_with(".xlsx\""), "{}", xlsx.disposition);
    let sheet = read_xlsx(xlsx.bytes, "Counts");
    assert_eq!(
        sheet[0].iter().map(text).collect::<Vec<_>>(),
        [
            "country",
            "country_name",
            "registered",
            "assigned",
            "waitlisted",
            "offered",
            "a",
            "b"
        ]
    );
    let total = sheet.last().unwrap();
    assert_eq!(text(&total[0]), "TOTAL");
    assert_eq!(
        total[2..].iter().map(number).collect::<Vec<_>>(),
        [7, 4, 1, 0, 2, 2]
    );
    assert_eq!(number(&sheet[3][2]), 2, "IT registered, as a number cell");

    // The attendee list: active people only, with their seat or waitlist place, as their
    // own view shows it.
    let list = download(&app, "/api/v1/events/tally/exports/attendees", &app.admin);
    assert_eq!(list.status, 200);
    let (header, rows) = parse_csv(&list.bytes);
    assert_eq!(header[..4], ["id", "first_name", "last_name", "email"]);
    assert_eq!(
        header[header.len() - 4..],
        ["registered_at", "checked_in_at", "visit_checked_in_at", "no_show"]
    );
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    let expected_ids: Vec<&str> = people[1..].iter().map(|p| p.0.as_str()).collect();
    assert_eq!(ids, expected_ids, "active registrations in registration order");
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let p6 = &rows[5];
    assert_eq!(p6[column("site_visit")], "a");
    assert_eq!(p6[column("seat_status")], "waitlisted");
    let own_view = app.get(&people[6].1).json();
    assert_eq!(
        p6[column("waitlist_position")],
        own_view["site_visit"]["waitlist_position"].to_string()
    );
    assert_eq!(rows[0][column("seat_status")], "assigned");
    assert_eq!(rows[3][column("site_visit")], "", "p4 waits for nothing");
    let registered_at = &rows[0][column("registered_at")];
    assert!(
        registered_at.ends_with("+01:00") || registered_at.ends_with("+02:00"),
        "in the event's time zone: {registered_at}"
    );
}

fn exports_neutralise_formulas_and_keep_accents(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("tricky", json!({}), &[]);
    let visit = app.post_json(
        "/api/v1/events/tricky/site-visits",
        &json!({"slug": "plant", "name": "@SUM(1+1)*cmd|' /C calc'!A0", "location": "Châtelet",
                "starts_at": "2030-06-02T13:30:00+02:00", "ends_at": "2030-06-02T17:00:00+02:00",
                "capacity": 5}),
        Some(&app.admin),
    );
    assert_eq!(visit.status, 201, "{}", visit.body);
    let risky = json!({
        "first_name": "=cmd|' /C calc'!A0", "last_name": "+1-2",
        "email": "-x@example.org", "organisation": "@Corp", "country": "be",
        "preferences": ["plant"], "consent": true
    });
    register(&app, "tricky", &risky);
    let accented = json!({
        "first_name": "Zoë", "last_name": "Łobocka-Ñúñez", "email": "=zoe@example.org",
        "organisation": "Société d'Économie Mixte", "country": "pl",
        "preferences": ["plant"], "consent": true
    });
    register(&app, "tricky", &accented);

    let expect_risky = ["'=cmd|' /C calc'!A0", "'+1-2", "'-x@example.org", "'@Corp"];
    let expect_accented = [
        "Zoë",
        "Łobocka-Ñúñez",
        "'=zoe@example.org",
        "Société d'Économie Mixte",
    ];

    let (_, rows) = parse_csv(&download(&app, "/api/v1/events/tricky/exports/attendees", &app.admin).bytes);
    assert_eq!(rows[0][1..5], expect_risky);
    assert_eq!(rows[1][1..5], expect_accented);

    let xlsx = download(
        &app,
        "/api/v1/events/tricky/exports/attendees?format=xlsx",
        &app.admin,
    );
    assert_eq!(xlsx.status, 200);
    assert!(
        xlsx.disposition.contains("tricky-attendees-"),
        "{}",
        xlsx.disposition
    );
    let sheet = read_xlsx(xlsx.bytes, "Attendees");
    assert_eq!(sheet.len(), 3);
    assert_eq!(sheet[1][1..5].iter().map(text).collect::<Vec<_>>(), expect_risky);
    assert_eq!(
        sheet[2][1..5].iter().map(text).collect::<Vec<_>>(),
        expect_accented
    );
    assert_eq!(text(&sheet[2][6]), "Poland");

    // Visit names in the counts, in CSV and XLSX; JSON stays the data as it is.
    let (_, rows) = parse_csv(
        &download(
            &app,
            "/api/v1/events/tricky/exports/counts?by=site_visit",
            &app.admin,
        )
        .bytes,
    );
    assert_eq!(rows[0][1], "'@SUM(1+1)*cmd|' /C calc'!A0");
    let sheet = read_xlsx(
        download(
            &app,
            "/api/v1/events/tricky/exports/counts?by=site_visit&format=xlsx",
            &app.admin,
        )
        .bytes,
        "Counts",
    );
    assert_eq!(text(&sheet[1][1]), "'@SUM(1+1)*cmd|' /C calc'!A0");
    assert_eq!(
        counts_json(&app, "tricky", "site_visit")["rows"][0]["name"],
        "@SUM(1+1)*cmd|' /C calc'!A0"
    );
}

fn attendee_list_pages_through_a_large_event_in_order(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("crowd", json!({}), &[("tour", 5)]);
    let people = 1_010; // more than one page of the export (1,000)
    let jobs: Vec<crate::helpers::Job<Reply>> = (0..people)
        .map(|n| {
            let url = app.url("/api/v1/events/crowd/registrations");
            Box::new(move |agent: &ureq::Agent| {
                send(
                    agent.post(&url),
                    "application/json",
                    &participant(n, &["tour"]).to_string(),
                    None,
                )
            }) as crate::helpers::Job<Reply>
        })
        .collect();
    // Each waiting person's place as the 201 answer told it.
    let mut told = BTreeMap::new();
    for reply in crate::helpers::concurrently(8, jobs) {
        assert_eq!(reply.status, 201, "{}", reply.body);
        let body = reply.json();
        if let Some(position) = body["site_visit"]["waitlist_position"].as_i64() {
            told.insert(body["id"].as_str().unwrap().to_owned(), position);
        }
    }

    let (header, rows) =
        parse_csv(&download(&app, "/api/v1/events/crowd/exports/attendees", &app.admin).bytes);
    assert_eq!(rows.len(), people);
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    let times: Vec<&str> = rows.iter().map(|r| r[column("registered_at")].as_str()).collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "registration order");
    let mut unique: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), people, "no one twice across pages");
    let seated = rows
        .iter()
        .filter(|r| r[column("seat_status")] == "assigned")
        .count();
    assert_eq!(seated, 5);
    // The export shows the places the people were told (the queue's order is the order
    // the registrations committed, not always the order of their times).
    let exported: BTreeMap<String, i64> = rows
        .iter()
        .filter(|r| r[column("seat_status")] == "waitlisted")
        .map(|r| (r[0].clone(), r[column("waitlist_position")].parse().unwrap()))
        .collect();
    assert_eq!(exported, told);
    let mut positions: Vec<i64> = exported.values().copied().collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=(people as i64 - 5)).collect::<Vec<_>>());

    let sheet = read_xlsx(
        download(
            &app,
            "/api/v1/events/crowd/exports/attendees?format=xlsx",
            &app.admin,
        )
        .bytes,
        "Attendees",
    );
    assert_eq!(sheet.len(), people + 1);
    let last = text(&sheet[people][0]);
    assert_eq!(
        number(&sheet[people][column("waitlist_position")]),
        exported[&last],
        "the spreadsheet shows the same places"
    );
}

#[derive(QueryableByName)]
struct TextColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
}

#[derive(QueryableByName)]
struct Hits {
    #[diesel(sql_type = BigInt)]
    hits: i64,
}

/// Every (table, text column) holding `needle`, any letter case, in the whole database.
fn traces(app: &TestApp, needle: &str) -> Vec<String> {
    let pattern = format!("%{}%", needle.to_lowercase());
    let scan = |columns: Vec<TextColumn>, count: &mut dyn FnMut(&str) -> i64| -> Vec<String> {
        assert!(columns.len() > 20, "the scan sees the text columns");
        columns
            .into_iter()
            .filter(|c| {
                let sql = format!(
                    "SELECT count(*) AS hits FROM \"{}\" WHERE lower(\"{}\") LIKE '{pattern}'",
                    c.table_name, c.column_name
                );
                count(&sql) > 0
            })
            .map(|c| format!("{}.{}", c.table_name, c.column_name))
            .collect()
    };
    match app.backend {
        Backend::Sqlite => {
            let mut conn = diesel::SqliteConnection::establish(&app.db.url).unwrap();
            let columns = diesel::sql_query(
                "SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m \
                 JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND upper(p.type) = 'TEXT'",
            )
            .load(&mut conn)
            .unwrap();
            scan(columns, &mut |sql| {
                diesel::sql_query(sql).get_result::<Hits>(&mut conn).unwrap().hits
            })
        }
        Backend::Postgres => {
            let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
            let columns = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name \
                 FROM information_schema.columns WHERE table_schema = 'public' AND data_type = 'text'",
            )
            .load(&mut conn)
            .unwrap();
            scan(columns, &mut |sql| {
                diesel::sql_query(sql).get_result::<Hits>(&mut conn).unwrap().hits
            })
        }
    }
}

fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn erasure_leaves_no_trace_and_counts_stay_right(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("forget", json!({}), &[("a", 1)]);
    let person = json!({
        "first_name": "Zephyrine", "last_name": "Quillfeather-Øst", "email": "Zephyrine.Quill@Example.org",
        "organisation": "Quillworks Ltd", "country": "IT", "job_title": "Curator of Zephyrs",
        "dietary": "no quillfish", "preferences": ["a"], "consent": true
    });
    // With a key: the answer kept for a retry holds her name and email too.
    let key = "0b8e6a52-7c1f-4f7e-9d35-erase-her-too";
    let registrations = app.url("/api/v1/events/forget/registrations");
    let keyed = |body: &Value| {
        call(
            ureq::post(&registrations).set("Idempotency-Key", key),
            Some(("application/json", &body.to_string())),
        )
    };
    let first = keyed(&person);
    assert_eq!(first.status, 201, "{}", first.body);
    let (id, manage) = (
        first.json()["id"].as_str().unwrap().to_owned(),
        first.location.clone().unwrap(),
    );
    assert_eq!(keyed(&person).json()["id"], id.as_str(), "a retry replays");
    let (waiting, waiting_manage) = register(&app, "forget", &participant(0, &["a"])); // BE
    let (gone, _) = register(&app, "forget", &participant(2, &[])); // PT
                                                                    // Her confirmation has gone out: the sent email must be scrubbed too.
    wait_until("the confirmation to be sent", || {
        let reply = get_with(&app, "/api/v1/emails?status=sent&limit=500", &app.admin);
        reply.json()["emails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["registration_id"] == id.as_str())
    });
    let before = country_numbers(&counts_json(&app, "forget", "country"));
    assert_eq!(before["IT"], (1, 1, 0, vec![1]));
    assert_eq!(before["BE"], (1, 0, 1, vec![0]));

    let path = format!("/api/v1/events/forget/registrations/{id}?erase=true");
    let forbidden = send(
        ureq::delete(&app.url(&path)),
        "application/json",
        "",
        Some(&app.organiser),
    );
    forbidden.problem(403, "forbidden");
    let erased = send(
        ureq::delete(&app.url(&path)),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erased.status, 200, "{}", erased.body);
    assert_eq!(erased.json()["was_active"], true);
    assert_eq!(erased.json()["status"], "cancelled");

    // Like a cancellation: IT loses its registration, the seat goes to BE at once.
    let after = country_numbers(&counts_json(&app, "forget", "country"));
    assert!(
        !after.contains_key("IT"),
        "a row only for countries with active people"
    );
    assert_eq!(after["BE"], (1, 1, 0, vec![1]));
    assert_eq!(after["TOTAL"], (2, 1, 0, vec![1]));
    assert_eq!(
        app.get(&waiting_manage).json()["site_visit"]["status"],
        "assigned"
    );
    assert_eq!(app.get(&manage).status, 404, "the manage link is dead");

    // The waiting person still hears about the seat; the erased person hears nothing.
    wait_until("the promotion email", || {
        let reply = get_with(&app, "/api/v1/emails?limit=500", &app.admin);
        reply.json()["emails"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["registration_id"] == waiting.as_str() && e["kind"] == "seat_changed")
    });
    let emails = get_with(&app, "/api/v1/emails?limit=500", &app.admin).json();
    let hers: Vec<&Value> = emails["emails"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["registration_id"] == id.as_str())
        .collect();
    assert!(hers.iter().all(|e| e["status"] == "sent"), "{hers:?}");

    // The kept answer went with her: the same key and body now register anew (her
    // address is free again), they do not replay her old registration.
    let after_erasure = keyed(&person);
    assert_eq!(after_erasure.status, 201, "{}", after_erasure.body);
    assert_ne!(after_erasure.json()["id"], id.as_str());
    let again_path = format!(
        "/api/v1/events/forget/registrations/{}?erase=true",
        after_erasure.json()["id"].as_str().unwrap()
    );
    let erased_again = send(
        ureq::delete(&app.url(&again_path)),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erased_again.status, 200, "{}", erased_again.body);

    for needle in [
        "zephyrine",
        "quillfeather",
        "quillworks",
        "zephyrs",
        "quillfish",
        "zephyrine.quill@example.org",
    ] {
        assert_eq!(traces(&app, needle), Vec::<String>::new(), "traces of {needle}");
    }
    let audit = get_with(&app, "/api/v1/events/forget/audit", &app.admin).json();
    let entry = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "erase" && e["subject"] == id.as_str())
        .expect("the erasure is audited")
        .clone();
    assert_eq!(entry["after"], Value::Null);

    // Again: the same answer, nothing changes.
    let again = send(
        ureq::delete(&app.url(&path)),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(again.status, 200, "{}", again.body);
    assert_eq!(again.json()["erased_at"], erased.json()["erased_at"]);

    // Plain DELETE cancels (organisers may); erasing a cancelled registration changes
    // no number at all.
    let cancel = format!("/api/v1/events/forget/registrations/{gone}");
    let cancelled = send(
        ureq::delete(&app.url(&cancel)),
        "application/json",
        "",
        Some(&app.organiser),
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    assert_eq!(cancelled.json()["status"], "cancelled");
    assert_eq!(cancelled.json()["first_name"], "Participant2");
    let before = counts_json(&app, "forget", "country");
    let erased = send(
        ureq::delete(&app.url(&format!("{cancel}?erase=true"))),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erased.json()["was_active"], false);
    assert_eq!(counts_json(&app, "forget", "country"), before);
    assert_eq!(traces(&app, "participant2@"), Vec::<String>::new());
}

fn retention_anonymises_ended_events_only(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event(
        "old",
        json!({"starts_on": "2030-06-01", "ends_on": "2030-06-02"}),
        &[("a", 1)],
    );
    app.create_event(
        "recent",
        json!({"starts_on": "2030-06-01", "ends_on": "2030-07-01"}),
        &[("b", 1)],
    );
    register(&app, "old", &participant(0, &["a"]));
    register(&app, "old", &participant(1, &["a"]));
    register(&app, "recent", &participant(2, &["b"]));
    let counts_before = counts_json(&app, "old", "country");

    let anonymise = |after_days: u32| {
        let now = chrono::NaiveDate::from_ymd_opt(2030, 7, 10)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap();
        app.server
            .db
            .write_blocking(move |conn| erasure::anonymise_ended_events(conn, after_days, now, 1))
            .unwrap()
    };
    // 2030-06-02 is 38 days before 2030-07-10; 2030-07-01 only 9.
    assert_eq!(anonymise(60), 0);
    assert_eq!(anonymise(30), 1, "one per batch");
    assert_eq!(anonymise(30), 1);
    assert_eq!(anonymise(30), 0);

    assert_eq!(
        counts_json(&app, "old", "country"),
        counts_before,
        "counts do not change"
    );
    let (_, rows) = parse_csv(&download(&app, "/api/v1/events/old/exports/attendees", &app.admin).bytes);
    assert!(
        rows.iter()
            .all(|r| r[1] == "erased" && r[3].ends_with("@invalid")),
        "{rows:?}"
    );
    assert_eq!(rows[0][10], "assigned", "seats stay");
    assert!(traces(&app, "participant0@").is_empty() && traces(&app, "participant1@").is_empty());
    assert!(
        !traces(&app, "participant2@").is_empty(),
        "the recent event is untouched"
    );
}

fn rallypoint(app: &TestApp, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .args(args)
        .env("RALLYPOINT_DATABASE_URL", &app.db.url)
        .env("RALLYPOINT_EVENTS_DIR", "/nonexistent")
        .env("RALLYPOINT_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn the_command_line_exports_and_erases(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("shell", json!({}), &[("a", 1)]);
    app.create_event("other", json!({}), &[]);
    register(&app, "shell", &participant(0, &["a"]));
    register(&app, "shell", &participant(1, &["a"]));
    register(&app, "other", &participant(1, &[]));

    let counts = rallypoint(&app, &["export", "counts", "--event", "shell", "--by", "country"]);
    assert!(counts.status.success(), "{counts:?}");
    let (header, rows) = parse_csv(&counts.stdout);
    assert_eq!(
        header[..5],
        ["country", "country_name", "registered", "assigned", "waitlisted"]
    );
    assert_eq!(rows.last().unwrap()[..5], ["TOTAL", "", "2", "1", "1"]);

    let json = rallypoint(
        &app,
        &[
            "export",
            "counts",
            "--event",
            "shell",
            "--by",
            "site_visit",
            "--format",
            "json",
        ],
    );
    assert!(json.status.success(), "{json:?}");
    let json: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["total"]["waitlisted"], 1);

    let dir = app.db.dir.join("exports");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("people.xlsx");
    let xlsx = rallypoint(
        &app,
        &[
            "export",
            "attendees",
            "--event",
            "shell",
            "--format",
            "xlsx",
            "--output",
            file.to_str().unwrap(),
        ],
    );
    assert!(xlsx.status.success(), "{xlsx:?}");
    let sheet = read_xlsx(std::fs::read(&file).unwrap(), "Attendees");
    assert_eq!(sheet.len(), 3);
    let csv = rallypoint(&app, &["export", "attendees", "--event", "shell"]);
    let (_, rows) = parse_csv(&csv.stdout);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][3], "participant1@example.org");

    let missing = rallypoint(&app, &["export", "counts", "--event", "nope"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("event not found"));

    // Erase by email, any letter case, in every event.
    let erased = rallypoint(&app, &["erase", "--email", "PARTICIPANT1@example.org"]);
    assert!(erased.status.success(), "{erased:?}");
    let stdout = String::from_utf8_lossy(&erased.stdout);
    assert_eq!(
        stdout
            .lines()
            .filter(|l| l.starts_with("erased registration"))
            .count(),
        2,
        "{stdout}"
    );
    assert!(traces(&app, "participant1@").is_empty());
    let none = rallypoint(&app, &["erase", "--email", "participant1@example.org"]);
    assert!(String::from_utf8_lossy(&none.stdout).contains("no registration"));
}

fn exports_check_roles_and_parameters(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("guarded", json!({}), &[("a", 1)]);
    let get = |path: &str, token: Option<&str>| match token {
        Some(token) => get_with(&app, path, token),
        None => app.get(path),
    };
    let counts = "/api/v1/events/guarded/exports/counts";
    get(counts, None).problem(401, "unauthorized");
    get(counts, Some(&app.organiser)).problem(403, "forbidden");
    let bad =
        get(&format!("{counts}?by=city&format=pdf&x=1"), Some(&app.admin)).problem(422, "validation-failed");
    for field in ["by", "format", "x"] {
        assert!(bad["errors"][field].is_array(), "{bad}");
    }
    get("/api/v1/events/nope/exports/counts", Some(&app.admin)).problem(404, "not-found");
    let attendees = "/api/v1/events/guarded/exports/attendees";
    get(&format!("{attendees}?format=json"), Some(&app.admin)).problem(422, "validation-failed");
    get(attendees, Some(&app.organiser)).problem(403, "forbidden");
    get("/api/v1/events/nope/exports/attendees", Some(&app.admin)).problem(404, "not-found");
    // An empty event: the header, a TOTAL of zeros.
    let (header, rows) = parse_csv(&download(&app, attendees, &app.admin).bytes);
    assert_eq!(header.len(), 16);
    assert!(rows.is_empty());
    let (_, rows) = parse_csv(&download(&app, counts, &app.admin).bytes);
    assert_eq!(rows, [["TOTAL", "", "0", "0", "0", "0", "0"]]);
    let delete = send(
        ureq::delete(&app.url("/api/v1/events/guarded/registrations/nobody?erase=yes-please")),
        "application/json",
        "",
        Some(&app.admin),
    );
    delete.problem(422, "validation-failed");
    send(
        ureq::delete(&app.url("/api/v1/events/guarded/registrations/nobody")),
        "application/json",
        "",
        Some(&app.admin),
    )
    .problem(404, "not-found");
}

/// The counts the exports read (maintained counters) and the same counts aggregated
/// from the rows, for both tables.
pub fn counters_and_rows(app: &TestApp, event: &str) -> Vec<(Counts, Counts)> {
    let event = event.to_owned();
    app.server
        .db
        .read_blocking(move |conn| {
            let now = rallypoint::domain::now();
            [CountsBy::Country, CountsBy::SiteVisit]
                .into_iter()
                .map(|by| {
                    Ok((
                        domain_exports::counts(conn, &event, by, now)?,
                        domain_exports::counts_from_rows(conn, &event, by, now)?,
                    ))
                })
                .collect::<Result<Vec<_>, rallypoint::domain::DomainError>>()
        })
        .unwrap()
}

/// A small deterministic generator (xorshift), so a failure replays the same steps.
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }

    fn ranking(&mut self) -> Vec<&'static str> {
        let mut all = vec!["a", "b", "c"];
        let mut ranked = Vec::new();
        for _ in 0..self.below(4) {
            ranked.push(all.remove(self.below(all.len())));
        }
        ranked
    }
}

/// Every path that changes a count — registration (with the event-wide waitlist),
/// cancellation, new ranking, organiser moves, capacity changes, the allocation,
/// erasure, retention, and offers accepted, declined and expired — in a random order
/// over a first-come event with an event capacity, a preferences event and an event
/// that makes offers; after each step the counters must equal the aggregation from the
/// rows, by country and by visit, and every visit's taken seats its seated people and
/// open offers.
fn counters_equal_the_rows_after_a_random_mix_of_changes(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("mix-fc", json!({"capacity": 12}), &[("a", 4), ("b", 2), ("c", 3)]);
    app.create_event(
        "mix-pref",
        json!({"assignment_mode": "preferences"}),
        &[("a", 3), ("b", 3), ("c", 2)],
    );
    app.create_event(
        "mix-offer",
        json!({"offer_window_hours": 24}),
        &[("a", 2), ("b", 2), ("c", 1)],
    );
    let events = ["mix-fc", "mix-pref", "mix-offer"];
    let mut dice = Dice(0x9E37_79B9_7F4A_7C15);
    // (event, id, manage path)
    let mut people: Vec<(&str, String, String)> = Vec::new();
    let mut seen = BTreeMap::<&str, usize>::new();
    for step in 0..120 {
        // The offers event twice as often: offers need full visits and people waiting.
        let event = ["mix-fc", "mix-pref", "mix-offer", "mix-offer"][dice.below(4)];
        let someone = (!people.is_empty()).then(|| dice.below(people.len()));
        let op = dice.below(14);
        let (what, changed) = match (op, someone) {
            (0..=3, _) | (_, None) => {
                let n = people.len();
                let reply = app.register(event, &participant(n, &dice.ranking()));
                assert!(reply.status == 201 || reply.status == 409, "{}", reply.body);
                if reply.status == 201 {
                    let id = reply.json()["id"].as_str().unwrap().to_owned();
                    people.push((event, id, reply.location.unwrap()));
                }
                ("register", reply.status == 201)
            }
            (4, Some(i)) => {
                let status = call(ureq::delete(&app.url(&people[i].2)), None).status;
                assert!([200, 404, 409].contains(&status), "cancel: {status}");
                ("cancel", status == 200)
            }
            (5, Some(i)) => {
                let reply = send(
                    ureq::patch(&app.url(&people[i].2)),
                    "application/json",
                    &json!({"preferences": dice.ranking()}).to_string(),
                    None,
                );
                assert!([200, 404, 409].contains(&reply.status), "{}", reply.body);
                ("change preferences", reply.status == 200)
            }
            (6, Some(i)) => {
                let (event, id, ..) = &people[i];
                let target = [json!("a"), json!("b"), json!("c"), Value::Null][dice.below(4)].clone();
                let reply = send(
                    ureq::put(&app.url(&format!("/api/v1/events/{event}/registrations/{id}/site-visit"))),
                    "application/json",
                    &json!({ "site_visit": target }).to_string(),
                    Some(&app.organiser),
                );
                assert!([200, 404, 409, 422].contains(&reply.status), "{}", reply.body);
                ("move", reply.status == 200)
            }
            (7, _) => {
                let visit = ["a", "b", "c"][dice.below(3)];
                let reply = send(
                    ureq::patch(&app.url(&format!("/api/v1/events/{event}/site-visits/{visit}"))),
                    "application/json",
                    &json!({"capacity": dice.below(6)}).to_string(),
                    Some(&app.organiser),
                );
                assert!([200, 409].contains(&reply.status), "{}", reply.body);
                ("capacity", reply.status == 200)
            }
            (8, _) => {
                let reply = app.post_json(
                    "/api/v1/events/mix-pref/allocation",
                    &json!({"dry_run": false, "balance_countries": dice.below(2) == 1}),
                    Some(&app.organiser),
                );
                assert_eq!(reply.status, 200, "{}", reply.body);
                ("allocation", true)
            }
            (9, Some(i)) => {
                let (event, id, ..) = &people[i];
                let reply = call(
                    ureq::delete(&app.url(&format!("/api/v1/events/{event}/registrations/{id}?erase=true")))
                        .set("Authorization", &format!("Bearer {}", app.admin)),
                    None,
                );
                assert_eq!(reply.status, 200, "{}", reply.body);
                ("erase", true)
            }
            (11 | 12, Some(i)) => {
                // Someone holding an offer, if anyone does (else anyone: a 409).
                let holders: Vec<String> = app
                    .server
                    .db
                    .read_blocking(|conn| {
                        use rallypoint::db::schema::seat_offers;
                        Ok::<_, rallypoint::db::DbError>(
                            seat_offers::table
                                .order(seat_offers::registration_id)
                                .select(seat_offers::registration_id)
                                .load(conn)?,
                        )
                    })
                    .unwrap();
                let i = match holders.len() {
                    0 => i,
                    n => {
                        let id = &holders[dice.below(n)];
                        people.iter().position(|p| p.1 == *id).unwrap()
                    }
                };
                let what = if op == 11 { "accept" } else { "decline" };
                let reply = app.post_json(&format!("{}/offer/{what}", people[i].2), &json!({}), None);
                assert!([200, 404, 409].contains(&reply.status), "{}", reply.body);
                (what, reply.status == 200)
            }
            (13, _) => {
                // The expiry worker's run, with a clock a day and an hour ahead.
                let later = rallypoint::domain::now() + chrono::Duration::hours(25);
                let expired = app
                    .server
                    .db
                    .write_blocking(move |conn| rallypoint::domain::offers::expire_due(conn, later, 100))
                    .unwrap();
                ("expire", expired > 0)
            }
            (_, Some(_)) => {
                // Retention's anonymisation: personal data goes, seats and counts stay.
                let db = &app.server.db;
                let id = people[someone.unwrap()].1.clone();
                let changed = db
                    .write_blocking(move |conn| {
                        Ok::<_, rallypoint::domain::DomainError>(rallypoint::store::registrations::anonymise(
                            conn,
                            &id,
                            rallypoint::domain::now(),
                        )?)
                    })
                    .unwrap();
                ("anonymise", changed)
            }
        };
        if changed {
            *seen.entry(what).or_default() += 1;
        }
        for event in events {
            for (counters, rows) in counters_and_rows(&app, event) {
                assert_eq!(counters, rows, "step {step} ({what}), event {event}");
            }
        }
        check_queues(&app, &format!("step {step} ({what})"));
        crate::offers::check_seats(&app, &format!("step {step} ({what})"));
    }
    // Every path did change something, and the counts are not trivially empty.
    assert_eq!(seen.len(), 11, "{seen:?}");
    let final_counts = counters_and_rows(&app, "mix-fc");
    let Counts::ByCountry(by_country) = &final_counts[0].0 else {
        panic!()
    };
    assert!(
        by_country.total.registered > 0 && by_country.total.assigned > 0,
        "{by_country:?}"
    );
    if matches!(backend, Backend::Postgres) {
        // PostgreSQL notes changes during a transaction and applies them at commit:
        // nothing may be left behind.
        let mut conn = diesel::PgConnection::establish(&app.db.url).unwrap();
        let left: Vec<Left> = diesel::sql_query("SELECT count(*) AS n FROM registration_count_changes")
            .load(&mut conn)
            .unwrap();
        assert_eq!(left[0].n, 0);
    }
}

/// The stored queues hold exactly who the definition says waits (the `visit_waitlist`
/// view's people without a seat, and the event-wide waitlists), and each queue's
/// positions are 1..N in the order of its places.
pub fn check_queues(app: &TestApp, context: &str) {
    use rallypoint::db::schema::{registrations, visit_waitlist, waitlist_entries};
    use rallypoint::store::queues::positions_of;
    let (mut stored, mut defined, positions) = app
        .server
        .db
        .read_blocking(|conn| {
            let stored: Vec<(String, i64, String)> = waitlist_entries::table
                .select((
                    waitlist_entries::queue_id,
                    waitlist_entries::place,
                    waitlist_entries::registration_id,
                ))
                .order((waitlist_entries::queue_id, waitlist_entries::place))
                .load(conn)?;
            let mut defined: Vec<(String, String)> = visit_waitlist::table
                .filter(diesel::dsl::not(visit_waitlist::upgrading))
                .select((visit_waitlist::site_visit_id, visit_waitlist::registration_id))
                .load(conn)?;
            defined.extend(
                registrations::table
                    .filter(registrations::status.eq("waitlisted"))
                    .select((registrations::event_id, registrations::id))
                    .load::<(String, String)>(conn)?,
            );
            let ids: Vec<String> = stored.iter().map(|(_, _, id)| id.clone()).collect();
            let positions = positions_of(conn, &ids)?;
            Ok::<_, rallypoint::db::DbError>((stored, defined, positions))
        })
        .unwrap();
    let mut by_queue: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for (queue, place, id) in &stored {
        let position = positions
            .iter()
            .find(|(p_id, p_queue, _)| p_id == id && p_queue == queue)
            .map(|(.., position)| *position)
            .unwrap();
        by_queue
            .entry(queue.clone())
            .or_default()
            .push((*place, position));
    }
    for (queue, mut places) in by_queue {
        places.sort_unstable();
        let got: Vec<i64> = places.iter().map(|(_, position)| *position).collect();
        assert_eq!(
            got,
            (1..=got.len() as i64).collect::<Vec<_>>(),
            "{context}: queue {queue}"
        );
    }
    let mut stored: Vec<(String, String)> = stored.drain(..).map(|(queue, _, id)| (queue, id)).collect();
    stored.sort_unstable();
    defined.sort_unstable();
    assert_eq!(stored, defined, "{context}: the stored queues hold who waits");
}

#[derive(QueryableByName)]
struct Left {
    #[diesel(sql_type = BigInt)]
    n: i64,
}
