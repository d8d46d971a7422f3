//! Logs written off the shards: per-thread buffers, one logger thread.
//!
//! A shard must never wait for a terminal, a pipe or a disk. So a log line
//! is only appended to memory on the thread that produced it, and a
//! dedicated thread does the writing:
//!
//! ```text
//!  shard thread (one slot each)                 logger thread
//!  ───────────────────────────                  ─────────────
//!  line ─▶ slot: Mutex<Batch>, try_lock         every `flush_every` (~100 ms):
//!          │                                      take each slot's partial batch,
//!          │ batch full (`batch_bytes`)           write it, flush the writer
//!          ▼
//!          try_send ─▶ bounded channel ───────▶ write each batch as it comes
//!          │ full: the lines are dropped and counted ([`Logger::dropped`])
//! ```
//!
//! The shard's side never blocks: the channel is only `try_send`-ed, and
//! its slot's lock only `try_lock`-ed (the logger holds it for the length
//! of a `mem::take`; if the shard meets it held, the line travels alone
//! through the channel instead). A shard that goes quiet still has its
//! last lines written within `flush_every`, because the logger thread
//! takes partial batches itself; and when the [`Logger`] is dropped (the
//! server has stopped and dropped its app), the thread takes the last
//! partial batches, writes everything and exits before the drop returns.
//!
//! Lines from one thread keep their order (the sweep drains the channel
//! between taking the slots' bytes and writing them); lines from different
//! threads interleave by batch.
//!
//! # Invariants
//!
//! * Every line handed to [`Logger::write_line`] is either written or
//!   counted in [`Logger::dropped`], never both, never neither (once the
//!   logger is dropped).
//! * A slot's batch never exceeds `batch_bytes` plus one line.

use std::cell::RefCell;
use std::io::Write;
use std::mem;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How a [`Logger`] batches and hands over its lines.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LogConfig {
    /// The longest a line waits in a quiet thread's buffer: 100 ms is
    /// "at once" to a person tailing the log, and ten sweeps a second cost
    /// nothing.
    pub(crate) flush_every: Duration,
    /// A thread's buffer is handed over when it reaches this size: 16 KiB
    /// is one `write` of a hundred access-log lines.
    pub(crate) batch_bytes: usize,
    /// Batches in flight to the logger thread (the channel's bound): 64 ×
    /// 16 KiB = 1 MiB of log held at most while the writer is slow; past
    /// that, lines are dropped, not queued without end.
    pub(crate) channel_batches: usize,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig { flush_every: Duration::from_millis(100), batch_bytes: 16 << 10, channel_batches: 64 }
    }
}

/// A batch of whole lines.
#[derive(Debug, Default)]
struct Batch {
    bytes: Vec<u8>,
    lines: u64,
}

/// One thread's partial batch, shared with the logger thread for sweeps.
#[derive(Debug, Default)]
struct Slot {
    batch: Mutex<Batch>,
}

/// Tells loggers apart in the thread-local slot table.
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// This thread's slot for each logger it has written to.
    static SLOTS: RefCell<Vec<(u64, Arc<Slot>)>> = const { RefCell::new(Vec::new()) };
}

