//! The log's writer: request threads hand each formatted line to a background thread, which
//! writes what has piled up to stderr in one `write(2)`.
//!
//! Every request logs one line (SPEC §0). Written straight to stderr, that line costs a system
//! call on the request's thread, under a lock the other worker threads wait on; under load that
//! was the largest single cost of step 8 (see `docs/benchmarks.md`). Here a request thread only
//! appends the line to a buffer in memory. The writer thread, woken by the first line, lets lines
//! gather for [`BATCH_WINDOW`] and writes them all at once: under load, one system call and one
//! wake-up per batch of lines instead of per line. Nothing is dropped and order is kept:
//! - lines reach stderr in the order they were logged, each whole;
//! - the buffer is bounded ([`MAX_PENDING`]): when the writer falls behind (stderr is a full pipe,
//!   a slow disk), loggers wait for room instead of growing memory or losing lines;
//! - [`LogGuard`] (held by `main` through [`crate::server::init_logging`]) writes out what is
//!   left when the program ends, so the last lines (`stopped`, an error's cause) are never lost.
//!
//! A line is on stderr a few milliseconds after it is logged, not before the response leaves:
//! tests that read a server's log wait for the line (`scripts/lib.sh`'s `expect_log`).

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

/// Most bytes waiting to be written before loggers wait for the writer.
pub const MAX_PENDING: usize = 1024 * 1024;

/// How long the writer lets lines gather once the first one has come.
pub const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(2);

/// A cheap handle for `tracing_subscriber::fmt::layer().with_writer(..)`.
#[derive(Clone, Debug)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    /// The writer thread sleeps here until there is something to write.
    work: Condvar,
    /// Loggers waiting for room, and [`LogWriter::flush_all`], sleep here.
    progress: Condvar,
}

#[derive(Debug, Default)]
struct State {
    pending: Vec<u8>,
    /// The writer thread is asleep on `work` (a logger must wake it).
    idle: bool,
    /// Lines taken by the writer and not yet written.
    in_flight: bool,
    /// The writer thread has ended: stderr is closed.
    stopped: bool,
    /// Threads waiting on `progress`.
    waiters: usize,
}

impl LogWriter {
    /// Starts the writer thread, which writes to `sink` (stderr in the programs).
    pub fn start(sink: impl Write + Send + 'static) -> std::io::Result<Self> {
        let shared = Arc::new(Shared::default());
        let writer = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(sink))?;
        Ok(Self { shared })
    }

    /// Appends one formatted line (or several); waits only when [`MAX_PENDING`] bytes are queued.
    pub fn append(&self, bytes: &[u8]) {
        let mut state = self.shared.lock();
        while !state.pending.is_empty() && state.pending.len() + bytes.len() > MAX_PENDING {
            if state.stopped {
                break;
            }
            state = self.shared.wait_for_progress(state);
        }
        if state.stopped {
            return; // stderr is gone: there is nowhere to write the line.
        }
        state.pending.extend_from_slice(bytes);
        if state.idle {
            state.idle = false;
            drop(state);
            self.shared.work.notify_one();
        }
    }

    /// Returns once everything appended so far has been written.
    pub fn flush_all(&self) {
        let mut state = self.shared.lock();
        while !state.stopped && (state.in_flight || !state.pending.is_empty()) {
            state = self.shared.wait_for_progress(state);
        }
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding this lock cannot leave the buffer half-written: keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn wait<'a>(&self, on: &Condvar, guard: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        on.wait(guard).unwrap_or_else(|e| e.into_inner())
    }

    fn run(&self, mut sink: impl Write) {
        let mut batch = Vec::new();
        loop {
            let mut state = self.lock();
            state.in_flight = false;
            self.wake_waiters(&state);
            while state.pending.is_empty() {
                state.idle = true;
                state = self.wait(&self.work, state);
            }
            // Let the lines of the next moment join this one: one write(2) for all of them, and
            // no wake-up per line (under load, loggers find the writer busy and never signal it).
            drop(state);
            std::thread::sleep(BATCH_WINDOW);
            let mut state = self.lock();
            std::mem::swap(&mut state.pending, &mut batch);
            state.in_flight = true;
            self.wake_waiters(&state); // room again for loggers that were waiting
            drop(state);
            if sink.write_all(&batch).and_then(|()| sink.flush()).is_err() {
                // stderr is gone (closed pipe): nothing more can be shown. Stop, and let loggers
                // drop their lines rather than wait forever.
                let mut state = self.lock();
                state.stopped = true;
                state.pending = Vec::new();
                self.wake_waiters(&state);
                return;
            }
            batch.clear();
            if batch.capacity() > MAX_PENDING {
                batch = Vec::new();
            }
        }
    }

    /// Wakes loggers waiting for room and flushers, if there are any (a wake-up is a system
    /// call; most of the time nobody waits).
    fn wake_waiters(&self, state: &State) {
        if state.waiters > 0 {
            self.progress.notify_all();
        }
    }

    /// Waits on `progress`, counted so that the writer knows to wake us.
    fn wait_for_progress<'a>(&self, mut state: MutexGuard<'a, State>) -> MutexGuard<'a, State> {
        state.waiters += 1;
        let mut state = self.wait(&self.progress, state);
        state.waiters -= 1;
        state
    }
}

