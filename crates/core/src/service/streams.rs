//! Streamed bot replies: start → status* → chunk* → complete | abort.
//!
//! A stream lives in this node's memory until it completes or is aborted; only the completed
//! message is stored (with the id announced at the start), so a restart loses open streams and
//! nothing else. Chunks are released to the conversation in `chunkIndex` order, never out of it:
//! a chunk that arrives early waits for the ones before it. Chunks that arrive within the
//! coalescing window are released together as one event, and a stream nobody touches for the
//! idle timeout is aborted.
//!
//! The rules and the clock readings are here; the waiting is not. Whoever runs the streams (the
//! gateway) calls [`Streams::tick`] when the deadline it returned has passed, or when
//! [`Streams::changed`] fires because a new deadline appeared.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tokio::sync::{Mutex, Notify};

use super::messages::redacted;
use super::{Core, summary};
use crate::error::{CoreError, CoreResult};
use crate::event::{
    EventKind, MessageEvent, StreamAbortedEvent, StreamChunksEvent, StreamCompletedEvent, StreamPart,
    StreamStartedEvent, StreamStatusEvent,
};
use crate::ids::new_id;
use crate::model::{Block, Message, NewMessage, ParticipantRef, SenderType, TextBlock, TextFormat};
use crate::principal::Principal;
use crate::store::Appended;
use crate::time::Timestamp;
use crate::validate::{Check, media_of, plain_text_of};

/// The timings of streams (the sizes are in [`crate::Limits`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StreamSettings {
    /// Chunks arriving within this many milliseconds of the first unreleased one are released
    /// together; 0 releases each chunk as it comes.
    pub coalesce_window_ms: u64,
    /// A stream with no call for this many milliseconds is aborted.
    pub idle_timeout_ms: u64,
}

impl Default for StreamSettings {
    fn default() -> Self {
        StreamSettings { coalesce_window_ms: 50, idle_timeout_ms: 60_000 }
    }
}

/// `POST /api/conversations/{id}/streams`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StartStream {
    pub reply_to_message_id: Option<String>,
    pub client_message_id: Option<String>,
}

/// `POST /api/streams/{id}/complete`: without blocks, the message is one Markdown text block of
/// the chunks joined in index order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CompleteStream {
    pub blocks: Option<Vec<Block>>,
    pub finish_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StartedStream {
    pub stream_id: String,
    pub message_id: String,
}

/// Why streams are aborted when no reason is given by the bot.
pub const IDLE_ABORT_REASON: &str = "timeout";

const MAX_STATUS_CHARS: usize = 128;
const MAX_REASON_CHARS: usize = 1024;

struct ActiveStream {
    tenant: String,
    bot: String,
    conversation_id: String,
    message_id: String,
    reply_to_message_id: Option<String>,
    client_message_id: Option<String>,
    last_call: Timestamp,
    chunks: Chunks,
}

/// The chunks of one stream and what has been released of them.
#[derive(Default)]
struct Chunks {
    received: BTreeMap<u32, String>,
    /// The index of the next chunk to release: everything below it went out.
    next_release: u32,
    /// When the oldest releasable, unreleased chunk arrived (the coalescing window's start).
    waiting_since: Option<Timestamp>,
    total_chars: usize,
}

impl Chunks {
    /// Adds one chunk; `Conflict` for an index seen before.
    fn add(&mut self, part: StreamPart, chars: usize, now: Timestamp) -> CoreResult<()> {
        if part.chunk_index < self.next_release || self.received.contains_key(&part.chunk_index) {
            return Err(CoreError::conflict(
                "Stream.DuplicateChunk",
                format!("Chunk {} of this stream was already received", part.chunk_index),
            ));
        }
        self.received.insert(part.chunk_index, part.text);
        self.total_chars += chars;
        if self.waiting_since.is_none() && self.received.contains_key(&self.next_release) {
            self.waiting_since = Some(now);
        }
        Ok(())
    }

    /// The run of chunks from `next_release` with no gap, in index order.
    fn release(&mut self) -> Vec<StreamPart> {
        let mut parts = Vec::new();
        while let Some(text) = self.received.get(&self.next_release) {
            parts.push(StreamPart { text: text.clone(), chunk_index: self.next_release });
            self.next_release += 1;
        }
        self.waiting_since = None;
        parts
    }

