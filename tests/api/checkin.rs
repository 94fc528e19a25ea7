//! Issue 18: check-in through the HTTP API, on both backends — scans in and out, every
//! refusal, replays, concurrency, offline batches from two devices, no-shows at the
//! deadline (the clock moved by calling the domain with another `now`, as the offer
//! expiry tests do), the check-in columns of counts, exports and rosters, the steward
//! role, and bad input that writes nothing.

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use rallypoint::domain::access::{hash_secret, load_manage_key, ManageKey, Role};
use rallypoint::domain::checkin::{self, ListName};
use rallypoint::domain::exports::{self, Counts, CountsBy};
use rallypoint::domain::{now, DomainError};
use serde_json::{json, Value};

use crate::helpers::{call, concurrently, participant, send, token, Backend, Job, Reply, TestApp};

crate::on_both_backends!(
    scans_in_out_again_and_every_refusal,
    twenty_concurrent_scans_check_in_once,
    offline_batches_from_two_devices_keep_the_earliest_scan,
    no_shows_from_the_grace_deadline_in_lists_counts_exports_and_rosters,
    stewards_may_scan_and_nothing_else,
    bad_input_is_a_problem_document_and_writes_nothing,
    codes_are_filled_at_start_up_and_stop_at_erasure,
);

/// The manage key of the app (kept in its database), from which codes are derived.
pub(crate) fn manage_key(app: &TestApp) -> ManageKey {
    let secret = app.server.settings.security.secret_key.clone();
    app.server
        .db
        .write_blocking(move |conn| load_manage_key(conn, &secret, now()))
        .unwrap()
}

/// Registers `n` with these preferences; returns (id, manage path).
pub(crate) fn register(app: &TestApp, event: &str, n: usize, preferences: &[&str]) -> (String, String) {
    let reply = app.register(event, &participant(n, preferences));
    assert_eq!(reply.status, 201, "{}", reply.body);
    (
        reply.json()["id"].as_str().unwrap().to_owned(),
        reply.location.unwrap(),
    )
}

fn scan_body(code: &str, list: &str, direction: &str, nonce: &str) -> Value {
    json!({"code": code, "list": list, "direction": direction, "nonce": nonce, "device": "gate-1"})
}

fn scan(app: &TestApp, event: &str, body: &Value, token: &str) -> Reply {
    app.post_json(&format!("/api/v1/events/{event}/checkins"), body, Some(token))
}

fn batch(app: &TestApp, event: &str, scans: &[Value], token: &str) -> Value {
    let reply = app.post_json(
        &format!("/api/v1/events/{event}/checkins/batch"),
        &json!({ "scans": scans }),
        Some(token),
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn get(app: &TestApp, path: &str, token: &str) -> Reply {
    call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}")),
        None,
    )
}

