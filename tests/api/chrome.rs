//! Headless Chromium for the browser tests and the board benchmark: a chromedriver
//! process with its own profile, and a WebDriver session (fantoccini) per run. Kept
//! free of the test helpers so that `benches/board.rs` includes this file too.

use std::future::Future;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};

fn on_path(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("a free loopback port")
}

/// A chromedriver process for one test, with its own browser profile.
pub struct Chrome {
    driver: Child,
    port: u16,
    browser: PathBuf,
    profile: PathBuf,
    test: &'static str,
}

impl Chrome {
    /// Starts chromedriver, or says why the browser tests cannot run here.
    pub fn start(test: &'static str) -> Option<Self> {
        let browser = on_path(&["chromium", "chromium-browser", "google-chrome"]);
        let driver = on_path(&["chromedriver"]);
        let (Some(browser), Some(driver)) = (browser, driver) else {
            assert!(
                !in_ci(),
                "CI=true but chromium or chromedriver is missing: .ci/run installs them"
            );
            eprintln!("note: chromium/chromedriver not installed; browser test {test} not run");
            return None;
        };
        let port = free_port();
        let profile = std::env::temp_dir().join(format!(
            "rallypoint-chrome-{}-{}",
            std::process::id(),
            uuid::Uuid::now_v7().simple()
        ));
        std::fs::create_dir_all(&profile).unwrap();
        let driver = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let chrome = Self {
            driver,
            port,
            browser,
            profile,
            test,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(chrome)
    }

    /// Runs `steps` in a new browser session with a window of `size`.
    pub fn run<F, Fut>(&self, size: (u32, u32), steps: F)
    where
        F: FnOnce(Client) -> Fut,
        Fut: Future<Output = Result<(), CmdError>>,
    {
        // The network is closed here and these flags keep Chromium from waiting on it
        // (updates, sync, first-run pages); a fresh profile keeps tests apart.
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": self.browser,
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--no-first-run",
                    "--hide-scrollbars",
                    format!("--user-data-dir={}", self.profile.display()),
                ],
            },
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities)
                .connect(&format!("http://127.0.0.1:{}", self.port))
                .await
                .expect("a WebDriver session");
            client.set_window_size(size.0, size.1).await.unwrap();
            let outcome = steps(client.clone()).await;
            let _ = client.close().await;
            if let Err(error) = outcome {
                panic!("browser test {} failed: {error}", self.test);
            }
        });
    }
}

impl Drop for Chrome {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