    /// Every unreleased chunk, gaps or not, in index order (the stream is ending).
    fn release_all(&mut self) -> Vec<StreamPart> {
        let parts: Vec<StreamPart> = self
            .received
            .range(self.next_release..)
            .map(|(i, t)| StreamPart { text: t.clone(), chunk_index: *i })
            .collect();
        if let Some(last) = parts.last() {
            self.next_release = last.chunk_index.saturating_add(1);
        }
        self.waiting_since = None;
        parts
    }

    fn joined(&self) -> String {
        self.received.values().map(String::as_str).collect()
    }
}

/// The open streams of this node.
pub struct Streams {
    core: Arc<Core>,
    settings: StreamSettings,
    /// One lock for all streams: events of a stream are published while it is held, so they
    /// leave in the order their calls were decided. Nothing slow happens under it.
    open: Mutex<HashMap<String, ActiveStream>>,
    wake: Notify,
}

impl Streams {
    pub fn new(core: Arc<Core>, settings: StreamSettings) -> Self {
        Streams { core, settings, open: Mutex::new(HashMap::new()), wake: Notify::new() }
    }

    pub fn settings(&self) -> &StreamSettings {
        &self.settings
    }

    /// Resolves when a new deadline may have appeared; the driver then calls [`Streams::tick`].
    pub async fn changed(&self) {
        self.wake.notified().await;
    }

    pub async fn start(
        &self,
        principal: &Principal,
        conversation_id: &str,
        input: StartStream,
    ) -> CoreResult<StartedStream> {
        let core = &self.core;
        let mut check = Check::new();
        if let Some(id) = &input.client_message_id {
            check.id("clientMessageId", id, core.limits.max_client_message_id_chars);
        }
        check.finish()?;
        let bot = core.acting_bot(principal).await?;

        let _guard = core.lock(conversation_id).await;
        let (_, access) = core.seen(principal, conversation_id).await?;
        if let Some(reply) = &input.reply_to_message_id {
            match core.store.message(reply).await? {
                Some(m) if m.conversation_id == conversation_id && m.seq > access.floor_seq => {}
                _ => {
                    return Err(CoreError::invalid(
                        "replyToMessageId",
                        format!("'{reply}' is not a message of this conversation"),
                    ));
                }
            }
        }
        let sender = core.person(principal).await?;
        let now = core.clock.now();
        let mut open = self.open.lock().await;
        let mine = || open.iter().filter(|(_, s)| s.tenant == bot.tenant && s.bot == bot.participant_id);
        if let Some(client_id) = &input.client_message_id
            && let Some((id, s)) = mine().find(|(_, s)| {
                s.conversation_id == conversation_id && s.client_message_id.as_ref() == Some(client_id)
            })
        {
            // A retried start: the stream it began.
            return Ok(StartedStream { stream_id: id.clone(), message_id: s.message_id.clone() });
        }
        if mine().count() >= core.limits.max_streams_per_bot {
            return Err(CoreError::conflict(
                "Stream.TooMany",
                format!(
                    "A bot has at most {} streams open at once; complete or abort one first",
                    core.limits.max_streams_per_bot
                ),
            ));
        }
        let started = StartedStream { stream_id: new_id(), message_id: new_id() };
        open.insert(
            started.stream_id.clone(),
            ActiveStream {
                tenant: bot.tenant.clone(),
                bot: bot.participant_id.clone(),
                conversation_id: conversation_id.to_owned(),
                message_id: started.message_id.clone(),
                reply_to_message_id: input.reply_to_message_id.clone(),
                client_message_id: input.client_message_id.clone(),
                last_call: now,
                chunks: Chunks::default(),
            },
        );
        core.publish(
            &principal.tenant,
            EventKind::StreamStarted(StreamStartedEvent {
                stream_id: started.stream_id.clone(),
                message_id: started.message_id.clone(),
                conversation_id: conversation_id.to_owned(),
                sender,
                reply_to_message_id: input.reply_to_message_id,
                client_message_id: input.client_message_id,
                started_at: now,
            }),
        )
        .await;
        drop(open);
        self.wake.notify_one();
        Ok(started)
    }

