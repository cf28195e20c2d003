// The ChatOmni inbox of seed 000 on `/chatomni`, with the official socket.io-client over
// WebSocket and over long polling: room and `auth` handshake, the password grant, and Facebook
// page comments and messages posted through the connector bridge.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, token, sleep } from "../lib/harness.mjs";
import {
  TRANSPORTS, createChannel, ingest, postEvents, unique, chatomniSocket, chatomni, authenticate, parsed,
  passwordGrant,
} from "../lib/channels.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

const PAGE = "270136663390370";
const POST = `${PAGE}_759214013141302`;
const agentOf = (tenant) => token(`agent-of-${tenant}`, { role: "agent", tenant, name: "Agent" });

/** A page comment as a Facebook connector reports it (seed 000's first example). */
function pageComment(psid, commentId, text, extra = {}) {
  return {
    kind: "message", externalChatId: psid, isGroup: false, externalMessageId: commentId,
    fromMe: false, from: psid, fromName: "Hoa Phượng", text, messageType: "comment",
    objectId: POST, parentId: POST, timestamp: "2025-12-19T21:22:31+07:00",
    raw: { id: commentId, message: text, created_time: "2025-12-19T21:22:31+07:00",
      from: { id: psid, name: "Hoa Phượng" }, parent_id: POST, post_id: POST },
    ...extra,
  };
}

