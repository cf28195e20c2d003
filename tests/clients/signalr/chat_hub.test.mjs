// ChatHub with the official @microsoft/signalr client: every method, every event, every transport.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, people, conversation, text, collect, sleep } from "../lib/harness.mjs";
import { connect, transports } from "../lib/hubs.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

const CHAT_MESSAGE_KEYS = [
  "id", "conversationId", "senderId", "senderName", "senderAvatar", "senderType", "blocks",
  "plainTextContent", "replyToMessageId", "quickReplies", "isEdited", "reactions", "mentions",
  "createdAt", "updatedAt", "clientMessageId", "systemEvent",
].sort();

let n = 0;
const unique = (name) => `${name}-${++n}-${Date.now()}`;

for (const [name, transport] of Object.entries(transports)) {
  test(`a message sent over ${name} reaches the other participant's ${name} connection`, async () => {
    const [a, b] = [unique("ana"), unique("ben")];
    const t = await people(server, a, b);
    const id = await conversation(server, t[a], [b]);
    const ana = await connect(server, "chat", t[a], { transport });
    const ben = await connect(server, "chat", t[b], { transport });
    const received = collect(ben, "messageReceived");
    await ben.invoke("JoinConversation", id);

    const ack = await ana.invoke("SendMessage", {
      conversationId: id, blocks: text(`over ${name}`), clientMessageId: "c-1",
    });
    assert.equal(ack.success, true);
    assert.match(ack.messageId, /^[0-9A-Z]{26}$/);
    assert.equal(ack.clientMessageId, "c-1");
    assert.ok(Date.parse(ack.createdAt));
    assert.equal(ack.errorCode, null);

    const m = await received.next();
    assert.deepEqual(Object.keys(m).sort(), CHAT_MESSAGE_KEYS);
    assert.equal(m.id, ack.messageId);
    assert.equal(m.conversationId, id);
    assert.equal(m.senderId, a);
    assert.equal(m.senderName, `Name ${a}`);
    assert.equal(m.senderType, "User");
    assert.equal(m.plainTextContent, `over ${name}`);
    assert.deepEqual(m.blocks, [{ $type: "text", format: "Plain", content: `over ${name}`, plainText: null }]);
    assert.equal(m.reactions, null);
    assert.equal(m.clientMessageId, "c-1");
    await Promise.all([ana.stop(), ben.stop()]);
  });
}

test("a message sent over REST arrives on the hub as MessageReceived", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ben = await connect(server, "chat", t[b]);
  const received = collect(ben, "messageReceived");
  await ben.invoke("JoinConversation", id);
  const sent = await server.api("POST", `/api/conversations/${id}/messages`, t[a], { blocks: text("from REST") });
  assert.equal(sent.status, 201);
  const m = await received.next();
  assert.equal(m.id, sent.body.id);
  assert.equal(m.plainTextContent, "from REST");
  await ben.stop();
});

test("joining a conversation one is not in gets an Error event naming it", async () => {
  const [a, b, c] = [unique("ana"), unique("ben"), unique("cy")];
  const t = await people(server, a, b, c);
  const id = await conversation(server, t[a], [b]);
  const cy = await connect(server, "chat", t[c]);
  const errors = collect(cy, "error");
  const received = collect(cy, "messageReceived");
  await cy.invoke("JoinConversation", id);
  const e = await errors.next();
  assert.equal(e.code, "FORBIDDEN");
  assert.match(e.message, /not a participant/i);
  assert.equal(e.details.conversationId, id);
  // And the refused join delivers nothing.
  await server.api("POST", `/api/conversations/${id}/messages`, t[a], { blocks: text("secret") });
  await sleep(300);
  assert.equal(received.seen.length, 0);
  await cy.stop();
});

test("sending where one may not, or something invalid, is a failed ack", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], []);
  const ben = await connect(server, "chat", t[b]);
  const forbidden = await ben.invoke("SendMessage", { conversationId: id, blocks: text("no") });
  assert.deepEqual(
    { success: forbidden.success, errorCode: forbidden.errorCode, messageId: forbidden.messageId },
    { success: false, errorCode: "FORBIDDEN", messageId: null },
  );
  const ana = await connect(server, "chat", t[a]);
  const invalid = await ana.invoke("SendMessage", { conversationId: id, blocks: [{ $type: "text", format: "Rich", content: "x" }] });
  assert.equal(invalid.success, false);
  assert.equal(invalid.errorCode, "VALIDATION");
  assert.match(invalid.errorMessage, /blocks\[0\]\.format/);
  const missing = await ana.invoke("SendMessage", { blocks: text("where?") });
  assert.equal(missing.errorCode, "VALIDATION");
  assert.match(missing.errorMessage, /conversationId/);
  const history = await server.api("GET", `/api/conversations/${id}/messages`, t[a]);
  assert.equal(history.body.items.length, 0, "nothing was stored");
  await Promise.all([ana.stop(), ben.stop()]);
});