    pub async fn status(
        &self,
        principal: &Principal,
        stream_id: &str,
        status: &str,
        detail: Option<&str>,
    ) -> CoreResult<()> {
        let mut check = Check::new();
        check.text("status", status, MAX_STATUS_CHARS, true);
        check.opt_text("detail", detail, self.core.limits.max_bot_description_chars);
        check.finish()?;
        let now = self.core.clock.now();
        let mut open = self.open.lock().await;
        let stream = owned(&mut open, principal, stream_id)?;
        stream.last_call = now;
        // Chunks sent before this status go out before it, window or not: calls keep their order.
        let waiting = stream.chunks.release();
        if let Some(event) = chunks_event(stream_id, stream, waiting) {
            self.core.publish(&principal.tenant, event).await;
        }
        let event = StreamStatusEvent {
            stream_id: stream_id.to_owned(),
            message_id: stream.message_id.clone(),
            conversation_id: stream.conversation_id.clone(),
            status: status.trim().to_owned(),
            detail: detail.map(str::to_owned),
            at: now,
        };
        self.core.publish(&principal.tenant, EventKind::StreamStatusUpdated(event)).await;
        Ok(())
    }

    /// Accepts chunks (in any order; each index once). They are released in index order, at
    /// once when coalescing is off, otherwise when the window closes.
    pub async fn chunks(
        &self,
        principal: &Principal,
        stream_id: &str,
        parts: Vec<StreamPart>,
    ) -> CoreResult<()> {
        let l = &self.core.limits;
        let mut check = Check::new();
        if parts.is_empty() {
            check.fail("parts", "needs at least 1 entry");
        } else if parts.len() > l.max_chunks_per_request {
            check.fail("parts", format!("must have at most {} entries", l.max_chunks_per_request));
        }
        for (i, p) in parts.iter().enumerate() {
            if p.text.chars().count() > l.max_chunk_chars {
                check.fail(
                    format!("parts[{i}].text"),
                    format!("must be at most {} characters", l.max_chunk_chars),
                );
            }
        }
        check.finish()?;
        let now = self.core.clock.now();
        let mut open = self.open.lock().await;
        let stream = owned(&mut open, principal, stream_id)?;
        stream.last_call = now;
        let added: usize = parts.iter().map(|p| p.text.chars().count()).sum();
        if stream.chunks.total_chars + added > l.max_text_chars {
            return Err(CoreError::invalid(
                "text",
                format!("the streamed reply would exceed {} characters (max_text_chars)", l.max_text_chars),
            ));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = parts.iter().find(|p| !seen.insert(p.chunk_index)) {
            return Err(CoreError::invalid("parts", format!("chunk {} appears twice", dup.chunk_index)));
        }
        if let Some(dup) = parts.iter().find(|p| {
            p.chunk_index < stream.chunks.next_release || stream.chunks.received.contains_key(&p.chunk_index)
        }) {
            return Err(CoreError::conflict(
                "Stream.DuplicateChunk",
                format!("Chunk {} of this stream was already received", dup.chunk_index),
            ));
        }
        for part in parts {
            let chars = part.text.chars().count();
            stream.chunks.add(part, chars, now)?;
        }
        if self.settings.coalesce_window_ms == 0 {
            let released = stream.chunks.release();
            if let Some(event) = chunks_event(stream_id, stream, released) {
                self.core.publish(&principal.tenant, event).await;
            }
        } else if stream.chunks.waiting_since == Some(now) {
            drop(open);
            self.wake.notify_one();
        }
        Ok(())
    }

    /// Stores the reply and announces it as `StreamCompleted` (not `MessageCreated`).
    pub async fn complete(
        &self,
        principal: &Principal,
        stream_id: &str,
        input: CompleteStream,
    ) -> CoreResult<Message> {
        let core = &self.core;
        let mut check = Check::new();
        if let Some(blocks) = &input.blocks {
            check.blocks("blocks", blocks, &core.limits);
        }
        check.opt_text("finishReason", input.finish_reason.as_deref(), MAX_STATUS_CHARS);
        check.finish()?;

        let (stream, blocks) = {
            let mut open = self.open.lock().await;
            let stream = owned(&mut open, principal, stream_id)?;
            let blocks = match input.blocks {
                Some(blocks) => blocks,
                None => {
                    let text = stream.chunks.joined();
                    if text.trim().is_empty() {
                        return Err(CoreError::invalid(
                            "blocks",
                            "are required when the stream sent no text; send chunks or blocks",
                        ));
                    }
                    vec![Block::Text(TextBlock {
                        format: TextFormat::Markdown,
                        content: text,
                        plain_text: None,
                    })]
                }
            };
            let mut stream = open.remove(stream_id).ok_or_else(|| stream_not_found(stream_id))?;
            let rest = stream.chunks.release_all();
            if let Some(event) = chunks_event(stream_id, &stream, rest) {
                core.publish(&principal.tenant, event).await;
            }
            (stream, blocks)
        };

        let conversation_id = stream.conversation_id.clone();
        let _guard = core.lock(&conversation_id).await;
        let conversation = match core.seen(principal, &conversation_id).await {
            Ok((conversation, _)) => conversation,
            Err(e) => {
                self.announce_abort(&stream, stream_id, "The bot can no longer write in this conversation")
                    .await;
                return Err(e);
            }
        };
        let now = core.clock.now();
        let new = NewMessage {
            id: stream.message_id.clone(),
            conversation_id: conversation_id.clone(),
            sender_id: principal.participant_id.clone(),
            sender_type: SenderType::Bot,
            plain_text: plain_text_of(&blocks),
            media: media_of(&blocks),
            blocks,
            reply_to_message_id: stream.reply_to_message_id.clone(),
            quick_replies: None,
            mentions: None,
            client_message_id: stream.client_message_id.clone(),
            system_event: None,
            external: None,
            created_at: now,
        };
        match core.store.append_message(&new).await? {
            Appended::Duplicate(message) => Ok(redacted(message)),
            Appended::Created(message) => {
                let sender: ParticipantRef = core.person(principal).await?;
                let recipients = core.audience(&conversation_id).await?;
                core.publish(
                    &principal.tenant,
                    EventKind::StreamCompleted(StreamCompletedEvent {
                        stream_id: stream_id.to_owned(),
                        finish_reason: input.finish_reason,
                        completed_at: now,
                        message: MessageEvent {
                            conversation: summary(&conversation, recipients.len()),
                            message: message.clone(),
                            sender,
                            people: Vec::new(),
                            recipients,
                        },
                    }),
                )
                .await;
                Ok(message)
            }
        }
    }

    /// Ends the stream without a message; chunks not yet released are dropped.
    pub async fn abort(&self, principal: &Principal, stream_id: &str, reason: &str) -> CoreResult<()> {
        let mut check = Check::new();
        check.text("reason", reason, MAX_REASON_CHARS, true);
        check.finish()?;
        let mut open = self.open.lock().await;
        owned(&mut open, principal, stream_id)?;
        if let Some(stream) = open.remove(stream_id) {
            self.announce_abort(&stream, stream_id, reason.trim()).await;
        }
        Ok(())
    }

    /// Releases the chunks whose window has closed and aborts idle streams. Returns when it next
    /// has something to do, if anything is open.
    pub async fn tick(&self) -> Option<Timestamp> {
        let now = self.core.clock.now();
        let window = self.settings.coalesce_window_ms as i64;
        let idle = self.settings.idle_timeout_ms as i64;
        let mut open = self.open.lock().await;
        let idle_ids: Vec<String> = open
            .iter()
            .filter(|(_, s)| now.ms_since(s.last_call) >= idle)
            .map(|(id, _)| id.clone())
            .collect();
        for id in idle_ids {
            if let Some(stream) = open.remove(&id) {
                tracing::info!(stream = %id, bot = %stream.bot, "stream aborted after {idle} ms without a call");
                self.announce_abort(&stream, &id, IDLE_ABORT_REASON).await;
            }
        }
        let mut next: Option<Timestamp> = None;
        for (id, stream) in open.iter_mut() {
            if let Some(since) = stream.chunks.waiting_since
                && now.ms_since(since) >= window
            {
                let released = stream.chunks.release();
                if let Some(event) = chunks_event(id, stream, released) {
                    self.core.publish(&stream.tenant, event).await;
                }
            }
            let mut due = stream.last_call.plus_ms(idle);
            if let Some(since) = stream.chunks.waiting_since {
                due = due.min(since.plus_ms(window));
            }
            next = Some(next.map_or(due, |n| n.min(due)));
        }
        next
    }

    async fn announce_abort(&self, stream: &ActiveStream, stream_id: &str, reason: &str) {
        let event = StreamAbortedEvent {
            stream_id: stream_id.to_owned(),
            message_id: stream.message_id.clone(),
            conversation_id: stream.conversation_id.clone(),
            reason: reason.to_owned(),
            at: self.core.clock.now(),
        };
        self.core.publish(&stream.tenant, EventKind::StreamAborted(event)).await;
    }
}

/// The stream, if it is open and the principal is the bot that started it. Anyone else's stream
/// does not exist for them.
fn owned<'a>(
    open: &'a mut HashMap<String, ActiveStream>,
    principal: &Principal,
    stream_id: &str,
) -> CoreResult<&'a mut ActiveStream> {
    match open.get_mut(stream_id) {
        Some(s) if s.tenant == principal.tenant && s.bot == principal.participant_id => Ok(s),
        _ => Err(stream_not_found(stream_id)),
    }
}

