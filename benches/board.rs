//! The organisers' board for an event of 10,000 registrations over 3 visits (issue 17's
//! target event): every page's size and the time the server takes to answer it, signed
//! in as an organiser, against the sign-in page (a template and no query: the least any
//! page costs) in the same run.
//!
//! ```sh
//! cargo bench --bench board                                     # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench board                                 # PostgreSQL (own database)
//! ```
//!
//! The registrations are made through the real API, as participants make them: each
//! ranks the 3 visits (in a rotating order), 20 countries, names with accents; 3 × 3,000
//! seats, so about 1,000 people wait. The load is spread over 8 client threads.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use diesel::connection::SimpleConnection;
use fantoccini::Locator;
use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::domain::now;
use rallypoint::startup;

mod support;
use support::event::{create_event, register_everyone};
use support::{BenchDatabase, Server};

// The browser tests' Chromium, shared rather than copied.
#[path = "../tests/api/chrome.rs"]
mod chrome;

const PEOPLE: usize = 10_000;
const SEATS: usize = 3_000;
const RUNS: usize = 20;

fn main() {
    let target = BenchDatabase::from_env("rp_board");
    let mut settings = target.server_settings();
    // One machine sends every registration: no per-client limit.
    settings.limits.public_writes_per_minute = 0;
    let db = startup::connect_and_migrate(&settings).expect("the database migrates");
    let admin = db
        .write_blocking(|conn| create_api_token(conn, Role::Admin, "bench", now()))
        .expect("a token");
    let server = Server::start(settings);
    let base = format!("http://{}", server.address);
    create_event(&base, &admin, "A conference of ten thousand", SEATS);
    let started = Instant::now();
    register_everyone(&base, PEOPLE);
    println!(
        "{}: {PEOPLE} registrations through the API in {:.1?}",
        target.name(),
        started.elapsed()
    );

    if target.name() == "PostgreSQL" {
        // The planner's statistics as a running database has them: autovacuum analyses a
        // table within a minute of a bulk change like this one, and until then plans
        // are made for the empty tables (the waitlist's read took 105 ms, not 16 ms).
        db.write_blocking(|conn| {
            conn.batch_execute("ANALYZE")
                .map_err(rallypoint::db::DbError::from)
        })
        .expect("ANALYZE");
    }
    let signed_in = Browser::signed_in(&base, &admin);
    let stranger = Browser::new(&base);
    let pages = [
        (
            "sign-in page (baseline: template, no query)",
            "/organiser/sign-in".to_owned(),
        ),
        ("event list", "/organiser".to_owned()),
        ("overview", "/organiser/events/big".to_owned()),
        (
            "roster, page 1",
            "/organiser/events/big/site-visits/v1".to_owned(),
        ),
        (
            "roster, page 40",
            "/organiser/events/big/site-visits/v1?page=40".to_owned(),
        ),
        (
            "roster, waitlist end",
            "/organiser/events/big/site-visits/v1?status=waiting&page=1000".to_owned(),
        ),
        (
            "roster, by name",
            "/organiser/events/big/site-visits/v1?sort=name&page=20".to_owned(),
        ),
        (
            "search \"lobocka\"",
            "/organiser/events/big/site-visits/v1?q=lobocka".to_owned(),
        ),
        (
            "search \"organisation 7\", BE",
            "/organiser/events/big/site-visits/v2?q=organisation+7&country=BE".to_owned(),
        ),
        ("without a seat", "/organiser/events/big/without-seat".to_owned()),
    ];
    println!(
        "\n{:<44} {:>10} {:>10} {:>10}",
        "page", "HTML KiB", "median", "p90"
    );
    for (what, path) in &pages {
        // The baseline is what a browser without a session sees.
        let browser = if path == "/organiser/sign-in" {
            &stranger
        } else {
            &signed_in
        };
        let mut times = Vec::with_capacity(RUNS);
        let mut size = 0;
        for _ in 0..RUNS {
            let started = Instant::now();
            let (status, body) = browser.get(path);
            times.push(started.elapsed());
            assert_eq!(status, 200, "{path}: {body}");
            size = body.len();
        }
        times.sort();
        println!(
            "{what:<44} {:>10.1} {:>10.1?} {:>10.1?}",
            size as f64 / 1024.0,
            times[RUNS / 2],
            times[RUNS * 9 / 10]
        );
    }
    dom_content_loaded(&base, &admin, &pages);
    server.stop();
    println!("\nrerun with: cargo bench --bench board (RALLYPOINT_BENCH_POSTGRES_URL=… for PostgreSQL)");
}