test("a repeated clientMessageId returns the first message and is delivered once", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ana = await connect(server, "chat", t[a]);
  const ben = await connect(server, "chat", t[b]);
  const received = collect(ben, "messageReceived");
  await ben.invoke("JoinConversation", id);
  const request = { conversationId: id, blocks: text("once"), clientMessageId: "retry-1" };
  const first = await ana.invoke("SendMessage", request);
  const second = await ana.invoke("SendMessage", request);
  assert.equal(second.success, true);
  assert.equal(second.messageId, first.messageId);
  await received.next();
  await sleep(300);
  assert.equal(received.seen.length, 0, "the retry is not delivered again");
  await Promise.all([ana.stop(), ben.stop()]);
});

test("edit, delete, recover and reactions reach the conversation with their acks", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ana = await connect(server, "chat", t[a]);
  const ben = await connect(server, "chat", t[b]);
  await ben.invoke("JoinConversation", id);
  const updated = collect(ben, "messageUpdated");
  const deleted = collect(ben, "messageDeleted");
  const recovered = collect(ben, "messageRecovered");
  const added = collect(ben, "reactionAdded");
  const removed = collect(ben, "reactionRemoved");

  const original = await ana.invoke("SendMessage", { conversationId: id, blocks: text("first") });
  const reply = await ana.invoke("SendMessage", { conversationId: id, blocks: text("reply"), replyToMessageId: original.messageId });

  const edit = await ana.invoke("EditMessage", {
    messageId: reply.messageId, newBlocks: text("edited"), newReplyToMessageId: null,
  });
  assert.equal(edit.success, true);
  assert.equal(edit.messageId, reply.messageId);
  assert.ok(Date.parse(edit.editedAt));
  const u = await updated.next();
  assert.deepEqual(
    { messageId: u.messageId, conversationId: u.conversationId, plainTextContent: u.plainTextContent, replyToMessageId: u.replyToMessageId },
    { messageId: reply.messageId, conversationId: id, plainTextContent: "edited", replyToMessageId: null },
  );
  assert.ok(Date.parse(u.updatedAt));

  const notMine = await ben.invoke("EditMessage", { messageId: reply.messageId, newBlocks: text("hijack") });
  assert.equal(notMine.success, false);
  assert.equal(notMine.errorCode, "FORBIDDEN");

  const del = await ana.invoke("DeleteMessage", { messageId: reply.messageId });
  assert.equal(del.success, true);
  assert.ok(Date.parse(del.deletedAt));
  const d = await deleted.next();
  assert.deepEqual(
    { messageId: d.messageId, conversationId: d.conversationId, deletedBy: d.deletedBy },
    { messageId: reply.messageId, conversationId: id, deletedBy: a },
  );
  assert.ok(Date.parse(d.deletedAt));

  const rec = await ana.invoke("RecoverMessage", { messageId: reply.messageId });
  assert.deepEqual({ success: rec.success, messageId: rec.messageId }, { success: true, messageId: reply.messageId });
  const r = await recovered.next();
  assert.equal(r.id, reply.messageId);
  assert.equal(r.plainTextContent, "edited");
  assert.equal(r.isEdited, true);

  const react = await ben.invoke("AddReaction", { messageId: original.messageId, conversationId: id, emoji: "❤️" });
  assert.deepEqual({ success: react.success, messageId: react.messageId, emoji: react.emoji }, { success: true, messageId: original.messageId, emoji: "❤️" });
  const again = await ben.invoke("AddReaction", { messageId: original.messageId, emoji: "❤️" });
  assert.equal(again.errorCode, "CONFLICT");
  const ra = await added.next();
  assert.deepEqual(
    { messageId: ra.messageId, conversationId: ra.conversationId, participantId: ra.participantId, participantName: ra.participantName, emoji: ra.emoji },
    { messageId: original.messageId, conversationId: id, participantId: b, participantName: `Name ${b}`, emoji: "❤️" },
  );
  assert.ok(Date.parse(ra.createdAt));
  const unreact = await ben.invoke("RemoveReaction", { messageId: original.messageId, emoji: "❤️" });
  assert.equal(unreact.success, true);
  const rr = await removed.next();
  assert.equal(rr.emoji, "❤️");
  assert.ok(Date.parse(rr.removedAt), "ReactionRemoved carries removedAt");
  assert.equal(rr.createdAt, undefined);

  // The reaction shows on a later MessageReceived of the same message list: flat `reactions`.
  await ben.invoke("AddReaction", { messageId: original.messageId, emoji: "👍" });
  const history = await server.api("GET", `/api/messages/${original.messageId}`, t[a]);
  assert.equal(history.body.reactionSummary.totalCount, 1);
  await Promise.all([ana.stop(), ben.stop()]);
});