fn chunks_event(stream_id: &str, stream: &ActiveStream, parts: Vec<StreamPart>) -> Option<EventKind> {
    (!parts.is_empty()).then(|| {
        EventKind::StreamChunks(StreamChunksEvent {
            stream_id: stream_id.to_owned(),
            message_id: stream.message_id.clone(),
            conversation_id: stream.conversation_id.clone(),
            parts,
        })
    })
}

fn stream_not_found(stream_id: &str) -> CoreError {
    CoreError::not_found(
        "Stream.NotFound",
        format!("Stream '{stream_id}' is not open (it completed, was aborted, or is not yours)"),
    )
    .with_detail("streamId", stream_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(i: u32, t: &str) -> StreamPart {
        StreamPart { text: t.into(), chunk_index: i }
    }

    #[test]
    fn chunks_are_released_in_index_order_and_wait_for_gaps() {
        let at = Timestamp::from_unix_ms(1000);
        let mut c = Chunks::default();
        c.add(part(1, "b"), 1, at).unwrap();
        assert_eq!(c.waiting_since, None, "chunk 0 is missing: nothing can go out");
        assert!(c.release().is_empty());
        c.add(part(0, "a"), 1, at.plus_ms(5)).unwrap();
        assert_eq!(c.waiting_since, Some(at.plus_ms(5)));
        c.add(part(3, "d"), 1, at.plus_ms(6)).unwrap();
        let out: Vec<u32> = c.release().iter().map(|p| p.chunk_index).collect();
        assert_eq!(out, [0, 1]);
        assert_eq!(c.next_release, 2);
        c.add(part(2, "c"), 1, at.plus_ms(7)).unwrap();
        let out: Vec<u32> = c.release().iter().map(|p| p.chunk_index).collect();
        assert_eq!(out, [2, 3]);
        assert_eq!(c.joined(), "abcd");
    }

    #[test]
    fn a_chunk_index_is_accepted_once() {
        let at = Timestamp::from_unix_ms(0);
        let mut c = Chunks::default();
        c.add(part(0, "a"), 1, at).unwrap();
        assert_eq!(c.add(part(0, "x"), 1, at).unwrap_err().code, "Stream.DuplicateChunk");
        c.release();
        assert_eq!(c.add(part(0, "x"), 1, at).unwrap_err().code, "Stream.DuplicateChunk");
    }

    #[test]
    fn the_end_releases_everything_left_even_across_gaps() {
        let at = Timestamp::from_unix_ms(0);
        let mut c = Chunks::default();
        c.add(part(0, "a"), 1, at).unwrap();
        c.release();
        c.add(part(4, "e"), 1, at).unwrap();
        c.add(part(2, "c"), 1, at).unwrap();
        let out: Vec<u32> = c.release_all().iter().map(|p| p.chunk_index).collect();
        assert_eq!(out, [2, 4]);
        assert_eq!(c.joined(), "ace");
    }
}
