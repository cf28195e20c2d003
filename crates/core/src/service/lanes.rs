//! Lanes: the messages of one conversation committed together, published in order.
//!
//! A message is handed to the store under its conversation's lock, and the store commits what
//! it is handed in that order (`Store::submit_message`). The lock is let go before the commit:
//! the next message of the conversation can be handed over while this one waits for the disk,
//! and both then share one commit. What keeps them in order is the lane: each message takes a
//! `Turn` under the lock and publishes only after the turns before it. Anything else done under
//! the conversation's lock first waits until its lane is empty (`Lanes::settle`), so it sees
//! every message handed over before it and publishes after them.
//!
//! A turn that ends without publishing (its commit failed, or its caller went away) gives way:
//! the turn after it goes on once the ones before have published.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The lanes of the conversations of one lock stripe.
#[derive(Default)]
pub(super) struct Lanes {
    lanes: HashMap<String, Arc<Lane>>,
}

/// Lanes kept before the stripe drops the ones that are empty.
const KEEP: usize = 64;

impl Lanes {
    /// Waits until every message of `conversation_id` handed over so far has published (or
    /// given up).
    pub async fn settle(&mut self, conversation_id: &str) {
        let Some(lane) = self.lanes.get(conversation_id).cloned() else { return };
        lane.wait_until(|s| s.next == s.issued).await;
        self.lanes.remove(conversation_id);
    }

    /// The next turn in the conversation's lane.
    pub fn enter(&mut self, conversation_id: &str) -> Turn {
        if self.lanes.len() > KEEP {
            self.lanes.retain(|_, lane| !lane.is_empty());
        }
        let lane = self.lanes.entry(conversation_id.to_owned()).or_default().clone();
        let number = {
            let mut state = lane.state();
            state.issued += 1;
            state.issued - 1
        };
        Turn { lane, number }
    }
}

#[derive(Default)]
struct Lane {
    state: Mutex<LaneState>,
    moved: Notify,
}

#[derive(Default)]
struct LaneState {
    /// Turns handed out.
    issued: u64,
    /// The turn that may publish now.
    next: u64,
    /// Later turns that gave up before their turn came.
    given_up: BTreeSet<u64>,
}

impl Lane {
    fn state(&self) -> MutexGuard<'_, LaneState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn is_empty(&self) -> bool {
        let state = self.state();
        state.next == state.issued
    }

    /// Turn `number` is done: the lane moves past it (and past later turns that gave up), or,
    /// if earlier turns are still on their way, it is skipped when they are done.
    fn done(&self, number: u64) {
        let mut state = self.state();
        if state.next == number {
            state.next += 1;
            loop {
                let next = state.next;
                if !state.given_up.remove(&next) {
                    break;
                }
                state.next += 1;
            }
        } else {
            state.given_up.insert(number);
        }
        drop(state);
        self.moved.notify_waiters();
    }

    async fn wait_until(&self, ready: impl Fn(&LaneState) -> bool) {
        loop {
            let moved = self.moved.notified();
            let mut moved = std::pin::pin!(moved);
            moved.as_mut().enable();
            if ready(&self.state()) {
                return;
            }
            moved.await;
        }
    }
}

/// A message's place in its conversation's lane. However it ends — published, or dropped
/// because its commit failed or its caller went away — the lane moves past it.
pub(super) struct Turn {
    lane: Arc<Lane>,
    number: u64,
}

impl Turn {
    /// Waits until every earlier turn of the lane has published.
    pub async fn wait(&self) {
        self.lane.wait_until(|s| s.next == self.number).await;
    }

    /// This turn has published: the next may.
    pub fn published(self) {}
}

impl Drop for Turn {
    fn drop(&mut self) {
        self.lane.done(self.number);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn turns_publish_in_the_order_they_were_taken_whatever_order_they_finish() {
        let mut lanes = Lanes::default();
        let turns: Vec<Turn> = (0..5).map(|_| lanes.enter("c")).collect();
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // The last turn is ready first, the first one last.
        for (i, turn) in turns.into_iter().enumerate().rev() {
            let order = order.clone();
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(5 * (5 - i as u64))).await;
                turn.wait().await;
                order.lock().unwrap_or_else(|p| p.into_inner()).push(i);
                turn.published();
            }));
        }
        for t in tasks {
            t.await.expect("a turn's task ends");
        }
        assert_eq!(*order.lock().unwrap_or_else(|p| p.into_inner()), [0, 1, 2, 3, 4]);
        lanes.settle("c").await;
        assert!(lanes.lanes.is_empty());
    }

    #[tokio::test]
    async fn a_turn_that_gives_up_lets_the_next_go_after_the_ones_before() {
        let mut lanes = Lanes::default();
        let first = lanes.enter("c");
        let second = lanes.enter("c");
        let third = lanes.enter("c");
        drop(second);
        let waiting = tokio::spawn(async move {
            third.wait().await;
            third.published();
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "the third waits for the first");
        first.published();
        let third_went = tokio::time::timeout(Duration::from_secs(1), waiting).await;
        assert!(matches!(third_went, Ok(Ok(()))), "the third goes once the first has published");
        let settled = tokio::time::timeout(Duration::from_secs(1), lanes.settle("c")).await;
        assert!(settled.is_ok(), "the lane is empty");
    }

    #[tokio::test]
    async fn settling_waits_for_every_turn_handed_out() {
        let mut lanes = Lanes::default();
        let turn = lanes.enter("c");
        lanes.settle("other").await;
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(async move {
            rx.await.expect("told to publish");
            turn.published();
        });
        let settling = tokio::time::timeout(Duration::from_millis(30), lanes.settle("c")).await;
        assert!(settling.is_err(), "settling waits while a turn is out");
        tx.send(()).expect("the turn's task waits");
        task.await.expect("the turn's task ends");
        let settled = tokio::time::timeout(Duration::from_secs(1), lanes.settle("c")).await;
        assert!(settled.is_ok(), "settled once the turn has published");
    }
}
