// The customer gateway of seed 003 with a real WebSocket client: tokens, /ws/chat in both
// directions, several sockets, and errors that leave the socket usable.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, token, text, collect, sleep } from "../lib/harness.mjs";
import { connect } from "../lib/hubs.mjs";
import { customerToken, openChat } from "../lib/customer.mjs";

let server;
const agent = token("agent-1", { role: "agent", name: "Agent One" });
before(async () => {
  server = await startServer({ config: "[customers]\nmax_frame_bytes = 4096\ntoken_requests_per_second = 0\n" });
});
after(async () => { await server.close(); });

let n = 0;
const unique = (name) => `${name}-${++n}-${Date.now()}`;

test("one channel identity is one customer, with a new token each time", async () => {
  const channelId = unique("web_user");
  const first = await customerToken(server, "张三", "WEB", channelId);
  assert.equal(first.status, 200);
  assert.equal(first.body.success, true);
  const d = first.body.data;
  assert.deepEqual(Object.keys(d).sort(), ["channel", "customerId", "expiresAt", "name", "token"]);
  assert.match(d.token, /^cust_/);
  assert.equal(d.name, "张三");
  assert.equal(d.channel, "WEB");
  const again = await customerToken(server, "张三", "web", channelId);
  assert.equal(again.body.data.customerId, d.customerId);
  assert.notEqual(again.body.data.token, d.token);
  const elsewhere = await customerToken(server, "张三", "WECHAT", channelId);
  assert.notEqual(elsewhere.body.data.customerId, d.customerId, "identities on other channels are other customers");
  // The first token still works.
  const socket = await openChat(server, d.token);
  socket.close();
});

test("bad token requests are refused in the envelope", async () => {
  const unknown = await customerToken(server, "x", "CARRIER_PIGEON", "1");
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body.success, false);
  assert.match(unknown.body.message, /channel/);
  assert.match(unknown.body.message, /WEB/);
  const missing = await server.api("POST", "/api/v1/public/customer-token", undefined, { name: "x", channel: "WEB" });
  assert.equal(missing.status, 400);
  assert.match(missing.body.message, /channelId/);
  const notJson = await fetch(`${server.base}/api/v1/public/customer-token`, { method: "POST", body: "{nope" });
  assert.equal(notJson.status, 400);
  assert.equal((await notJson.json()).success, false);
});

test("missing, unknown and expired tokens are refused before the upgrade", async () => {
  for (const bad of ["", "cust_unknown"]) {
    await assert.rejects(openChat(server, bad), (e) => e.status === 401 && e.body.success === false && /token/i.test(e.body.message));
  }
  const short = await startServer({ config: "[customers]\ntoken_ttl = \"1s\"\n" });
  try {
    const t = await customerToken(short, "Ana", "WEB", unique("ana"));
    const live = await openChat(short, t.body.data.token);
    live.close();
    await sleep(1500);
    await assert.rejects(openChat(short, t.body.data.token), (e) => e.status === 401);
  } finally {
    await short.close();
  }
});

test("a customer's message is stored, echoed to all their sockets, and seen by agents", async () => {
  const t = (await customerToken(server, "Ana", "WHATSAPP", unique("+7"))).body.data;
  const phone = await openChat(server, t.token);
  const laptop = await openChat(server, t.token);
  phone.send({ senderId: "whatever-the-client-says", content: "你好，我需要帮助", metadata: { orderId: "ORDER-1" } });
  const echo = await phone.next();
  assert.deepEqual(Object.keys(echo).sort(), ["channel", "content", "conversationId", "senderId", "timestamp"]);
  assert.equal(echo.channel, "WHATSAPP");
  assert.equal(echo.senderId, t.customerId);
  assert.equal(echo.content, "你好，我需要帮助");
  assert.ok(Date.parse(echo.timestamp));
  assert.deepEqual(await laptop.next(), echo, "every socket of the customer gets it");

  // Without a conversationId the customer stays in the same conversation.
  laptop.send({ content: "还在吗？" });
  const second = await phone.next();
  assert.equal(second.conversationId, echo.conversationId);

  // Agents see it over REST, with the metadata kept.
  const history = await server.api("GET", `/api/conversations/${echo.conversationId}/messages?direction=newer`, agent);
  assert.equal(history.status, 200);
  const [m1, m2] = history.body.items;
  assert.equal(m1.senderId, t.customerId);
  assert.equal(m1.blocks[0].content, "你好，我需要帮助");
  assert.deepEqual(m1.blocks[1], { $type: "custom", type: "customer.metadata", data: { orderId: "ORDER-1" } });
  assert.equal(m2.blocks[0].content, "还在吗？");
  // …and the customer record says when they last wrote.
  const record = await server.api("GET", `/api/v1/customers/${t.customerId}`, agent);
  assert.equal(record.body.data.lastInteractionAt, m2.createdAt);
  phone.close();
  laptop.close();
});

