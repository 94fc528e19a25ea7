//! Issue 20: registration questions (every kind checked at registration and through
//! the manage link, visit questions asked only of the visit's seated people, the
//! answers' deadline), the admin API, and the answers in exports with stable columns.

use serde_json::{json, Value};

use crate::browsing::Browser;
use crate::helpers::{call, participant, send, Backend, Reply, TestApp, DEMO_EVENT};
use crate::smtp::SmtpServer;

crate::on_both_backends!(
    every_kind_is_checked_at_registration,
    visit_questions_are_asked_only_after_seating_and_only_of_that_visit,
    answers_change_until_the_deadline_only,
    exports_keep_their_columns_after_a_label_change_and_count_per_visit,
    the_admin_api_guards_ids_kinds_and_answered_choices,
    the_form_takes_answers_with_errors_in_english_and_french,
    erasure_deletes_the_answers,
    the_pages_ask_the_questions_and_take_the_visit_answers,
    the_confirmation_email_asks_for_the_visit_answers,
    the_demo_event_file_asks_its_questions,
    an_event_file_never_changes_a_kind_or_drops_a_chosen_choice,
);

const EVENT: &str = "q-event";

/// An event with two visits (`steel` of 2 seats, `bio` of 5) and a question of every
/// kind; `shoes` is asked of the `steel` visit's people only.
fn event_with_questions(app: &TestApp, extra: Value) -> Vec<Value> {
    app.create_event(EVENT, extra, &[("steel", 2), ("bio", 5)]);
    let questions = [
        json!({"id": "dinner", "kind": "yes_no", "label": {"en": "Dinner", "fr": "Dîner"}}),
        json!({"id": "meal", "kind": "choice", "required": true, "label": {"en": "Meal", "fr": "Repas"},
               "choices": [{"id": "standard", "en": "Standard", "fr": "Standard"},
                           {"id": "vegetarian", "en": "Vegetarian", "fr": "Végétarien"}]}),
        json!({"id": "allergies", "kind": "choices", "max": 2, "label": {"en": "Allergies"},
               "choices": [{"id": "nuts", "en": "Nuts"}, {"id": "gluten", "en": "Gluten"},
                           {"id": "lactose", "en": "Lactose"}]}),
        json!({"id": "guests", "kind": "number", "min": 0, "max": 2.5, "label": {"en": "Guests"}}),
        json!({"id": "home", "kind": "country", "label": {"en": "Country of residence"}}),
        json!({"id": "arrival", "kind": "date", "min": "2030-05-30", "max": "2030-06-02",
               "label": {"en": "Arrival"}}),
        json!({"id": "note", "kind": "text", "max_length": 20, "label": {"en": "Note"}}),
        json!({"id": "shoes", "kind": "yes_no", "required": true, "site_visits": ["steel"],
               "label": {"en": "I will wear closed shoes", "fr": "Je porterai des chaussures fermées"}}),
    ];
    questions
        .into_iter()
        .map(|question| {
            let reply = app.post_json(
                &format!("/api/v1/events/{EVENT}/questions"),
                &question,
                Some(&app.admin),
            );
            assert_eq!(reply.status, 201, "{}", reply.body);
            assert_eq!(
                reply.location.as_deref(),
                Some(
                    format!(
                        "/api/v1/events/{EVENT}/questions/{}",
                        question["id"].as_str().unwrap()
                    )
                    .as_str()
                )
            );
            reply.json()
        })
        .collect()
}

fn with_answers(n: usize, preferences: &[&str], answers: Value) -> Value {
    let mut body = participant(n, preferences);
    body["answers"] = answers;
    body
}

/// The token of a registration's manage link.
fn token_of(reply: &Reply) -> String {
    let url = reply.json()["manage_url"].as_str().unwrap().to_owned();
    url.rsplit('/').next().unwrap().to_owned()
}

fn manage(app: &TestApp, token: &str) -> Value {
    let reply = app.get(&format!("/api/v1/manage/{token}"));
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json()
}

fn patch_manage(app: &TestApp, token: &str, body: &Value) -> Reply {
    send(
        ureq::patch(&app.url(&format!("/api/v1/manage/{token}"))),
        "application/json",
        &body.to_string(),
        None,
    )
}

fn admin_get(app: &TestApp, path: &str, token: &str) -> Reply {
    call(
        ureq::get(&app.url(path)).set("Authorization", &format!("Bearer {token}")),
        None,
    )
}

fn field_errors(reply: &Reply) -> Value {
    reply.problem(422, "validation-failed")["errors"].clone()
}

