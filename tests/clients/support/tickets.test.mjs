// The support desk of seed 001 with the official socket.io-client, over WebSocket and long
// polling: opening tickets, the ticket list, replies and their status changes, unread counts per
// side, read receipts, typing, history pages, rooms, and what the admin REST API and REST replies
// announce on /support.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, text } from "../lib/harness.mjs";
import {
  TRANSPORTS, TICKET_KEYS, MESSAGE_KEYS, connectSupport, openTicket, someone, userToken, adminToken,
} from "../lib/support.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

const sorted = (o) => Object.keys(o).sort();
const iso = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

for (const transport of TRANSPORTS) {
  describe(`over ${transport}`, () => {
    const connect = (token, options = {}) => connectSupport(server, { token, transport, ...options });

    test("a new ticket goes to its creator and every admin of the tenant, and lists answer JOIN_ROOM", async () => {
      const ana = someone("ana");
      const [user, admin, otherUser, foreignAdmin] = await Promise.all([
        connect(userToken(ana)),
        connect(adminToken(someone("boss"))),
        connect(userToken(someone("ben"))),
        connect(adminToken(someone("boss"), "other-tenant")),
      ]);
      assert.deepEqual(await user.next("TICKET_LIST"), [], "the list is sent on connect");

      user.emit("CREATE_TICKET", {
        title: "Cannot log in", category: "ACCOUNT", message: "Password reset fails", priority: "URGENT",
        attachments: ["https://files.example/shot.png", "/api/files/01ABC/log.txt"],
      });
      const created = await user.next("NEW_TICKET");
      assert.deepEqual(sorted(created), TICKET_KEYS);
      assert.equal(created.title, "Cannot log in");
      assert.equal(created.category, "ACCOUNT");
      assert.equal(created.priority, "URGENT");
      assert.equal(created.status, "OPEN");
      assert.equal(created.user_id, ana);
      assert.equal(created.user_name, `User ${ana}`);
      assert.equal(created.admin_name, null);
      assert.match(created.created_at, iso);
      assert.equal(created.updated_at, created.created_at);
      assert.match(created.id, /^[0-9A-Z]{26}$/);

      assert.deepEqual(await admin.next("NEW_TICKET", (t) => t.id === created.id), created);
      assert.deepEqual(await admin.next("UNREAD_COUNT", (u) => u.ticketId === created.id),
        { ticketId: created.id, unreadCount: 1, isNew: true }, "the description is the admins' first unread message");
      // The requester follows the ticket in their own room: the description arrives as NEW_MESSAGE.
      const first = await user.next("NEW_MESSAGE", (m) => m.ticketId === created.id);
      assert.equal(first.messages[0].message, "Password reset fails");
      assert.equal(first.messages[0].attachments, "https://files.example/shot.png,/api/files/01ABC/log.txt");
      await otherUser.none("NEW_TICKET");
      await foreignAdmin.none("NEW_TICKET");
      await foreignAdmin.none("UNREAD_COUNT");

      // JOIN_ROOM answers with the caller's list: their own tickets, or every ticket for admins.
      user.emit("JOIN_ROOM", {});
      const mine = await user.next("TICKET_LIST");
      assert.equal(mine.length, 1);
      assert.deepEqual(sorted(mine[0]), [...TICKET_KEYS, "unread_count"].sort());
      assert.equal(mine[0].id, created.id);
      assert.equal(mine[0].unread_count, 0);
      admin.emit("JOIN_ROOM", { ticketId: created.id });
      const all = await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === created.id));
      assert.equal(all.find((t) => t.id === created.id).unread_count, 1);
      otherUser.emit("JOIN_ROOM");
      assert.deepEqual(await otherUser.next("TICKET_LIST", (l) => l.length === 0), []);
      foreignAdmin.emit("JOIN_ROOM");
      assert.ok((await foreignAdmin.next("TICKET_LIST", () => true)).every((t) => t.id !== created.id));
      for (const c of [user, admin, otherUser, foreignAdmin]) c.close();
    });

    test("replies hand the ticket to the other side, with unread counts per side and read receipts", async () => {
      const ana = someone("ana");
      const boss = someone("boss");
      const [user, admin, otherAdmin] = await Promise.all([
        connect(userToken(ana)), connect(adminToken(boss)), connect(adminToken(someone("boss2"))),
      ]);
      const ticket = await openTicket(user);
      await admin.next("UNREAD_COUNT", (u) => u.ticketId === ticket.id);
      admin.emit("JOIN_ROOM", { ticketId: ticket.id });
      await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === ticket.id));

      // An admin's reply: NEW_MESSAGE to the requester, WAITING_FOR_USER, one unread for the user,
      // and the admins' unread count cleared (writing reads what came before).
      admin.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "Have you tried turning it off and on?" });
      const reply = await user.next("NEW_MESSAGE", (m) => m.messages[0].admin_id === boss);
      assert.deepEqual(Object.keys(reply).sort(), ["messages", "ticketId"]);
      assert.equal(reply.ticketId, ticket.id);
      const m = reply.messages[0];
      assert.deepEqual(sorted(m), MESSAGE_KEYS);
      assert.equal(m.message, "Have you tried turning it off and on?");
      assert.equal(m.ticket_id, ticket.id);
      assert.equal(m.user_id, null);
      assert.equal(m.user_name, null);
      assert.equal(m.admin_name, `Admin ${boss}`);
      assert.equal(m.current_status, "WAITING_FOR_USER");
      assert.equal(m.attachments, null);
      assert.match(m.created_at, iso);
      assert.deepEqual(await admin.next("NEW_MESSAGE", (x) => x.messages[0].id === m.id), reply, "the writer gets it too");
      assert.deepEqual(await user.next("STATUS_CHANGED"), { ticketId: ticket.id, oldStatus: "OPEN", currentStatus: "WAITING_FOR_USER" });
      const updated = await user.next("TICKET_UPDATED");
      assert.equal(updated.id, ticket.id);
      assert.equal(updated.status, "WAITING_FOR_USER");
      assert.ok("admin_name" in updated);
      assert.deepEqual(await otherAdmin.next("STATUS_CHANGED", (s) => s.ticketId === ticket.id),
        { ticketId: ticket.id, oldStatus: "OPEN", currentStatus: "WAITING_FOR_USER" }, "every admin hears of status changes");
      assert.deepEqual(await user.next("UNREAD_COUNT"), { ticketId: ticket.id, unreadCount: 1, isNew: true });
      assert.deepEqual(await otherAdmin.next("UNREAD_COUNT", (u) => u.ticketId === ticket.id && !u.isNew),
        { ticketId: ticket.id, unreadCount: 0, isNew: false });
      await otherAdmin.none("NEW_MESSAGE", 300, (x) => x.ticketId === ticket.id);

      // A second admin message: two unread for the user.
      admin.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "Any news?" });
      const second = await user.next("NEW_MESSAGE", (x) => x.messages[0].message === "Any news?");
      assert.deepEqual(await user.next("UNREAD_COUNT"), { ticketId: ticket.id, unreadCount: 2, isNew: true });
      await user.none("STATUS_CHANGED", 200);

      // The user reads up to the first reply: one stays unread; the admins see the receipt.
      user.emit("MARK_AS_READ", { ticketId: ticket.id, messageId: m.id });
      assert.deepEqual(await user.next("UNREAD_COUNT"), { ticketId: ticket.id, unreadCount: 1, isNew: false });
      assert.deepEqual(await admin.next("READ_RECEIPT"), { ticketId: ticket.id, messageId: m.id, userId: ana });
      user.emit("MARK_AS_READ", { ticketId: ticket.id, messageId: second.messages[0].id });
      assert.deepEqual(await user.next("UNREAD_COUNT"), { ticketId: ticket.id, unreadCount: 0, isNew: false });
      await admin.next("READ_RECEIPT", (r) => r.messageId === second.messages[0].id);

      // The user's reply (with attachments) hands the ticket back.
      user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "Still broken", attachments: ["https://x.example/a.log", "https://x.example/b.png"] });
      const back = await admin.next("NEW_MESSAGE", (x) => x.messages[0].message === "Still broken");
      assert.equal(back.messages[0].user_id, ana);
      assert.equal(back.messages[0].user_name, `User ${ana}`);
      assert.equal(back.messages[0].admin_id, null);
      assert.equal(back.messages[0].attachments, "https://x.example/a.log,https://x.example/b.png");
      assert.equal(back.messages[0].current_status, "WAITING_FOR_ADMIN");
      assert.deepEqual(await user.next("STATUS_CHANGED"), { ticketId: ticket.id, oldStatus: "WAITING_FOR_USER", currentStatus: "WAITING_FOR_ADMIN" });
      assert.deepEqual(await admin.next("UNREAD_COUNT", (u) => u.isNew), { ticketId: ticket.id, unreadCount: 1, isNew: true });
      // The user had read everything, so their count did not change.
      await user.none("UNREAD_COUNT", 300);

      // An admin marks it read (messageId may be left out: the newest).
      admin.emit("MARK_AS_READ", { ticketId: ticket.id });
      assert.deepEqual(await otherAdmin.next("UNREAD_COUNT", (u) => u.ticketId === ticket.id && !u.isNew && u.unreadCount === 0),
        { ticketId: ticket.id, unreadCount: 0, isNew: false }, "the admins' count is shared by every admin");
      assert.deepEqual(await user.next("READ_RECEIPT"), { ticketId: ticket.id, messageId: back.messages[0].id, userId: boss });
      for (const c of [user, admin, otherAdmin]) c.close();
    });

    test("typing reaches the other side and never the typist", async () => {
      const ana = someone("ana");
      const boss = someone("boss");
      const [user, userTab, admin] = await Promise.all([connect(userToken(ana)), connect(userToken(ana)), connect(adminToken(boss))]);
      const ticket = await openTicket(user);
      admin.emit("JOIN_ROOM", { ticketId: ticket.id });
      await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === ticket.id));

      user.emit("TYPING_START", { ticketId: ticket.id });
      assert.deepEqual(await admin.next("TYPING_START"), { ticketId: ticket.id, userType: "USER", userName: `User ${ana}`, userId: ana });
      user.emit("TYPING_END", { ticketId: ticket.id });
      assert.deepEqual(await admin.next("TYPING_END"), { ticketId: ticket.id, userType: "USER", userId: ana });
      admin.emit("TYPING_START", { ticketId: ticket.id });
      assert.deepEqual(await user.next("TYPING_START"), { ticketId: ticket.id, userType: "ADMIN", userName: `Admin ${boss}`, userId: boss });
      admin.emit("TYPING_END", { ticketId: ticket.id });
      assert.deepEqual(await user.next("TYPING_END"), { ticketId: ticket.id, userType: "ADMIN", userId: boss });
      await user.none("TYPING_START", 300, (t) => t.userId === ana);
      await userTab.none("TYPING_START", 0, (t) => t.userId === ana);
      await admin.none("TYPING_START", 0, (t) => t.userId === boss);
      for (const c of [user, userTab, admin]) c.close();
    });

    test("LOAD_MORE_MESSAGES pages the history, newest page first, oldest first within a page", async () => {
      const user = await connect(userToken(someone("ana")));
      const ticket = await openTicket(user, { message: "m0" });
      for (let i = 1; i <= 4; i++) {
        user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: `m${i}` });
        await user.next("NEW_MESSAGE", (x) => x.messages[0].message === `m${i}`);
      }
      const page = async (page, limit) => {
        user.emit("LOAD_MORE_MESSAGES", { ticketId: ticket.id, page, limit });
        return user.next("NEW_MESSAGE", (x) => x.page === page && x.limit === limit);
      };
      const p1 = await page(1, 2);
      assert.deepEqual(p1.messages.map((x) => x.message), ["m3", "m4"]);
      assert.equal(p1.ticketId, ticket.id);
      assert.equal(p1.hasMore, true);
      assert.deepEqual(sorted(p1.messages[0]), MESSAGE_KEYS);
      assert.equal(p1.messages[0].current_status, "WAITING_FOR_ADMIN");
      const p3 = await page(3, 2);
      assert.deepEqual(p3.messages.map((x) => x.message), ["m0"]);
      assert.equal(p3.hasMore, false);
      const p4 = await page(4, 2);
      assert.deepEqual(p4.messages, []);
      user.close();
    });

    test("LEAVE_ROOM stops a ticket's conversation for that socket; the tenant-wide news go on", async () => {
      const [user, admin] = await Promise.all([connect(userToken(someone("ana"))), connect(adminToken(someone("boss")))]);
      const ticket = await openTicket(user);
      admin.emit("JOIN_ROOM", { ticketId: ticket.id });
      await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === ticket.id));
      user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "first" });
      await admin.next("NEW_MESSAGE", (x) => x.messages[0].message === "first");
      admin.emit("LEAVE_ROOM", { ticketId: ticket.id });
      await new Promise((ok) => setTimeout(ok, 200));
      user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "second" });
      await user.next("NEW_MESSAGE", (x) => x.messages[0].message === "second");
      await admin.next("UNREAD_COUNT", (u) => u.ticketId === ticket.id && u.isNew && u.unreadCount === 3);
      await admin.none("NEW_MESSAGE", 300, (x) => x.messages[0].message === "second");
      for (const c of [user, admin]) c.close();
    });

    test("the admin REST API and REST replies are announced on /support", async () => {
      const ana = someone("ana");
      const bossId = someone("boss");
      const boss = adminToken(bossId);
      await server.api("POST", "/api/participants", boss, { id: bossId, uniqueName: bossId, fullName: "Big Boss" });
      const [user, admin] = await Promise.all([connect(userToken(ana)), connect(boss)]);
      const ticket = await openTicket(user);

      const status = await server.api("POST", `/api/admin/tickets/${ticket.id}/status`, boss, { status: "IN_PROGRESS" });
      assert.equal(status.status, 200);
      assert.deepEqual(await user.next("STATUS_CHANGED"), { ticketId: ticket.id, oldStatus: "OPEN", currentStatus: "IN_PROGRESS" });
      assert.deepEqual(await admin.next("STATUS_CHANGED", (s) => s.ticketId === ticket.id), { ticketId: ticket.id, oldStatus: "OPEN", currentStatus: "IN_PROGRESS" });
      assert.equal((await user.next("TICKET_UPDATED")).status, "IN_PROGRESS");

      const assign = await server.api("POST", `/api/admin/tickets/${ticket.id}/assign`, boss, { adminId: bossId });
      assert.equal(assign.status, 200);
      const updated = await user.next("TICKET_UPDATED", (u) => u.admin_id === bossId);
      assert.equal(updated.admin_name, "Big Boss");
      assert.equal(updated.status, "IN_PROGRESS");
      await user.none("STATUS_CHANGED", 200);
      user.emit("JOIN_ROOM", {});
      const [listed] = await user.next("TICKET_LIST", (l) => l.length === 1);
      assert.equal(listed.admin_name, "Big Boss");
      assert.equal(listed.status, "IN_PROGRESS");

      // A reply over REST is a support reply like any other.
      const sent = await server.api("POST", `/api/conversations/${ticket.id}/messages`, boss, { blocks: text("From the REST API") });
      assert.equal(sent.status, 201);
      const viaRest = await user.next("NEW_MESSAGE", (x) => x.messages[0].message === "From the REST API");
      assert.equal(viaRest.messages[0].id, sent.body.id);
      assert.equal(viaRest.messages[0].admin_name, "Big Boss");
      assert.deepEqual(await user.next("STATUS_CHANGED"), { ticketId: ticket.id, oldStatus: "IN_PROGRESS", currentStatus: "WAITING_FOR_USER" });
      // …and a support reply is in the REST history.
      user.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "Seen on REST?" });
      const mine = await user.next("NEW_MESSAGE", (x) => x.messages[0].message === "Seen on REST?");
      const history = await server.api("GET", `/api/conversations/${ticket.id}/messages?direction=newer`, boss);
      assert.equal(history.status, 200);
      assert.equal(history.body.items.at(-1).id, mine.messages[0].id);
      assert.equal(history.body.items.at(-1).blocks[0].content, "Seen on REST?");
      for (const c of [user, admin]) c.close();
    });

    test("a token in the query or an Authorization header signs the socket in; a bad one is refused", async () => {
      const ana = someone("ana");
      const byQuery = await connectSupport(server, { transport, query: { token: userToken(ana) } });
      const t = await openTicket(byQuery);
      assert.equal(t.user_id, ana);
      const byHeader = await connectSupport(server, { transport, extraHeaders: { authorization: `Bearer ${userToken(ana)}` } });
      byHeader.emit("JOIN_ROOM", {});
      assert.equal((await byHeader.next("TICKET_LIST", (l) => l.length === 1))[0].id, t.id);
      await assert.rejects(connect("not-a-jwt"), (e) => /malformed|token/i.test(e.message));
      await assert.rejects(connect(adminToken("x").slice(0, -4) + "AAAA"), (e) => /signature/i.test(e.message));
      for (const c of [byQuery, byHeader]) c.close();
    });
  });
}
