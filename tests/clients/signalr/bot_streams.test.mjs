// Bot streaming seen by the official @microsoft/signalr client: the events of a streamed reply in
// order, coalesced chunk batches in chunkIndex order, the completion as StreamCompleted (never
// MessageReceived), and aborts — by the bot and by the idle timeout.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { createHmac, timingSafeEqual } from "node:crypto";
import { startServer, people, conversation, text, collect, sleep } from "../lib/harness.mjs";
import { connect } from "../lib/hubs.mjs";

// A wide coalescing window makes "arrived together" deterministic; a short idle timeout keeps
// the abandoned-stream test quick.
const COALESCE_MS = 250;
const IDLE_MS = 1500;

let server;
before(async () => {
  server = await startServer({
    args: ["--stream-coalesce-ms", String(COALESCE_MS), "--stream-idle-timeout-ms", String(IDLE_MS)],
  });
});
after(async () => { await server.close(); });

let n = 0;
const unique = (name) => `${name}-${++n}-${Date.now()}`;

const STREAM_EVENTS = [
  "streamStarted", "streamStatusUpdated", "streamChunkReceived", "streamChunkBatchReceived",
  "streamCompleted", "streamAborted", "messageReceived",
];

/** Every stream event (and MessageReceived) a connection gets, as `{name, dto}` in arrival order. */
function timeline(connection) {
  const seen = [];
  for (const name of STREAM_EVENTS) connection.on(name, (dto) => seen.push({ name, dto }));
  return {
    seen,
    async until(name, ms = 5000) {
      const deadline = Date.now() + ms;
      while (!seen.some((e) => e.name === name)) {
        if (Date.now() > deadline) throw new Error(`no ${name} within ${ms} ms; saw ${JSON.stringify(seen.map((e) => e.name))}`);
        await sleep(10);
      }
      return seen.find((e) => e.name === name).dto;
    },
  };
}

/** A developer, a bot with a token, and a user in a conversation with the bot. */
async function setup({ webhookUrl } = {}) {
  const dev = await server.api("POST", "/api/auth/dev", undefined, { username: unique("dev"), password: "pw" });
  assert.equal(dev.status, 200);
  const name = unique("bot");
  const bot = await server.api("POST", "/api/bots", dev.body.token, {
    uniqueName: name, fullName: "Story Bot", kafkaTopic: `${name}-topic`, webhookUrl,
  });
  assert.equal(bot.status, 201, JSON.stringify(bot.body));
  const minted = await server.api("POST", `/api/bots/${bot.body.id}/token`, dev.body.token, {});
  assert.equal(minted.status, 200);
  const user = unique("ana");
  const t = await people(server, user);
  const id = await conversation(server, t[user], [bot.body.participantId], "With a bot");
  const call = (path, body) => server.api("POST", path, minted.body.token, body);
  return { user, userToken: t[user], botId: bot.body.participantId, conversationId: id, call, secret: bot.body.webhookSecret };
}