test("typing reaches the others but not the typist on any of their connections", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ana1 = await connect(server, "chat", t[a]);
  const ana2 = await connect(server, "chat", t[a], { transport: transports.LongPolling });
  const ben = await connect(server, "chat", t[b]);
  for (const c of [ana1, ana2, ben]) await c.invoke("JoinConversation", id);
  const own1 = collect(ana1, "typingStarted");
  const own2 = collect(ana2, "typingStarted");
  const started = collect(ben, "typingStarted");
  const stopped = collect(ben, "typingStopped");
  await ana1.invoke("StartTyping", id);
  assert.deepEqual(await started.next(), { conversationId: id, participantId: a, participantName: `Name ${a}` });
  await ana1.invoke("StopTyping", id);
  assert.deepEqual(await stopped.next(), { conversationId: id, participantId: a, participantName: `Name ${a}` });
  await sleep(300);
  assert.equal(own1.seen.length + own2.seen.length, 0);
  await Promise.all([ana1.stop(), ana2.stop(), ben.stop()]);
});

test("leaving a conversation's group, or the conversation, stops its events", async () => {
  const [a, b, c] = [unique("ana"), unique("ben"), unique("cy")];
  const t = await people(server, a, b, c);
  const id = await conversation(server, t[a], [b, c]);
  const ben = await connect(server, "chat", t[b]);
  const cy = await connect(server, "chat", t[c]);
  await ben.invoke("JoinConversation", id);
  await cy.invoke("JoinConversation", id);
  const benSees = collect(ben, "messageReceived");
  const cySees = collect(cy, "messageReceived");

  await ben.invoke("LeaveConversation", id);
  const removal = await server.api("DELETE", `/api/conversations/${id}/participants/${c}`, t[a]);
  assert.equal(removal.status, 204);
  // cy saw the MemberRemoved system message before being dropped from the group.
  const system = await cySees.next((m) => m.senderType === "System");
  assert.equal(system.systemEvent.type, "MemberRemoved");

  await server.api("POST", `/api/conversations/${id}/messages`, t[a], { blocks: text("after") });
  await sleep(400);
  assert.equal(benSees.seen.filter((m) => m.senderType === "User").length, 0);
  assert.equal(cySees.seen.filter((m) => m.senderType === "User").length, 0);
  await Promise.all([ben.stop(), cy.stop()]);
});

test("system messages carry the names of who acted and who was affected", async () => {
  const [a, b, c] = [unique("ana"), unique("ben"), unique("cy")];
  const t = await people(server, a, b, c);
  const id = await conversation(server, t[a], [b]);
  const ben = await connect(server, "chat", t[b]);
  await ben.invoke("JoinConversation", id);
  const received = collect(ben, "messageReceived");
  await server.api("POST", `/api/conversations/${id}/participants`, t[a], { participantId: c });
  const added = await received.next();
  assert.equal(added.senderType, "System");
  assert.equal(added.systemEvent.type, "MemberAdded");
  assert.equal(added.systemEvent.actorId, a);
  assert.equal(added.systemEvent.actorName, `Name ${a}`);
  assert.deepEqual(added.systemEvent.targetIds, [c]);
  assert.deepEqual(added.systemEvent.targetNames, [`Name ${c}`]);

  await server.api("PUT", `/api/conversations/${id}`, t[a], { name: "Renamed" });
  const renamed = await received.next();
  assert.equal(renamed.systemEvent.type, "ConversationRenamed");
  assert.equal(renamed.systemEvent.metadata.newName, "Renamed");
  await ben.stop();
});

test("mentions, quick replies and replies travel with the message", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ana = await connect(server, "chat", t[a]);
  const ben = await connect(server, "chat", t[b]);
  await ben.invoke("JoinConversation", id);
  const received = collect(ben, "messageReceived");
  const first = await ana.invoke("SendMessage", { conversationId: id, blocks: text("q") });
  await received.next();
  const mentions = [{ type: "User", targetId: b, displayName: "Ben", offset: 0, length: 4 }];
  const quickReplies = [{ label: "Yes", action: "Postback", value: "yes", icon: null }];
  await ana.invoke("SendMessage", { conversationId: id, blocks: text("@Ben ok?"), mentions, quickReplies, replyToMessageId: first.messageId });
  const m = await received.next();
  assert.deepEqual(m.mentions, mentions);
  assert.deepEqual(m.quickReplies, quickReplies);
  assert.equal(m.replyToMessageId, first.messageId);
  await Promise.all([ana.stop(), ben.stop()]);
});
