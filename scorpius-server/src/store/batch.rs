//! Group commit for any audit store: callers on any thread hand over events; one writer
//! thread appends whatever queued up in one call (one transaction, one signed checkpoint)
//! and acknowledges each caller after it committed. The SQLite store uses the core's own
//! `GroupCommit`; the PostgreSQL store uses this.

use std::{
    sync::mpsc,
    thread::{self, JoinHandle},
};

use scorpius_core::audit::{Event, log::AuditError};

type Job = (Event, mpsc::SyncSender<Result<u64, String>>);

/// The writer thread and its queue.
#[derive(Debug)]
pub struct Batcher {
    tx: Option<mpsc::SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Batcher {
    /// Starts the writer; `append` commits one batch and returns the sequence numbers.
    pub fn start<F>(max_batch: usize, mut append: F) -> Self
    where
        F: FnMut(&[Event]) -> Result<Vec<u64>, AuditError> + Send + 'static,
    {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::sync_channel::<Job>(max_batch * 4);
        let thread = thread::spawn(move || {
            while let Ok(first) = rx.recv() {
                let mut jobs = vec![first];
                while jobs.len() < max_batch {
                    match rx.try_recv() {
                        Ok(j) => jobs.push(j),
                        Err(_) => break,
                    }
                }
                let events: Vec<Event> = jobs.iter().map(|(e, _)| e.clone()).collect();
                match append(&events) {
                    Ok(seqs) => {
                        for ((_, ack), seq) in jobs.into_iter().zip(seqs) {
                            let _ = ack.send(Ok(seq));
                        }
                    }
                    Err(e) => {
                        let msg = e.to_string();
                        for (_, ack) in jobs {
                            let _ = ack.send(Err(msg.clone()));
                        }
                    }
                }
            }
        });
        Batcher { tx: Some(tx), thread: Some(thread) }
    }

    /// Appends one event; returns its sequence number once committed.
    pub fn append(&self, event: Event) -> Result<u64, AuditError> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.tx.as_ref().ok_or(AuditError::WriterGone)?.send((event, ack_tx)).map_err(|_| AuditError::WriterGone)?;
        ack_rx.recv().map_err(|_| AuditError::WriterGone)?.map_err(AuditError::Writer)
    }
}

impl Drop for Batcher {
    fn drop(&mut self) {
        drop(self.tx.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
