//! Step 1 (every server): the clock behind the header and body timeouts. A deadline here fires
//! between 0 and [`TICK`] late, never early. A task walks one list every [`TICK`] and wakes what
//! is due; nothing is ever removed from the list by hand.
//!
//! - A [`CoarseSleep`] (the body timeout) goes on the list the first time it has to wait: one
//!   small allocation and one lock, and nothing when it is dropped (the next walk forgets it).
//! - A [`ConnectionClock`] (hyper's timer for one connection's header timeouts) is listed once,
//!   when the connection opens; every request's header timeout then only sets that connection's
//!   deadline, under a lock nobody else but the walker takes.
//!
//! # Why it is written here (measured)
//!
//! hyper times each request's headers (`--header-timeout`) with a sleep from its `Timer`. With
//! `hyper_util`'s `TokioTimer`, each request boxes a new tokio `Sleep`, registers it in tokio's
//! timer wheel as soon as the connection waits for the next request (under the wheel's lock),
//! and removes it again when the headers have arrived. Measured on step 8 (release,
//! `tools/call echo` on 16 kept-alive connections, docs/benchmarks.md "Where the time goes"):
//! about 2 µs of the server's CPU per request, 8% of its throughput. Timeouts counted in whole
//! seconds need no such precision. A first version here put each request's sleep on the shared
//! list (a new entry, the list's lock shared by every worker thread, a free on the walker's
//! thread): 0.6 µs per request more than the connection clock, in five alternating pairs of runs
//! (2026-12-08).
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

/// How often the list is walked: how late a timeout may fire.
pub const TICK: Duration = Duration::from_millis(100);

/// Sleeps that fire on the next [`TICK`] after their deadline, and connections' clocks. Cloning
/// shares the list.
#[derive(Debug, Clone)]
pub struct CoarseTimer {
    waiting: Arc<Waiting>,
}

#[derive(Debug, Default)]
struct Waiting {
    slots: Mutex<Vec<Weak<Slot>>>,
}

/// What the walker looks at: a deadline (none while nothing waits on it) and the task to wake.
#[derive(Debug, Default)]
struct Slot {
    alarm: Mutex<Alarm>,
}

#[derive(Debug, Default)]
struct Alarm {
    deadline: Option<Instant>,
    waker: Option<Waker>,
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Weak<Slot>>> {
        self.slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Slot {
    fn lock(&self) -> std::sync::MutexGuard<'_, Alarm> {
        self.alarm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Wakes the task of `cx` at `deadline`, or earlier if an earlier deadline is already set
    /// (a sleep dropped before its deadline leaves its deadline here: that task is woken once for
    /// nothing, polls its live sleeps, and they set theirs again).
    fn arm(&self, deadline: Instant, cx: &Context<'_>) {
        let mut alarm = self.lock();
        alarm.deadline = Some(alarm.deadline.map_or(deadline, |set| set.min(deadline)));
        match &mut alarm.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            waker => *waker = Some(cx.waker().clone()),
        }
    }
}

impl CoarseTimer {
    /// A timer, and the task that walks its list (on the current tokio runtime). The task ends
    /// when the last clone of the timer, and of the sleeps and clocks it made, is gone.
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

    /// The clock of one connection, put on the list once (see [`ConnectionClock`]).
    pub fn connection_clock(&self) -> ConnectionClock {
        let slot = Arc::new(Slot::default());
        self.waiting.lock().push(Arc::downgrade(&slot));
        ConnectionClock {
            slot,
            _waiting: Arc::clone(&self.waiting),
        }
    }

    /// How many slots are on the list now (dropped ones until the next tick).
    #[cfg(test)]
    fn listed(&self) -> usize {
        self.waiting.lock().len()
    }
}

/// One walk of the list: wakes what is due, forgets what was dropped, keeps the rest. The list is
/// taken out of its lock while it is walked, so sleeps that start meanwhile do not wait for it.
fn wake_due(waiting: &Waiting, now: Instant) {
    let mut slots = std::mem::take(&mut *waiting.lock());
    slots.retain(|weak| {
        let Some(slot) = weak.upgrade() else {
            return false;
        };
        let due = {
            let mut alarm = slot.lock();
            if alarm.deadline.is_some_and(|deadline| deadline <= now) {
                alarm.deadline = None;
                alarm.waker.take()
            } else {
                None
            }
        };
        if let Some(waker) = due {
            waker.wake();
        }
        true
    });
    waiting.lock().append(&mut slots);
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
        let this = &mut *self;
        let slot = this.slot.get_or_insert_with(|| {
            let slot = Arc::new(Slot::default());
            this.waiting.lock().push(Arc::downgrade(&slot));
            slot
        });
        slot.arm(this.deadline, cx);
        Poll::Pending
    }
}