test("agents answer over REST and the hub, and the customer's sockets get the replies", async () => {
  const t = (await customerToken(server, "Ben", "WEB", unique("web"))).body.data;
  const socket = await openChat(server, t.token);
  socket.send({ content: "hello?" });
  const { conversationId } = await socket.next();

  const hub = await connect(server, "chat", agent);
  const received = collect(hub, "messageReceived");
  await hub.invoke("JoinConversation", conversationId);
  socket.send({ conversationId, content: "anyone there?" });
  await socket.next();
  const seen = await received.next();
  assert.equal(seen.senderId, t.customerId);
  assert.equal(seen.plainTextContent, "anyone there?");

  const rest = await server.api("POST", `/api/conversations/${conversationId}/messages`, agent, { blocks: text("Hi Ben, REST here") });
  assert.equal(rest.status, 201);
  const fromRest = await socket.next();
  assert.deepEqual(
    { channel: fromRest.channel, conversationId: fromRest.conversationId, senderId: fromRest.senderId, content: fromRest.content },
    { channel: "WEB", conversationId, senderId: "agent-1", content: "Hi Ben, REST here" },
  );
  const ack = await hub.invoke("SendMessage", { conversationId, blocks: text("and the hub") });
  assert.equal(ack.success, true);
  assert.equal((await socket.next()).content, "and the hub");
  await hub.stop();
  socket.close();
});

test("bad frames are answered with an error frame and the socket stays usable", async () => {
  const t = (await customerToken(server, "Cy", "APP", unique("app"))).body.data;
  const other = (await customerToken(server, "Di", "APP", unique("app"))).body.data;
  const di = await openChat(server, other.token);
  di.send({ content: "di's conversation" });
  const foreign = (await di.next()).conversationId;

  const socket = await openChat(server, t.token);
  socket.send("{not json");
  const bad = await socket.next();
  assert.equal(bad.type, "error");
  assert.equal(bad.code, "VALIDATION");
  assert.match(bad.error, /JSON/);
  socket.send({ senderId: "x" });
  assert.match((await socket.next()).error, /content/);
  socket.send({ conversationId: foreign, content: "let me in" });
  const refused = await socket.next();
  assert.equal(refused.type, "error");
  assert.equal(refused.code, "FORBIDDEN");
  socket.send({ conversationId: "01HNOSUCHCONVERSATION0000", content: "where?" });
  assert.equal((await socket.next()).code, "NOT_FOUND");
  socket.send({ content: "x".repeat(5000) });
  assert.match((await socket.next()).error, /at most 4096 bytes/);
  socket.send({ content: "" });
  assert.equal((await socket.next()).code, "VALIDATION");

  socket.send({ content: "still here" });
  const ok = await socket.next();
  assert.equal(ok.content, "still here");
  assert.notEqual(ok.conversationId, foreign);
  // Di's conversation never saw any of it.
  const dis = await server.api("GET", `/api/conversations/${foreign}/messages`, agent);
  assert.equal(dis.body.items.length, 1);
  socket.close();
  di.close();
});

test("a client that keeps sending garbage is disconnected", async () => {
  const t = (await customerToken(server, "Eve", "WEB", unique("web"))).body.data;
  const socket = await openChat(server, t.token);
  for (let i = 0; i < 25; i++) socket.send("garbage");
  const code = await socket.closed;
  assert.ok(code >= 1000);
  const errors = socket.frames.filter((f) => f.type === "error").length;
  assert.ok(errors >= 19, `${errors} error frames before the close (${code})`);
});
