//! Background threads (mail delivery, retention) with a stop flag: stopping sets the
//! flag, wakes the thread from its sleep and waits for it to finish what it is doing.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

pub struct BackgroundThread {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl BackgroundThread {
    /// Runs `work` on a named thread; it should return soon after the flag it is given
    /// turns true, and sleep with `std::thread::park_timeout` so that a stop wakes it.
    pub fn spawn(name: &str, work: impl FnOnce(&AtomicBool) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || work(&flag))
            .unwrap_or_else(|e| panic!("cannot spawn the {name} thread: {e}"));
        Self {
            stop,
            thread: Some(thread),
        }
    }

    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

impl Drop for BackgroundThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}
