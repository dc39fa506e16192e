//! Group commit for SQLite writes: callers hand jobs to one writer thread, which applies
//! whatever queued up together in one transaction, each job in a savepoint of its own (a job
//! that fails or declines is rolled back alone), commits once, and only then tells each
//! caller its job's outcome. One commit per batch instead of one per request, and no thread
//! of the caller's blocked while it waits: [`Writer::queue`] returns a channel to await.

use std::{
    sync::{Arc, Mutex, mpsc},
    thread::JoinHandle,
};

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::{StoreError, StoreResult};

/// The outcome of a queued write, sent once its batch committed.
pub type Queued<T> = oneshot::Receiver<StoreResult<T>>;

/// An outcome known before queueing (a job refused up front), in the form of a queued one.
pub fn ready<T>(r: StoreResult<T>) -> Queued<T> {
    let (ack, rx) = oneshot::channel();
    let _ = ack.send(r);
    rx
}

/// Waits for a queued write (a writer that stopped is an error, never a hang).
pub async fn settled<T>(q: Queued<T>) -> StoreResult<T> {
    q.await.map_err(|_| StoreError::Db("the storage writer stopped".into()))?
}

/// One write applied in a savepoint by [`sqlite_batch`].
pub trait Job: Send + 'static {
    /// What the caller is told.
    type Output: Send + 'static;
    /// Applies the job inside the batch's transaction.
    fn apply(&self, conn: &Connection) -> StoreResult<Self::Output>;
    /// Whether a successful outcome is kept (committed); otherwise its savepoint is rolled
    /// back and the outcome still reported (a reservation over its quota, say).
    fn keep(_out: &Self::Output) -> bool {
        true
    }
}

type Entry<J, O> = (J, oneshot::Sender<StoreResult<O>>);

/// The writer thread and its queue: jobs `J`, each answered with an `O`.
pub struct Writer<J, O> {
    tx: Option<mpsc::SyncSender<Entry<J, O>>>,
    thread: Option<JoinHandle<()>>,
}

impl<J, O> std::fmt::Debug for Writer<J, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").finish_non_exhaustive()
    }
}

fn lock(m: &Mutex<Connection>) -> std::sync::MutexGuard<'_, Connection> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<J: Send + 'static, O: Send + 'static> Writer<J, O> {
    /// Starts the thread `name`; `apply` commits one batch of at most `max_batch` jobs and
    /// returns one outcome per job, in order.
    pub fn start<F>(name: &str, max_batch: usize, mut apply: F) -> StoreResult<Self>
    where
        F: FnMut(&[J]) -> Vec<StoreResult<O>> + Send + 'static,
    {
        let max_batch = max_batch.max(1);
        let (tx, rx) = mpsc::sync_channel::<Entry<J, O>>(max_batch * 4);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut batch = vec![first];
                    while batch.len() < max_batch {
                        match rx.try_recv() {
                            Ok(j) => batch.push(j),
                            Err(_) => break,
                        }
                    }
                    let (jobs, acks): (Vec<J>, Vec<_>) = batch.into_iter().unzip();
                    let mut results = apply(&jobs).into_iter();
                    for ack in acks {
                        let r = results.next().unwrap_or_else(|| Err(StoreError::Db("batch outcome missing".into())));
                        let _ = ack.send(r);
                    }
                }
            })
            .map_err(|e| StoreError::Db(format!("starting the {name} thread: {e}")))?;
        Ok(Writer { tx: Some(tx), thread: Some(thread) })
    }

    /// Queues a job; the channel receives its outcome after the commit. Blocks only while
    /// the queue is full (back-pressure when storage cannot keep up).
    pub fn queue(&self, job: J) -> Queued<O> {
        let (ack, rx) = oneshot::channel();
        if let Some(tx) = &self.tx {
            // A send error drops `ack`, which the receiver reports as a stopped writer.
            let _ = tx.send((job, ack));
        }
        rx
    }

    /// Queues a job unless the queue is full (then it is handed back); its outcome is sent
    /// to a channel nobody reads.
    pub fn try_queue(&self, job: J) -> Result<(), J> {
        let (ack, _) = oneshot::channel();
        match &self.tx {
            Some(tx) => tx.try_send((job, ack)).map_err(|e| match e {
                mpsc::TrySendError::Full((job, _)) | mpsc::TrySendError::Disconnected((job, _)) => job,
            }),
            None => Err(job),
        }
    }

    /// Queues a job and blocks the calling thread until it committed (not for async tasks).
    pub fn run(&self, job: J) -> StoreResult<O> {
        self.queue(job).blocking_recv().map_err(|_| StoreError::Db("the storage writer stopped".into()))?
    }
}

impl<J: Job> Writer<J, J::Output> {
    /// A SQLite writer through `pool[index]` (a mutex, so the store's other writes on that
    /// connection queue in the process rather than in SQLite's busy handler).
    pub fn sqlite(name: &str, pool: Arc<Vec<Mutex<Connection>>>, index: usize, max_batch: usize) -> StoreResult<Self> {
        Writer::start(name, max_batch, move |jobs: &[J]| sqlite_batch(&mut lock(&pool[index]), jobs))
    }
}

impl<J, O> Drop for Writer<J, O> {
    fn drop(&mut self) {
        self.tx.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Applies a batch in one SQLite transaction, each job in a savepoint: one outcome per job
/// (all errors when the commit itself fails).
pub fn sqlite_batch<J: Job>(conn: &mut Connection, jobs: &[J]) -> Vec<StoreResult<J::Output>> {
    let run = |conn: &mut Connection| -> StoreResult<Vec<StoreResult<J::Output>>> {
        let mut tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut out = Vec::with_capacity(jobs.len());
        for job in jobs {
            let sp = tx.savepoint()?;
            let r = job.apply(&sp);
            if r.as_ref().is_ok_and(J::keep) {
                sp.commit()?;
            } // otherwise dropped: rolled back to the savepoint
            out.push(r);
        }
        tx.commit()?;
        Ok(out)
    };
    match run(conn) {
        Ok(out) => out,
        Err(e) => jobs.iter().map(|_| Err(StoreError::Db(format!("batch commit: {e}")))).collect(),
    }
}