for (const transports of TRANSPORTS) {
  const over = `over ${transports[0]}`;

  test(`auth {token} authenticates agents of the room's tenant and refuses everyone else ${over}`, async () => {
    const room = unique("tenant-");
    const good = await chatomniSocket(server, room, transports);
    const [answer, data] = await authenticate(good, { token: agentOf(room) });
    assert.equal(answer, "authenticated", JSON.stringify(data));
    assert.equal(data.room, room);

    for (const [payload, code] of [
      [{ token: agentOf(unique("other-")) }, "FORBIDDEN"],
      [{ token: token("u", { role: "user", tenant: room }) }, "FORBIDDEN"],
      [{ token: "garbage" }, "UNAUTHORIZED"],
      [{ nothing: true }, "VALIDATION"],
      [42, "VALIDATION"],
    ]) {
      const socket = await chatomniSocket(server, room, transports);
      const disconnected = new Promise((ok) => socket.once("disconnect", ok));
      const [refused, why] = await authenticate(socket, payload);
      assert.equal(refused, "unauthorized", JSON.stringify(payload));
      assert.equal(why.code, code, JSON.stringify(why));
      assert.ok(why.message.length > 0);
      assert.equal(await disconnected, "io server disconnect");
    }
    const roomless = await chatomniSocket(server, undefined, transports);
    const [refused, why] = await authenticate(roomless, { token: agentOf(room) });
    assert.equal(refused, "unauthorized");
    assert.match(why.message, /room/);

    assert.ok(good.connected, "the refusals disconnected nobody else");
    good.close();
  });

  test(`a page comment reaches the tenant's authenticated sockets in the seed's shape ${over}`, async () => {
    const room = unique("tomato-");
    const page = await createChannel(server, room, { type: "facebook", name: "Shop", externalId: unique(PAGE) });
    const agent = await chatomni(server, room, agentOf(room), transports);
    const unauthenticated = await chatomniSocket(server, room, transports);
    const otherRoom = unique("other-");
    const stranger = await chatomni(server, otherRoom, agentOf(otherRoom), transports);
    try {
      const psid = unique("948431901");
      const commentId = `759214013141302_${unique("6814")}`;
      const stored = await ingest(server, page, pageComment(psid, commentId, "lv do"));

      const raw = await agent.log.next("on-events");
      const event = parsed(raw);
      assert.deepEqual(Object.keys(event).sort(), ["Conversation", "EventName", "Message"]);
      assert.equal(event.EventName, "chatomni.on-message");
      const c = event.Conversation;
      assert.deepEqual(Object.keys(c).sort(),
        ["ChannelId", "ChannelType", "HasAddress", "HasPhone", "Id", "Name", "UpdatedTime", "UserId"]);
      assert.equal(c.Id, stored.conversationId);
      assert.equal(c.ChannelType, 4);
      assert.equal(c.ChannelId, page.body.externalId);
      assert.equal(c.UserId, psid);
      assert.equal(c.Name, "Hoa Phượng");
      assert.equal(c.HasPhone, false);
      assert.equal(c.HasAddress, false);
      assert.match(c.UpdatedTime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);

      const m = event.Message;
      assert.deepEqual(Object.keys(m).sort(), [
        "ChannelCreatedTime", "ChannelId", "ChannelType", "ContentType", "CreatedBy", "CreatedById", "CreatedTime",
        "Data", "Id", "IsOwner", "Message", "MessageType", "ObjectId", "ParentId", "UserId",
      ]);
      assert.equal(m.Id, stored.messageId);
      assert.equal(m.ChannelType, 4);
      assert.equal(m.ChannelId, page.body.externalId);
      assert.equal(m.UserId, psid);
      assert.equal(m.Message, "lv do");
      assert.equal(m.MessageType, 12);
      assert.equal(m.ContentType, null);
      assert.equal(m.ObjectId, POST);
      assert.equal(m.ParentId, null, "a top-level comment's parent is its post");
      assert.equal(m.IsOwner, false);
      assert.equal(m.CreatedById, null);
      assert.equal(m.CreatedBy, null);
      assert.equal(m.ChannelCreatedTime, "2025-12-19T14:22:31.000Z");
      assert.deepEqual(m.Data, {
        id: commentId, parent: { id: POST }, is_hidden: false, can_hide: false, can_remove: false,
        can_like: false, can_reply_privately: false, comment_count: 0, message: "lv do", user_likes: false,
        created_time: "2025-12-19T21:22:31+07:00", object: { id: POST },
        from: { id: psid, name: "Hoa Phượng", uid: null }, comments: null, attachment: null,
        message_tags: [], status: 0,
      });

      const created = parsed(await agent.log.next("on-messages"));
      assert.equal(created.EventName, "MessageCreated");
      assert.equal(created.Message.Id, stored.messageId);
      const conversations = parsed(await agent.log.next("on-conversations"));
      assert.equal(conversations.EventName, "ConversationCreated");
      assert.equal(conversations.Conversation.Id, stored.conversationId);
      assert.equal(parsed(await agent.log.next("update")).Conversation.Id, stored.conversationId);
      const note = parsed(await agent.log.next("notification"));
      assert.equal(note.EventName, "NewMessage");
      assert.equal(note.Body, "lv do");
      assert.deepEqual(agent.log.names().filter((n) => n !== "authenticated").slice(0, 5),
        ["on-events", "on-messages", "on-conversations", "update", "notification"]);

      // A reply to the comment in the same thread: the conversation was there already.
      const reply = pageComment(psid, `759214013141302_${unique("7")}`, "Vl đõ zie 1 Va zie 3", {
        parentId: commentId,
      });
      await ingest(server, page, reply);
      const threaded = parsed(await agent.log.next("on-events", (v) => parsed(v).Message.Message.startsWith("Vl")));
      assert.equal(threaded.Message.ParentId, commentId);
      assert.equal(threaded.Message.Data.parent.id, commentId);
      assert.equal(parsed(await agent.log.next("on-conversations")).EventName, "ConversationUpdated");

      await sleep(300);
      assert.deepEqual(unauthenticated.log.names(), [], "sockets that did not authenticate hear nothing");
      assert.deepEqual(stranger.log.names().filter((n) => n !== "authenticated"), [], "another tenant hears nothing");
    } finally {
      agent.close();
      unauthenticated.close();
      stranger.close();
    }
  });

  test(`page messages and agent replies: IsOwner, CreatedBy and the outbox ${over}`, async () => {
    const room = unique("tomato-");
    const page = await createChannel(server, room, { type: "facebook", name: "Shop", externalId: unique(PAGE) });
    const jwt = agentOf(room);
    const socket = await chatomni(server, room, jwt, transports);
    try {
      const psid = unique("186578028");
      const stored = await ingest(server, page, {
        kind: "message", externalChatId: psid, externalMessageId: unique("m_"), from: psid,
        fromName: "Buoi Nguyen Thi", text: "còn hàng không?", messageType: "text",
        raw: { mid: "m_1", text: "còn hàng không?" },
      });
      const inbound = parsed(await socket.log.next("on-events"));
      assert.equal(inbound.Message.MessageType, 11);
      assert.equal(inbound.Message.ObjectId, null);
      assert.deepEqual(inbound.Message.Data, { mid: "m_1", text: "còn hàng không?" }, "a message's Data is its raw object");
      assert.equal(inbound.Conversation.Name, "Buoi Nguyen Thi");

      const reply = await server.api("POST", `/api/conversations/${stored.conversationId}/messages`, jwt, {
        blocks: [{ $type: "text", format: "Plain", content: "Dạ còn ạ" }],
      });
      assert.equal(reply.status, 201, JSON.stringify(reply.body));
      const owner = parsed(await socket.log.next("on-events", (v) => parsed(v).Message.IsOwner));
      assert.equal(owner.Message.Id, reply.body.id);
      assert.equal(owner.Message.Message, "Dạ còn ạ");
      assert.equal(owner.Message.CreatedById, `agent-of-${room}`);
      assert.deepEqual(owner.Message.CreatedBy, { Id: `agent-of-${room}`, Name: "Agent" });
      const outbox = await server.api("GET", `/api/connectors/${page.id}/outbox`, page.key);
      assert.deepEqual(outbox.body.items.map((e) => [e.text, e.externalChatId]), [["Dạ còn ạ", psid]]);

      // The customer got the page's public profile picture.
      const sender = (await server.api("GET", `/api/conversations/${stored.conversationId}/messages`, jwt)).body.items
        .find((x) => x.id === stored.messageId).senderId;
      const customer = await server.api("GET", `/api/participants/${sender}`, jwt);
      assert.equal(customer.body.avatar.url,
        `https://platform-lookaside.fbsbx.com/platform/profilepic/?psid=${psid}&height=200&width=200`);
    } finally {
      socket.close();
    }
  });
}