impl Write for &LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = &'a LogWriter;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
}

/// Writes out what is still queued when dropped (keep it alive for the whole of `main`).
#[derive(Debug)]
#[must_use = "dropping the guard at once gives no flush at exit"]
pub struct LogGuard(pub(crate) Option<LogWriter>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        if let Some(writer) = &self.0 {
            writer.flush_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::time::Duration;

    /// A sink that keeps what it is given, and can be held shut to play a slow disk.
    #[derive(Clone, Default)]
    struct Sink {
        written: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.written.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn pending(writer: &LogWriter) -> usize {
        writer.shared.lock().pending.len()
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_and_in_order() {
        let sink = Sink::default();
        let writer = LogWriter::start(sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        writer.append(format!("thread={t} line={i}\n").as_bytes());
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        writer.flush_all();
        assert_eq!(pending(&writer), 0);
        let text = String::from_utf8(sink.written.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 8_000);
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread={t} ")))
                .collect();
            let expected: Vec<String> =
                (0..2_000).map(|i| format!("thread={t} line={i}")).collect();
            assert_eq!(mine, expected, "thread {t}'s lines, in order and whole");
        }
    }

    /// A sink that blocks until told to go on.
    struct Gate {
        open: mpsc::Receiver<()>,
        /// Bytes of each write.
        writes: Arc<Mutex<Vec<usize>>>,
    }

    impl Write for Gate {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let _ = self.open.recv();
            self.writes.lock().unwrap().push(buf.len());
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_stalled_sink_holds_loggers_at_the_bound_without_losing_lines() {
        let (open, gate) = mpsc::channel();
        let writes = Arc::new(Mutex::new(Vec::new()));
        let writer = LogWriter::start(Gate {
            open: gate,
            writes: Arc::clone(&writes),
        })
        .unwrap();
        let line = vec![b'x'; 1024];
        // The first line is taken by the writer, which then blocks in the sink.
        writer.append(&line);
        while !writer.shared.lock().in_flight {
            std::thread::sleep(Duration::from_millis(1));
        }
        // Fill the buffer to the bound: these return at once.
        for _ in 0..MAX_PENDING / line.len() {
            writer.append(&line);
        }
        assert_eq!(pending(&writer), MAX_PENDING);
        // One more line must wait for room.
        let (done, finished) = mpsc::channel();
        let blocked = {
            let writer = writer.clone();
            let line = line.clone();
            std::thread::spawn(move || {
                writer.append(&line);
                done.send(()).unwrap();
            })
        };
        assert!(
            finished.recv_timeout(Duration::from_millis(200)).is_err(),
            "waited for room"
        );
        assert_eq!(pending(&writer), MAX_PENDING, "never above the bound");
        // Let the sink go on: the waiting logger gets through and everything is written.
        for _ in 0..4 {
            open.send(()).unwrap();
        }
        finished
            .recv_timeout(Duration::from_secs(5))
            .expect("the logger went on");
        blocked.join().unwrap();
        drop(open); // later writes do not wait on the gate
        writer.flush_all();
        // Three writes: the first line, the 1,024 lines queued behind it in one write, the last.
        assert_eq!(
            *writes.lock().unwrap(),
            vec![line.len(), MAX_PENDING, line.len()]
        );
    }

    struct Broken;

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::from(std::io::ErrorKind::BrokenPipe))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_closed_stderr_never_blocks_or_grows_the_buffer() {
        let writer = LogWriter::start(Broken).unwrap();
        writer.append(b"first\n");
        writer.flush_all(); // returns: the writer has stopped
        assert!(writer.shared.lock().stopped);
        for _ in 0..(2 * MAX_PENDING / 1024) {
            writer.append(&[b'y'; 1024]);
        }
        assert_eq!(pending(&writer), 0);
    }

    #[test]
    fn the_guard_writes_out_what_is_queued() {
        let sink = Sink::default();
        let writer = LogWriter::start(sink.clone()).unwrap();
        for i in 0..100 {
            writer.append(format!("line {i}\n").as_bytes());
        }
        drop(LogGuard(Some(writer)));
        let text = String::from_utf8(sink.written.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 100);
        assert!(text.ends_with("line 99\n"));
    }
}
