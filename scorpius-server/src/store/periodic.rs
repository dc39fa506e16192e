//! Background upkeep of a store on a thread of its own: WAL checkpoints (`sqlite`), folding
//! pending usage into the rollups (`usage`). [`Periodic`] runs a task every interval until
//! it is dropped, then a last task once, and joins the thread.

use std::{
    sync::mpsc::{self, RecvTimeoutError},
    thread::JoinHandle,
    time::Duration,
};

use super::{StoreError, StoreResult};

/// A thread running a task periodically; stopped and joined when dropped.
#[derive(Debug)]
pub struct Periodic {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Periodic {
    /// Starts the thread `name`: `tick` every `every`, and `last` once when dropped.
    pub fn start(
        name: &str,
        every: Duration,
        mut tick: impl FnMut() + Send + 'static,
        last: impl FnOnce() + Send + 'static,
    ) -> StoreResult<Self> {
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = rx.recv_timeout(every) {
                    tick();
                }
                last();
            })
            .map_err(|e| StoreError::Db(format!("starting the {name} thread: {e}")))?;
        Ok(Periodic { stop: Some(stop), thread: Some(thread) })
    }
}

impl Drop for Periodic {
    fn drop(&mut self) {
        self.stop.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