fn every_kind_is_checked_at_registration(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));

    // Bad answers of every kind, each reported under `answers.{id}`.
    let bad = app.register(
        EVENT,
        &with_answers(
            1,
            &["bio"],
            json!({
                "dinner": "perhaps", "meal": "fish", "allergies": ["nuts", "gluten", "lactose"],
                "guests": 3, "home": "XX", "arrival": "05/06/2030", "note": "x".repeat(21),
                "mystery": "?"
            }),
        ),
    );
    let errors = field_errors(&bad);
    for (field, fragment) in [
        ("answers.dinner", "true or false"),
        ("answers.meal", "not one of the choices"),
        ("answers.allergies", "at most 2"),
        ("answers.guests", "at most 2.5"),
        ("answers.home", "ISO 3166-1"),
        ("answers.arrival", "YYYY-MM-DD"),
        ("answers.note", "at most 20 characters"),
        ("answers.mystery", "not a known field"),
    ] {
        let messages = errors[field].to_string();
        assert!(messages.contains(fragment), "{field}: {errors}");
    }
    // A required question unanswered, wrong types, bounds from below.
    let bad = app.register(
        EVENT,
        &with_answers(
            1,
            &["bio"],
            json!({"guests": -1, "arrival": "2030-05-01", "allergies": ["nuts", "nuts"], "dinner": 3}),
        ),
    );
    let errors = field_errors(&bad);
    assert_eq!(errors["answers.meal"], json!(["is required"]), "{errors}");
    assert_eq!(errors["answers.guests"], json!(["must be at least 0"]));
    assert_eq!(
        errors["answers.arrival"],
        json!(["must be on or after 2030-05-30"])
    );
    assert!(errors["answers.allergies"].to_string().contains("more than once"));
    assert!(errors["answers.dinner"].to_string().contains("true or false"));
    // No answers at all: the required one is missing.
    let bad = app.register(EVENT, &participant(1, &["bio"]));
    assert_eq!(field_errors(&bad)["answers.meal"], json!(["is required"]));
    // Nothing was written by the refusals.
    let list = admin_get(
        &app,
        &format!("/api/v1/events/{EVENT}/registrations"),
        &app.organiser,
    );
    assert_eq!(list.json()["total"], 0, "{}", list.body);

    // Good answers are kept in their canonical form.
    let good = app.register(
        EVENT,
        &with_answers(
            1,
            &["bio"],
            json!({
                "dinner": "yes", "meal": "vegetarian", "allergies": ["lactose", "nuts"],
                "guests": "1.5", "home": " it ", "arrival": "2030-06-01", "note": "  late  "
            }),
        ),
    );
    assert_eq!(good.status, 201, "{}", good.body);
    let view = manage(&app, &token_of(&good));
    let answers: Value = view["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| (q["id"].as_str().unwrap().to_owned(), q["answer"].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into();
    assert_eq!(
        answers,
        json!({
            "dinner": true, "meal": "vegetarian", "allergies": ["nuts", "lactose"], "guests": 1.5,
            "home": "IT", "arrival": "2030-06-01", "note": "late"
        }),
        "a bio person is not asked the steel question: {view}"
    );
    assert_eq!(view["missing"], json!([]));
    assert_eq!(view["answers_open"], true);
}

