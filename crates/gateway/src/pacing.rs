//! Rendering core events for many connections: the events that arrived together are rendered
//! as one batch (each connection written once for all of them), and writes are paced. Every door
//! whose sockets are `chatgate-websocket` connections renders through here.

use std::time::Duration;

use chatgate_core::{EventStream, event::Event};
use chatgate_websocket::Batch;
use futures_util::{FutureExt, StreamExt};
use tokio::time::Instant;

/// Events rendered in one batch at most, so that a flood still yields to other work.
const MAX_BATCH: usize = 256;

/// How long a renderer waits before its next write, per connection it just wrote to: about
/// what one write costs, so that writing takes about half its time at most.
const PACE_PER_CONNECTION: Duration = Duration::from_micros(5);
/// The longest a renderer waits before its next write.
const MAX_PACE: Duration = Duration::from_millis(20);

/// Renders core events as they arrive, those that arrived together as one batch, and paces
/// the writes: after writing to N connections, the next write waits `PACE_PER_CONNECTION` × N
/// (at most `MAX_PACE`). A write to a few connections may be followed at once by the next; a
/// broadcast to a thousand is followed 5 ms later, and what was rendered meanwhile leaves in
/// the same write — under load a connection is written once for several messages, and writing
/// takes about half the time at most. A lone event after a quiet spell is written at once.
pub async fn render_batches(mut events: EventStream, mut render: impl FnMut(&Event)) {
    let mut batch = Batch::new();
    let mut next_write = Instant::now();
    loop {
        let next = if batch.is_empty() {
            events.next().await
        } else {
            tokio::select! {
                event = events.next() => event,
                () = tokio::time::sleep_until(next_write) => {
                    next_write = write(&mut batch);
                    continue;
                }
            }
        };
        let Some(first) = next else { return };
        batch.collect(|| {
            render(&first);
            for _ in 1..MAX_BATCH {
                match events.next().now_or_never() {
                    Some(Some(event)) => render(&event),
                    _ => break,
                }
            }
        });
        if Instant::now() >= next_write {
            next_write = write(&mut batch);
        }
    }
}

/// Writes the batch; returns when the next write may be.
fn write(batch: &mut Batch) -> Instant {
    let connections = batch.len() as u32;
    batch.flush();
    Instant::now() + (PACE_PER_CONNECTION * connections).min(MAX_PACE)
}
