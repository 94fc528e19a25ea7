//! A webhook receiver for the tests: a small HTTP/1.1 server on a loopback port (std
//! only), keeping every request it is sent. It answers as told: a status, or not at all
//! until released; it can go down (its port closed: connections refused) and come back
//! on the same port.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How the receiver answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Status(u16),
    /// Holds every request unanswered until the mode changes.
    Hang,
}

/// A request as received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Received {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_default()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

#[derive(Default)]
struct Shared {
    mode: Mutex<Option<Mode>>,
    changed: Condvar,
    received: Mutex<Vec<Received>>,
    /// Requests being held (`Mode::Hang`).
    held: Mutex<usize>,
}

pub struct Receiver {
    port: u16,
    shared: Arc<Shared>,
    running: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Receiver {
    pub fn start(mode: Mode) -> Self {
        let mut receiver = Self {
            port: 0,
            shared: Arc::new(Shared::default()),
            running: None,
        };
        receiver.set_mode(mode);
        receiver.up();
        receiver
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.shared.mode.lock().unwrap() = Some(mode);
        self.shared.changed.notify_all();
    }

    /// Listens (again, on the same port once it had one).
    pub fn up(&mut self) {
        assert!(self.running.is_none(), "already up");
        let listener = TcpListener::bind(("127.0.0.1", self.port)).expect("the receiver binds its port");
        self.port = listener.local_addr().unwrap().port();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let (flag, shared) = (stop.clone(), self.shared.clone());
        let thread = std::thread::spawn(move || accept_loop(listener, &flag, &shared));
        self.running = Some((stop, thread));
    }

    /// Closes the port: new connections are refused, open ones are cut.
    pub fn down(&mut self) {
        if let Some((stop, thread)) = self.running.take() {
            stop.store(true, Ordering::SeqCst);
            self.shared.changed.notify_all();
            thread.join().unwrap();
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests have arrived; returns them all.
    pub fn wait_for(&self, count: usize) -> Vec<Received> {
        wait_until(&format!("{count} webhook requests"), || {
            self.received().len() >= count
        });
        self.received()
    }

    /// Waits until `count` requests are held unanswered.
    pub fn wait_held(&self, count: usize) {
        wait_until(&format!("{count} held requests"), || {
            *self.shared.held.lock().unwrap() >= count
        });
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.set_mode(Mode::Status(200));
        self.down();
    }
}

pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn accept_loop(listener: TcpListener, stop: &Arc<AtomicBool>, shared: &Arc<Shared>) {
    let mut connections = Vec::new();
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, _)) => {
                let (stop, shared) = (stop.clone(), shared.clone());
                let cut = stream.try_clone().unwrap();
                connections.push(cut);
                std::thread::spawn(move || serve(stream, &stop, &shared));
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(_) => break,
        }
    }
    for connection in connections {
        let _ = connection.shutdown(std::net::Shutdown::Both);
    }
}

/// Answers the requests of one connection (a client keeps it open between them).
fn serve(stream: TcpStream, stop: &AtomicBool, shared: &Shared) {
    stream.set_nonblocking(false).unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let Some(request) = read_request(&mut reader) else {
            return;
        };
        shared.received.lock().unwrap().push(request);
        let status = {
            let mut mode = shared.mode.lock().unwrap();
            *shared.held.lock().unwrap() += 1;
            while *mode == Some(Mode::Hang) && !stop.load(Ordering::SeqCst) {
                mode = shared
                    .changed
                    .wait_timeout(mode, Duration::from_millis(50))
                    .unwrap()
                    .0;
            }
            *shared.held.lock().unwrap() -= 1;
            match *mode {
                Some(Mode::Status(status)) => status,
                _ => 200,
            }
        };
        if stop.load(Ordering::SeqCst) {
            return;
        }
        // A 204 has no body (a client would read one as the next answer).
        let body = if status == 204 {
            String::new()
        } else {
            format!("status {status}")
        };
        let answer = format!(
            "HTTP/1.1 {status} Test\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        if writer.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Option<Received> {
    let mut line = String::new();
    if reader.read_line(&mut line).ok()? == 0 {
        return None;
    }
    let path = line.split_whitespace().nth(1).unwrap_or_default().to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header).ok()? == 0 {
            return None;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body).ok()?;
    Some(Received {
        path,
        headers,
        body: String::from_utf8(body).ok()?,
    })
}
