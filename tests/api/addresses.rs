//! Issue 16 (4, 5, 6, 9): one spelling per address (IDNA), addresses no relay delivers
//! to, names that carry no link and no direction override, and formulas that no
//! spreadsheet runs whatever its list separator.

use std::time::Duration;

use diesel::prelude::*;
use diesel::sql_types::Text;
use rallypoint::domain::erasure;
use serde_json::{json, Value};

use crate::helpers::{assert_duplicate_answer, call, send, Backend, Reply, TestApp, DEMO_EVENT};
use crate::smtp::SmtpServer;

crate::on_both_backends!(
    other_spellings_of_one_address_are_one_registration,
    addresses_no_relay_delivers_to_are_refused,
    names_with_a_link_or_a_direction_override_are_refused,
    a_formula_after_a_separator_is_run_by_no_spreadsheet,
    the_confirmation_goes_to_the_ascii_domain_and_says_how_to_cancel,
    addresses_stored_as_typed_are_normalised_at_start_up,
);

/// Five spellings of two addresses: IDNA maps full-width letters, the ideographic full
/// stop and capitals onto `example.com`, and `exämple.com` onto its Punycode form, which
/// is another domain than `example.com` (its owner may be someone else).
const KATE: [&str; 3] = [
    "kate@example.com",
    "kate@\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}.com", // full-width "example"
    "kate@EXAMPLE\u{3002}com",                                           // ideographic full stop
];
const KATE_IDN: [&str; 2] = ["kate@exämple.com", "kate@xn--exmple-cua.com"];

fn person(first: &str, last: &str, email: &str) -> Value {
    json!({"first_name": first, "last_name": last, "email": email, "organisation": "Lab",
           "country": "BE", "preferences": ["aperam-chatelet"], "consent": true})
}

fn registered_id(reply: &Reply) -> String {
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.json()["id"].as_str().unwrap().to_owned()
}

/// The 422's errors, which must name exactly `fields`.
fn refused(reply: &Reply, fields: &[&str]) -> Value {
    let problem = reply.problem(422, "validation-failed");
    let errors = problem["errors"].clone();
    let named: Vec<&str> = errors.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(named, fields, "{problem}");
    errors
}

#[derive(QueryableByName, Debug, PartialEq)]
struct Stored {
    #[diesel(sql_type = Text)]
    email: String,
    #[diesel(sql_type = Text)]
    email_normalized: String,
}

/// Runs `statements` on the test's database directly (as an older version would have
/// written), then reads the addresses stored for `ids`.
fn on_database(app: &TestApp, statements: &[String], ids: &[&str]) -> Vec<Stored> {
    // The same code over either connection type.
    macro_rules! run {
        ($conn:expr) => {{
            let conn = &mut $conn;
            for statement in statements {
                diesel::sql_query(statement.as_str()).execute(conn).unwrap();
            }
            ids.iter()
                .map(|id| {
                    diesel::sql_query(format!(
                        "SELECT email, email_normalized FROM registrations WHERE id = '{id}'"
                    ))
                    .get_result::<Stored>(conn)
                    .unwrap()
                })
                .collect()
        }};
    }
    match app.backend {
        Backend::Sqlite => {
            let mut conn = diesel::SqliteConnection::establish(&app.db.url).unwrap();
            // The server's mail worker may hold the write lock (settling the emails of
            // the registrations just made): wait for it, as the server's own connections do.
            diesel::connection::SimpleConnection::batch_execute(&mut conn, "PRAGMA busy_timeout = 5000")
                .unwrap();
            run!(conn)
        }
        Backend::Postgres => run!(diesel::PgConnection::establish(&app.db.url).unwrap()),
    }
}

fn other_spellings_of_one_address_are_one_registration(backend: Backend) {
    let app = TestApp::spawn(backend);
    let id = registered_id(&app.register(DEMO_EVENT, &person("Kate", "Bishop", KATE[0])));
    for spelling in &KATE[1..] {
        let again = app.register(DEMO_EVENT, &person("Kate", "Other", spelling));
        assert_duplicate_answer(&app, &again);
    }
    let idn = registered_id(&app.register(DEMO_EVENT, &person("Kate", "Bishop", KATE_IDN[0])));
    let again = app.register(DEMO_EVENT, &person("Kate", "Other", KATE_IDN[1]));
    assert_duplicate_answer(&app, &again);
    let visit = &app.event(DEMO_EVENT)["site_visits"][0];
    assert_eq!(visit["assigned"], 2, "no other spelling took a seat");

    // Stored in the one spelling, its local part as typed; compared lower-cased.
    let id2 = registered_id(&app.register(DEMO_EVENT, &person("Jörg", "Müller", "Jorg@EXÄMPLE.com")));
    let again = app.register(DEMO_EVENT, &person("Jörg", "Müller", "jorg@xn--exmple-cua.com"));
    assert_duplicate_answer(&app, &again);
    let stored = on_database(&app, &[], &[&id, &idn, &id2]);
    assert_eq!(
        stored,
        [
            Stored {
                email: "kate@example.com".into(),
                email_normalized: "kate@example.com".into()
            },
            Stored {
                email: "kate@xn--exmple-cua.com".into(),
                email_normalized: "kate@xn--exmple-cua.com".into()
            },
            Stored {
                email: "Jorg@xn--exmple-cua.com".into(),
                email_normalized: "jorg@xn--exmple-cua.com".into()
            },
        ]
    );
}