/// A log written by its own thread; cheap to clone (shared). See the
/// module docs.
#[derive(Debug, Clone)]
pub(crate) struct Logger {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    id: u64,
    batch_bytes: usize,
    /// Full batches. `None` only while dropping (to end the thread).
    batches: Option<SyncSender<Batch>>,
    /// New slots, one message per thread and logger: unbounded, so
    /// registering never blocks and never fails while the logger lives.
    slots: Sender<Arc<Slot>>,
    dropped: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl Logger {
    /// Starts a logger thread named `name` writing to `out`.
    ///
    /// # Errors
    ///
    /// The thread could not be spawned.
    pub(crate) fn new(name: &str, out: Box<dyn Write + Send>, config: LogConfig) -> std::io::Result<Logger> {
        let (batches, batch_rx) = mpsc::sync_channel(config.channel_batches.max(1));
        let (slots, slot_rx) = mpsc::channel();
        let flush_every = config.flush_every;
        let thread = std::thread::Builder::new()
            .name(name.into())
            .spawn(move || run(out, &batch_rx, &slot_rx, flush_every))
            .map_err(|e| std::io::Error::new(e.kind(), format!("spawn logger thread {name}: {e}")))?;
        Ok(Logger {
            inner: Arc::new(Inner {
                id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
                batch_bytes: config.batch_bytes.max(1),
                batches: Some(batches),
                slots,
                dropped: Arc::default(),
                thread: Some(thread),
            }),
        })
    }

    /// Appends one line: `write` adds its bytes (without the newline) to
    /// this thread's batch. Never blocks; see the module docs.
    pub(crate) fn write_line(&self, write: impl FnOnce(&mut Vec<u8>)) {
        let inner = &*self.inner;
        let slot = SLOTS.with(|slots| inner.slot(&mut slots.borrow_mut()));
        let full = match slot.batch.try_lock() {
            Ok(mut batch) => {
                write(&mut batch.bytes);
                batch.bytes.push(b'\n');
                batch.lines += 1;
                (batch.bytes.len() >= inner.batch_bytes).then(|| mem::take(&mut *batch))
            }
            // The logger is taking this slot's bytes right now: this line
            // travels alone rather than wait.
            Err(_) => {
                let mut bytes = Vec::new();
                write(&mut bytes);
                bytes.push(b'\n');
                Some(Batch { bytes, lines: 1 })
            }
        };
        if let Some(batch) = full {
            inner.hand_over(batch);
        }
    }

    /// Lines dropped so far because the logger thread could not keep up.
    pub(crate) fn dropped(&self) -> u64 {
        self.inner.dropped.load(Ordering::Relaxed)
    }
}

impl Inner {
    /// This thread's slot for this logger, made and registered on first use.
    fn slot(&self, slots: &mut Vec<(u64, Arc<Slot>)>) -> Arc<Slot> {
        if let Some((_, slot)) = slots.iter().find(|(id, _)| *id == self.id) {
            return slot.clone();
        }
        // Forget the slots of loggers that have ended (theirs is the only
        // other reference, gone with their thread).
        slots.retain(|(_, slot)| Arc::strong_count(slot) > 1);
        let slot = Arc::new(Slot::default());
        // Fails only if the logger thread is gone, which `Inner` outlives.
        let _ = self.slots.send(slot.clone());
        slots.push((self.id, slot.clone()));
        slot
    }

