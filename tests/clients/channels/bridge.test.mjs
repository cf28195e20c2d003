// The connector side of the bridge (the outbox over its WebSocket stream, with `ws`) and "one
// core, many doors": a bridge message shows on the SignalR hub, and replies from REST and from
// the hub reach the connector.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, token, text, collect } from "../lib/harness.mjs";
import { connect } from "../lib/hubs.mjs";
import { createChannel, ingest, unique, whatsappText, connectorStream } from "../lib/channels.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

const agentOf = (tenant) => token(`agent-of-${tenant}`, { role: "agent", tenant, name: "Agent" });

async function reply(conversationId, jwt, content) {
  const r = await server.api("POST", `/api/conversations/${conversationId}/messages`, jwt, { blocks: text(content) });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

test("the stream delivers replies as they are committed and redelivers what was not acknowledged", async () => {
  const tenant = unique("acme-");
  const channel = await createChannel(server, tenant, { type: "whatsapp", name: "Main" });
  const agent = agentOf(tenant);
  const number = `${unique("7707")}@c.us`;
  const { conversationId } = await ingest(server, channel, whatsappText(number, "hi"));
  const waiting = await reply(conversationId, agent, "queued before the connector came");

  const stream = await connectorStream(server, channel);
  assert.deepEqual(await stream.next((f) => f.type === "ready"), { type: "ready", channelId: channel.id });
  const first = await stream.next((f) => f.type === "reply");
  assert.equal(first.messageId, waiting.id);
  assert.equal(first.text, "queued before the connector came");
  assert.equal(first.externalChatId, number);
  assert.equal(first.channelId, channel.id);

  const live = await reply(conversationId, agent, "sent while connected");
  const second = await stream.next((f) => f.type === "reply");
  assert.equal(second.messageId, live.id);
  assert.ok(second.seq > first.seq);

  stream.send({ type: "ack", id: first.id, externalMessageId: unique("wamid.") });
  assert.deepEqual(await stream.next((f) => f.type === "acked"), { type: "acked", acknowledged: 1 });
  stream.close();
  await stream.closed;

  // The unacknowledged reply comes again on the next connection; the acknowledged one does not.
  const again = await connectorStream(server, channel);
  await again.next((f) => f.type === "ready");
  const redelivered = await again.next((f) => f.type === "reply");
  assert.equal(redelivered.id, second.id);
  again.send({ type: "ack", ids: [second.id] });
  await again.next((f) => f.type === "acked");
  const poll = await server.api("GET", `/api/connectors/${channel.id}/outbox`, channel.key);
  assert.deepEqual(poll.body.items, []);
  again.close();
});

test("bad frames are answered on the stream, which stays open; bad keys never get a stream", async () => {
  const tenant = unique("acme-");
  const channel = await createChannel(server, tenant, { type: "whatsapp", name: "Main" });
  const other = await createChannel(server, tenant, { type: "whatsapp", name: "Second" });
  await assert.rejects(connectorStream(server, channel, "ck_wrong"), (e) => e.status === 401 && e.body.title === "Unauthorized");
  await assert.rejects(connectorStream(server, channel, other.key), (e) => e.status === 401);

  const stream = await connectorStream(server, channel);
  await stream.next((f) => f.type === "ready");
  stream.send("{not json");
  const syntax = await stream.next((f) => f.type === "error");
  assert.equal(syntax.code, "VALIDATION");
  assert.match(syntax.error, /JSON/);
  stream.send({ type: "nack", id: "x" });
  assert.match((await stream.next((f) => f.type === "error")).error, /ack/);
  stream.send({ type: "ack" });
  assert.match((await stream.next((f) => f.type === "error")).error, /ids/);
  // Still open and working.
  stream.send({ type: "ack", id: "01ARZ3NDEKTSV4RRFFQ69G5FAV" });
  assert.deepEqual(await stream.next((f) => f.type === "acked"), { type: "acked", acknowledged: 0 });
  stream.close();
});

test("a bridge message shows on the agents' hub, and a hub reply reaches the connector", async () => {
  const tenant = unique("acme-");
  const channel = await createChannel(server, tenant, { type: "whatsapp", name: "Main" });
  const agent = agentOf(tenant);
  const number = `${unique("7707")}@c.us`;
  const { conversationId, messageId } = await ingest(server, channel, whatsappText(number, "first"));

  const hub = await connect(server, "chat", agent);
  try {
    const received = collect(hub, "messageReceived");
    await hub.invoke("JoinConversation", conversationId);
    await ingest(server, channel, whatsappText(number, "seen on the hub"));
    const onHub = await received.next((m) => m.plainTextContent === "seen on the hub");
    assert.equal(onHub.conversationId, conversationId);
    assert.equal(onHub.senderName, "Солнышко мое 😊", "the customer behind the WhatsApp number");

    const history = await server.api("GET", `/api/conversations/${conversationId}/messages?direction=newer`, agent);
    assert.deepEqual(history.body.items.map((m) => m.id).slice(0, 1), [messageId]);
    assert.equal(history.body.items.length, 2);

    const stream = await connectorStream(server, channel);
    await stream.next((f) => f.type === "ready");
    const ack = await hub.invoke("SendMessage", { conversationId, blocks: text("answered from the hub") });
    assert.equal(ack.success, true, JSON.stringify(ack));
    const delivered = await stream.next((f) => f.type === "reply");
    assert.equal(delivered.text, "answered from the hub");
    assert.equal(delivered.conversationId, conversationId);
    assert.equal(delivered.senderId, `agent-of-${tenant}`);
    stream.close();
  } finally {
    await hub.stop();
  }
});
