// Bad input on /support is answered with ERROR on that socket only (missing fields, wrong types,
// unknown or foreign tickets, oversized messages), and tenants never hear of each other — over
// WebSocket and long polling.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../lib/harness.mjs";
import { SERVER_EVENTS, TRANSPORTS, connectSupport, openTicket, someone, userToken, adminToken } from "../lib/support.mjs";

let server;
before(async () => {
  server = await startServer({ config: "[limits]\nmax_text_chars = 2000\nmax_ticket_title_chars = 50\nmax_ticket_attachments = 2\n" });
});
after(async () => { await server.close(); });

for (const transport of TRANSPORTS) {
  describe(`over ${transport}`, () => {
    const connect = (token, options = {}) => connectSupport(server, { token, transport, ...options });

    test("bad payloads get ERROR with an HTTP-like code; the socket and everyone else carry on", async () => {
      const ana = someone("ana");
      const [user, admin, bystander] = await Promise.all([
        connect(userToken(ana)), connect(adminToken(someone("boss"))), connect(userToken(someone("ben"))),
      ]);
      const ticket = await openTicket(user);
      const bens = await openTicket(bystander);
      const unknown = "01JRZ0000000000000000000AA";
      const cases = [
        // [event, payload, code, a word the message names]
        ["CREATE_TICKET", { category: "GENERAL", message: "no title" }, 400, "title"],
        ["CREATE_TICKET", { title: "t", category: "GENERAL" }, 400, "message"],
        ["CREATE_TICKET", { title: "t", message: 5 }, 400, "message"],
        ["CREATE_TICKET", { title: "t", message: "m", category: "URGENT_STUFF" }, 400, "category"],
        ["CREATE_TICKET", { title: "t", message: "m", priority: "NOW" }, 400, "priority"],
        ["CREATE_TICKET", { title: "t", message: "m", attachments: "https://x.example/a" }, 400, "attachments"],
        ["CREATE_TICKET", { title: "t", message: "m", attachments: ["javascript:alert(1)"] }, 400, "attachments[0]"],
        ["CREATE_TICKET", { title: "   ", message: "m" }, 400, "title"],
        ["CREATE_TICKET", "just a string", 400, "payload"],
        ["CREATE_TICKET", undefined, 400, "payload"],
        ["CREATE_TICKET", { title: "x".repeat(51), message: "m" }, 413, "title"],
        ["CREATE_TICKET", { title: "t", message: "m", attachments: ["https://a.example/1", "https://a.example/2", "https://a.example/3"] }, 413, "attachments"],
        ["SEND_MESSAGE", { message: "where to?" }, 400, "ticketId"],
        ["SEND_MESSAGE", { ticketId: ticket.id }, 400, "message"],
        ["SEND_MESSAGE", { ticketId: 42, message: "m" }, 400, "ticketId"],
        ["SEND_MESSAGE", { ticketId: ticket.id, message: "" }, 400, "message"],
        ["SEND_MESSAGE", { ticketId: ticket.id, message: "x".repeat(2001) }, 413, "message"],
        ["SEND_MESSAGE", { ticketId: unknown, message: "m" }, 404, unknown],
        ["SEND_MESSAGE", { ticketId: "x".repeat(300), message: "m" }, 400, "ticketId"],
        ["SEND_MESSAGE", { ticketId: bens.id, message: "not mine" }, 403, "requester"],
        ["JOIN_ROOM", { ticketId: unknown }, 404, unknown],
        ["JOIN_ROOM", { ticketId: bens.id }, 403, "requester"],
        ["JOIN_ROOM", [1, 2], 400, "payload"],
        ["TYPING_START", {}, 400, "ticketId"],
        ["TYPING_END", { ticketId: unknown }, 404, unknown],
        ["MARK_AS_READ", { ticketId: ticket.id, messageId: unknown }, 404, unknown],
        ["MARK_AS_READ", { ticketId: ticket.id, messageId: 7 }, 400, "messageId"],
        ["LOAD_MORE_MESSAGES", { ticketId: ticket.id, page: 0, limit: 20 }, 400, "page"],
        ["LOAD_MORE_MESSAGES", { ticketId: ticket.id, page: 1, limit: 1000 }, 400, "limit"],
        ["LOAD_MORE_MESSAGES", { ticketId: ticket.id, page: "two" }, 400, "page"],
        ["LOAD_MORE_MESSAGES", { ticketId: bens.id, page: 1 }, 403, "requester"],
      ];
      for (const [i, [event, payload, code, word]] of cases.entries()) {
        // A good event now and then: twenty bad ones in a row would close the socket (below).
        if (i % 10 === 9) user.emit("TYPING_END", { ticketId: ticket.id });
        if (payload === undefined) user.emit(event);
        else user.emit(event, payload);
        const error = await user.next("ERROR").catch((e) => assert.fail(`${event} ${JSON.stringify(payload)}: ${e.message}`));
        assert.deepEqual(Object.keys(error).sort(), ["area", "code", "event", "message"]);
        assert.equal(error.area, "SUPPORT_TICKET");
        assert.equal(error.event, event);
        assert.equal(error.code, code, `${event} ${JSON.stringify(payload)?.slice(0, 80)}: ${error.message}`);
        assert.ok(error.message.includes(word), `${event}: '${error.message}' should name ${word}`);
      }
      // Nobody else heard a thing, and nothing was stored.
      await bystander.none("ERROR", 200);
      await admin.none("ERROR", 0);
      await bystander.none("NEW_MESSAGE", 0, (m) => m.ticketId === bens.id && m.messages[0].message !== "It does not work");
      user.emit("LOAD_MORE_MESSAGES", { ticketId: ticket.id, page: 1, limit: 50 });
      assert.equal((await user.next("NEW_MESSAGE", (m) => m.page === 1)).messages.length, 1);
      admin.emit("JOIN_ROOM", {});
      const all = await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === ticket.id));
      assert.equal(all.filter((t) => t.user_id === ana).length, 1, "no ticket was opened by the bad events");

      // The socket is still connected and works, and so is everyone else's.
      assert.equal(user.socket.connected, true);
      user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "all good now" });
      await user.next("NEW_MESSAGE", (m) => m.messages[0].message === "all good now");
      bystander.emit("SEND_MESSAGE", { ticketId: bens.id, message: "me too" });
      await bystander.next("NEW_MESSAGE", (m) => m.messages[0].message === "me too");
      for (const c of [user, admin, bystander]) c.close();
    });

    test("a socket that keeps sending bad events is disconnected; others are not", async () => {
      const [noisy, calm] = await Promise.all([connect(userToken(someone("noisy"))), connect(userToken(someone("calm")))]);
      const closed = new Promise((ok) => noisy.socket.on("disconnect", ok));
      for (let i = 0; i < 20; i++) noisy.emit("SEND_MESSAGE", { nope: i });
      await closed;
      assert.equal(noisy.seen.ERROR.length, 20);
      assert.ok(noisy.seen.ERROR.every((e) => e.code === 400));
      assert.equal(calm.socket.connected, true);
      await openTicket(calm);
      calm.close();
    });

    test("events beyond a socket's queue get ERROR 429, the others are handled in order, unknown ones are ignored", async () => {
      const user = await connect(userToken(someone("eager")));
      const ticket = await openTicket(user);
      user.emit("NO_SUCH_EVENT", { ticketId: ticket.id });
      const sent = 300;
      for (let page = 1; page <= sent; page++) user.emit("LOAD_MORE_MESSAGES", { ticketId: ticket.id, page, limit: 1 });
      const pages = () => user.seen.NEW_MESSAGE.filter((m) => m.page !== undefined).map((m) => m.page);
      // Every event is handled or refused, but a refusal can itself be dropped: a burst this
      // fast also fills the socket's outgoing buffer. So wait for the last page, or a quiet spell.
      let heard = -1;
      while (pages().length + user.seen.ERROR.length !== heard && !pages().includes(sent)) {
        heard = pages().length + user.seen.ERROR.length;
        await new Promise((ok) => setTimeout(ok, 500));
      }
      const refused = user.seen.ERROR;
      const handled = pages();
      assert.ok(handled.length + refused.length <= sent);
      assert.ok(refused.length > 0, "a burst of 300 overflows the queue of 64");
      for (const e of refused) {
        assert.equal(e.code, 429);
        assert.equal(e.event, "LOAD_MORE_MESSAGES");
        assert.ok(e.message.includes("64"), e.message);
      }
      assert.deepEqual(handled, [...handled].sort((a, b) => a - b), "handled in the order sent");
      assert.ok(handled.length > 0, "the events that fit in the queue are handled");
      assert.equal(user.socket.connected, true);
      user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "still here" });
      await user.next("NEW_MESSAGE", (m) => m.messages[0]?.message === "still here");
      user.close();
    });

    test("a socket of another tenant receives nothing of this tenant", async () => {
      const spies = await Promise.all([
        connect(adminToken(someone("spy"), "other")),
        connect(userToken("ana", "other")), // the same user id, another tenant
        connect(undefined, { auth: { tenant: "other" } }),
      ]);
      const [user, admin] = await Promise.all([connect(userToken("ana")), connect(adminToken(someone("boss")))]);
      const ticket = await openTicket(user);
      admin.emit("JOIN_ROOM", { ticketId: ticket.id });
      await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === ticket.id));
      user.emit("TYPING_START", { ticketId: ticket.id });
      admin.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "hi" });
      await user.next("NEW_MESSAGE", (m) => m.messages[0].message === "hi");
      user.emit("MARK_AS_READ", { ticketId: ticket.id });
      await user.next("UNREAD_COUNT", (u) => !u.isNew);
      const status = await server.api("POST", `/api/admin/tickets/${ticket.id}/status`, adminToken("boss"), { status: "RESOLVED" });
      assert.equal(status.status, 200);
      await user.next("STATUS_CHANGED", (s) => s.currentStatus === "RESOLVED");
      // A spy cannot reach the ticket either.
      spies[0].emit("JOIN_ROOM", { ticketId: ticket.id });
      assert.equal((await spies[0].next("ERROR")).code, 404);
      spies[1].emit("SEND_MESSAGE", { ticketId: ticket.id, message: "let me in" });
      assert.equal((await spies[1].next("ERROR")).code, 404);
      await new Promise((ok) => setTimeout(ok, 300));
      for (const spy of spies) {
        for (const event of SERVER_EVENTS) {
          const heard = event === "TICKET_LIST" ? spy.seen[event].flat() : spy.seen[event];
          assert.deepEqual(heard, [], `${event} crossed tenants`);
        }
      }
      for (const c of [...spies, user, admin]) c.close();
    });
  });
}