fn visit_questions_are_asked_only_after_seating_and_only_of_that_visit(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));
    let meal = json!({"meal": "standard"});
    // Not at registration, even by someone who ranks the visit first.
    let early = app.register(
        EVENT,
        &with_answers(1, &["steel"], json!({"meal": "standard", "shoes": true})),
    );
    assert!(
        field_errors(&early)["answers.shoes"]
            .to_string()
            .contains("once you hold a seat"),
        "{}",
        early.body
    );
    // Two seats in steel, then a third person waits for it.
    let seated = app.register(EVENT, &with_answers(1, &["steel"], meal.clone()));
    assert_eq!(seated.status, 201, "{}", seated.body);
    let other = app.register(EVENT, &with_answers(2, &["steel"], meal.clone()));
    assert_eq!(other.status, 201);
    let waiting = app.register(EVENT, &with_answers(3, &["steel", "bio"], meal.clone()));
    let bio = app.register(EVENT, &with_answers(4, &["bio"], meal.clone()));
    assert_eq!(waiting.json()["site_visit"]["slug"], "bio", "{}", waiting.body);

    let seated = token_of(&seated);
    let view = manage(&app, &seated);
    let ids: Vec<&str> = view["questions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|q| q["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&"shoes"), "{view}");
    assert_eq!(view["missing"], json!(["shoes"]));
    let shoes = view["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "shoes")
        .unwrap();
    assert_eq!(shoes["site_visits"], json!(["steel"]));
    assert_eq!(shoes["label"]["fr"], "Je porterai des chaussures fermées");

    // A required yes/no must be answered yes; nothing else changes with a refusal.
    let no = patch_manage(
        &app,
        &seated,
        &json!({"answers": {"shoes": false, "dinner": true}}),
    );
    assert_eq!(
        field_errors(&no)["answers.shoes"],
        json!(["must be answered yes"])
    );
    let view = manage(&app, &seated);
    let dinner = view["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "dinner")
        .unwrap();
    assert_eq!(dinner["answer"], Value::Null, "a refused change changes nothing");
    let yes = patch_manage(&app, &seated, &json!({"answers": {"shoes": true}}));
    assert_eq!(yes.status, 200, "{}", yes.body);
    assert_eq!(yes.json()["missing"], json!([]));
    // The ranking is unchanged by an answers-only change; meal answered at registration stays.
    assert_eq!(yes.json()["preferences"], json!(["steel"]));
    let meal_answer = yes.json()["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "meal")
        .unwrap()["answer"]
        .clone();
    assert_eq!(meal_answer, "standard");

    // Moved out of the visit, the person keeps the answer, but it no longer applies:
    // not asked, not exported (docs/questions.md, "Losing a seat keeps the answers").
    let id = manage(&app, &seated)["id"].as_str().unwrap().to_owned();
    let moved = send(
        ureq::put(&app.url(&format!("/api/v1/events/{EVENT}/registrations/{id}/site-visit"))),
        "application/json",
        &json!({"site_visit": "bio"}).to_string(),
        Some(&app.organiser),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let view = manage(&app, &seated);
    assert!(!view["questions"].to_string().contains("\"shoes\""), "{view}");
    assert_eq!(view["missing"], json!([]));
    let lookup = id.clone();
    let kept: i64 = app
        .server
        .db
        .read_blocking(move |conn| {
            use diesel::prelude::*;
            use rallypoint::db::schema::answers;
            answers::table
                .filter(answers::registration_id.eq(&lookup))
                .filter(answers::question_id.eq("shoes"))
                .count()
                .get_result::<i64>(conn)
                .map_err(rallypoint::domain::DomainError::from)
        })
        .unwrap();
    assert_eq!(kept, 1, "the answer is kept");
    let lines = csv_lines(&app, &format!("/api/v1/events/{EVENT}/exports/attendees"));
    let shoes = lines[0].iter().position(|c| c == "q:shoes").unwrap();
    let line = lines.iter().find(|l| l[0] == id).unwrap();
    assert_eq!(line[shoes], "", "not exported while not seated there");

    // The seat freed went to the person waiting for steel: now seated, now asked.
    let promoted = manage(&app, &token_of(&waiting));
    assert_eq!(promoted["site_visit"]["slug"], "steel", "{promoted}");
    assert_eq!(promoted["missing"], json!(["shoes"]));

    // People of another visit are neither asked nor allowed to answer it.
    for token in [seated.clone(), token_of(&bio)] {
        let view = manage(&app, &token);
        assert!(!view["questions"].to_string().contains("\"shoes\""), "{view}");
        let refused = patch_manage(&app, &token, &json!({"answers": {"shoes": true}}));
        assert!(field_errors(&refused)["answers.shoes"]
            .to_string()
            .contains("once you hold a seat"));
    }
    // A required event question cannot be cleared; an optional one can.
    let cleared = patch_manage(&app, &seated, &json!({"answers": {"meal": null}}));
    assert_eq!(field_errors(&cleared)["answers.meal"], json!(["is required"]));
    patch_manage(&app, &seated, &json!({"answers": {"dinner": "on"}}));
    let cleared = patch_manage(&app, &seated, &json!({"answers": {"dinner": null}}));
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    let dinner = cleared.json()["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "dinner")
        .unwrap()["answer"]
        .clone();
    assert_eq!(dinner, Value::Null);
}

fn answers_change_until_the_deadline_only(backend: Backend) {
    let app = TestApp::spawn(backend);
    // Registration is open, answers closed yesterday.
    let yesterday = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    event_with_questions(&app, json!({"answers_close_at": yesterday}));
    let reply = app.register(EVENT, &with_answers(1, &["bio"], json!({"meal": "standard"})));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let token = token_of(&reply);
    assert_eq!(manage(&app, &token)["answers_open"], false);
    let late = patch_manage(&app, &token, &json!({"answers": {"meal": "vegetarian"}}));
    let problem = late.problem(409, "answers-closed");
    // Even a bad answer hears the deadline: nothing can change any more.
    patch_manage(&app, &token, &json!({"answers": {"meal": "fish"}})).problem(409, "answers-closed");
    assert!(problem["detail"].as_str().unwrap().contains("until"), "{problem}");
    // The ranking still changes (its own window), and the answer stayed.
    let ranking = patch_manage(&app, &token, &json!({"preferences": ["steel"]}));
    assert_eq!(ranking.status, 200, "{}", ranking.body);
    let meal = ranking.json()["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["id"] == "meal")
        .unwrap()["answer"]
        .clone();
    assert_eq!(meal, "standard");
}

fn csv_lines(app: &TestApp, path: &str) -> Vec<Vec<String>> {
    let reply = admin_get(app, path, &app.admin);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let text = reply.body.trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(text.as_bytes());
    reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

fn exports_keep_their_columns_after_a_label_change_and_count_per_visit(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));
    let people = [
        (
            1,
            "steel",
            json!({"meal": "vegetarian", "dinner": true, "allergies": ["nuts", "gluten"]}),
        ),
        (2, "steel", json!({"meal": "standard", "dinner": false})),
        (3, "bio", json!({"meal": "vegetarian", "home": "pt"})),
        (4, "bio", json!({"meal": "vegetarian", "dinner": true})),
        (5, "bio", json!({"meal": "standard"})),
    ];
    let mut tokens = Vec::new();
    for (n, visit, answers) in people {
        let reply = app.register(EVENT, &with_answers(n, &[visit], answers));
        assert_eq!(reply.status, 201, "{}", reply.body);
        tokens.push(token_of(&reply));
    }
    assert_eq!(
        patch_manage(&app, &tokens[0], &json!({"answers": {"shoes": "yes"}})).status,
        200
    );
    let attendees = format!("/api/v1/events/{EVENT}/exports/attendees");
    let before = csv_lines(&app, &attendees);
    let header = &before[0];
    let answer_columns: Vec<&str> = header
        .iter()
        .skip_while(|c| !c.starts_with("q:"))
        .map(String::as_str)
        .collect();
    assert_eq!(
        answer_columns,
        [
            "q:dinner",
            "q:meal",
            "q:allergies",
            "q:guests",
            "q:home",
            "q:arrival",
            "q:note",
            "q:shoes"
        ]
    );
    let column = |name: &str| header.iter().position(|c| c == name).unwrap();
    let first = before
        .iter()
        .find(|l| l[column("email")] == "participant1@example.org")
        .unwrap();
    assert_eq!(first[column("q:meal")], "vegetarian", "choice ids, not labels");
    assert_eq!(first[column("q:allergies")], "nuts;gluten");
    assert_eq!(first[column("q:dinner")], "yes");
    assert_eq!(first[column("q:shoes")], "yes");

    // Relabel, reorder and re-require: the columns stay where they were.
    for (id, change) in [
        (
            "meal",
            json!({"label": {"en": "Menu", "fr": "Menu"}, "position": 99}),
        ),
        ("dinner", json!({"position": 50, "required": false})),
    ] {
        let reply = send(
            ureq::patch(&app.url(&format!("/api/v1/events/{EVENT}/questions/{id}"))),
            "application/json",
            &change.to_string(),
            Some(&app.admin),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
    }
    let listed = admin_get(&app, &format!("/api/v1/events/{EVENT}/questions"), &app.organiser).json();
    assert_eq!(
        listed.as_array().unwrap().last().unwrap()["id"],
        "meal",
        "asked last now"
    );
    assert_eq!(listed.as_array().unwrap().last().unwrap()["label"]["en"], "Menu");
    let after = csv_lines(&app, &attendees);
    assert_eq!(after[0], before[0], "the header does not move");
    assert_eq!(after, before, "nor does any cell");
    // The workbook has the same columns and cells.
    let response = ureq::get(&app.url(&format!("{attendees}?format=xlsx")))
        .set("Authorization", &format!("Bearer {}", app.admin))
        .call()
        .unwrap();
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut response.into_reader(), &mut bytes).unwrap();
    let mut workbook: calamine::Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).expect("a workbook");
    let sheet = calamine::Reader::worksheet_range(&mut workbook, "Attendees").unwrap();
    let rows: Vec<Vec<String>> = sheet
        .rows()
        .map(|r| r.iter().map(|c| c.to_string()).collect())
        .collect();
    assert_eq!(rows[0], before[0], "the same header as the CSV");
    let first = rows
        .iter()
        .find(|r| r[column("email")] == "participant1@example.org")
        .unwrap();
    assert_eq!(first[column("q:allergies")], "nuts;gluten");

    // Counts per visit: JSON.
    let counts = admin_get(
        &app,
        &format!("/api/v1/events/{EVENT}/exports/answers?by=site_visit&format=json"),
        &app.admin,
    );
    assert_eq!(counts.status, 200, "{}", counts.body);
    let counts = counts.json();
    let visit = |slug: &str| {
        counts["site_visits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["site_visit"] == slug)
            .unwrap()
            .clone()
    };
    let question = |visit: &Value, id: &str| {
        visit["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["question"] == id)
            .cloned()
    };
    let count_of = |q: &Value, value: &str| {
        q["counts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["value"] == value)
            .map(|c| c["count"].as_i64().unwrap())
    };
    let steel = visit("steel");
    let bio = visit("bio");
    assert_eq!(steel["seated"], 2);
    assert_eq!(bio["seated"], 3);
    let meal = question(&bio, "meal").unwrap();
    assert_eq!(count_of(&meal, "vegetarian"), Some(2));
    assert_eq!(count_of(&meal, "standard"), Some(1));
    assert_eq!(
        (meal["answered"].as_i64(), meal["unanswered"].as_i64()),
        (Some(3), Some(0))
    );
    let dinner = question(&bio, "dinner").unwrap();
    assert_eq!(
        (count_of(&dinner, "yes"), count_of(&dinner, "no")),
        (Some(1), Some(0))
    );
    assert_eq!(dinner["unanswered"], 2);
    let shoes = question(&steel, "shoes").unwrap();
    assert_eq!(
        (count_of(&shoes, "yes"), shoes["unanswered"].as_i64()),
        (Some(1), Some(1))
    );
    assert!(question(&bio, "shoes").is_none(), "not a bio question");
    let allergies = question(&steel, "allergies").unwrap();
    assert_eq!(
        (count_of(&allergies, "nuts"), count_of(&allergies, "lactose")),
        (Some(1), Some(0))
    );
    assert!(question(&steel, "note").is_none(), "free text is not counted");
    let home = question(&bio, "home").unwrap();
    assert_eq!(count_of(&home, "PT"), Some(1));

    // CSV: one line per visit, question and value.
    let lines = csv_lines(
        &app,
        &format!("/api/v1/events/{EVENT}/exports/answers?by=site_visit"),
    );
    assert_eq!(
        lines[0],
        [
            "site_visit",
            "name",
            "seated",
            "question",
            "answered",
            "unanswered",
            "value",
            "count"
        ]
    );
    assert!(
        lines.contains(
            &["bio", "Visit bio", "3", "meal", "3", "0", "vegetarian", "2"]
                .map(String::from)
                .to_vec()
        ),
        "{lines:?}"
    );
    // A cancelled person leaves the counts.
    let gone = send(
        ureq::delete(&app.url(&format!("/api/v1/manage/{}", tokens[3]))),
        "application/json",
        "",
        None,
    );
    assert_eq!(gone.status, 200, "{}", gone.body);
    let counts = admin_get(
        &app,
        &format!("/api/v1/events/{EVENT}/exports/answers?format=json"),
        &app.admin,
    )
    .json();
    let bio = counts["site_visits"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["site_visit"] == "bio")
        .unwrap()
        .clone();
    let meal = bio["questions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["question"] == "meal")
        .unwrap()
        .clone();
    assert_eq!(count_of(&meal, "vegetarian"), Some(1));
    // Admins only, and known parameters only.
    assert_eq!(
        admin_get(
            &app,
            &format!("/api/v1/events/{EVENT}/exports/answers"),
            &app.organiser
        )
        .status,
        403
    );
    admin_get(
        &app,
        &format!("/api/v1/events/{EVENT}/exports/answers?by=country"),
        &app.admin,
    )
    .problem(422, "validation-failed");
}

fn the_admin_api_guards_ids_kinds_and_answered_choices(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));
    let questions = format!("/api/v1/events/{EVENT}/questions");
    // Organisers read, only admins write.
    assert_eq!(admin_get(&app, &questions, &app.organiser).status, 200);
    let body = json!({"id": "extra", "kind": "text", "label": {"en": "Extra"}});
    assert_eq!(app.post_json(&questions, &body, Some(&app.organiser)).status, 403);
    // Bad descriptions are field errors.
    let bad = app.post_json(
        &questions,
        &json!({"id": "Bad Id", "kind": "colour", "label": {}, "choices": [{"id": "x", "en": "X"}]}),
        Some(&app.admin),
    );
    let errors = field_errors(&bad);
    for field in ["id", "kind", "label"] {
        assert!(errors.get(field).is_some(), "{field}: {errors}");
    }
    let taken = app.post_json(
        &questions,
        &json!({"id": "meal", "kind": "text", "label": {"en": "x"}}),
        Some(&app.admin),
    );
    assert_eq!(field_errors(&taken)["id"], json!(["is already taken"]));
    let no_choices = app.post_json(
        &questions,
        &json!({"id": "pick", "kind": "choice", "label": {"en": "x"}}),
        Some(&app.admin),
    );
    assert!(field_errors(&no_choices)["choices"]
        .to_string()
        .contains("at least one"));

    let reply = app.register(EVENT, &with_answers(1, &["bio"], json!({"meal": "vegetarian"})));
    assert_eq!(reply.status, 201, "{}", reply.body);
    let patch = |id: &str, change: Value| {
        send(
            ureq::patch(&app.url(&format!("{questions}/{id}"))),
            "application/json",
            &change.to_string(),
            Some(&app.admin),
        )
    };
    // The kind and id never change.
    assert!(field_errors(&patch("meal", json!({"kind": "text"})))["kind"].is_array());
    // A chosen choice stays; an unchosen one may go, new ones and new labels come.
    let removed = patch("meal", json!({"choices": [{"id": "standard", "en": "Standard"}]}));
    assert!(field_errors(&removed)["choices"]
        .to_string()
        .contains("vegetarian"));
    let changed = patch(
        "meal",
        json!({"choices": [{"id": "vegetarian", "en": "Veggie", "fr": "Végé"}, {"id": "vegan", "en": "Vegan"}]}),
    );
    assert_eq!(changed.status, 200, "{}", changed.body);
    assert_eq!(changed.json()["choices"][0]["en"], "Veggie");
    // Answered questions are not deleted; unanswered ones are.
    let refused = send(
        ureq::delete(&app.url(&format!("{questions}/meal"))),
        "application/json",
        "",
        Some(&app.admin),
    );
    refused.problem(409, "question-in-use");
    let deleted = send(
        ureq::delete(&app.url(&format!("{questions}/note"))),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(deleted.status, 204, "{}", deleted.body);
    assert_eq!(
        send(
            ureq::delete(&app.url(&format!("{questions}/note"))),
            "application/json",
            "",
            Some(&app.admin)
        )
        .status,
        404
    );
    // The new question is asked at once (the rules cache is forgotten).
    let added = app.post_json(
        &questions,
        &json!({"id": "badge", "kind": "text", "required": true, "label": {"en": "Name on the badge"}}),
        Some(&app.admin),
    );
    assert_eq!(added.status, 201, "{}", added.body);
    let missing = app.register(EVENT, &with_answers(2, &["bio"], json!({"meal": "vegan"})));
    assert_eq!(field_errors(&missing)["answers.badge"], json!(["is required"]));
    // Each change is in the audit trail.
    let audit = admin_get(&app, &format!("/api/v1/events/{EVENT}/audit"), &app.admin);
    for action in ["question.create", "question.update", "question.delete"] {
        assert!(audit.body.contains(action), "{action}: {}", audit.body);
    }
}

fn the_form_takes_answers_with_errors_in_english_and_french(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));
    let form = |email: &'static str, meal: &'static str, guests: &'static str| {
        vec![
            ("first_name", "Sophie"),
            ("last_name", "Bourez"),
            ("email", email),
            ("organisation", "Wagralim"),
            ("country", "BE"),
            ("preferences", "bio"),
            ("consent", "on"),
            ("answers[meal]", meal),
            ("answers[dinner]", "no"),
            ("answers[dinner]", "on"),
            ("answers[allergies]", "nuts"),
            ("answers[allergies]", "gluten"),
            ("answers[guests]", guests),
        ]
    };
    for (browser, expected) in [
        (Browser::new(&app), ["Enter a number.", "Choose from the list."]),
        (
            Browser::french(&app),
            ["Saisissez un nombre.", "Choisissez dans la liste."],
        ),
    ] {
        browser.get(&format!("/events/{EVENT}"));
        let page = browser.submit(
            &format!("/events/{EVENT}/register"),
            &form("sophie@example.org", "fish", "two"),
        );
        assert_eq!(page.status, 422, "{}", page.body);
        for message in expected {
            page.assert_contains(message);
        }
        // The summary links each answer's error to its field, named by its label, in
        // the order the questions are asked, before the consent box.
        let meal = page
            .body
            .find(r##"href="#answers.meal""##)
            .expect("a summary line for meal");
        let guests = page
            .body
            .find(r##"href="#answers.guests""##)
            .expect("a summary line for guests");
        assert!(meal < guests, "meal is asked before guests");
        page.assert_contains(r#"id="answers.guests-error""#);
    }
    let browser = Browser::new(&app);
    browser.get(&format!("/events/{EVENT}"));
    let page = browser.submit(
        &format!("/events/{EVENT}/register"),
        &form("sophie@example.org", "vegetarian", "2"),
    );
    assert_eq!(page.status, 200, "{}", page.body);
    let attendees = csv_lines(&app, &format!("/api/v1/events/{EVENT}/exports/attendees"));
    let header = &attendees[0];
    let cell = |name: &str| attendees[1][header.iter().position(|c| c == name).unwrap()].clone();
    assert_eq!(cell("q:meal"), "vegetarian");
    assert_eq!(cell("q:dinner"), "yes", "the checkbox after its hidden `no`");
    assert_eq!(cell("q:allergies"), "nuts;gluten");
    assert_eq!(cell("q:guests"), "2");
}

fn erasure_deletes_the_answers(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));
    let reply = app.register(
        EVENT,
        &with_answers(
            1,
            &["bio"],
            json!({"meal": "vegetarian", "note": "Wheelchair-7731"}),
        ),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    let id = reply.json()["id"].as_str().unwrap().to_owned();
    let erased = send(
        ureq::delete(&app.url(&format!("/api/v1/events/{EVENT}/registrations/{id}?erase=true"))),
        "application/json",
        "",
        Some(&app.admin),
    );
    assert_eq!(erased.status, 200, "{}", erased.body);
    let left: i64 = app
        .server
        .db
        .read_blocking(move |conn| {
            use diesel::prelude::*;
            use rallypoint::db::schema::answers;
            answers::table
                .count()
                .get_result::<i64>(conn)
                .map_err(rallypoint::domain::DomainError::from)
        })
        .unwrap();
    assert_eq!(left, 0, "the person's answers are gone");
    // The counts no longer hold them either.
    let counts = admin_get(
        &app,
        &format!("/api/v1/events/{EVENT}/exports/answers?format=json"),
        &app.admin,
    )
    .json();
    assert!(!counts.to_string().contains("\"count\":1"), "{counts}");
}

fn the_pages_ask_the_questions_and_take_the_visit_answers(backend: Backend) {
    let app = TestApp::spawn(backend);
    event_with_questions(&app, json!({}));
    // The form asks the event-wide questions, each labelled, never the visit's.
    let browser = Browser::new(&app);
    let form = browser.get(&format!("/events/{EVENT}"));
    assert_eq!(form.status, 200, "{}", form.body);
    form.assert_contains(r#"<label for="answers.meal">Meal</label>"#);
    form.assert_contains(r#"name="answers[meal]""#);
    form.assert_contains(r#"<input type="hidden" name="answers[dinner]" value="no">"#);
    form.assert_contains(r#"id="answers.allergies-nuts" name="answers[allergies]" value="nuts""#);
    form.assert_lacks("answers[shoes]");
    let french = Browser::french(&app).get(&format!("/events/{EVENT}"));
    french.assert_contains(r#"<label for="answers.meal">Repas</label>"#);

    // The manage page of a person seated in steel asks the shoes question.
    let seated = app.register(EVENT, &with_answers(1, &["steel"], json!({"meal": "standard"})));
    let token = token_of(&seated);
    let manage_path = format!("/manage/{token}");
    let browser = Browser::new(&app);
    let page = browser.get(&manage_path);
    assert_eq!(page.status, 200, "{}", page.body);
    page.assert_contains(r#"id="questions-missing""#);
    page.assert_contains("I will wear closed shoes");
    page.assert_contains(&format!(r#"{token}/answers" class="form""#));
    // An unticked box (its hidden `no` only) is refused: the answer must be yes.
    let refused = browser.submit(
        &format!("{manage_path}/answers"),
        &[("answers[shoes]", "no"), ("answers[meal]", "standard")],
    );
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("Tick the box: it is required.");
    let french = Browser::french(&app);
    french
        .get(&manage_path)
        .assert_contains("Je porterai des chaussures fermées");
    let refused = french.submit(&format!("{manage_path}/answers"), &[("answers[shoes]", "no")]);
    assert_eq!(refused.status, 422, "{}", refused.body);
    refused.assert_contains("Cochez la case : elle est obligatoire.");
    // Ticked: saved, and nothing is missing any more.
    let saved = browser.submit(
        &format!("{manage_path}/answers"),
        &[
            ("answers[shoes]", "no"),
            ("answers[shoes]", "on"),
            ("answers[meal]", "vegetarian"),
        ],
    );
    let page = browser.follow(saved);
    page.assert_contains("Your answers are saved.");
    page.assert_lacks(r#"id="questions-missing""#);
    let view = manage(&app, &token);
    assert_eq!(view["missing"], json!([]));
    let answer = |id: &str| {
        view["questions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["id"] == id)
            .unwrap()["answer"]
            .clone()
    };
    assert_eq!(
        (answer("shoes"), answer("meal")),
        (json!(true), json!("vegetarian"))
    );
    // A bio person's page has no shoes question.
    let bio = app.register(EVENT, &with_answers(2, &["bio"], json!({"meal": "standard"})));
    Browser::new(&app)
        .get(&format!("/manage/{}", token_of(&bio)))
        .assert_lacks("closed shoes");
}

fn the_confirmation_email_asks_for_the_visit_answers(backend: Backend) {
    let smtp = SmtpServer::start();
    let url = smtp.url();
    let app = TestApp::spawn_with(backend, move |settings| settings.mail.smtp_url = url);
    event_with_questions(&app, json!({}));
    let steel = app.register(EVENT, &with_answers(1, &["steel"], json!({"meal": "standard"})));
    assert_eq!(steel.status, 201, "{}", steel.body);
    let bio = app.register(EVENT, &with_answers(2, &["bio"], json!({"meal": "standard"})));
    assert_eq!(bio.status, 201, "{}", bio.body);
    let french = call(
        ureq::post(&app.url(&format!("/api/v1/events/{EVENT}/registrations"))).set("Accept-Language", "fr"),
        Some((
            "application/json",
            &with_answers(3, &["steel"], json!({"meal": "standard"})).to_string(),
        )),
    );
    assert_eq!(french.status, 201, "{}", french.body);
    smtp.wait_for(3, std::time::Duration::from_secs(30));
    let to_steel = &smtp.to("participant1@example.org")[0];
    assert!(
        to_steel.text().contains("Your site visit has questions for you"),
        "{}",
        to_steel.text()
    );
    assert!(to_steel.html().contains("#questions"), "{}", to_steel.html());
    let to_bio = &smtp.to("participant2@example.org")[0];
    assert!(!to_bio.text().contains("questions for you"), "{}", to_bio.text());
    let to_french = &smtp.to("participant3@example.org")[0];
    assert!(
        to_french
            .text()
            .contains("Votre visite a des questions pour vous"),
        "{}",
        to_french.text()
    );
    // Once answered, the next email no longer asks.
    let token = token_of(&steel);
    assert_eq!(
        patch_manage(&app, &token, &json!({"answers": {"shoes": true}})).status,
        200
    );
    let changed = patch_manage(&app, &token, &json!({"preferences": ["steel", "bio"]}));
    assert_eq!(changed.status, 200, "{}", changed.body);
    smtp.wait_for(4, std::time::Duration::from_secs(30));
    let update = smtp.to("participant1@example.org").pop().unwrap();
    assert!(!update.text().contains("questions for you"), "{}", update.text());
}

fn the_demo_event_file_asks_its_questions(backend: Backend) {
    let app = TestApp::spawn(backend);
    let listed = admin_get(
        &app,
        &format!("/api/v1/events/{DEMO_EVENT}/questions"),
        &app.organiser,
    );
    assert_eq!(listed.status, 200, "{}", listed.body);
    let listed = listed.json();
    let summary: Vec<(String, String, bool, Value)> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|q| {
            (
                q["id"].as_str().unwrap().to_owned(),
                q["kind"].as_str().unwrap().to_owned(),
                q["required"].as_bool().unwrap(),
                q["site_visits"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("dinner".into(), "yes_no".into(), false, json!([])),
            ("meal".into(), "choice".into(), false, json!([])),
            (
                "safety_shoes".into(),
                "yes_no".into(),
                true,
                json!(["aperam-chatelet"])
            ),
        ]
    );
    assert_eq!(listed[1]["choices"][1]["fr"], "Végétarien");
    // Loaded again at the next start: nothing is duplicated, the columns stay.
    let app = app.restart();
    let again = admin_get(
        &app,
        &format!("/api/v1/events/{DEMO_EVENT}/questions"),
        &app.organiser,
    )
    .json();
    assert_eq!(again, listed);
    // The steel plant's people are asked for their shoes once seated; the others never.
    let steel = app.register(DEMO_EVENT, &participant(1, &["aperam-chatelet"]));
    assert_eq!(steel.status, 201, "{}", steel.body);
    assert_eq!(
        manage(&app, &token_of(&steel))["missing"],
        json!(["safety_shoes"])
    );
    let bio = app.register(DEMO_EVENT, &participant(2, &["biopark-charleroi"]));
    assert_eq!(manage(&app, &token_of(&bio))["missing"], json!([]));
}

/// Loads an event file (as TOML text) the way the server's start does.
fn load_file(app: &TestApp, text: &str) -> Result<(), rallypoint::domain::DomainError> {
    let value: Value = toml::from_str(text).unwrap();
    let map = value.as_object().unwrap().clone();
    let file = rallypoint::domain::event::EventFile::parse(map)?;
    app.server.db.write_blocking(move |conn| {
        rallypoint::domain::catalog::import_event_file(conn, &file, rallypoint::domain::now()).map(|_| ())
    })
}

fn an_event_file_never_changes_a_kind_or_drops_a_chosen_choice(backend: Backend) {
    let app = TestApp::spawn(backend);
    let file = |kind: &str, choices: &str| {
        format!(
            r#"
slug = "file-event"
name = "File event"
timezone = "Europe/Brussels"
starts_on = "2030-06-01"
ends_on = "2030-06-02"
[[site_visits]]
slug = "plant"
name = "Plant"
starts_at = "2030-06-02T13:30:00+02:00"
ends_at = "2030-06-02T17:00:00+02:00"
capacity = 10
[[questions]]
id = "meal"
kind = "{kind}"
label = {{ en = "Meal" }}
{choices}
[[questions]]
id = "shoes"
kind = "yes_no"
required = true
site_visits = ["plant"]
label = {{ en = "Closed shoes" }}
"#
        )
    };
    let both =
        r#"choices = [{ id = "standard", en = "Standard" }, { id = "vegetarian", en = "Vegetarian" }]"#;
    load_file(&app, &file("choice", both)).unwrap();
    let reply = app.register(
        "file-event",
        &with_answers(1, &["plant"], json!({"meal": "vegetarian"})),
    );
    assert_eq!(reply.status, 201, "{}", reply.body);
    // A question pointing at a visit the file does not have is refused.
    let Err(rallypoint::domain::DomainError::Validation(errors)) = load_file(
        &app,
        &file("choice", both).replace(r#"["plant"]"#, r#"["nowhere"]"#),
    ) else {
        panic!("an unknown visit was accepted")
    };
    assert!(errors.keys().any(|k| k.contains("site_visits")), "{errors:?}");
    // The kind never changes; a chosen choice never goes; nothing is changed by either.
    let Err(rallypoint::domain::DomainError::Validation(errors)) = load_file(&app, &file("text", "")) else {
        panic!("a kind change was accepted")
    };
    assert!(errors.contains_key("questions[0].kind"), "{errors:?}");
    let only_standard = r#"choices = [{ id = "standard", en = "Standard (renamed)" }]"#;
    let Err(rallypoint::domain::DomainError::Validation(errors)) =
        load_file(&app, &file("choice", only_standard))
    else {
        panic!("a chosen choice was dropped")
    };
    assert!(
        errors["questions[0].choices"][0].contains("vegetarian"),
        "{errors:?}"
    );
    let listed = admin_get(&app, "/api/v1/events/file-event/questions", &app.organiser).json();
    assert_eq!(listed[0]["choices"][0]["en"], "Standard", "nothing changed");
    // Relabelled and reordered by the file: accepted, the column order stays.
    let renamed = r#"choices = [{ id = "vegetarian", en = "Veggie" }, { id = "standard", en = "Standard" }, { id = "vegan", en = "Vegan" }]"#;
    load_file(&app, &file("choice", renamed)).unwrap();
    let listed = admin_get(&app, "/api/v1/events/file-event/questions", &app.organiser).json();
    assert_eq!(listed[0]["choices"][0]["en"], "Veggie");
    assert_eq!(
        (
            listed[0]["column_order"].clone(),
            listed[1]["column_order"].clone()
        ),
        (json!(1), json!(2))
    );
}
