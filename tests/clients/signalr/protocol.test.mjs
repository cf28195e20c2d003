// The SignalR protocol itself, at the edges the official client never reaches: negotiate
// answers, handshake refusals, keep-alive and timeouts, and bad input from a client, which is
// answered (or that client is closed) while everyone else is unharmed.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { startServer, people, conversation, text, collect, token, sleep } from "../lib/harness.mjs";
import { connect } from "../lib/hubs.mjs";

const RS = "\x1e";
let server;
before(async () => {
  server = await startServer({
    config: "[signalr]\nkeep_alive_ms = 300\nclient_timeout_ms = 1500\nhandshake_timeout_ms = 800\n",
  });
});
after(async () => { await server.close(); });

let n = 0;
const unique = (name) => `${name}-${++n}-${Date.now()}`;

/** A raw WebSocket speaking the JSON hub protocol by hand. */
async function raw(path, { handshake = { protocol: "json", version: 1 } } = {}) {
  const ws = new WebSocket(server.base.replace("http", "ws") + path);
  const frames = [];
  const waiters = [];
  let closed = false;
  ws.on("message", (data) => {
    for (const record of data.toString().split(RS).filter(Boolean)) {
      const message = JSON.parse(record);
      frames.push(message);
      for (const w of [...waiters]) if (w.match(message)) { waiters.splice(waiters.indexOf(w), 1); w.ok(message); }
    }
  });
  const closedPromise = new Promise((ok) => ws.on("close", () => { closed = true; ok(); }));
  await new Promise((ok, fail) => { ws.on("open", ok); ws.on("error", fail); ws.on("unexpected-response", (_, res) => fail(new Error(`HTTP ${res.statusCode}`))); });
  const client = {
    ws, frames, closed: () => closed, whenClosed: closedPromise,
    send: (obj) => ws.send(JSON.stringify(obj) + RS),
    sendRaw: (s) => ws.send(s),
    next(match = () => true, ms = 5000) {
      const found = frames.find(match);
      if (found) { frames.splice(frames.indexOf(found), 1); return Promise.resolve(found); }
      return new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`no matching frame in ${ms} ms; saw ${JSON.stringify(frames)}`)), ms);
        waiters.push({ match, ok: (m) => { clearTimeout(t); frames.splice(frames.indexOf(m), 1); ok(m); } });
      });
    },
  };
  if (handshake) client.send(handshake);
  return client;
}

test("negotiate needs a valid token", async () => {
  for (const auth of [undefined, "Bearer nope", `Bearer ${token("x").slice(0, -2)}xx`]) {
    const r = await fetch(`${server.base}/hubs/chat/negotiate?negotiateVersion=1`, { method: "POST", headers: auth ? { authorization: auth } : {} });
    assert.equal(r.status, 401);
  }
});

test("negotiate answers versions 1 and 0 as the protocol says", async () => {
  const auth = { authorization: `Bearer ${token(unique("ana"))}` };
  const v1 = await (await fetch(`${server.base}/hubs/chat/negotiate?negotiateVersion=1`, { method: "POST", headers: auth })).json();
  assert.equal(v1.negotiateVersion, 1);
  assert.ok(v1.connectionId && v1.connectionToken && v1.connectionId !== v1.connectionToken);
  assert.deepEqual(v1.availableTransports.map((t) => t.transport), ["WebSockets", "ServerSentEvents", "LongPolling"]);
  assert.ok(v1.availableTransports.every((t) => t.transferFormats.includes("Text")));
  const v0 = await (await fetch(`${server.base}/hubs/chat/negotiate`, { method: "POST", headers: auth })).json();
  assert.equal(v0.negotiateVersion, 0);
  assert.equal(v0.connectionToken, undefined);
  // A version-0 client connects with the connection id it was given.
  const ws = await raw(`/hubs/chat?id=${v0.connectionId}&access_token=${auth.authorization.slice(7)}`);
  assert.deepEqual(await ws.next(), {});
  ws.ws.close();
});