fn addresses_no_relay_delivers_to_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend);
    for address in [
        "a@[127.0.0.1]",
        "a@[IPv6:::1]",
        "a@127.0.0.1",
        "a@localhost",
        "a@exa_mple.com",
        "a@-example.com",
        "a@example.com.",
    ] {
        let errors = refused(
            &app.register(DEMO_EVENT, &person("Ana", "Lima", address)),
            &["email"],
        );
        assert!(
            !errors["email"][0].as_str().unwrap().is_empty(),
            "{address}: {errors}"
        );
    }
    let errors = refused(
        &app.register(DEMO_EVENT, &person("Ana", "Lima", "a@[127.0.0.1]")),
        &["email"],
    );
    assert_eq!(errors["email"][0], "must have a domain name, not an IP address");
    let visit = &app.event(DEMO_EVENT)["site_visits"][0];
    assert_eq!(visit["assigned"], 0, "nothing was stored");
}

fn names_with_a_link_or_a_direction_override_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend);
    let phishing = "Your account is locked. Verify at https://evil.example";
    let errors = refused(
        &app.register(DEMO_EVENT, &person(phishing, "Lima", "ana@example.org")),
        &["first_name"],
    );
    assert_eq!(errors["first_name"][0], "must be a name, not a web address");
    refused(
        &app.register(DEMO_EVENT, &person("Ana", "evil.example", "ana@example.org")),
        &["last_name"],
    );
    // U+202E makes a roster show "Lima" + U+202E + "exe.txt" as "Limatxt.exe".
    let errors = refused(
        &app.register(
            DEMO_EVENT,
            &person("Ana", "Lima\u{202E}exe.txt", "ana@example.org"),
        ),
        &["last_name"],
    );
    assert!(
        errors["last_name"][0]
            .as_str()
            .unwrap()
            .contains("text direction"),
        "{errors}"
    );
    let mut body = person("Ana", "Lima", "ana@example.org");
    body["organisation"] = json!("Lab \u{2067}x\u{2069}");
    body["job_title"] = json!("see www.evil.example");
    body["dietary"] = json!("none\u{200F}");
    refused(
        &app.register(DEMO_EVENT, &body),
        &["dietary", "job_title", "organisation"],
    );
    // A form is read by the same rules.
    let form = "first_name=Ana&last_name=www.evil.example&email=ana%40example.org&organisation=Lab\
                &country=PT&consent=on";
    refused(
        &app.post_form(&format!("/api/v1/events/{DEMO_EVENT}/registrations"), form),
        &["last_name"],
    );

    // Real names are names.
    for (n, (first, last)) in [
        ("Maria Clara", "Lobo Antunes de Albuquerque"),
        ("Maria Clara Lobo Antunes de Albuquerque", "Lobo"),
        ("Irena", "Łobocka-Müller"),
        ("Shōhei", "Ōta"),
        ("Siobhán", "O'Brien"),
        ("Nguyễn Thị Minh Khai", "Nguyễn"),
        ("J.R.R.", "St. John"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut body = person(first, last, &format!("name{n}@example.org"));
        body["organisation"] = json!("Univ. of Porto / Booking.com");
        registered_id(&app.register(DEMO_EVENT, &body));
    }
}

