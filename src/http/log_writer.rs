//! Step 1 (every server): where the log's lines go. The threads that log append each whole line
//! to one buffer in memory; a thread of its own writes what gathered to stderr, in one
//! `write(2)`, every [`PAUSE`]. Nothing is dropped: when [`LIMIT`] bytes are waiting, a logger
//! waits for the writer (the server slows down rather than lose a line). Dropping the
//! [`LogGuard`] that [`spawn`] returns writes out the last lines.
//!
//! # Why it is written here (measured)
//!
//! It replaces `tracing-appender`'s non-blocking writer, which this project used before. That
//! writer copies every line into a `Vec` of its own and sends it through a channel to its thread,
//! which frees it again; its thread wakes up for each line it finds, so the server needed a
//! paced buffer behind it not to make one `write(2)` per request. Here a line costs the logger
//! one uncontended lock and one copy into a buffer that is reused, and the writer thread is woken
//! only when it was idle.
//!
//! Measured on step 8 (release,
//! `tools/call echo`, one token, wrk on 16 connections; step 8 against step 8 at
//! `RUST_LOG=warn` in alternating runs, 2026-12-07): the log line cost 2.2 to 7.4 µs of the
//! server's CPU per request with that writer (and glibc's malloc), 1.0 to 1.6 µs with this one
//! (and mimalloc). What remains is mostly formatting the line, which `tracing-subscriber` still
//! does.
use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// How long the writer thread rests between two writes: a line reaches stderr at most about this
/// late, and a busy server writes at most about 500 times a second, whatever its request rate.
pub const PAUSE: Duration = Duration::from_millis(2);

/// Bytes that may wait in memory; a logger that finds this many waits until they are written.
pub const LIMIT: usize = 1024 * 1024;

/// The writing end that the log's layers hold (a `tracing-subscriber` `MakeWriter`).
#[derive(Debug, Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Keeps the writer thread; dropping it writes out every line logged before and stops the thread.
#[derive(Debug)]
pub struct LogGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// The writer thread waits here when it found nothing to write.
    work: Condvar,
    /// Loggers wait here when `LIMIT` bytes are waiting.
    room: Condvar,
    limit: usize,
}

#[derive(Debug, Default)]
struct State {
    lines: Vec<u8>,
    /// The writer thread is waiting on `work`: the next line must wake it.
    idle: bool,
    /// Loggers are waiting on `room`: the next write must wake them.
    full: bool,
    closed: bool,
}

/// Starts the writer thread over `out` (stderr in the servers).
pub fn spawn<W: Write + Send + 'static>(out: W) -> std::io::Result<(LogWriter, LogGuard)> {
    spawn_with(out, PAUSE, LIMIT)
}

/// [`spawn`] with another pause and limit (the tests use a small limit).
fn spawn_with<W: Write + Send + 'static>(
    out: W,
    pause: Duration,
    limit: usize,
) -> std::io::Result<(LogWriter, LogGuard)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State::default()),
        work: Condvar::new(),
        room: Condvar::new(),
        limit,
    });
    let thread = std::thread::Builder::new()
        .name("log-writer".into())
        .spawn({
            let shared = Arc::clone(&shared);
            move || write_out(&shared, out, pause)
        })?;
    let guard = LogGuard {
        shared: Arc::clone(&shared),
        thread: Some(thread),
    };
    Ok((LogWriter { shared }, guard))
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A logger that panicked mid-append leaves at worst a partial line: keep logging.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// The writer thread: rest, take what gathered, write it; wait for work when there was none.
fn write_out<W: Write>(shared: &Shared, mut out: W, pause: Duration) {
    let mut batch = Vec::new();
    loop {
        std::thread::sleep(pause);
        let closed = {
            let mut state = shared.lock();
            while state.lines.is_empty() && !state.closed {
                state.idle = true;
                state = shared
                    .work
                    .wait(state)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
            std::mem::swap(&mut state.lines, &mut batch);
            if std::mem::take(&mut state.full) {
                shared.room.notify_all();
            }
            state.closed && state.lines.is_empty()
        };
        // stderr that cannot be written to has no one to tell: the batch is let go.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if closed {
            return;
        }
    }
}

impl Write for &LogWriter {
    /// Appends `buf` (the fmt layer writes one whole line at a time).
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let shared = &self.shared;
        let mut state = shared.lock();
        while state.lines.len() >= shared.limit && !state.closed {
            state.full = true;
            state = shared
                .room
                .wait(state)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        state.lines.extend_from_slice(buf);
        if std::mem::take(&mut state.idle) {
            shared.work.notify_one();
        }
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

impl Drop for LogGuard {
    fn drop(&mut self) {
        {
            let mut state = self.shared.lock();
            state.closed = true;
            self.shared.work.notify_one();
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An `out` the test can read afterwards; `delay` makes each write slow.
    #[derive(Clone, Default)]
    struct Capture {
        bytes: Arc<Mutex<Vec<u8>>>,
        writes: Arc<Mutex<usize>>,
        delay: Duration,
    }

    impl Write for Capture {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            std::thread::sleep(self.delay);
            *self.writes.lock().unwrap() += 1;
            self.bytes.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// Four threads log `per_thread` lines each; returns what reached `out`, checked complete
    /// and in order per thread.
    fn log_from_four_threads(writer: &LogWriter, guard: LogGuard, out: &Capture, per_thread: u32) {
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..per_thread {
                        (&writer)
                            .write_all(format!("{t} {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(out.bytes.lock().unwrap().clone()).unwrap();
        let mut next = [0u32; 4];
        let mut lines = 0;
        for line in text.lines() {
            let (t, i) = line.split_once(' ').unwrap();
            let (t, i): (usize, u32) = (t.parse().unwrap(), i.parse().unwrap());
            assert_eq!(i, next[t], "thread {t}'s lines in order");
            next[t] += 1;
            lines += 1;
        }
        assert_eq!(lines, 4 * per_thread, "no line dropped");
    }

    #[test]
    fn every_line_is_written_in_order_and_the_guard_writes_the_last_ones() {
        let out = Capture::default();
        let (writer, guard) = spawn(out.clone()).unwrap();
        log_from_four_threads(&writer, guard, &out, 50_000);
        // Batches, not one write per line.
        assert!(*out.writes.lock().unwrap() < 20_000, "{:?}", out.writes);
    }

    #[test]
    fn a_full_buffer_makes_loggers_wait_instead_of_dropping_lines() {
        // A slow stderr and a 64-byte limit: loggers fill it at once and must wait, many times.
        let out = Capture {
            delay: Duration::from_micros(200),
            ..Capture::default()
        };
        let (writer, guard) = spawn_with(out.clone(), Duration::from_micros(50), 64).unwrap();
        log_from_four_threads(&writer, guard, &out, 2_000);
    }

    #[test]
    fn an_idle_writer_is_woken_by_the_next_line() {
        let out = Capture::default();
        let (writer, _guard) = spawn(out.clone()).unwrap();
        // Long enough for the thread to find nothing and wait.
        std::thread::sleep(Duration::from_millis(50));
        (&writer).write_all(b"late line\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(2);
        while out.bytes.lock().unwrap().as_slice() != b"late line\n" {
            assert!(
                std::time::Instant::now() < deadline,
                "the line was not written"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}
