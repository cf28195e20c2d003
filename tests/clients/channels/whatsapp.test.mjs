// The WhatsApp dashboard of seed 004 on the default namespace, with the official
// socket.io-client over WebSocket and over long polling, fed by a connector over HTTP.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, token, sleep } from "../lib/harness.mjs";
import {
  TRANSPORTS, createChannel, postEvents, ingest, unique, whatsappText, whatsappSocket,
} from "../lib/channels.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

const agentOf = (tenant) => token(`agent-of-${tenant}`, { role: "agent", tenant, name: "Agent" });

for (const transports of TRANSPORTS) {
  const over = `over ${transports[0]}`;

  test(`a connection without a valid auth.token is refused in the handshake ${over}`, async () => {
    for (const [authToken, reason] of [
      [undefined, /Unauthorized/],
      ["not-a-jwt", /Unauthorized/],
      [token("someone", { role: "user", tenant: "acme" }), /Forbidden/],
    ]) {
      const refused = await whatsappSocket(server, authToken, transports).then(
        (s) => { s.close(); return null; },
        (e) => e,
      );
      assert.ok(refused, `a socket with ${authToken} was let in`);
      assert.match(refused.message, reason);
      assert.equal(refused.everConnected, false, "refused in the handshake, never connected first");
    }
    const socket = await whatsappSocket(server, agentOf("acme"), transports);
    assert.ok(socket.connected);
    socket.close();
  });

  test(`a new message reaches the company's dashboards, then its chat update ${over}`, async () => {
    const company = unique("company-");
    const channel = await createChannel(server, company, { type: "whatsapp", name: "Main" });
    const mine = await whatsappSocket(server, agentOf(company), transports);
    const theirs = await whatsappSocket(server, agentOf(unique("other-")), transports);
    try {
      const number = `${unique("7707")}@c.us`;
      const event = whatsappText(number, "Привет! Как дела?");
      const stored = await ingest(server, channel, event);

      const news = await mine.log.next("whatsapp:new-message");
      assert.deepEqual(Object.keys(news).sort(), ["chat", "companyId", "message", "sessionId"]);
      assert.equal(news.sessionId, channel.id);
      assert.equal(news.companyId, company);
      assert.deepEqual(news.chat, {
        id: stored.conversationId, chatId: number, chatName: "Солнышко мое 😊", chatType: "individual",
        isGroup: false, lastMessageAt: "2025-07-16T11:13:54.000Z", lastMessageText: "Привет! Как дела?",
        unreadCount: 1,
      });
      assert.deepEqual(news.message, {
        id: stored.messageId, messageId: event.externalMessageId, fromMe: false, fromNumber: number,
        fromName: "Солнышко мое 😊", body: "Привет! Как дела?", messageType: "chat",
        timestamp: "2025-07-16T11:13:54.000Z",
      });
      const updated = await mine.log.next("whatsapp:chat-updated");
      assert.deepEqual(updated, {
        sessionId: channel.id, companyId: company, chatId: stored.conversationId,
        lastMessageAt: "2025-07-16T11:13:54.000Z", lastMessageText: "Привет! Как дела?", unreadCount: 1,
      });
      assert.deepEqual(mine.log.names(), ["whatsapp:new-message", "whatsapp:chat-updated"], "new-message comes first");

      // A second message counts as unread too.
      await ingest(server, channel, whatsappText(number, "Ты тут?"));
      const second = await mine.log.next("whatsapp:chat-updated", (u) => u.unreadCount === 2);
      assert.equal(second.lastMessageText, "Ты тут?");

      await sleep(300);
      assert.deepEqual(theirs.log.names(), [], "another company hears nothing");
    } finally {
      mine.close();
      theirs.close();
    }
  });

  test(`status broadcasts, notifications and empty messages are never emitted ${over}`, async () => {
    const company = unique("company-");
    const channel = await createChannel(server, company, { type: "whatsapp", name: "Main" });
    const socket = await whatsappSocket(server, agentOf(company), transports);
    try {
      const number = `${unique("7701")}@c.us`;
      const quiet = await postEvents(server, channel, [
        whatsappText("status@broadcast", "my holiday", { from: number, messageType: "image" }),
        whatsappText(number, "security code changed", { messageType: "notification" }),
        whatsappText(number, "", { messageType: "chat" }),
        whatsappText(number, "   "),
      ]);
      assert.equal(quiet.status, 200, JSON.stringify(quiet.body));
      assert.deepEqual(quiet.body.results.map((r) => [r.kind, r.shown, r.duplicate]), [
        ["message", false, false], ["message", false, false], ["message", false, false], ["message", false, false],
      ]);
      await ingest(server, channel, whatsappText(number, "a real one"));
      const news = await socket.log.next("whatsapp:new-message");
      assert.equal(news.message.body, "a real one");
      assert.equal(news.chat.unreadCount, 1, "hidden messages are not unread");
      await socket.log.next("whatsapp:chat-updated");
      await sleep(200);
      assert.deepEqual(socket.log.names(), ["whatsapp:new-message", "whatsapp:chat-updated"]);
    } finally {
      socket.close();
    }
  });

  test(`reading a chat and replying to it send chat-updated; replies go to the outbox ${over}`, async () => {
    const company = unique("company-");
    const channel = await createChannel(server, company, { type: "whatsapp", name: "Main" });
    const agent = agentOf(company);
    const socket = await whatsappSocket(server, agent, transports);
    try {
      const number = `${unique("7702")}@c.us`;
      const stored = await ingest(server, channel, whatsappText(number, "hello?"));
      await socket.log.next("whatsapp:chat-updated", (u) => u.unreadCount === 1);

      const read = await server.api("POST", `/api/whatsapp/sessions/${channel.id}/chats/${stored.conversationId}/read`, agent, {});
      assert.equal(read.status, 200, JSON.stringify(read.body));
      const cleared = await socket.log.next("whatsapp:chat-updated", (u) => u.unreadCount === 0);
      assert.equal(cleared.chatId, stored.conversationId);
      assert.equal(socket.log.names().filter((n) => n === "whatsapp:new-message").length, 1, "reading sends no message");

      const reply = await server.api("POST", `/api/conversations/${stored.conversationId}/messages`, agent, {
        blocks: [{ $type: "text", format: "Plain", content: "Здравствуйте!" }],
      });
      assert.equal(reply.status, 201);
      const mine = await socket.log.next("whatsapp:new-message", (m) => m.message.fromMe);
      assert.equal(mine.message.id, reply.body.id);
      assert.equal(mine.message.body, "Здравствуйте!");
      assert.equal(mine.message.messageId, null, "not on WhatsApp yet");
      const outbox = await server.api("GET", `/api/connectors/${channel.id}/outbox`, channel.key);
      assert.deepEqual(outbox.body.items.map((e) => [e.messageId, e.text, e.externalChatId]), [
        [reply.body.id, "Здравствуйте!", number],
      ]);
    } finally {
      socket.close();
    }
  });

  test(`session events reach the company only ${over}`, async () => {
    const company = unique("company-");
    const channel = await createChannel(server, company, { type: "whatsapp", name: "Main" });
    const mine = await whatsappSocket(server, agentOf(company), transports);
    const theirs = await whatsappSocket(server, agentOf(unique("other-")), transports);
    try {
      await ingest(server, channel, { kind: "session", state: "qr", qrCode: "data:image/png;base64,iVBORw0KGg" });
      assert.deepEqual(await mine.log.next("whatsapp:qr-updated"), {
        sessionId: channel.id, qrCode: "data:image/png;base64,iVBORw0KGg",
      });
      await ingest(server, channel, { kind: "session", state: "connected", phoneNumber: "+77079856339", displayName: "Мой WhatsApp" });
      assert.deepEqual(await mine.log.next("whatsapp:session-connected"), {
        sessionId: channel.id, phoneNumber: "+77079856339", displayName: "Мой WhatsApp",
      });
      await ingest(server, channel, { kind: "session", state: "disconnected", reason: "client_logout" });
      assert.deepEqual(await mine.log.next("whatsapp:session-disconnected"), {
        sessionId: channel.id, reason: "client_logout",
      });
      await sleep(200);
      assert.deepEqual(theirs.log.names(), []);
    } finally {
      mine.close();
      theirs.close();
    }
  });

  test(`bad connector payloads are answered clearly and nobody is disconnected ${over}`, async () => {
    const company = unique("company-");
    const channel = await createChannel(server, company, { type: "whatsapp", name: "Main" });
    const socket = await whatsappSocket(server, agentOf(company), transports);
    try {
      const bad = await postEvents(server, channel, [{ kind: "message", externalChatId: "1@c.us" }, { kind: "dance" }]);
      assert.equal(bad.status, 400);
      assert.deepEqual(bad.body.errors.map((e) => e.code), ["[0].externalMessageId", "[1].kind"]);
      // A dashboard that emits something of its own is ignored, not dropped.
      socket.emit("whatsapp:new-message", { nonsense: true });
      socket.emit("anything", "at all");
      await sleep(200);
      assert.ok(socket.connected);
      await ingest(server, channel, whatsappText(`${unique("7703")}@c.us`, "still here"));
      assert.equal((await socket.log.next("whatsapp:new-message")).message.body, "still here");
    } finally {
      socket.close();
    }
  });
}

test("the chat list of seed 004 leaves groups out unless asked", async () => {
  const company = unique("company-");
  const channel = await createChannel(server, company, { type: "whatsapp", name: "Main" });
  const agent = agentOf(company);
  await ingest(server, channel, whatsappText(`${unique("7704")}@c.us`, "one to one"));
  await ingest(server, channel, {
    kind: "message", externalChatId: `${unique("1203")}@g.us`, chatName: "Family", isGroup: true,
    externalMessageId: unique("g."), from: "7705@c.us", fromName: "Mom", text: "dinner?", messageType: "chat",
  });
  const list = async (query) => {
    const r = await server.api("GET", `/api/whatsapp/sessions/${channel.id}/chats${query}`, agent);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body.items.map((c) => c.chatType).sort();
  };
  assert.deepEqual(await list(""), ["individual"]);
  assert.deepEqual(await list("?includeGroups=false"), ["individual"]);
  assert.deepEqual(await list("?includeGroups=true"), ["group", "individual"]);
  assert.deepEqual(await list("?chatType=all"), ["group", "individual"]);
  assert.deepEqual(await list("?chatType=group"), ["group"]);
  assert.deepEqual(await list("?chatType=individual"), ["individual"]);
});