test("connecting to an unknown, taken or foreign connection is refused", async () => {
  const owner = token(unique("ana"));
  const other = token(unique("ben"));
  const neg = await (await fetch(`${server.base}/hubs/chat/negotiate?negotiateVersion=1`, { method: "POST", headers: { authorization: `Bearer ${owner}` } })).json();
  await assert.rejects(raw(`/hubs/chat?id=nope&access_token=${owner}`), /404/);
  await assert.rejects(raw(`/hubs/chat?id=${neg.connectionToken}&access_token=${other}`), /403/);
  await assert.rejects(raw(`/hubs/chat?id=${neg.connectionToken}`), /401/);
  const first = await raw(`/hubs/chat?id=${neg.connectionToken}&access_token=${owner}`);
  await first.next();
  await assert.rejects(raw(`/hubs/chat?id=${neg.connectionToken}&access_token=${owner}`), /409/);
  first.ws.close();
});

test("the handshake refuses protocols and versions it does not speak", async () => {
  const t = token(unique("ana"));
  const mp = await raw(`/hubs/chat?access_token=${t}`, { handshake: { protocol: "messagepack", version: 1 } });
  assert.deepEqual(await mp.next(), { error: "The protocol 'messagepack' is not supported." });
  await mp.whenClosed;
  const v9 = await raw(`/hubs/chat?access_token=${t}`, { handshake: { protocol: "json", version: 9 } });
  assert.match((await v9.next()).error, /does not support version 9/);
  await v9.whenClosed;
  const ok = await raw(`/hubs/chat?access_token=${t}`, { handshake: { protocol: "json", version: 2 } });
  assert.deepEqual(await ok.next(), {});
  ok.ws.close();
});

test("a client that never finishes its handshake is closed", async () => {
  const ws = await raw(`/hubs/chat?access_token=${token(unique("ana"))}`, { handshake: null });
  const started = Date.now();
  await ws.whenClosed;
  const waited = Date.now() - started;
  assert.ok(waited >= 600 && waited < 5000, `closed after ${waited} ms`);
});

test("idle connections are pinged, and silent clients are closed with a reason", async () => {
  const ws = await raw(`/hubs/chat?access_token=${token(unique("ana"))}`);
  assert.deepEqual(await ws.next(), {});
  assert.deepEqual(await ws.next((m) => m.type === 6, 2000), { type: 6 });
  // This client never pings back: after the client timeout it is told why and closed.
  const close = await ws.next((m) => m.type === 7, 5000);
  assert.match(close.error, /timeout/i);
  assert.equal(close.allowReconnect, true);
  await ws.whenClosed;
});

test("a client that keeps pinging stays connected", async () => {
  const ws = await raw(`/hubs/chat?access_token=${token(unique("ana"))}`);
  await ws.next();
  for (let i = 0; i < 6; i++) {
    ws.send({ type: 6 });
    await sleep(400);
  }
  assert.equal(ws.closed(), false);
  assert.equal(ws.frames.filter((m) => m.type === 7).length, 0);
  ws.ws.close();
});

test("unknown methods and bad arguments are answered, and the connection goes on", async () => {
  const a = unique("ana");
  const t = await people(server, a);
  const id = await conversation(server, t[a], []);
  const ws = await raw(`/hubs/chat?access_token=${t[a]}`);
  await ws.next();
  ws.send({ type: 1, invocationId: "1", target: "NoSuchThing", arguments: [] });
  assert.deepEqual(await ws.next((m) => m.invocationId === "1"), { type: 3, invocationId: "1", error: "Unknown hub method 'NoSuchThing'" });
  ws.send({ type: 1, invocationId: "2", target: "joinconversation", arguments: [id, "extra"] });
  assert.match((await ws.next((m) => m.invocationId === "2")).error, /provides 2 argument\(s\) but target expects 1/);
  ws.send({ type: 1, invocationId: "3", target: "SendMessage", arguments: ["not an object"] });
  const wrongType = await ws.next((m) => m.invocationId === "3");
  assert.equal(wrongType.result.success, false);
  assert.equal(wrongType.result.errorCode, "VALIDATION");
  ws.send({ type: 1, invocationId: "4", target: "StartTyping", arguments: [42] });
  assert.match((await ws.next((m) => m.invocationId === "4")).error, /Error binding argument 1/);
  // Fire-and-forget invocations of unknown methods get no answer, and harm nothing.
  ws.send({ type: 1, target: "AlsoUnknown", arguments: [] });
  ws.send({ type: 4, invocationId: "5", target: "SendMessage", arguments: [] });
  assert.match((await ws.next((m) => m.invocationId === "5")).error, /non-streaming/);
  // Method names match whatever their case.
  ws.send({ type: 1, invocationId: "6", target: "SENDMESSAGE", arguments: [{ conversationId: id, blocks: text("still here") }] });
  const sent = await ws.next((m) => m.invocationId === "6");
  assert.equal(sent.result.success, true);
  assert.equal(ws.closed(), false);
  ws.ws.close();
});