    /// Sends a batch to the logger thread, or counts its lines as dropped
    /// when the channel is full.
    fn hand_over(&self, batch: Batch) {
        let lines = batch.lines;
        let sent = self.batches.as_ref().is_some_and(|tx| tx.try_send(batch).is_ok());
        if !sent {
            self.dropped.fetch_add(lines, Ordering::Relaxed);
        }
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the batch channel tells the thread to take the last
        // partial batches, write everything and exit.
        self.batches = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The logger thread: writes batches as they come, sweeps the slots every
/// `flush_every`, and once more when the channel closes.
fn run(
    mut out: Box<dyn Write + Send>,
    batches: &Receiver<Batch>,
    new_slots: &Receiver<Arc<Slot>>,
    flush_every: Duration,
) {
    let mut slots: Vec<Arc<Slot>> = Vec::new();
    let mut next_sweep = Instant::now() + flush_every;
    loop {
        let wait = next_sweep.saturating_duration_since(Instant::now());
        let closed = match batches.recv_timeout(wait) {
            Ok(batch) => {
                // Write errors have nowhere to go: a log must not stop the server.
                let _ = out.write_all(&batch.bytes);
                false
            }
            Err(RecvTimeoutError::Timeout) => false,
            Err(RecvTimeoutError::Disconnected) => true,
        };
        if closed || Instant::now() >= next_sweep {
            slots.extend(new_slots.try_iter());
            sweep(&mut *out, &mut slots, batches);
            let _ = out.flush();
            next_sweep = Instant::now() + flush_every;
        }
        if closed {
            return;
        }
    }
}

/// Takes every slot's partial batch, writes the batches already queued
/// (they are older), then the partial ones. Slots whose thread has exited
/// are forgotten once empty.
fn sweep(out: &mut dyn Write, slots: &mut Vec<Arc<Slot>>, batches: &Receiver<Batch>) {
    let partial: Vec<Batch> = slots
        .iter()
        .map(|slot| mem::take(&mut *slot.batch.lock().unwrap_or_else(std::sync::PoisonError::into_inner)))
        .collect();
    for batch in batches.try_iter() {
        let _ = out.write_all(&batch.bytes);
    }
    for batch in partial {
        let _ = out.write_all(&batch.bytes);
    }
    slots.retain(|slot| Arc::strong_count(slot) > 1);
}

/// The process's error log: one line (`weir: ` + what `write` adds) on
/// standard error, through its own logger thread, started on first use. Lines are written within `flush_every`
/// of being logged (a process that exits sooner may lose its last ones).
pub(crate) fn error(write: impl FnOnce(&mut Vec<u8>)) {
    static ERRORS: OnceLock<Option<Logger>> = OnceLock::new();
    let logger = ERRORS.get_or_init(|| {
        Logger::new("weir-error-log", Box::new(std::io::stderr()), LogConfig::default()).ok()
    });
    if let Some(logger) = logger {
        logger.write_line(|out| {
            out.extend_from_slice(b"weir: ");
            write(out);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer the test can read, that can be made to block.
    #[derive(Clone, Default)]
    struct Sink {
        bytes: Arc<Mutex<Vec<u8>>>,
        gate: Arc<Mutex<()>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _open = self.gate.lock().unwrap();
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Sink {
        fn lines(&self) -> Vec<String> {
            String::from_utf8(self.bytes.lock().unwrap().clone()).unwrap().lines().map(String::from).collect()
        }
    }

    fn logger(sink: &Sink, config: LogConfig) -> Logger {
        Logger::new("test-log", Box::new(sink.clone()), config).unwrap()
    }

    fn wait_for(what: impl Fn() -> bool) -> bool {
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end {
            if what() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        false
    }

    #[test]
    fn a_quiet_threads_lines_arrive_within_the_flush_interval() {
        let sink = Sink::default();
        let log = logger(&sink, LogConfig::default());
        log.write_line(|b| b.extend_from_slice(b"one"));
        log.write_line(|b| b.extend_from_slice(b"two"));
        // This thread stays alive and logs nothing more: the sweep takes them.
        assert!(wait_for(|| sink.lines() == ["one", "two"]), "{:?}", sink.lines());
    }

    #[test]
    fn full_batches_go_at_once_and_the_rest_on_drop_in_order() {
        let sink = Sink::default();
        // No sweep during the test: only full batches and the final one.
        let config =
            LogConfig { flush_every: Duration::from_secs(3600), batch_bytes: 64, channel_batches: 1024 };
        let log = logger(&sink, config);
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..100 {
                        log.write_line(|b| write!(b, "t{t} line {i:03}").unwrap());
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(wait_for(|| !sink.lines().is_empty()), "full batches are written without a sweep");
        assert_eq!(log.dropped(), 0);
        drop(log);
        let lines = sink.lines();
        assert_eq!(lines.len(), 400, "every line written by the time the logger is dropped");
        for t in 0..4 {
            let mine: Vec<_> = lines.iter().filter(|l| l.starts_with(&format!("t{t} "))).cloned().collect();
            let want: Vec<_> = (0..100).map(|i| format!("t{t} line {i:03}")).collect();
            assert_eq!(mine, want, "one thread's lines keep their order");
        }
    }

    #[test]
    fn a_stuck_writer_never_blocks_the_logging_thread_and_drops_are_counted() {
        let sink = Sink::default();
        let config = LogConfig { flush_every: Duration::from_millis(1), batch_bytes: 16, channel_batches: 2 };
        let log = logger(&sink, config);
        let stuck = sink.gate.lock().unwrap();
        let start = Instant::now();
        for i in 0..10_000 {
            log.write_line(|b| write!(b, "line {i:05}").unwrap());
        }
        assert!(start.elapsed() < Duration::from_secs(5), "logging must not wait for the writer");
        assert!(log.dropped() > 0, "a full channel drops lines");
        drop(stuck);
        let dropped = log.dropped();
        drop(log);
        assert_eq!(sink.lines().len() as u64 + dropped, 10_000, "each line written or counted");
    }
}
