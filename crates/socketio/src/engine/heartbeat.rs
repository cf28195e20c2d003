//! One task keeps every session's time, instead of timers per session: a heap of deadlines,
//! one per session (its next ping, or the end of its wait for a pong) plus the handler's own
//! check after opening. The task sleeps until the earliest; pings that fall due together
//! leave corked together.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Weak};
use std::time::Duration;

use tokio::sync::Notify;

use super::packet;
use super::session::{CloseReason, Session};
use super::{Engine, EngineHandler};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    /// The next ping, or the end of the wait for the last one's pong.
    Heartbeat,
    /// The handler's check after the session opened.
    Check,
}

struct Entry<D> {
    at_ms: u64,
    seq: u64,
    due: Due,
    session: Weak<Session<D>>,
}

impl<D> PartialEq for Entry<D> {
    fn eq(&self, other: &Self) -> bool {
        (self.at_ms, self.seq) == (other.at_ms, other.seq)
    }
}

impl<D> Eq for Entry<D> {}

impl<D> PartialOrd for Entry<D> {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl<D> Ord for Entry<D> {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.at_ms, self.seq).cmp(&(other.at_ms, other.seq))
    }
}

/// The deadlines of every session.
pub(crate) struct Timers<D> {
    heap: Mutex<BinaryHeap<Reverse<Entry<D>>>>,
    seq: AtomicU64,
    /// When the task will next wake, so that an earlier deadline can wake it sooner.
    next_wake_ms: AtomicU64,
    wake: Notify,
}

impl<D> Default for Timers<D> {
    fn default() -> Self {
        Timers {
            heap: Mutex::default(),
            seq: AtomicU64::new(0),
            next_wake_ms: AtomicU64::new(u64::MAX),
            wake: Notify::new(),
        }
    }
}

impl<D> Timers<D> {
    fn schedule(&self, session: Weak<Session<D>>, at_ms: u64, due: Due) {
        let seq = self.seq.fetch_add(1, Ordering::Relaxed);
        self.heap.lock().unwrap_or_else(|p| p.into_inner()).push(Reverse(Entry { at_ms, seq, due, session }));
        if at_ms < self.next_wake_ms.load(Ordering::Acquire) {
            self.wake.notify_one();
        }
    }

    /// The first deadlines of a new session: its first ping, and the handler's check.
    pub fn opened(
        &self,
        session: Weak<Session<D>>,
        opened_ms: u64,
        interval: Duration,
        check: Option<Duration>,
    ) {
        if let Some(check) = check {
            self.schedule(session.clone(), opened_ms + check.as_millis() as u64, Due::Check);
        }
        self.schedule(session, opened_ms + interval.as_millis() as u64, Due::Heartbeat);
    }

    /// Takes the deadlines due at `now`.
    fn due(&self, now: u64) -> Vec<Entry<D>> {
        let mut heap = self.heap.lock().unwrap_or_else(|p| p.into_inner());
        let mut due = Vec::new();
        while heap.peek().is_some_and(|Reverse(e)| e.at_ms <= now) {
            if let Some(Reverse(entry)) = heap.pop() {
                due.push(entry);
            }
        }
        due
    }

    fn next(&self) -> Option<u64> {
        self.heap.lock().unwrap_or_else(|p| p.into_inner()).peek().map(|Reverse(e)| e.at_ms)
    }
}

pub(super) async fn run<H: EngineHandler>(engine: Weak<Engine<H>>) {
    loop {
        let Some(strong) = engine.upgrade() else { return };
        let interval = strong.config.ping_interval.as_millis() as u64;
        let timeout = strong.config.ping_timeout.as_millis() as u64;
        let now = strong.now_ms();
        // Awake: whatever is scheduled from here on wakes the sleep below at once.
        strong.timers.next_wake_ms.store(0, Ordering::Release);
        let due = strong.timers.due(now);
        let mut closing = Vec::new();
        chatgate_websocket::corked(|| {
            for entry in due {
                let Some(session) = entry.session.upgrade() else { continue };
                if session.is_closed() {
                    continue;
                }
                if session.overflowed() {
                    closing.push((session, CloseReason::TransportError));
                    continue;
                }
                match entry.due {
                    Due::Check => {
                        let age = Duration::from_millis(now.saturating_sub(session.opened_ms));
                        if let Some(reason) = strong.handler.on_check(&session, age) {
                            closing.push((session, reason));
                        }
                    }
                    Due::Heartbeat => {
                        // Times count from when things were due, not from when this task got
                        // to them, so that a busy moment does not push every later deadline.
                        let sent = session.ping_sent_ms.load(Ordering::Acquire);
                        if session.awaiting_pong.load(Ordering::Acquire) {
                            if now >= sent + timeout {
                                closing.push((session, CloseReason::PingTimeout));
                                continue;
                            }
                            strong.timers.schedule(entry.session, sent + timeout, Due::Heartbeat);
                        } else if now >= sent + interval {
                            let due_at = entry.at_ms.max(sent + interval);
                            session.ping_sent_ms.store(due_at, Ordering::Release);
                            session.awaiting_pong.store(true, Ordering::Release);
                            let _ = session.send(packet::ping());
                            strong.timers.schedule(entry.session, due_at + timeout, Due::Heartbeat);
                        } else {
                            // The pong came: the next ping is an interval after the last.
                            strong.timers.schedule(entry.session, sent + interval, Due::Heartbeat);
                        }
                    }
                }
            }
        });
        for (session, reason) in closing {
            strong.close_session(&session, reason);
        }
        // Wake for the next deadline, or when an earlier one is added; at least once a second,
        // so that a dropped engine ends this task.
        let wake_at = strong.timers.next().unwrap_or(u64::MAX).min(now + 1000);
        strong.timers.next_wake_ms.store(wake_at, Ordering::Release);
        let sleep = tokio::time::sleep_until(strong.instant_of(wake_at).into());
        let timers_wake = strong.timers.wake.notified();
        tokio::select! {
            () = sleep => {}
            () = timers_wake => {}
        }
    }
}
