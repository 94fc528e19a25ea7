//! Mail in a rush (issue 19's target): 1,000 people register at once through the real
//! API while the server's delivery worker sends their confirmations to a local SMTP
//! sink. It reports how long after the last registration's answer the sink had every
//! confirmation, and the emails per second over the whole rush (from the first
//! registration sent to the last confirmation received). The baseline in the same run is
//! a bare lettre loop that sends as many messages to a fresh sink: no database, no
//! rendering, the least any delivery costs. It sends from as many threads as the worker
//! has senders (`mail.concurrency`), through one pooled transport as the worker's.
//!
//! ```sh
//! cargo bench --bench mail                                      # SQLite (a temporary file)
//! RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench --bench mail                                  # PostgreSQL (own database)
//! cargo bench --bench mail -- --concurrency 1                   # another `mail.concurrency`
//! ```
//!
//! The registrations are made as `benches/board.rs` makes them (each ranks the 3 visits
//! in a rotating order, 20 countries, 8 client threads); 3 × 300 seats, so 100 people
//! are waitlisted and get that email instead. The server runs with the mail settings of
//! `config/default.toml` (a new user's), an SMTP URL pointing at the sink and no
//! per-client limit on registrations.
//!
//! The sink is mailin-embedded (the tests' SMTP server library) with a handler that keeps
//! nothing of a message but its recipients (to check that each person got exactly one),
//! on more threads than there are connections, so that it is not what is measured.

use std::collections::HashSet;
use std::net::{IpAddr, TcpListener};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use lettre::{Message, SmtpTransport, Transport};
use mailin_embedded::{response, Handler, Response};
use rallypoint::domain::access::{create_api_token, Role};
use rallypoint::domain::now;
use rallypoint::startup;

mod support;
use support::event::{create_event, register_everyone};
use support::{BenchDatabase, Server};

const PEOPLE: usize = 1_000;
const SEATS: usize = 300;
/// How long the sink may wait for the confirmations before the bench gives up.
const PATIENCE: Duration = Duration::from_secs(600);

fn main() {
    let target = BenchDatabase::from_env("rp_mail");
    let sink = Sink::start();
    let mut settings = target.server_settings();
    // One machine sends every registration: no per-client limit.
    settings.limits.public_writes_per_minute = 0;
    settings.mail.worker = true;
    settings.mail.smtp_url = sink.url();
    // `--concurrency N` sets `mail.concurrency` (default: config/default.toml's).
    if let Some(concurrency) = support::number_argument("concurrency") {
        settings.mail.concurrency = concurrency;
    }
    let senders = settings.mail.concurrency as usize;
    let db = startup::connect_and_migrate(&settings).expect("the database migrates");
    let admin = db
        .write_blocking(|conn| create_api_token(conn, Role::Admin, "bench", now()))
        .expect("a token");
    let server = Server::start(settings);
    let base = format!("http://{}", server.address);
    create_event(&base, &admin, "A rush of a thousand", SEATS);

    let started = Instant::now();
    let answers = register_everyone(&base, PEOPLE);
    let registered = started.elapsed();
    assert!(
        answers.iter().all(|answer| answer["id"].is_string()),
        "every registration is answered with its id"
    );
    let last_email = sink.wait_for(PEOPLE, started);
    let rallypoint = Measure {
        emails: PEOPLE,
        elapsed: last_email,
    };
    server.stop();
    sink.assert_each_once(PEOPLE);

    let baseline_sink = Sink::start();
    let baseline = bare_lettre_loop(&baseline_sink, PEOPLE, senders);
    baseline_sink.assert_each_once(PEOPLE);

    println!(
        "\n{}: {PEOPLE} registrations through the API in {:.2?}, {senders} sender(s)",
        target.name(),
        registered
    );
    println!("{:<58} {:>10} {:>10}", "", "seconds", "emails/s");
    baseline.print("baseline: bare lettre loop, prebuilt messages");
    rallypoint.print("rallypoint: first registration to last confirmation");
    println!(
        "{:<58} {:>10.2}",
        "last confirmation after the last registration's answer",
        (last_email - registered).as_secs_f64()
    );
    println!(
        "{:<58} {:>10} {:>9.2}x",
        "baseline / rallypoint",
        "",
        baseline.rate() / rallypoint.rate()
    );
    println!(
        "\nrerun with: cargo bench --bench mail\n  PostgreSQL: RALLYPOINT_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench --bench mail"
    );
    println!(
        "target (issue 19): >= 200 emails/s; a rush of 1,000 fully confirmed within 10 s of the last registration"
    );
}

