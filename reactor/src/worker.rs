//! The worker pool: threads for CPU-bound or blocking work, so a shard never
//! stalls.
//!
//! A shard must never block: one slow handler would delay every connection
//! on its core. Work that may take long (hashing a password, rendering a
//! big template, a blocking library call) goes to the pool:
//!
//! ```text
//!   shard: cx.spawn(&pool, job) --try_send--> [bounded queue] --> worker thread
//!                                 (full? Err(PoolFull) at once:     runs job
//!                                  answer 503, never wait)             |
//!   shard <--eventfd wake-- inbox <-- handle.send(token, result) ------+
//!   Protocol::on_message(conn, result)   (dropped if the conn closed)
//! ```
//!
//! The queue is bounded on purpose: when the pool cannot keep up, callers
//! learn it immediately and can shed load, instead of queueing unbounded
//! work whose answers nobody will wait for.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{bounded, Receiver, Sender, TrySendError};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The pool's queue is full (or the pool has shut down); the job was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolFull;

impl fmt::Display for PoolFull {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("worker pool queue is full")
    }
}

impl std::error::Error for PoolFull {}

struct Inner {
    tx: Option<Sender<Job>>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel lets every worker finish its current job and exit.
        self.tx.take();
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// A fixed set of threads fed by a bounded queue. Cheap to clone (shared).
#[derive(Clone)]
pub struct WorkerPool {
    tx: Sender<Job>,
    _inner: Arc<Inner>,
}

impl fmt::Debug for WorkerPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkerPool").field("queued", &self.tx.len()).finish()
    }
}

impl WorkerPool {
    /// Starts `threads` workers sharing a queue of `queue_capacity` jobs.
    ///
    /// # Panics
    ///
    /// If a thread cannot be spawned.
    pub fn new(threads: usize, queue_capacity: usize) -> WorkerPool {
        let (tx, rx) = bounded::<Job>(queue_capacity.max(1));
        let threads = (0..threads.max(1))
            .map(|i| {
                let rx: Receiver<Job> = rx.clone();
                std::thread::Builder::new()
                    .name(format!("weir-worker-{i}"))
                    .spawn(move || {
                        for job in rx.iter() {
                            // A panicking job must not take the worker down;
                            // the job's own wrapper reports the panic.
                            let _ = catch_unwind(AssertUnwindSafe(job));
                        }
                    })
                    .expect("spawn worker thread")
            })
            .collect();
        WorkerPool { tx: tx.clone(), _inner: Arc::new(Inner { tx: Some(tx), threads }) }
    }

    /// Queues `job` without ever blocking.
    ///
    /// # Errors
    ///
    /// [`PoolFull`] when the queue is at capacity.
    pub fn try_execute(&self, job: impl FnOnce() + Send + 'static) -> Result<(), PoolFull> {
        match self.tx.try_send(Box::new(job)) {
            Ok(()) => Ok(()),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => Err(PoolFull),
        }
    }

    /// Jobs waiting in the queue.
    pub fn queued(&self) -> usize {
        self.tx.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    #[test]
    fn runs_jobs_and_reports_full_without_blocking() {
        let pool = WorkerPool::new(1, 1);
        let (gate_tx, gate_rx) = mpsc::channel::<()>();
        let (done_tx, done_rx) = mpsc::channel();
        let (started_tx, started_rx) = mpsc::channel();
        // Job 1 occupies the only worker until we open the gate.
        pool.try_execute(move || {
            started_tx.send(()).unwrap();
            gate_rx.recv().unwrap();
        })
        .unwrap();
        started_rx.recv().unwrap();
        let d = done_tx.clone();
        pool.try_execute(move || d.send(2).unwrap()).unwrap(); // fills the queue
        assert_eq!(pool.try_execute(|| {}), Err(PoolFull));
        gate_tx.send(()).unwrap();
        assert_eq!(done_rx.recv().unwrap(), 2);
    }

    #[test]
    fn a_panicking_job_does_not_kill_the_worker() {
        let pool = WorkerPool::new(1, 4);
        pool.try_execute(|| panic!("job failure (expected in this test)")).unwrap();
        let (tx, rx) = mpsc::channel();
        pool.try_execute(move || tx.send(7).unwrap()).unwrap();
        assert_eq!(rx.recv().unwrap(), 7);
    }
}