test("a streamed reply arrives as start, status, chunks in order, then StreamCompleted and no MessageReceived", async () => {
  const { user, userToken, botId, conversationId, call } = await setup();
  const chat = await connect(server, "chat", userToken);
  const events = timeline(chat);
  await chat.invoke("JoinConversation", conversationId);
  const notes = await connect(server, "notifications", userToken);
  const notified = collect(notes, "newMessageNotification");

  const question = await server.api("POST", `/api/conversations/${conversationId}/messages`, userToken, { blocks: text("a story?") });
  const start = await call(`/api/conversations/${conversationId}/streams`, {
    replyToMessageId: question.body.id, clientMessageId: "tmp-1",
  });
  assert.equal(start.status, 201, JSON.stringify(start.body));
  const { streamId, messageId } = start.body;
  assert.equal((await call(`/api/streams/${streamId}/status`, { status: "thinking", detail: "reading" })).status, 204);

  // Three chunks inside one window, sent out of order: one batch, in chunkIndex order.
  for (const [index, piece] of [[1, "upon "], [0, "Once "], [2, "a time "]]) {
    assert.equal((await call(`/api/streams/${streamId}/chunks`, { text: piece, chunkIndex: index })).status, 204);
  }
  await events.until("streamChunkBatchReceived");
  // A chunk alone in its window arrives as StreamChunkReceived.
  await sleep(COALESCE_MS * 2);
  assert.equal((await call(`/api/streams/${streamId}/chunks`, { text: "there was a bot.", chunkIndex: 3 })).status, 204);
  await events.until("streamChunkReceived");
  const done = await call(`/api/streams/${streamId}/complete`, { finishReason: "stop" });
  assert.equal(done.status, 200, JSON.stringify(done.body));
  const completed = await events.until("streamCompleted");
  await sleep(300);

  const names = events.seen.map((e) => e.name);
  assert.deepEqual(names, [
    "messageReceived", // the user's question
    "streamStarted", "streamStatusUpdated", "streamChunkBatchReceived", "streamChunkReceived", "streamCompleted",
  ]);
  const [started, status, batch, single] = events.seen.slice(1).map((e) => e.dto);
  assert.deepEqual(Object.keys(started).sort(), [
    "clientMessageId", "conversationId", "messageId", "replyToMessageId", "senderAvatar", "senderId",
    "senderName", "startedAt", "streamId",
  ]);
  assert.equal(started.streamId, streamId);
  assert.equal(started.messageId, messageId);
  assert.equal(started.senderId, botId);
  assert.equal(started.senderName, "Story Bot");
  assert.equal(started.replyToMessageId, question.body.id);
  assert.equal(started.clientMessageId, "tmp-1");
  assert.deepEqual({ s: status.status, d: status.detail, id: status.streamId }, { s: "thinking", d: "reading", id: streamId });
  assert.ok(Date.parse(status.updatedAt));
  assert.deepEqual(batch.parts, [
    { text: "Once ", chunkIndex: 0 }, { text: "upon ", chunkIndex: 1 }, { text: "a time ", chunkIndex: 2 },
  ]);
  assert.equal(batch.messageId, messageId);
  assert.equal(batch.conversationId, conversationId);
  assert.deepEqual({ text: single.text, chunkIndex: single.chunkIndex }, { text: "there was a bot.", chunkIndex: 3 });

  assert.equal(completed.streamId, streamId);
  assert.equal(completed.messageId, messageId);
  assert.equal(completed.finishReason, "stop");
  assert.ok(Date.parse(completed.completedAt));
  const m = completed.message;
  assert.equal(m.id, messageId);
  assert.equal(m.senderType, "Bot");
  assert.equal(m.senderName, "Story Bot");
  assert.equal(m.plainTextContent, "Once upon a time there was a bot.");
  assert.deepEqual(m.blocks, [{ $type: "text", format: "Markdown", content: "Once upon a time there was a bot.", plainText: null }]);
  assert.equal(m.replyToMessageId, question.body.id);

  // The user is notified of the bot's reply like any new message.
  const note = await notified.next((x) => x.messageId === messageId);
  assert.equal(note.senderId, botId);
  assert.equal(note.contentPreview, "Once upon a time there was a bot.");
  assert.equal(note.conversationId, conversationId);
  const history = await server.api("GET", `/api/conversations/${conversationId}/messages`, userToken);
  assert.equal(history.body.items[0].id, messageId);
  assert.ok(user);
  await Promise.all([chat.stop(), notes.stop()]);
});

test("a bot's abort reaches the conversation and stores nothing", async () => {
  const { userToken, conversationId, call } = await setup();
  const chat = await connect(server, "chat", userToken);
  const events = timeline(chat);
  await chat.invoke("JoinConversation", conversationId);

  const { streamId, messageId } = (await call(`/api/conversations/${conversationId}/streams`, {})).body;
  await call(`/api/streams/${streamId}/chunks`, { text: "half a tho", chunkIndex: 0 });
  assert.equal((await call(`/api/streams/${streamId}/abort`, { reason: "model overloaded" })).status, 204);
  const aborted = await events.until("streamAborted");
  assert.deepEqual(Object.keys(aborted).sort(), ["abortedAt", "conversationId", "messageId", "reason", "streamId"]);
  assert.deepEqual({ s: aborted.streamId, m: aborted.messageId, r: aborted.reason }, { s: streamId, m: messageId, r: "model overloaded" });
  await sleep(COALESCE_MS + 200);
  const names = events.seen.map((e) => e.name);
  assert.deepEqual(names, ["streamStarted", "streamAborted"], "chunks not yet released are dropped by the abort");
  const history = await server.api("GET", `/api/conversations/${conversationId}/messages`, userToken);
  assert.equal(history.body.items.length, 0);
  assert.equal((await call(`/api/streams/${streamId}/chunks`, { text: "more", chunkIndex: 1 })).status, 404);
  await chat.stop();
});