struct Measure {
    emails: usize,
    elapsed: Duration,
}

impl Measure {
    fn rate(&self) -> f64 {
        self.emails as f64 / self.elapsed.as_secs_f64()
    }

    fn print(&self, what: &str) {
        println!(
            "{what:<58} {:>10.2} {:>10.0}",
            self.elapsed.as_secs_f64(),
            self.rate()
        );
    }
}

/// `count` short messages, built before the clock starts, sent by `senders` threads
/// through one lettre SMTP transport.
fn bare_lettre_loop(sink: &Sink, count: usize, senders: usize) -> Measure {
    let messages: Vec<Message> = (0..count)
        .map(|n| {
            Message::builder()
                .from("rallypoint <noreply@rallypoint.localhost>".parse().unwrap())
                .to(format!("person{n}@example.org").parse().unwrap())
                .subject("Your registration")
                .message_id(Some(format!("<baseline-{n}@rallypoint>")))
                .body(format!("Person {n}, you are registered."))
                .unwrap()
        })
        .collect();
    let transport = SmtpTransport::from_url(&sink.url()).unwrap().build();
    let next = AtomicUsize::new(0);
    let started = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..senders {
            scope.spawn(|| loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(message) = messages.get(n) else { break };
                transport.send(message).expect("the sink accepts");
            });
        }
    });
    Measure {
        emails: count,
        elapsed: sink.wait_for(count, started),
    }
}

/// An SMTP server that counts what it receives and keeps only the recipients.
#[derive(Clone)]
struct Sink {
    port: u16,
    received: Arc<AtomicUsize>,
    recipients: Arc<Mutex<Vec<String>>>,
    /// The recipients of the message being received on this connection.
    current: Vec<String>,
}

impl Handler for Sink {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        self.current.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        self.current.push(to.to_lowercase());
        response::OK
    }

    fn data_end(&mut self) -> Response {
        self.recipients.lock().unwrap().append(&mut self.current);
        self.received.fetch_add(1, Ordering::SeqCst);
        response::OK
    }
}

impl Sink {
    fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let sink = Self {
            port: listener.local_addr().unwrap().port(),
            received: Arc::default(),
            recipients: Arc::default(),
            current: Vec::new(),
        };
        let mut server = mailin_embedded::Server::new(sink.clone());
        // A thread per open connection: more than any sender pool holds.
        server
            .with_name("sink.bench")
            .with_num_threads(64)
            .with_tcp_listener(listener);
        // It serves until the bench ends.
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        sink
    }

    fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Waits until `count` messages arrived; how long after `since` the last one came.
    fn wait_for(&self, count: usize, since: Instant) -> Duration {
        let deadline = since + PATIENCE;
        loop {
            let received = self.received.load(Ordering::SeqCst);
            if received >= count {
                return since.elapsed();
            }
            assert!(
                Instant::now() < deadline,
                "only {received} of {count} messages arrived within {PATIENCE:?}"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Every person received exactly one message (and nobody else any).
    fn assert_each_once(&self, people: usize) {
        let recipients = self.recipients.lock().unwrap();
        let distinct: HashSet<&String> = recipients.iter().collect();
        assert_eq!(recipients.len(), people, "one recipient per message");
        assert_eq!(distinct.len(), people, "a person received two messages");
        assert_eq!(self.received.load(Ordering::SeqCst), people);
    }
}