/// Loads per page in headless Chromium, signed in: the median time to
/// DOMContentLoaded (the Navigation Timing entry, so the network and the parse of the
/// HTML are in it). Without Chromium on the machine, says so and measures nothing.
fn dom_content_loaded(base: &str, admin: &str, pages: &[(&str, String)]) {
    const LOADS: usize = 7;
    let Some(chrome) = chrome::Chrome::start("board-bench") else {
        println!("\nChromium is not installed: no DOMContentLoaded figures");
        return;
    };
    let (base, admin) = (base.to_owned(), admin.to_owned());
    let pages: Vec<(String, String)> = pages
        .iter()
        .map(|(what, path)| (what.to_string(), path.clone()))
        .collect();
    chrome.run((1280, 1100), |client| async move {
        client
            .goto(&format!("{base}/organiser/sign-in?next=%2Forganiser"))
            .await?;
        client.find(Locator::Id("token")).await?.send_keys(&admin).await?;
        client
            .find(Locator::Css("form.form button[type=submit]"))
            .await?
            .click()
            .await?;
        client
            .wait()
            .for_element(Locator::Css("a[href='/organiser/events/big']"))
            .await?;
        println!(
            "\n{:<44} {:>22}",
            "page in headless Chromium", "DOMContentLoaded median"
        );
        for (what, path) in pages {
            let mut times = Vec::with_capacity(LOADS);
            for _ in 0..LOADS {
                client.goto(&format!("{base}{path}")).await?;
                let at = client
                    .execute(
                        "return performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd",
                        vec![],
                    )
                    .await?;
                times.push(at.as_f64().unwrap_or(f64::NAN));
            }
            times.sort_by(f64::total_cmp);
            println!("{what:<44} {:>19.1} ms", times[LOADS / 2]);
        }
        Ok(())
    });
}

/// A board session: the cookies of one signed-in browser.
struct Browser {
    base: String,
    agent: ureq::Agent,
    cookies: BTreeMap<String, String>,
}

impl Browser {
    fn new(base: &str) -> Self {
        Self {
            base: base.to_owned(),
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(60))
                .build(),
            cookies: BTreeMap::new(),
        }
    }

    fn signed_in(base: &str, token: &str) -> Self {
        let mut browser = Self::new(base);
        let page = browser
            .agent
            .get(&format!("{base}/organiser/sign-in"))
            .call()
            .unwrap();
        browser.keep_cookies(&page);
        let csrf = browser.cookies["rp_csrf"].clone();
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("csrf_token", &csrf)
            .append_pair("token", token)
            .append_pair("next", "/organiser")
            .finish();
        let answer = browser
            .agent
            .post(&format!("{base}/organiser/sign-in"))
            .set("Cookie", &browser.cookie_line())
            .set("Content-Type", "application/x-www-form-urlencoded")
            .send_string(&form)
            .unwrap();
        assert_eq!(answer.status(), 303, "signed in");
        browser.keep_cookies(&answer);
        assert!(browser.cookies.contains_key("rp_board"), "a board session");
        browser
    }

    fn keep_cookies(&mut self, response: &ureq::Response) {
        for line in response.all("set-cookie") {
            if let Some((name, value)) = line.split(';').next().and_then(|pair| pair.split_once('=')) {
                self.cookies.insert(name.to_owned(), value.to_owned());
            }
        }
    }

    fn cookie_line(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn get(&self, path: &str) -> (u16, String) {
        let response = match self
            .agent
            .get(&format!("{}{path}", self.base))
            .set("Cookie", &self.cookie_line())
            .call()
        {
            Ok(response) | Err(ureq::Error::Status(_, response)) => response,
            Err(other) => panic!("{path}: {other}"),
        };
        (response.status(), response.into_string().unwrap_or_default())
    }
}
