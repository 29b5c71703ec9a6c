//! Step 1 (every server): the clock behind the header and body timeouts. A deadline here fires
//! between 0 and [`TICK`] late, never early. A sleep that has to wait costs two small allocations
//! (hyper's box, the list entry) and one uncontended lock, and nothing when it is dropped — instead
//! of a registration in tokio's timer wheel and its removal.
//!
//! # Why it is written here (measured)
//!
//! hyper times each request's headers (`--header-timeout`) with a sleep from its `Timer`. With
//! `hyper_util`'s `TokioTimer`, each request boxes a new tokio `Sleep`, registers it in tokio's
//! timer wheel as soon as the connection waits for the next request (under the wheel's lock),
//! and removes it again when the headers have arrived. Measured on step 8 (release,
//! `tools/call echo` on 16 kept-alive connections, docs/benchmarks.md "Where the time goes"):
//! about 2 µs of the server's CPU per request, 8% of its throughput. Timeouts counted in whole
//! seconds need no such precision. Here a sleep that must wait is put on one list, which a task
//! walks every [`TICK`]: it wakes the sleeps whose deadline has passed and forgets those that
//! were dropped (a request whose headers came in time) without anyone removing them.
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the waiting sleeps are looked at: how late a timeout may fire.
pub const TICK: Duration = Duration::from_millis(100);

/// Sleeps that fire on the next [`TICK`] after their deadline. Cloning shares the list.
///
/// Also hyper's [`hyper::rt::Timer`], for `header_read_timeout`.
#[derive(Debug, Clone)]
pub struct CoarseTimer {
    waiting: Arc<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    sleeps: Mutex<Vec<Weak<Slot>>>,
}

/// What a waiting sleep leaves on the list: its deadline and the task to wake.
#[derive(Debug)]
struct Slot {
    deadline: Instant,
    waker: Mutex<Waker>,
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Slot>>> {
        self.sleeps
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl CoarseTimer {
    /// A timer, and the task that walks its list (on the current tokio runtime). The task ends
    /// when the last clone of the timer, and of the sleeps it made, is gone.
    pub fn start() -> Self {
        let waiting = Arc::new(Waiting::default());
        let list = Arc::downgrade(&waiting);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                let Some(waiting) = list.upgrade() else {
                    return;
                };
                wake_due(&waiting, Instant::now());
            }
        });
        Self { waiting }
    }

    /// A sleep that ends `duration` from now.
    pub fn sleep(&self, duration: Duration) -> CoarseSleep {
        self.sleep_until(Instant::now() + duration)
    }

    /// A sleep that ends at `deadline`.
    pub fn sleep_until(&self, deadline: Instant) -> CoarseSleep {
        CoarseSleep {
            waiting: Arc::clone(&self.waiting),
            deadline,
            slot: None,
        }
    }

    /// How many sleeps are on the list now (dropped ones until the next tick).
    #[cfg(test)]
    fn listed(&self) -> usize {
        self.waiting.lock().len()
    }
}

/// One walk of the list: wakes what is due, forgets what was dropped, keeps the rest. The list is
/// taken out of its lock while it is walked, so sleeps that start meanwhile do not wait for it.
fn wake_due(waiting: &Waiting, now: Instant) {
    let mut sleeps = std::mem::take(&mut *waiting.lock());
    sleeps.retain(|weak| match weak.upgrade() {
        None => false,
        Some(slot) if slot.deadline <= now => {
            slot.waker
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .wake_by_ref();
            false
        }
        Some(_) => true,
    });
    waiting.lock().append(&mut sleeps);
}

/// A sleep from a [`CoarseTimer`]: ready once its deadline has passed. It goes on the timer's
/// list the first time it is polled before its deadline; dropping it takes it off at the next tick.
#[derive(Debug)]
pub struct CoarseSleep {
    waiting: Arc<Waiting>,
    deadline: Instant,
    slot: Option<Arc<Slot>>,
}

impl Future for CoarseSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        match &self.slot {
            Some(slot) => {
                let mut waker = slot
                    .waker
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if !waker.will_wake(cx.waker()) {
                    waker.clone_from(cx.waker());
                }
            }
            None => {
                let slot = Arc::new(Slot {
                    deadline: self.deadline,
                    waker: Mutex::new(cx.waker().clone()),
                });
                self.waiting.lock().push(Arc::downgrade(&slot));
                self.slot = Some(slot);
            }
        }
        Poll::Pending
    }
}

impl hyper::rt::Sleep for CoarseSleep {}

impl hyper::rt::Timer for CoarseTimer {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(CoarseTimer::sleep(self, duration))
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(CoarseTimer::sleep_until(self, deadline))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleep_ends_after_its_deadline_and_at_most_a_tick_late() {
        let timer = CoarseTimer::start();
        for wanted in [Duration::from_millis(150), Duration::from_millis(320)] {
            let started = Instant::now();
            timer.sleep(wanted).await;
            let took = started.elapsed();
            assert!(took >= wanted, "{took:?} < {wanted:?}");
            assert!(
                took <= wanted + TICK + Duration::from_millis(50),
                "{took:?} for {wanted:?}"
            );
        }
    }

    #[tokio::test]
    async fn a_past_deadline_is_ready_at_once_and_never_listed() {
        let timer = CoarseTimer::start();
        timer.sleep_until(Instant::now()).await;
        assert_eq!(timer.listed(), 0);
    }

    #[tokio::test]
    async fn dropped_sleeps_leave_the_list_at_the_next_tick() {
        let timer = CoarseTimer::start();
        for _ in 0..1000 {
            let mut sleep = std::pin::pin!(timer.sleep(Duration::from_secs(30)));
            // Polled once (listed), then dropped, as hyper does when headers arrive in time.
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
        }
        assert_eq!(timer.listed(), 1000);
        tokio::time::sleep(TICK * 2).await;
        assert_eq!(timer.listed(), 0);
    }

    #[tokio::test]
    async fn the_last_poll_s_waker_is_the_one_woken() {
        let timer = CoarseTimer::start();
        let sleep = timer.sleep(Duration::from_millis(120));
        // Moved between tasks: the task that waits at the end must be the one woken.
        let handle = tokio::spawn(async move {
            let mut sleep = std::pin::pin!(sleep);
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
            tokio::time::timeout(Duration::from_secs(2), sleep)
                .await
                .is_ok()
        });
        assert!(handle.await.unwrap(), "the sleep never ended");
    }

    /// Polls `future` once with a waker that does nothing.
    fn futures_poll_once<F: Future>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }
}
