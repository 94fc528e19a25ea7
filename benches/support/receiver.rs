//! A minimal webhook receiver for the benches: HTTP/1.1 on a loopback port, a thread per
//! connection (clients keep theirs open), `200 ok` to every request, and the time and
//! `webhook-id` of each arrival.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Default)]
struct Arrivals {
    /// `(webhook-id, body, when)` in arrival order.
    all: Vec<(String, String, Instant)>,
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    arrivals: Arc<Mutex<Arrivals>>,
}

impl Receiver {
    pub fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("the receiver binds");
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let arrivals = Arc::new(Mutex::new(Arrivals::default()));
        let kept = arrivals.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let arrivals = kept.clone();
                std::thread::spawn(move || serve(stream, &arrivals));
            }
        });
        Self { url, arrivals }
    }

    pub fn count(&self) -> usize {
        self.arrivals.lock().unwrap().all.len()
    }

    /// Waits for `count` arrivals; the time of the last.
    pub fn wait_for(&self, count: usize) -> Instant {
        let started = Instant::now();
        loop {
            {
                let arrivals = self.arrivals.lock().unwrap();
                if arrivals.all.len() >= count {
                    return arrivals.all[count - 1].2;
                }
            }
            assert!(
                started.elapsed().as_secs() < 600,
                "only {} of {count} arrived",
                self.count()
            );
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }

    /// `(webhook-id, body)` of every arrival, in arrival order.
    pub fn arrivals(&self) -> Vec<(String, String)> {
        self.arrivals
            .lock()
            .unwrap()
            .all
            .iter()
            .map(|(id, body, _)| (id.clone(), body.clone()))
            .collect()
    }
}

fn serve(stream: TcpStream, arrivals: &Mutex<Arrivals>) {
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = HashMap::new();
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header).unwrap_or(0) == 0 {
                return;
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':') {
                headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
            }
        }
        let length = headers
            .get("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let id = headers.remove("webhook-id").unwrap_or_default();
        arrivals
            .lock()
            .unwrap()
            .all
            .push((id, String::from_utf8_lossy(&body).into_owned(), Instant::now()));
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .is_err()
        {
            return;
        }
    }
}