fn list_status(app: &TestApp, event: &str, list: &str, token: &str) -> Value {
    let reply = get(
        app,
        &format!("/api/v1/events/{event}/checkin-lists/{list}/status"),
        token,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn list_numbers(app: &TestApp, event: &str, token: &str) -> Vec<(String, i64, i64, i64)> {
    let reply = get(app, &format!("/api/v1/events/{event}/checkin-lists"), token);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["list"].as_str().unwrap().to_owned(),
                l["expected"].as_i64().unwrap(),
                l["checked_in"].as_i64().unwrap(),
                l["inside"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Scans recorded for the event, read from the database.
fn scans_recorded(app: &TestApp, event: &str) -> i64 {
    let event = event.to_owned();
    app.server
        .db
        .read_blocking(move |conn| -> Result<i64, DomainError> {
            let row = rallypoint::store::events::find_by_slug(conn, &event)?.unwrap();
            Ok(rallypoint::store::checkins::count_scans(conn, &row.id)?)
        })
        .unwrap()
}

fn time(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().unwrap_or_else(|| panic!("not a time: {value}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn scans_in_out_again_and_every_refusal(backend: Backend) {
    let app = TestApp::spawn(backend);
    let steward = token(&app.server.db, Role::Steward, "gate steward");
    // Four places: p0 seated in a (one seat), p1 confirmed waiting for a, p2 and p3 in
    // b; p4 and p5 wait for the event, and p4 cancels.
    app.create_event("gate", json!({"capacity": 4}), &[("a", 1), ("b", 5)]);
    let p: Vec<(String, String)> = [&["a"][..], &["a"], &["b"], &["b"], &["b"], &["b"]]
        .iter()
        .enumerate()
        .map(|(n, prefs)| register(&app, "gate", n, prefs))
        .collect();
    let cancelled = call(ureq::delete(&app.url(&p[4].1)), None);
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let key = manage_key(&app);
    let code = |i: usize| key.checkin_code_for(&p[i].0);

    // In: 201 with what the steward must see.
    let first = scan(
        &app,
        "gate",
        &scan_body(&code(0), "visit:a", "in", "nonce-0001"),
        &steward,
    );
    assert_eq!(first.status, 201, "{}", first.body);
    let body = first.json();
    assert_eq!(body["outcome"], "checked_in");
    assert_eq!(body["person"]["first_name"], "Participant0");
    assert_eq!(body["person"]["site_visit"], "a");
    assert_eq!(body["person"]["site_visit_name"], "Visit a");
    assert_eq!(body["inside"], true);
    assert!(
        body["person"].get("email").is_none(),
        "no email for stewards: {body}"
    );
    let checked_in_at = time(&body["checked_in_at"]);

    // Again, another nonce: 409 with when and on which device.
    let again = scan(
        &app,
        "gate",
        &scan_body(&code(0), "visit:a", "in", "nonce-0002"),
        &steward,
    );
    let problem = again.problem(409, "already-checked-in");
    assert_eq!(time(&problem["checked_in_at"]), checked_in_at);
    assert_eq!(problem["checked_in_device"], "gate-1");
    assert_eq!(problem["person"]["last_name"], "Tester");

    // The first nonce again: 200, nothing written.
    let recorded = scans_recorded(&app, "gate");
    let replay = scan(
        &app,
        "gate",
        &scan_body(&code(0), "visit:a", "in", "nonce-0001"),
        &steward,
    );
    assert_eq!(replay.status, 200, "{}", replay.body);
    assert_eq!(replay.json()["replayed"], true);
    assert_eq!(replay.json()["outcome"], "checked_in");
    assert_eq!(scans_recorded(&app, "gate"), recorded, "a replay writes nothing");

    // Out, out again, in again.
    let out = scan(
        &app,
        "gate",
        &scan_body(&code(0), "visit:a", "out", "nonce-0003"),
        &steward,
    );
    assert_eq!(out.status, 201, "{}", out.body);
    assert_eq!(out.json()["outcome"], "checked_out");
    assert_eq!(out.json()["inside"], false);
    let out_again = scan(
        &app,
        "gate",
        &scan_body(&code(0), "visit:a", "out", "nonce-0004"),
        &steward,
    );
    assert_eq!(out_again.status, 200, "{}", out_again.body);
    assert_eq!(out_again.json()["outcome"], "not_inside");
    let back = scan(
        &app,
        "gate",
        &scan_body(&code(0), "visit:a", "in", "nonce-0005"),
        &steward,
    );
    assert_eq!(back.status, 201, "{}", back.body);
    assert_eq!(back.json()["outcome"], "re_entered");
    assert_eq!(
        time(&back.json()["checked_in_at"]),
        checked_in_at,
        "the check-in stays the first one"
    );

    // Wrong list: seated in b, scanned for a.
    let wrong = scan(
        &app,
        "gate",
        &scan_body(&code(2), "visit:a", "in", "nonce-0006"),
        &steward,
    );
    let problem = wrong.problem(409, "wrong-list");
    assert_eq!(problem["belongs_to"]["list"], "visit:b");
    assert_eq!(problem["belongs_to"]["name"], "Visit b");
    // Cancelled, waitlisted for the event, and confirmed without a seat for a visit.
    for (person, list, reason, nonce) in [
        (4, "entry", "cancelled", "nonce-0007"),
        (5, "entry", "waitlisted", "nonce-0008"),
        (1, "visit:a", "no_seat", "nonce-0009"),
    ] {
        let refused = scan(
            &app,
            "gate",
            &scan_body(&code(person), list, "in", nonce),
            &steward,
        );
        let problem = refused.problem(409, "not-active");
        assert_eq!(problem["reason"], reason, "{problem}");
    }
    // Without a seat, still at the entrance.
    let entry = scan(
        &app,
        "gate",
        &scan_body(&code(1), "entry", "in", "nonce-0010"),
        &steward,
    );
    assert_eq!(entry.status, 201, "{}", entry.body);
    assert!(entry.json()["person"]["site_visit"].is_null());
    // A code no one has (another event's key): 404, recorded.
    let unknown = ManageKey::new("another key").checkin_code_for(&p[0].0);
    let before = scans_recorded(&app, "gate");
    let missing = scan(
        &app,
        "gate",
        &scan_body(&unknown, "entry", "in", "nonce-0011"),
        &steward,
    );
    let problem = missing.problem(404, "not-found");
    assert_eq!(problem["outcome"], "unknown_code");
    assert!(problem["person"].is_null());
    assert_eq!(scans_recorded(&app, "gate"), before + 1, "every scan is recorded");
    // Organisers scan too; codes are read in any case, with spaces.
    let typed = format!("{} {}", &code(2)[..10], code(2)[10..].to_lowercase());
    let organiser = scan(
        &app,
        "gate",
        &scan_body(&typed, "visit:b", "in", "nonce-0012"),
        &app.organiser,
    );
    assert_eq!(organiser.status, 201, "{}", organiser.body);
    assert_eq!(
        scans_recorded(&app, "gate"),
        12,
        "one row per scan but the replay"
    );

    // The numbers: the entrance expects the four confirmed, a its one seat, b two.
    assert_eq!(
        list_numbers(&app, "gate", &steward),
        [
            ("entry".to_owned(), 4, 1, 1),
            ("visit:a".to_owned(), 1, 1, 1),
            ("visit:b".to_owned(), 2, 1, 1)
        ]
    );
    let b = list_status(&app, "gate", "visit:b", &steward);
    assert_eq!(
        (b["expected"].as_i64(), b["checked_in"].as_i64()),
        (Some(2), Some(1))
    );
    let missing: Vec<&str> = b["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(missing, [p[3].0.as_str()]);
    assert_eq!(b["missing"][0]["no_show"], false, "the visit is in 2030");

    // Scans by outcome in the metrics.
    let metrics = app.get("/metrics").body;
    for (outcome, at_least) in [
        ("checked_in", 3),
        ("already_checked_in", 1),
        ("wrong_list", 1),
        ("not_active", 3),
        ("unknown_code", 1),
        ("replayed", 1),
    ] {
        let line = metrics
            .lines()
            .find(|l| {
                l.starts_with(&format!(
                    "rallypoint_checkin_scans_total{{outcome=\"{outcome}\"}}"
                ))
            })
            .unwrap_or_else(|| panic!("no {outcome} series"));
        let value: i64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        assert!(value >= at_least, "{line}");
    }

    // The offline roster: hashes, never codes, and a validator that changes with it.
    let path = "/api/v1/events/gate/checkin-lists/visit:b/roster";
    let roster = get(&app, path, &steward);
    assert_eq!(roster.status, 200, "{}", roster.body);
    assert!(!roster.body.contains(&code(2)) && !roster.body.contains(&code(3)));
    let people = roster.json()["people"].as_array().unwrap().clone();
    assert_eq!(people.len(), 2);
    let p2 = people.iter().find(|x| x["id"] == p[2].0.as_str()).unwrap();
    assert_eq!(p2["code_hash"], hash_secret(&code(2)));
    assert_eq!(p2["visit"], "b");
    assert!(p2["checked_in_at"].is_string());
    let etag = etag_of(&app, path, &steward, None).0.unwrap();
    let (_, not_modified) = etag_of(&app, path, &steward, Some(&etag));
    assert_eq!(not_modified, 304);
    let in3 = scan(
        &app,
        "gate",
        &scan_body(&code(3), "visit:b", "in", "nonce-0013"),
        &steward,
    );
    assert_eq!(in3.status, 201, "{}", in3.body);
    let (changed, modified) = etag_of(&app, path, &steward, Some(&etag));
    assert_eq!(modified, 200);
    assert_ne!(changed.unwrap(), etag);
}

/// (ETag, status) of a GET with an optional `If-None-Match`.
fn etag_of(app: &TestApp, path: &str, token: &str, if_none_match: Option<&str>) -> (Option<String>, u16) {
    let mut request = ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}"));
    if let Some(tag) = if_none_match {
        request = request.set("If-None-Match", tag);
    }
    let response = match request.call() {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(other) => panic!("{other}"),
    };
    (response.header("etag").map(str::to_owned), response.status())
}

fn twenty_concurrent_scans_check_in_once(backend: Backend) {
    let app = TestApp::spawn(backend);
    let steward = token(&app.server.db, Role::Steward, "rush");
    app.create_event("rush", json!({}), &[("a", 10)]);
    let (one, _) = register(&app, "rush", 0, &["a"]);
    let (two, _) = register(&app, "rush", 1, &["a"]);
    let key = manage_key(&app);
    let jobs = |code: String, same_nonce: bool| -> Vec<Job<(u16, String)>> {
        (0..20)
            .map(|n| {
                let url = app.url("/api/v1/events/rush/checkins");
                let nonce = if same_nonce {
                    "the-same-nonce".to_owned()
                } else {
                    format!("concurrent-{n:04}")
                };
                let body = scan_body(&code, "visit:a", "in", &nonce).to_string();
                let steward = steward.clone();
                Box::new(move |agent: &ureq::Agent| {
                    let reply = send(agent.post(&url), "application/json", &body, Some(&steward));
                    let kind = serde_json::from_str::<Value>(&reply.body).unwrap()["type"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned();
                    (reply.status, kind)
                }) as Job<(u16, String)>
            })
            .collect()
    };
    // Twenty devices, twenty nonces: one check-in, nineteen `already-checked-in`.
    let answers = concurrently(20, jobs(key.checkin_code_for(&one), false));
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{answers:?}"
    );
    assert!(
        answers
            .iter()
            .all(|(s, kind)| *s == 201 || (*s == 409 && kind == "already-checked-in")),
        "{answers:?}"
    );
    // One scan sent twenty times at once: applied once, replayed nineteen times.
    let before = scans_recorded(&app, "rush");
    let answers = concurrently(20, jobs(key.checkin_code_for(&two), true));
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{answers:?}"
    );
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 200).count(),
        19,
        "{answers:?}"
    );
    assert_eq!(scans_recorded(&app, "rush"), before + 1);
    assert_eq!(
        list_numbers(&app, "rush", &steward),
        [("entry".to_owned(), 2, 0, 0), ("visit:a".to_owned(), 2, 2, 2)]
    );
}

fn offline_batches_from_two_devices_keep_the_earliest_scan(backend: Backend) {
    let app = TestApp::spawn(backend);
    let steward = token(&app.server.db, Role::Steward, "coach");
    app.create_event("coach", json!({}), &[("a", 20)]);
    let ids: Vec<String> = (0..6).map(|n| register(&app, "coach", n, &["a"]).0).collect();
    let key = manage_key(&app);
    let base = Utc::now() - Duration::hours(2);
    let at = |minutes: i64| base + Duration::minutes(minutes);
    let offline = |device: &str, person: usize, minutes: i64| {
        json!({
            "code": key.checkin_code_for(&ids[person]), "list": "visit:a", "direction": "in",
            "nonce": format!("{device}-{person}"), "device": device,
            "scanned_at": rfc3339(at(minutes)),
        })
    };
    // Device A: people 0–3; device B: people 2–5. Person 2 was first at A, person 3
    // first at B.
    let device_a: Vec<Value> = [(0, 1), (1, 2), (2, 3), (3, 9)]
        .iter()
        .map(|&(p, m)| offline("phone-a", p, m))
        .collect();
    let device_b: Vec<Value> = [(2, 7), (3, 4), (4, 5), (5, 6)]
        .iter()
        .map(|&(p, m)| offline("phone-b", p, m))
        .collect();
    let shuffled = |scans: &[Value], rotate: usize| {
        let mut scans = scans.to_vec();
        scans.reverse();
        scans.rotate_left(rotate);
        scans
    };

    // B first, though its scan of person 2 is later than A's; then A; then both again.
    let first_b = batch(&app, "coach", &shuffled(&device_b, 1), &steward);
    assert_eq!(first_b["checked_in"], 4, "{first_b}");
    let first_a = batch(&app, "coach", &shuffled(&device_a, 2), &steward);
    assert_eq!(first_a["replayed"], 0, "{first_a}");
    // A's person 2 (minute 3) overtakes B's (minute 7); A's person 3 (minute 9) comes
    // after B's (minute 4): a conflict.
    let outcome_of = |result: &Value, nonce: &str| {
        result["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["nonce"] == nonce)
            .unwrap_or_else(|| panic!("no {nonce} in {result}"))
            .clone()
    };
    assert_eq!(outcome_of(&first_a, "phone-a-2")["outcome"], "checked_in");
    let conflict = outcome_of(&first_a, "phone-a-3");
    assert_eq!(conflict["outcome"], "already_checked_in");
    assert_eq!(conflict["checked_in_device"], "phone-b");
    assert_eq!(first_a["conflicts"], 1);

    let before = scans_recorded(&app, "coach");
    let second_a = batch(&app, "coach", &shuffled(&device_a, 3), &steward);
    let second_b = batch(&app, "coach", &shuffled(&device_b, 0), &steward);
    assert_eq!(
        scans_recorded(&app, "coach"),
        before,
        "uploaded again: nothing written"
    );
    for upload in [&second_a, &second_b] {
        assert_eq!(upload["replayed"], 4, "{upload}");
        for result in upload["results"].as_array().unwrap() {
            assert_eq!(result["status"], 200, "{result}");
        }
    }
    // Now each scan stands for what it is: one check-in per person, the earliest.
    let (a2, b2) = (
        outcome_of(&second_a, "phone-a-2"),
        outcome_of(&second_b, "phone-b-2"),
    );
    assert_eq!(a2["outcome"], "checked_in");
    assert_eq!(
        b2["outcome"], "already_checked_in",
        "overtaken by A's earlier scan"
    );
    assert_eq!(b2["checked_in_device"], "phone-a");
    assert_eq!(
        outcome_of(&second_a, "phone-a-3")["outcome"],
        "already_checked_in"
    );
    assert_eq!(outcome_of(&second_b, "phone-b-3")["outcome"], "checked_in");
    assert_eq!(
        second_a["conflicts"].as_i64().unwrap() + second_b["conflicts"].as_i64().unwrap(),
        2,
        "persons 2 and 3 each have one scan that is not the check-in"
    );

    let expected_minutes = [1, 2, 3, 4, 5, 6];
    let roster = get(
        &app,
        "/api/v1/events/coach/checkin-lists/visit:a/roster",
        &steward,
    )
    .json();
    for (person, minutes) in ids.iter().zip(expected_minutes) {
        let entry = roster["people"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["id"] == person.as_str())
            .unwrap();
        assert_eq!(
            time(&entry["checked_in_at"]),
            at(minutes).trunc_subsecs_secs(),
            "{entry}"
        );
    }
    assert_eq!(
        list_numbers(&app, "coach", &steward)[1],
        ("visit:a".to_owned(), 6, 6, 6)
    );
}

trait TruncSecs {
    fn trunc_subsecs_secs(self) -> Self;
}

impl TruncSecs for DateTime<Utc> {
    fn trunc_subsecs_secs(self) -> Self {
        chrono::SubsecRound::trunc_subsecs(self, 0)
    }
}

/// A visit of `event` starting at `starts` (UTC).
fn visit_at(app: &TestApp, event: &str, slug: &str, starts: DateTime<Utc>, capacity: i64) {
    let reply = app.post_json(
        &format!("/api/v1/events/{event}/site-visits"),
        &json!({
            "slug": slug, "name": format!("Visit {slug}"), "location": "Charleroi",
            "starts_at": rfc3339(starts), "ends_at": rfc3339(starts + Duration::hours(3)),
            "capacity": capacity
        }),
        Some(&app.admin),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
}

fn csv_rows(body: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let text = body.trim_start_matches('\u{feff}');
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn no_shows_from_the_grace_deadline_in_lists_counts_exports_and_rosters(backend: Backend) {
    let app = TestApp::spawn(backend);
    let steward = token(&app.server.db, Role::Steward, "late");
    let today = Utc::now().date_naive();
    let dates = json!({
        "no_show_after_minutes": 20,
        "starts_on": (today - chrono::Days::new(1)).to_string(),
        "ends_on": (today + chrono::Days::new(40)).to_string(),
    });
    app.create_event("late", dates, &[]);
    assert_eq!(app.event("late")["no_show_after_minutes"], 20);
    // A visit that started two hours ago, and one in a month.
    let started = (Utc::now() - Duration::hours(2)).trunc_subsecs_secs();
    visit_at(&app, "late", "past", started, 5);
    visit_at(&app, "late", "future", Utc::now() + Duration::days(30), 5);
    let ids: Vec<String> = [&["past"][..], &["past"], &["past"], &["future"]]
        .iter()
        .enumerate()
        .map(|(n, prefs)| register(&app, "late", n, prefs).0)
        .collect();
    let key = manage_key(&app);
    // Person 0 checked in on time (offline, a minute after the start).
    let on_time = json!({
        "code": key.checkin_code_for(&ids[0]), "list": "visit:past", "direction": "in",
        "nonce": "on-time-0", "scanned_at": rfc3339(started + Duration::minutes(1)),
    });
    assert_eq!(scan(&app, "late", &on_time, &steward).status, 201);

    // The clock at the deadline and a second before (the domain with another `now`).
    let deadline = started.naive_utc() + Duration::minutes(20);
    let read = |now: chrono::NaiveDateTime| {
        app.server
            .db
            .read_blocking(move |conn| -> Result<_, DomainError> {
                let status = checkin::list_status(conn, "late", &ListName::Visit("past".into()), now)?;
                let Counts::BySiteVisit(counts) = exports::counts(conn, "late", CountsBy::SiteVisit, now)?
                else {
                    unreachable!()
                };
                let roster = rallypoint::domain::organiser::roster(conn, "late", "past", now)?;
                let mut cursor = exports::AttendeeCursor::open_at(conn, "late", now)?;
                let attendees = cursor.next_page(conn)?;
                Ok((status, counts, roster, attendees))
            })
            .unwrap()
    };
    let (status, counts, roster, attendees) = read(deadline - Duration::seconds(1));
    assert_eq!(
        (status.checked_in, status.no_show, status.missing.len()),
        (1, 0, 2)
    );
    assert!(status.missing.iter().all(|m| !m.no_show));
    assert_eq!((counts.lines[0].checked_in, counts.lines[0].no_show), (1, 0));
    assert!(roster.assigned.iter().all(|s| !s.no_show));
    assert!(attendees.iter().all(|a| !a.no_show));
    let (status, counts, roster, attendees) = read(deadline);
    assert_eq!(status.no_show_from.unwrap().naive_utc(), deadline);
    assert_eq!((status.checked_in, status.no_show), (1, 2));
    assert!(status.missing.iter().all(|m| m.no_show));
    assert_eq!((counts.lines[0].checked_in, counts.lines[0].no_show), (1, 2));
    assert_eq!(
        (counts.lines[1].checked_in, counts.lines[1].no_show),
        (0, 0),
        "not started"
    );
    assert_eq!((counts.total.checked_in, counts.total.no_show), (1, 2));
    let no_shows: Vec<&str> = roster
        .assigned
        .iter()
        .filter(|s| s.no_show)
        .map(|s| s.person.id.as_str())
        .collect();
    assert_eq!(no_shows, [ids[1].as_str(), ids[2].as_str()]);
    assert_eq!(
        attendees.iter().map(|a| a.no_show).collect::<Vec<_>>(),
        [false, true, true, false]
    );
    assert!(attendees[0].visit_checked_in_at.is_some() && attendees[0].checked_in_at.is_none());

    // Through the API now (the deadline passed long ago): counts, export and roster.
    let entry = json!({"code": key.checkin_code_for(&ids[3]), "list": "entry", "direction": "in", "nonce": "entry-scan-3"});
    assert_eq!(scan(&app, "late", &entry, &steward).status, 201);
    let counts = get(
        &app,
        "/api/v1/events/late/exports/counts?by=site_visit",
        &app.admin,
    );
    assert_eq!(counts.status, 200, "{}", counts.body);
    let (header, rows) = csv_rows(&counts.body);
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
    assert_eq!(rows[0][7..], ["1", "2"]);
    assert_eq!(rows[1][7..], ["0", "0"]);
    assert_eq!(rows[2][0], "TOTAL");
    assert_eq!(rows[2][7..], ["1", "2"]);
    let json_counts = get(
        &app,
        "/api/v1/events/late/exports/counts?by=site_visit&format=json",
        &app.admin,
    )
    .json();
    assert_eq!(json_counts["rows"][0]["no_show"], 2);
    assert_eq!(json_counts["total"]["checked_in"], 1);

    let list = get(&app, "/api/v1/events/late/exports/attendees", &app.admin);
    let (header, rows) = csv_rows(&list.body);
    assert_eq!(
        header[header.len() - 4..],
        ["registered_at", "checked_in_at", "visit_checked_in_at", "no_show"]
    );
    let column = |name: &str| header.iter().position(|h| h == name).unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r[column("no_show")].as_str())
            .collect::<Vec<_>>(),
        ["", "yes", "yes", ""]
    );
    let visit_time = DateTime::parse_from_rfc3339(&rows[0][column("visit_checked_in_at")]).unwrap();
    assert_eq!(visit_time.with_timezone(&Utc), started + Duration::minutes(1));
    assert!(
        rows[3][column("checked_in_at")].ends_with("+01:00")
            || rows[3][column("checked_in_at")].ends_with("+02:00")
    );
    assert_eq!(rows[3][column("visit_checked_in_at")], "");

    let roster = get(
        &app,
        "/api/v1/events/late/site-visits/past/roster",
        &app.organiser,
    )
    .json();
    let flags: Vec<(bool, bool)> = roster["assigned"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| (s["checked_in_at"].is_string(), s["no_show"].as_bool().unwrap()))
        .collect();
    assert_eq!(flags, [(true, false), (false, true), (false, true)]);
    let status = list_status(&app, "late", "visit:past", &steward);
    assert_eq!(status["no_show"], 2);
    let _: DateTime<FixedOffset> =
        DateTime::parse_from_rfc3339(status["no_show_from"].as_str().unwrap()).unwrap();
}

fn stewards_may_scan_and_nothing_else(backend: Backend) {
    let app = TestApp::spawn(backend);
    app.create_event("guard", json!({}), &[("a", 5)]);
    let (id, _) = register(&app, "guard", 0, &["a"]);
    // A steward token from the command line, on the app's database.
    let created = std::process::Command::new(env!("CARGO_BIN_EXE_rallypoint"))
        .args(["token", "create", "--role", "steward", "--name", "Gate A"])
        .env("RALLYPOINT_DATABASE_URL", &app.db.url)
        .env("RALLYPOINT_EVENTS_DIR", "/nonexistent")
        .env("RALLYPOINT_LOG", "warn")
        .output()
        .unwrap();
    assert!(created.status.success(), "{created:?}");
    let steward = String::from_utf8_lossy(&created.stdout)
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    // And one through the tokens API.
    let made = app.post_json(
        "/api/v1/tokens",
        &json!({"name": "Gate B", "role": "steward"}),
        Some(&app.admin),
    );
    assert_eq!(made.status, 201, "{}", made.body);
    assert_eq!(made.json()["role"], "steward", "{}", made.body);
    let api_steward = made.json()["secret"].as_str().unwrap().to_owned();

    for token in [&steward, &api_steward] {
        assert_eq!(get(&app, "/api/v1/events/guard/checkin-lists", token).status, 200);
        assert_eq!(
            get(&app, "/api/v1/events/guard/checkin-lists/entry/status", token).status,
            200
        );
    }
    let code = manage_key(&app).checkin_code_for(&id);
    let scanned = scan(
        &app,
        "guard",
        &scan_body(&code, "entry", "in", "steward-1"),
        &steward,
    );
    assert_eq!(scanned.status, 201, "{}", scanned.body);

    let gets = [
        "/api/v1/events/guard/registrations",
        "/api/v1/events/guard/site-visits/a/roster",
        "/api/v1/events/guard/audit",
        "/api/v1/events/guard/exports/counts?by=site_visit",
        "/api/v1/events/guard/exports/attendees",
        "/api/v1/emails",
        "/api/v1/tokens",
    ];
    for path in gets {
        get(&app, path, &steward).problem(403, "forbidden");
    }
    let writes: [(&str, String, Value); 7] = [
        (
            "POST",
            "/api/v1/events".into(),
            json!({"slug": "x", "name": "x", "timezone": "UTC", "starts_on": "2030-01-01", "ends_on": "2030-01-01"}),
        ),
        ("POST", "/api/v1/events/guard/site-visits".into(), json!({})),
        (
            "PATCH",
            "/api/v1/events/guard/site-visits/a".into(),
            json!({"capacity": 1}),
        ),
        (
            "PUT",
            format!("/api/v1/events/guard/registrations/{id}/site-visit"),
            json!({"site_visit": null}),
        ),
        (
            "POST",
            "/api/v1/events/guard/allocation".into(),
            json!({"dry_run": true}),
        ),
        (
            "POST",
            "/api/v1/tokens".into(),
            json!({"name": "mine", "role": "admin"}),
        ),
        (
            "DELETE",
            format!("/api/v1/events/guard/registrations/{id}?erase=true"),
            json!({}),
        ),
    ];
    for (method, path, body) in writes {
        let reply = send(
            ureq::request(method, &app.url(&path)),
            "application/json",
            &body.to_string(),
            Some(&steward),
        );
        reply.problem(403, "forbidden");
    }
    // Still seated, still registered: nothing a steward sent changed anything.
    assert_eq!(app.event("guard")["site_visits"][0]["assigned"], 1);
    // Without a token: 401.
    assert_eq!(app.get("/api/v1/events/guard/checkin-lists").status, 401);
}

fn bad_input_is_a_problem_document_and_writes_nothing(backend: Backend) {
    let app = TestApp::spawn(backend);
    let steward = token(&app.server.db, Role::Steward, "strict");
    app.create_event("strict", json!({}), &[("a", 5)]);
    let (id, _) = register(&app, "strict", 0, &["a"]);
    let code = manage_key(&app).checkin_code_for(&id);
    let good = scan_body(&code, "visit:a", "in", "good-nonce-1");
    let with = |field: &str, value: Value| {
        let mut body = good.clone();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(field);
        body
    };
    for (body, field) in [
        (with("code", json!("not a code")), "code"),
        (with("code", json!(12)), "code"),
        (without("code"), "code"),
        (with("list", json!("coach")), "list"),
        (with("list", json!("visit:nowhere")), "list"),
        (with("direction", json!("sideways")), "direction"),
        (without("direction"), "direction"),
        (with("nonce", json!("short")), "nonce"),
        (with("nonce", json!("with space!")), "nonce"),
        (without("nonce"), "nonce"),
        (with("scanned_at", json!("yesterday")), "scanned_at"),
        (with("device", json!("x".repeat(101))), "device"),
        (with("colour", json!("red")), "colour"),
    ] {
        let reply = scan(&app, "strict", &body, &steward);
        let problem = reply.problem(422, "validation-failed");
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");
    }
    // Batches: too many, empty, one bad scan among good ones — nothing applied.
    let many: Vec<Value> = (0..1001)
        .map(|n| with("nonce", json!(format!("many-{n:05}"))))
        .collect();
    let reply = app.post_json(
        "/api/v1/events/strict/checkins/batch",
        &json!({ "scans": many }),
        Some(&steward),
    );
    assert!(reply.problem(422, "validation-failed")["errors"]["scans"].is_array());
    for (body, field) in [
        (json!({"scans": []}), "scans"),
        (json!({}), "scans"),
        (
            json!({"scans": [good.clone(), with("code", json!("x"))]}),
            "scans[1].code",
        ),
        (
            json!({"scans": [good.clone(), with("list", json!("visit:nowhere"))]}),
            "scans[1].list",
        ),
    ] {
        let reply = app.post_json("/api/v1/events/strict/checkins/batch", &body, Some(&steward));
        let problem = reply.problem(422, "validation-failed");
        assert!(problem["errors"][field].is_array(), "{field}: {problem}");
    }
    // A thousand is fine (and larger than the default body limit of other requests).
    let thousand: Vec<Value> = (0..1000)
        .map(|n| {
            let mut body = with("nonce", json!(format!("thousand-{n:05}")));
            body["device"] = json!("a phone with quite a long device name, to make the body large");
            body
        })
        .collect();
    let done = batch(&app, "strict", &thousand, &steward);
    assert_eq!(
        (done["checked_in"].as_i64(), done["conflicts"].as_i64()),
        (Some(1), Some(999))
    );
    let recorded = scans_recorded(&app, "strict");
    assert_eq!(recorded, 1000);
    // Not JSON, not an object, another media type, unknown event or list.
    let path = "/api/v1/events/strict/checkins";
    send(
        ureq::post(&app.url(path)),
        "application/json",
        "{",
        Some(&steward),
    )
    .problem(400, "malformed-request");
    send(
        ureq::post(&app.url(path)),
        "application/json",
        "[]",
        Some(&steward),
    )
    .problem(400, "malformed-request");
    send(ureq::post(&app.url(path)), "text/plain", "x", Some(&steward))
        .problem(415, "unsupported-media-type");
    scan(&app, "nowhere", &good, &steward).problem(404, "not-found");
    get(&app, "/api/v1/events/strict/checkin-lists/coach/status", &steward).problem(404, "not-found");
    get(
        &app,
        "/api/v1/events/strict/checkin-lists/visit:b/roster",
        &steward,
    )
    .problem(404, "not-found");
    get(&app, "/api/v1/events/nowhere/checkin-lists", &steward).problem(404, "not-found");
    assert_eq!(
        scans_recorded(&app, "strict"),
        recorded,
        "bad input writes nothing"
    );
}

fn codes_are_filled_at_start_up_and_stop_at_erasure(backend: Backend) {
    let app = TestApp::spawn(backend);
    let steward = token(&app.server.db, Role::Steward, "restart");
    app.create_event("older", json!({}), &[("a", 5)]);
    let ids: Vec<String> = (0..3).map(|n| register(&app, "older", n, &["a"]).0).collect();
    // As if registered before codes were stored.
    app.server
        .db
        .write_blocking(|conn| {
            use diesel::RunQueryDsl;
            diesel::sql_query("UPDATE registrations SET checkin_code_hash = NULL")
                .execute(conn)
                .map_err(rallypoint::db::DbError::from)
        })
        .unwrap();
    let key = manage_key(&app);
    let scan_one = |app: &TestApp, person: usize, nonce: &str| {
        scan(
            app,
            "older",
            &scan_body(&key.checkin_code_for(&ids[person]), "entry", "in", nonce),
            &steward,
        )
    };
    scan_one(&app, 0, "before-restart").problem(404, "not-found");
    let app = app.restart();
    let after = scan_one(&app, 0, "after-restart");
    assert_eq!(after.status, 201, "{}", after.body);
    // Erased: the code no longer checks in.
    let erased = call(
        ureq::delete(&app.url(&format!(
            "/api/v1/events/older/registrations/{}?erase=true",
            ids[1]
        )))
        .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(erased.status, 200, "{}", erased.body);
    scan_one(&app, 1, "after-erasure").problem(404, "not-found");
    let third = scan_one(&app, 2, "third-scan");
    assert_eq!(third.status, 201, "{}", third.body);
}
