//! A real SMTP server (mailin-embedded) that the tests start on a loopback port, with
//! knobs to answer 451 (try later) or 550 (no such mailbox), and the messages it received.

use std::collections::HashSet;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mail_parser::MimeHeaders;
use mailin_embedded::{response, Handler, Response, Server};

#[derive(Clone, Debug)]
pub struct Received {
    pub recipients: Vec<String>,
    pub data: Vec<u8>,
}

impl Received {
    pub fn parsed(&self) -> mail_parser::Message<'_> {
        mail_parser::MessageParser::default()
            .parse(&self.data)
            .expect("a parseable message")
    }

    pub fn message_id(&self) -> String {
        self.parsed().message_id().unwrap_or_default().to_owned()
    }

    pub fn subject(&self) -> String {
        self.parsed().subject().unwrap_or_default().to_owned()
    }

    pub fn text(&self) -> String {
        self.parsed().body_text(0).unwrap_or_default().into_owned()
    }

    pub fn html(&self) -> String {
        self.parsed().body_html(0).unwrap_or_default().into_owned()
    }

    /// The text of the calendar attachment, if any.
    pub fn calendar(&self) -> Option<String> {
        let message = self.parsed();
        let calendar = message.attachments().find_map(|part| {
            part.is_content_type("text", "calendar")
                .then(|| String::from_utf8_lossy(part.contents()).into_owned())
        });
        calendar
    }

    /// The display name of the To: address, decoded.
    pub fn to_name(&self) -> String {
        let message = self.parsed();
        message
            .to()
            .and_then(|to| to.first())
            .and_then(|addr| addr.name())
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Default)]
struct State {
    received: Vec<Received>,
    /// Recipients answered 550 at RCPT.
    reject: HashSet<String>,
    /// How many more messages get 451 (greylisting) at RCPT.
    defer_next: usize,
}

#[derive(Clone)]
struct Session {
    state: Arc<Mutex<State>>,
    recipients: Vec<String>,
    data: Vec<u8>,
}

impl Handler for Session {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, _from: &str) -> Response {
        self.recipients.clear();
        self.data.clear();
        response::OK
    }

    fn rcpt(&mut self, to: &str) -> Response {
        let address = to.trim_matches(|c| c == '<' || c == '>').to_lowercase();
        let mut state = self.state.lock().unwrap();
        if state.reject.contains(&address) {
            return response::NO_MAILBOX; // 550
        }
        if state.defer_next > 0 {
            state.defer_next -= 1;
            return response::INTERNAL_ERROR; // 451
        }
        self.recipients.push(address);
        response::OK
    }

    fn data(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.data.extend_from_slice(buf);
        Ok(())
    }

    fn data_end(&mut self) -> Response {
        let mut state = self.state.lock().unwrap();
        state.received.push(Received {
            recipients: std::mem::take(&mut self.recipients),
            data: std::mem::take(&mut self.data),
        });
        response::OK
    }
}

pub struct SmtpServer {
    pub port: u16,
    state: Arc<Mutex<State>>,
}

/// A loopback port that nothing listens on (yet).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl SmtpServer {
    pub fn start() -> Self {
        Self::start_on(TcpListener::bind("127.0.0.1:0").unwrap())
    }

    pub fn start_on_port(port: u16) -> Self {
        Self::start_on(TcpListener::bind(("127.0.0.1", port)).expect("the port is free"))
    }

    fn start_on(listener: TcpListener) -> Self {
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(State::default()));
        let mut server = Server::new(Session {
            state: state.clone(),
            recipients: Vec::new(),
            data: Vec::new(),
        });
        // A thread serves one connection at a time, and the workers' pools keep theirs
        // open between emails: room for two workers of 16 senders (the default) each.
        server
            .with_name("smtp.test")
            .with_num_threads(32)
            .with_tcp_listener(listener);
        // The server runs until the test process ends.
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        Self { port, state }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn reject(&self, address: &str) {
        self.state.lock().unwrap().reject.insert(address.to_lowercase());
    }

    pub fn accept(&self, address: &str) {
        self.state.lock().unwrap().reject.remove(&address.to_lowercase());
    }

    pub fn defer_next(&self, messages: usize) {
        self.state.lock().unwrap().defer_next = messages;
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }

    /// Waits until at least `count` messages arrived; panics after `timeout`.
    pub fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let received = self.received();
            if received.len() >= count {
                return received;
            }
            assert!(
                Instant::now() < deadline,
                "only {} of {count} emails arrived within {timeout:?}",
                received.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Messages to one recipient, in arrival order.
    pub fn to(&self, address: &str) -> Vec<Received> {
        let address = address.to_lowercase();
        self.received()
            .into_iter()
            .filter(|m| m.recipients.contains(&address))
            .collect()
    }
}
