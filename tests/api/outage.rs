//! Issue 8 (part): PostgreSQL stopped and restarted under load. The test runs its own
//! PostgreSQL cluster (initdb + pg_ctl from the machine's PostgreSQL), so stopping it
//! takes nothing away from the other tests that share the machine's server.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;
use serde_json::Value;

use crate::helpers::{call, participant, Backend, Reply, TestApp, TestDb, DEMO_EVENT};

/// The directory of `initdb` and `pg_ctl`: on PATH, else Debian's versioned directory.
fn postgres_bin_dir() -> PathBuf {
    let from_config = Command::new("pg_config").arg("--bindir").output().ok();
    let candidates = from_config
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
        .into_iter()
        .chain(
            std::fs::read_dir("/usr/lib/postgresql")
                .into_iter()
                .flatten()
                .flatten()
                .map(|entry| entry.path().join("bin")),
        );
    for dir in candidates {
        if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
            return dir;
        }
    }
    panic!("the PostgreSQL server programs (initdb, pg_ctl) are needed for the outage test");
}

/// A throwaway PostgreSQL cluster on a free port, removed when dropped.
struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    /// PostgreSQL refuses to run as root: then the programs run as `postgres`.
    as_postgres: bool,
}

impl Cluster {
    fn create() -> Self {
        let dir = std::env::temp_dir().join(format!("rallypoint-pg-{}", uuid::Uuid::now_v7().simple()));
        std::fs::create_dir_all(&dir).unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let as_postgres = nix_is_root();
        if as_postgres {
            run(Command::new("chown").args(["postgres:postgres"]).arg(&dir));
        }
        let cluster = Self {
            bin: postgres_bin_dir(),
            dir,
            port,
            as_postgres,
        };
        let data = cluster.data();
        cluster.run_pg(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start();
        cluster
    }

    fn data(&self) -> String {
        self.dir.join("data").to_string_lossy().into_owned()
    }

    fn run_pg(&self, program: &str, args: &[&str]) {
        let path = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        run(command.args(args));
    }

    fn start(&self) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c max_connections=40",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").to_string_lossy().into_owned();
        self.run_pg(
            "pg_ctl",
            &["-D", &self.data(), "-o", &options, "-l", &log, "-w", "start"],
        );
    }

    /// A fast shutdown, as `systemctl stop postgresql` does: sessions are ended at once.
    fn stop(&self) {
        self.run_pg("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data();
        let path = self.bin.join("pg_ctl");
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&path);
            c
        } else {
            Command::new(&path)
        };
        let _ = command
            .args(["-D", &data, "-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn nix_is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn run(command: &mut Command) {
    let output = command.output().expect("the program runs");
    assert!(
        output.status.success(),
        "{command:?} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn register(agent: &ureq::Agent, base: &str, n: usize) -> Reply {
    let body = participant(n, &["aperam-chatelet", "biopark-charleroi"]).to_string();
    call(
        agent.post(&format!("{base}/api/v1/events/{DEMO_EVENT}/registrations")),
        Some(("application/json", &body)),
    )
}

/// Every answer of the load, by status, with the 201s kept whole.
#[derive(Default)]
struct Tally {
    by_status: BTreeMap<u16, usize>,
    created: Vec<Value>,
    slowest_503: Duration,
}

#[test]
fn a_postgresql_outage_gives_quick_503s_and_recovers_without_overbooking() {
    if crate::helpers::postgres().is_none() {
        return;
    }
    let cluster = Cluster::create();
    let app = TestApp::spawn_on(TestDb::at(cluster.url()), Backend::Postgres, |_| {});
    let base = app.url("");
    let outage = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Mutex::new(Tally::default()));
    let next = Arc::new(AtomicUsize::new(0));
    let load: Vec<_> = (0..4)
        .map(|_| {
            let (base, outage, stop, tally, next) = (
                base.clone(),
                outage.clone(),
                stop.clone(),
                tally.clone(),
                next.clone(),
            );
            std::thread::spawn(move || {
                let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(30)).build();
                while !stop.load(Ordering::SeqCst) {
                    let during_outage = outage.load(Ordering::SeqCst);
                    let started = Instant::now();
                    let reply = register(&agent, &base, next.fetch_add(1, Ordering::SeqCst));
                    let took = started.elapsed();
                    let mut tally = tally.lock().unwrap();
                    *tally.by_status.entry(reply.status).or_default() += 1;
                    match reply.status {
                        201 => tally.created.push(reply.json()),
                        503 => {
                            let problem = reply.problem(503, "service-unavailable");
                            assert!(reply.retry_after.is_some(), "{problem}");
                            if during_outage {
                                tally.slowest_503 = tally.slowest_503.max(took);
                            }
                        }
                        _ => {}
                    }
                    drop(tally);
                    std::thread::sleep(Duration::from_millis(25));
                }
            })
        })
        .collect();

    std::thread::sleep(Duration::from_millis(800));
    cluster.stop();
    // Requests that were waiting when the server went may take up to the lock wait;
    // once the pool has seen the outage, every request is refused at once.
    std::thread::sleep(Duration::from_millis(2_000));
    outage.store(true, Ordering::SeqCst);
    let agent = crate::helpers::agent();
    for n in 0..5 {
        let started = Instant::now();
        let reply = register(&agent, &base, 1_000_000 + n);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        reply.problem(503, "service-unavailable");
        let ready = call(agent.get(&format!("{base}/readyz")), None);
        assert_eq!(ready.status, 503, "{}", ready.body);
    }
    std::thread::sleep(Duration::from_millis(1_000));
    outage.store(false, Ordering::SeqCst);
    cluster.start();

    // The service recovers by itself: registrations succeed again within seconds.
    let recovered = Instant::now();
    loop {
        let reply = register(
            &agent,
            &base,
            2_000_000 + recovered.elapsed().as_millis() as usize,
        );
        if reply.status == 201 {
            break;
        }
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert!(recovered.elapsed() < Duration::from_secs(20), "no recovery");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(call(agent.get(&format!("{base}/readyz")), None).status, 200);
    std::thread::sleep(Duration::from_millis(800));
    stop.store(true, Ordering::SeqCst);
    for thread in load {
        thread.join().unwrap();
    }

    let tally = Arc::try_unwrap(tally).ok().unwrap().into_inner().unwrap();
    let statuses: Vec<u16> = tally.by_status.keys().copied().collect();
    assert_eq!(
        statuses,
        [201, 503],
        "only successes and 503s: {:?}",
        tally.by_status
    );
    assert!(
        tally.slowest_503 < Duration::from_secs(1),
        "503s during the outage came quickly: {:?}",
        tally.slowest_503
    );

    // Every acknowledged registration is stored with its seat and its email, and no
    // visit holds more people than its capacity.
    let stored: BTreeMap<String, (Option<String>, usize)> = app
        .server
        .db
        .read_blocking(|conn| {
            use rallypoint::db::schema::{outbox_emails, registrations};
            let rows: Vec<(String, Option<String>)> = registrations::table
                .left_join(rallypoint::db::schema::seat_assignments::table)
                .select((
                    registrations::id,
                    rallypoint::db::schema::seat_assignments::site_visit_id.nullable(),
                ))
                .load(conn)?;
            let emails: Vec<Option<String>> = outbox_emails::table
                .select(outbox_emails::registration_id)
                .load(conn)?;
            Ok::<_, rallypoint::db::DbError>(
                rows.into_iter()
                    .map(|(id, seat)| {
                        let count = emails.iter().filter(|e| e.as_deref() == Some(&id)).count();
                        (id, (seat, count))
                    })
                    .collect(),
            )
        })
        .unwrap();
    for created in &tally.created {
        let id = created["id"].as_str().unwrap();
        let (seat, emails) = stored
            .get(id)
            .unwrap_or_else(|| panic!("{id} was acknowledged but is gone"));
        assert_eq!(
            seat.is_some(),
            created["site_visit"]["status"] == "assigned",
            "{created}"
        );
        assert!(*emails >= 1, "{id} has its confirmation email");
    }
    let event = app.event(DEMO_EVENT);
    for visit in event["site_visits"].as_array().unwrap() {
        assert!(
            visit["assigned"].as_i64() <= visit["capacity"].as_i64(),
            "{visit}"
        );
    }
}