test("an oversized message is answered with an error and others are not disturbed", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ana = await connect(server, "chat", t[a]);
  const ben = await connect(server, "chat", t[b]);
  const received = collect(ben, "messageReceived");
  await ben.invoke("JoinConversation", id);
  const huge = "x".repeat(40 * 1024);
  await assert.rejects(ana.invoke("SendMessage", { conversationId: id, blocks: text(huge) }), /larger than the 32768 bytes/);
  const ok = await ana.invoke("SendMessage", { conversationId: id, blocks: text("small") });
  assert.equal(ok.success, true);
  assert.equal((await received.next()).plainTextContent, "small");
  assert.equal(received.seen.length, 0, "the oversized message was never stored or delivered");
  await Promise.all([ana.stop(), ben.stop()]);
});

/**
 * Ana and Ben in a conversation, Ben listening on the chat hub. `stillHeard()` has Ana send over
 * REST and waits for Ben to hear it: whatever Ana's own hub connection did, others are unharmed.
 */
async function bystander() {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ben = await connect(server, "chat", t[b]);
  const received = collect(ben, "messageReceived");
  await ben.invoke("JoinConversation", id);
  const stillHeard = async () => {
    const sent = await server.api("POST", `/api/conversations/${id}/messages`, t[a], { blocks: text("others unharmed") });
    assert.equal(sent.status, 201);
    assert.equal((await received.next((m) => m.id === sent.body.id, 15000)).plainTextContent, "others unharmed");
    await ben.stop();
  };
  return { anaToken: t[a], id, stillHeard };
}

test("garbage closes only the connection that sent it", async () => {
  const { anaToken, stillHeard } = await bystander();
  const bad = await raw(`/hubs/chat?access_token=${anaToken}`);
  await bad.next();
  bad.sendRaw("this is not json" + RS);
  const close = await bad.next((m) => m.type === 7);
  assert.match(close.error, /InvalidDataException/);
  await bad.whenClosed;
  await stillHeard();
});

test("a client that sends far faster than its messages are handled is closed with a reason, and only it", async () => {
  const { anaToken, id, stillHeard } = await bystander();
  const flood = await raw(`/hubs/chat?access_token=${anaToken}`);
  await flood.next();
  // 3 MiB of sends at once: each is a commit, so most of them wait, past the 2 MiB a
  // connection may have waiting.
  const body = "y".repeat(2048);
  for (let i = 0; i < 1536; i++) {
    flood.send({ type: 1, invocationId: String(i), target: "SendMessage", arguments: [{ conversationId: id, blocks: text(body) }] });
  }
  const close = await flood.next((m) => m.type === 7, 15000);
  assert.match(close.error, /faster than the server could handle/);
  await flood.whenClosed;
  await stillHeard();
});

test("skipNegotiation WebSockets connect straight to the hub", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const ben = await connect(server, "chat", t[b], { skipNegotiation: true });
  const received = collect(ben, "messageReceived");
  await ben.invoke("JoinConversation", id);
  await server.api("POST", `/api/conversations/${id}/messages`, t[a], { blocks: text("direct") });
  assert.equal((await received.next()).plainTextContent, "direct");
  await ben.stop();
});