test("an abandoned stream is aborted with reason timeout after the idle time", async () => {
  const { userToken, conversationId, call } = await setup();
  const chat = await connect(server, "chat", userToken);
  const events = timeline(chat);
  await chat.invoke("JoinConversation", conversationId);

  const began = Date.now();
  const { streamId } = (await call(`/api/conversations/${conversationId}/streams`, {})).body;
  await call(`/api/streams/${streamId}/chunks`, { text: "and then", chunkIndex: 0 });
  await events.until("streamChunkReceived");
  const aborted = await events.until("streamAborted", IDLE_MS + 3000);
  const after = Date.now() - began;
  assert.equal(aborted.streamId, streamId);
  assert.equal(aborted.reason, "timeout");
  assert.ok(after >= IDLE_MS - 100, `aborted after ${after} ms, not before the idle time`);
  assert.equal((await call(`/api/streams/${streamId}/complete`, {})).status, 404);
  assert.ok(!events.seen.some((e) => e.name === "streamCompleted" || e.name === "messageReceived"));
  await chat.stop();
});

test("a bot woken by its signed webhook streams its answer to the user's hub connection", async () => {
  // The bot: a webhook that checks the signature, then answers the message by streaming.
  let bot;
  let deliveries = 0;
  const hook = createServer((req, res) => {
    deliveries += 1;
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", async () => {
      const raw = Buffer.concat(chunks);
      const expected = "sha256=" + createHmac("sha256", bot.secret).update(raw).digest("hex");
      const got = req.headers["x-chatgate-signature"] ?? "";
      const valid = got.length === expected.length && timingSafeEqual(Buffer.from(got), Buffer.from(expected));
      res.writeHead(valid ? 204 : 401).end();
      if (!valid) return;
      const delivery = JSON.parse(raw.toString("utf8"));
      const question = delivery.message;
      const s = await bot.call(`/api/conversations/${delivery.conversationId}/streams`, { replyToMessageId: question.id });
      await bot.call(`/api/streams/${s.body.streamId}/chunks`, { parts: [
        { text: "You said: ", chunkIndex: 0 }, { text: question.plainTextIndex, chunkIndex: 1 },
      ] });
      await bot.call(`/api/streams/${s.body.streamId}/complete`, {});
    });
  });
  await new Promise((ok) => hook.listen(0, "127.0.0.1", ok));
  bot = await setup({ webhookUrl: `http://127.0.0.1:${hook.address().port}/hook` });
  assert.match(bot.secret, /^[0-9a-f]{64}$/);

  const chat = await connect(server, "chat", bot.userToken);
  const events = timeline(chat);
  await chat.invoke("JoinConversation", bot.conversationId);
  const sent = await server.api("POST", `/api/conversations/${bot.conversationId}/messages`, bot.userToken, { blocks: text("ping") });
  const completed = await events.until("streamCompleted", 10_000);
  assert.deepEqual(events.seen.map((e) => e.name), ["messageReceived", "streamStarted", "streamChunkBatchReceived", "streamCompleted"]);
  assert.equal(events.seen[0].dto.id, sent.body.id);
  assert.deepEqual(events.seen[2].dto.parts.map((p) => p.text), ["You said: ", "ping"]);
  assert.equal(completed.message.plainTextContent, "You said: ping");
  assert.equal(completed.message.replyToMessageId, sent.body.id);
  await sleep(300);
  assert.equal(deliveries, 1, "the bot's own reply is not delivered back to it");
  await chat.stop();
  await new Promise((ok) => hook.close(ok));
});