fn a_formula_after_a_separator_is_run_by_no_spreadsheet(backend: Backend) {
    let app = TestApp::spawn(backend);
    let mut body = person("=1+1", "x;=1+1", "x@example.org");
    body["organisation"] = json!("Lab,@SUM(A1);-2");
    registered_id(&app.register(DEMO_EVENT, &body));
    let reply = call(
        ureq::get(&app.url(&format!(
            "/api/v1/events/{DEMO_EVENT}/exports/attendees?format=csv"
        )))
        .set("Authorization", &format!("Bearer {}", app.admin)),
        None,
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let csv = reply.body.into_bytes();
    for separator in [b',', b';'] {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(separator)
            .has_headers(false)
            .flexible(true)
            .from_reader(csv.as_slice());
        let mut lines = 0;
        for record in reader.records() {
            lines += 1;
            for field in record.unwrap().iter() {
                assert!(
                    !field.starts_with(['=', '+', '-', '@', '\t', '\r']),
                    "{field:?} starts a field when split by {:?}",
                    separator as char
                );
            }
        }
        assert_eq!(lines, 2, "the header and the one person");
    }
    let text = String::from_utf8(csv).unwrap();
    assert!(text.contains(",'=1+1,x;'=1+1,"), "{text}");
    assert!(text.contains("\"Lab,'@SUM(A1);'-2\""), "{text}");
}

fn the_confirmation_goes_to_the_ascii_domain_and_says_how_to_cancel(backend: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url);
    registered_id(&app.register(DEMO_EVENT, &person("Kate", "Bishop", "kate@exämple.com")));
    let french = send(
        ureq::post(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations")))
            .set("Accept-Language", "fr"),
        "application/json",
        &person("Léa", "Dubois", "lea@exemple.fr").to_string(),
        None,
    );
    registered_id(&french);
    smtp.wait_for(2, Duration::from_secs(30));

    let to_kate = smtp.to("kate@xn--exmple-cua.com");
    assert_eq!(to_kate.len(), 1, "the envelope names the ASCII domain");
    let message = to_kate[0].parsed();
    let to = message.to().and_then(|to| to.first()).and_then(|a| a.address());
    assert_eq!(to, Some("kate@xn--exmple-cua.com"), "and so does the To: header");
    let text = to_kate[0].text();
    assert!(
        text.contains("This address was registered for Clusters Meet Regions")
            && text.contains("If that was not you, cancel the registration with the link above"),
        "{text}"
    );
    assert!(to_kate[0]
        .html()
        .contains("If that was not you, cancel the registration"));

    let to_lea = &smtp.to("lea@exemple.fr")[0];
    let text = to_lea.text();
    assert!(
        text.contains("Cette adresse a été inscrite à Clusters Meet Regions")
            && text.contains("Si ce n'est pas vous, annulez l'inscription avec le lien ci-dessus"),
        "{text}"
    );
    assert!(to_lea.html().contains("Si ce n'est pas vous, annulez"));
}

fn addresses_stored_as_typed_are_normalised_at_start_up(backend: Backend) {
    let app = TestApp::spawn(backend);
    let kate = registered_id(&app.register(DEMO_EVENT, &person("Kate", "Bishop", "kate@example.com")));
    let twin = registered_id(&app.register(DEMO_EVENT, &person("Kate", "Twin", "twin@example.com")));
    let lena = registered_id(&app.register(DEMO_EVENT, &person("Lena", "Berg", "lena@example.com")));
    // As an older version stored them: as typed, compared lower-cased. The twin is the
    // duplicate that comparison let in.
    let fullwidth = "kate@\u{FF45}\u{FF58}\u{FF41}\u{FF4D}\u{FF50}\u{FF4C}\u{FF45}.com";
    on_database(
        &app,
        &[
            format!(
                "UPDATE registrations SET email = '{fullwidth}', email_normalized = '{fullwidth}' \
                 WHERE id = '{twin}'"
            ),
            format!(
                "UPDATE registrations SET email = 'Lena@Exämple.com', email_normalized = 'lena@exämple.com' \
                 WHERE id = '{lena}'"
            ),
        ],
        &[],
    );

    let app = app.restart();
    let stored = on_database(&app, &[], &[&lena, &twin]);
    assert_eq!(
        stored[0],
        Stored {
            email: "Lena@xn--exmple-cua.com".into(),
            email_normalized: "lena@xn--exmple-cua.com".into()
        }
    );
    assert_eq!(
        stored[1].email_normalized, fullwidth,
        "the duplicate waits for an organiser"
    );
    let again = app.register(DEMO_EVENT, &person("Lena", "Again", "LENA@xn--exmple-cua.com"));
    assert_duplicate_answer(&app, &again);

    // Once one of the pair is cancelled, the next start-up normalises the other.
    let cancelled = send(
        ureq::delete(&app.url(&format!("/api/v1/events/{DEMO_EVENT}/registrations/{kate}"))),
        "application/json",
        "",
        Some(&app.organiser),
    );
    assert_eq!(cancelled.status, 200, "{}", cancelled.body);
    let app = app.restart();
    let stored = on_database(&app, &[], &[&twin]);
    assert_eq!(stored[0].email, "kate@example.com");

    // Erasure by email finds every spelling.
    let erased = app
        .server
        .db
        .write_blocking(|conn| {
            erasure::erase_by_email(conn, "test", " LENA@EXÄMPLE.COM ", rallypoint::domain::now())
        })
        .unwrap();
    assert_eq!(erased.len(), 1);
    assert_eq!(erased[0].id, lena);
}