test("the dashboard logs in with the password grant and its token opens the room", async () => {
  const room = unique("tomato.tpos.vn-");
  const admin = token("boss", { role: "admin", tenant: room });
  const username = unique("linh");
  const made = await server.api("POST", "/api/admin/users", admin, { username, password: "mật khẩu dài", role: "agent", name: "Linh" });
  assert.equal(made.status, 201, JSON.stringify(made.body));
  const taken = await server.api("POST", "/api/admin/users", admin, { username, password: "another password" });
  assert.equal(taken.status, 409);

  const refused = await passwordGrant(server, { client_id: "tmtWebApp", grant_type: "password", username, password: "wrong" });
  assert.deepEqual([refused.status, refused.body.error], [400, "invalid_grant"]);
  const unsupported = await passwordGrant(server, { grant_type: "authorization_code", code: "x" });
  assert.deepEqual([unsupported.status, unsupported.body.error], [400, "unsupported_grant_type"]);

  const granted = await passwordGrant(server, { client_id: "tmtWebApp", grant_type: "password", username, password: "mật khẩu dài" });
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  assert.deepEqual(Object.keys(granted.body).sort(), ["access_token", "expires_in", "token_type"]);
  assert.equal(granted.body.token_type, "bearer");

  const socket = await chatomniSocket(server, room, ["websocket"]);
  const [answer] = await authenticate(socket, { token: granted.body.access_token });
  assert.equal(answer, "authenticated");
  socket.close();
  const elsewhere = await chatomniSocket(server, unique("other-"), ["websocket"]);
  const [no, why] = await authenticate(elsewhere, { token: granted.body.access_token });
  assert.deepEqual([no, why.code], ["unauthorized", "FORBIDDEN"], "a token opens its own tenant's room only");
});

test("a bad connector batch changes nothing and the dashboards stay connected", async () => {
  const room = unique("tomato-");
  const page = await createChannel(server, room, { type: "facebook", name: "Shop", externalId: unique(PAGE) });
  const socket = await chatomni(server, room, agentOf(room), ["websocket"]);
  try {
    const bad = await postEvents(server, page, [
      pageComment(unique("1"), unique("c_"), "fine"),
      pageComment(unique("2"), unique("c_"), "x".repeat(20_000)),
    ]);
    assert.equal(bad.status, 400);
    assert.deepEqual(bad.body.errors.map((e) => e.code), ["[1].text"]);
    await sleep(300);
    assert.deepEqual(socket.log.names().filter((n) => n !== "authenticated"), [], "nothing was stored, so nothing is announced");
    assert.ok(socket.connected);
  } finally {
    socket.close();
  }
});
