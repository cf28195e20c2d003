// NotificationHub with the official client: each notification reaches exactly the participants
// it names, on all of their connections.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, people, conversation, text, collect, sleep } from "../lib/harness.mjs";
import { connect, transports } from "../lib/hubs.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

let n = 0;
const unique = (name) => `${name}-${++n}-${Date.now()}`;

test("a new message notifies every participant but the sender, on every connection", async () => {
  const [a, b, c] = [unique("ana"), unique("ben"), unique("cy")];
  const t = await people(server, a, b, c);
  const id = await conversation(server, t[a], [b, c], "Team");
  const ben1 = await connect(server, "notifications", t[b]);
  const ben2 = await connect(server, "notifications", t[b], { transport: transports.ServerSentEvents });
  const ana = await connect(server, "notifications", t[a]);
  const [n1, n2, own] = [collect(ben1, "newMessageNotification"), collect(ben2, "newMessageNotification"), collect(ana, "newMessageNotification")];

  const long = "x".repeat(250);
  const sent = await server.api("POST", `/api/conversations/${id}/messages`, t[a], { blocks: text(long) });
  for (const note of [await n1.next(), await n2.next()]) {
    assert.deepEqual(Object.keys(note).sort(), ["contentPreview", "conversationId", "conversationName", "messageId", "senderAvatar", "senderId", "senderName", "sentAt"]);
    assert.equal(note.conversationId, id);
    assert.equal(note.conversationName, "Team");
    assert.equal(note.messageId, sent.body.id);
    assert.equal(note.senderId, a);
    assert.equal(note.senderName, `Name ${a}`);
    assert.ok(note.contentPreview.length <= 100, "previews are cut to 100 characters");
    assert.ok(long.startsWith(note.contentPreview.replace(/…$/, "")));
    assert.equal(note.sentAt, sent.body.createdAt);
  }
  await sleep(300);
  assert.equal(own.seen.length, 0, "not to the sender");
  await Promise.all([ben1.stop(), ben2.stop(), ana.stop()]);
});

test("system messages notify nobody, and only User mentions make a MentionedNotification", async () => {
  const [a, b, c] = [unique("ana"), unique("ben"), unique("cy")];
  const t = await people(server, a, b, c);
  const id = await conversation(server, t[a], [b, c]);
  const ben = await connect(server, "notifications", t[b]);
  const cy = await connect(server, "notifications", t[c]);
  const [benNew, benMention, cyMention] = [collect(ben, "newMessageNotification"), collect(ben, "mentionedNotification"), collect(cy, "mentionedNotification")];

  await server.api("PUT", `/api/conversations/${id}`, t[a], { name: "Renamed" }); // a system message
  await server.api("POST", `/api/conversations/${id}/messages`, t[a], {
    blocks: text("@Ben and @all"),
    mentions: [
      { type: "User", targetId: b, displayName: "Ben", offset: 0, length: 4 },
      { type: "All", targetId: null, displayName: "all", offset: 9, length: 4 },
    ],
  });
  const mention = await benMention.next();
  assert.deepEqual(Object.keys(mention).sort(), ["contentPreview", "conversationId", "messageId", "senderId", "senderName", "sentAt"]);
  assert.equal(mention.senderAvatar, undefined, "MentionedNotification has no senderAvatar");
  assert.equal(mention.contentPreview, "@Ben and @all");
  await benNew.next();
  await sleep(300);
  assert.equal(benNew.seen.length, 0, "the rename's system message notified nobody");
  assert.equal(cyMention.seen.length, 0, "an All mention is not a personal mention");
  await Promise.all([ben.stop(), cy.stop()]);
});

test("membership changes: creation, additions, removals and leaving reach the right people", async () => {
  const [a, b, c, d] = [unique("ana"), unique("ben"), unique("cy"), unique("di")];
  const t = await people(server, a, b, c, d);
  const hubs = {};
  for (const p of [a, b, c, d]) hubs[p] = await connect(server, "notifications", t[p]);
  const events = (p, e) => collect(hubs[p], e);
  const created = { a: events(a, "conversationCreated"), b: events(b, "conversationCreated"), c: events(c, "conversationCreated"), d: events(d, "conversationCreated") };
  const joined = { a: events(a, "participantJoined"), b: events(b, "participantJoined"), c: events(c, "participantJoined") };
  const left = { a: events(a, "participantLeft"), b: events(b, "participantLeft"), c: events(c, "participantLeft"), d: events(d, "participantLeft") };

  const id = await conversation(server, t[a], [b], "Crew");
  for (const p of ["a", "b"]) {
    const e = await created[p].next();
    assert.deepEqual(e, { conversationId: id, name: "Crew", avatar: null, participantCount: 2 });
  }

  await server.api("POST", `/api/conversations/${id}/participants`, t[a], { participantId: c });
  const forNew = await created.c.next();
  assert.equal(forNew.participantCount, 3);
  for (const p of ["a", "b"]) {
    const j = await joined[p].next();
    assert.deepEqual({ conversationId: j.conversationId, participantId: j.participantId, participantName: j.participantName, participantAvatar: j.participantAvatar },
      { conversationId: id, participantId: c, participantName: `Name ${c}`, participantAvatar: null });
    assert.ok(Date.parse(j.changedAt));
  }

  await server.api("POST", `/api/conversations/${id}/leave`, t[b]);
  for (const p of ["a", "b", "c"]) {
    const l = await left[p].next();
    assert.equal(l.participantId, b, `${p} hears that ben left`);
  }

  await sleep(300);
  assert.equal(joined.c.seen.length, 0, "the newcomer gets ConversationCreated, not ParticipantJoined");
  assert.equal(created.d.seen.length + left.d.seen.length, 0, "an outsider hears nothing");
  for (const h of Object.values(hubs)) await h.stop();
});

test("renames notify participants with ConversationUpdated", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ben = await connect(server, "notifications", t[b]);
  const updated = collect(ben, "conversationUpdated");
  await server.api("PUT", `/api/conversations/${id}`, t[a], { name: "New name", avatar: { url: "https://example.com/a.png" } });
  assert.deepEqual(await updated.next(), { conversationId: id, name: "New name", avatar: { url: "https://example.com/a.png" }, participantCount: 2 });
  await ben.stop();
});

test("pins notify only the pinning user's own connections", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ana1 = await connect(server, "notifications", t[a]);
  const ana2 = await connect(server, "notifications", t[a], { transport: transports.LongPolling });
  const ben = await connect(server, "notifications", t[b]);
  const [p1, p2, pb] = [collect(ana1, "conversationPinned"), collect(ana2, "conversationPinned"), collect(ben, "conversationPinned")];
  const unpinned = collect(ana1, "conversationUnpinned");
  assert.equal((await server.api("POST", `/api/conversations/${id}/pin`, t[a])).status, 204);
  for (const e of [await p1.next(), await p2.next()]) {
    assert.equal(e.conversationId, id);
    assert.ok(Date.parse(e.pinnedAt));
  }
  await server.api("DELETE", `/api/conversations/${id}/pin`, t[a]);
  assert.deepEqual(await unpinned.next(), { conversationId: id });
  await sleep(200);
  assert.equal(pb.seen.length, 0);
  await Promise.all([ana1.stop(), ana2.stop(), ben.stop()]);
});

test("the notification hub has no methods to call", async () => {
  const a = unique("ana");
  const t = await people(server, a);
  const hub = await connect(server, "notifications", t[a]);
  await assert.rejects(hub.invoke("JoinConversation", "x"), /Unknown hub method 'JoinConversation'/);
  assert.equal(hub.state, "Connected");
  await hub.stop();
});