/// One connection's clock: hyper's [`hyper::rt::Timer`] for its header timeout.
///
/// hyper asks for a new sleep for every request's headers. A [`CoarseSleep`] would be a new slot
/// on the shared list each time (an allocation, the list's lock, a free on the walker's thread);
/// the sleeps of a connection clock all arm the connection's one slot, listed once when the
/// connection opened, under a lock of its own that only the walker shares. Every sleep of a
/// clock must be polled by the same task (hyper polls the header timeout in the connection's).
#[derive(Debug, Clone)]
pub struct ConnectionClock {
    slot: Arc<Slot>,
    /// Keeps the walker running while the connection lives.
    _waiting: Arc<Waiting>,
}

/// A sleep of a [`ConnectionClock`].
#[derive(Debug)]
pub struct ClockSleep {
    slot: Arc<Slot>,
    deadline: Instant,
}

impl Future for ClockSleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if Instant::now() >= self.deadline {
            return Poll::Ready(());
        }
        self.slot.arm(self.deadline, cx);
        Poll::Pending
    }
}

impl hyper::rt::Sleep for ClockSleep {}

impl hyper::rt::Timer for ConnectionClock {
    fn sleep(&self, duration: Duration) -> Pin<Box<dyn hyper::rt::Sleep>> {
        self.sleep_until(Instant::now() + duration)
    }

    fn sleep_until(&self, deadline: Instant) -> Pin<Box<dyn hyper::rt::Sleep>> {
        Box::pin(ClockSleep {
            slot: Arc::clone(&self.slot),
            deadline,
        })
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
            assert_on_time(started, wanted);
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

    #[tokio::test]
    async fn a_connection_clock_sleep_ends_after_its_deadline_and_at_most_a_tick_late() {
        let timer = CoarseTimer::start();
        let clock = timer.connection_clock();
        for wanted in [Duration::from_millis(150), Duration::from_millis(320)] {
            let started = Instant::now();
            hyper::rt::Timer::sleep(&clock, wanted).await;
            assert_on_time(started, wanted);
        }
    }

    #[tokio::test]
    async fn a_connection_clock_is_listed_once_whatever_its_sleeps_and_leaves_with_it() {
        let timer = CoarseTimer::start();
        let clock = timer.connection_clock();
        for _ in 0..1000 {
            // Polled once (armed), then dropped, as hyper does when headers arrive in time.
            let mut sleep = hyper::rt::Timer::sleep(&clock, Duration::from_secs(30));
            assert!(futures_poll_once(sleep.as_mut()).is_pending());
        }
        assert_eq!(timer.listed(), 1);
        drop(clock);
        tokio::time::sleep(TICK * 2).await;
        assert_eq!(timer.listed(), 0);
    }

    #[tokio::test]
    async fn a_dropped_sleep_does_not_make_the_next_one_end_early_or_late() {
        let timer = CoarseTimer::start();
        let clock = timer.connection_clock();
        let started = Instant::now();
        // An earlier deadline left on the slot by a sleep that was dropped: the task is woken
        // for it, and the live sleep must still end at its own deadline.
        let mut early = hyper::rt::Timer::sleep(&clock, Duration::from_millis(120));
        assert!(futures_poll_once(early.as_mut()).is_pending());
        drop(early);
        let wanted = Duration::from_millis(400);
        hyper::rt::Timer::sleep(&clock, wanted).await;
        assert_on_time(started, wanted);
    }

    /// A sleep of `wanted` that began at `started` ended just now: not early, at most a tick
    /// (and some scheduling) late.
    fn assert_on_time(started: Instant, wanted: Duration) {
        let took = started.elapsed();
        assert!(took >= wanted, "{took:?} < {wanted:?}");
        assert!(
            took <= wanted + TICK + Duration::from_millis(50),
            "{took:?} for {wanted:?}"
        );
    }

    /// Polls `future` once with a waker that does nothing.
    fn futures_poll_once<F: Future + ?Sized>(future: Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }
}
