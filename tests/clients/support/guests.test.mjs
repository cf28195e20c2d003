// Guests on /support: no token, a guest ticket followed in the guest's own room, and what guests
// may not do — over WebSocket and long polling.

import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer } from "../lib/harness.mjs";
import { TRANSPORTS, TICKET_KEYS, connectSupport, openTicket, someone, userToken, adminToken } from "../lib/support.mjs";

let server;
before(async () => { server = await startServer(); });
after(async () => { await server.close(); });

const guestTicket = (fields = {}) => ({
  title: `Guest issue ${someone("g")}`, category: "GENERAL", message: "This is a guest ticket",
  guestName: "John Doe", guestEmail: "john@example.com", ...fields,
});

for (const transport of TRANSPORTS) {
  describe(`over ${transport}`, () => {
    const connect = (token, options = {}) => connectSupport(server, { token, transport, ...options });

    test("a guest opens a ticket and follows it in their own room; admins answer it", async () => {
      const boss = someone("boss");
      const [guest, otherGuest, admin] = await Promise.all([connect(), connect(), connect(adminToken(boss))]);
      assert.deepEqual(await guest.next("TICKET_LIST"), [], "guests get their (empty) list on connect");

      const fields = guestTicket();
      guest.emit("CREATE_GUEST_TICKET", fields);
      const created = await guest.next("NEW_TICKET");
      assert.deepEqual(Object.keys(created).sort(), TICKET_KEYS);
      assert.equal(created.title, fields.title);
      assert.equal(created.priority, "MEDIUM", "the seed's guest example sends no priority");
      assert.equal(created.status, "OPEN");
      assert.equal(created.guest_name, "John Doe");
      assert.equal(created.guest_email, "john@example.com");
      assert.equal(created.user_name, "John Doe");
      assert.match(created.user_id, /^guest-/);
      assert.deepEqual(await admin.next("NEW_TICKET", (t) => t.id === created.id), created);
      await otherGuest.none("NEW_TICKET");

      // The guest's list and room.
      guest.emit("JOIN_ROOM", { ticketId: created.id });
      const list = await guest.next("TICKET_LIST");
      assert.deepEqual(list.map((t) => t.id), [created.id]);
      otherGuest.emit("JOIN_ROOM", { ticketId: created.id });
      const refused = await otherGuest.next("ERROR");
      assert.equal(refused.code, 403);
      assert.equal(refused.area, "SUPPORT_TICKET");

      // An admin's reply reaches the guest's room, with its status change and unread count.
      admin.emit("SEND_MESSAGE", { ticketId: created.id, message: "Hello John" });
      const reply = await guest.next("NEW_MESSAGE", (m) => m.messages[0].message === "Hello John");
      assert.equal(reply.messages[0].admin_id, boss);
      assert.equal(reply.messages[0].current_status, "WAITING_FOR_USER");
      assert.deepEqual(await guest.next("STATUS_CHANGED"), { ticketId: created.id, oldStatus: "OPEN", currentStatus: "WAITING_FOR_USER" });
      assert.equal((await guest.next("TICKET_UPDATED")).status, "WAITING_FOR_USER");
      assert.deepEqual(await guest.next("UNREAD_COUNT"), { ticketId: created.id, unreadCount: 1, isNew: true });
      await otherGuest.none("NEW_MESSAGE");

      // Guests may type on their ticket.
      admin.emit("JOIN_ROOM", { ticketId: created.id });
      await admin.next("TICKET_LIST", (l) => l.some((t) => t.id === created.id));
      guest.emit("TYPING_START", { ticketId: created.id });
      const typing = await admin.next("TYPING_START");
      assert.deepEqual(typing, { ticketId: created.id, userType: "USER", userName: "John Doe", userId: created.user_id });

      // Admins see the guest's ticket and description over REST.
      const listed = await server.api("GET", "/api/admin/tickets", adminToken(boss));
      const t = listed.body.items.find((x) => x.id === created.id);
      assert.equal(t.guestName, "John Doe");
      assert.equal(t.guestEmail, "john@example.com");
      for (const c of [guest, otherGuest, admin]) c.close();
    });

    test("guests may not write, mark read, page history or open user tickets: ERROR 401", async () => {
      const user = await connect(userToken(someone("ana")));
      const ticket = await openTicket(user);
      const guest = await connect();
      guest.emit("CREATE_GUEST_TICKET", guestTicket());
      const own = await guest.next("NEW_TICKET");
      for (const [event, payload] of [
        ["SEND_MESSAGE", { ticketId: own.id, message: "may I?" }],
        ["MARK_AS_READ", { ticketId: own.id }],
        ["LOAD_MORE_MESSAGES", { ticketId: own.id, page: 1, limit: 20 }],
        ["SEND_MESSAGE", { ticketId: ticket.id, message: "and here?" }],
        ["CREATE_TICKET", { title: "t", message: "m", category: "GENERAL" }],
      ]) {
        guest.emit(event, payload);
        const error = await guest.next("ERROR");
        assert.deepEqual({ code: error.code, area: error.area, event: error.event }, { code: 401, area: "SUPPORT_TICKET", event });
        assert.ok(error.message.length > 0);
      }
      // Someone else's ticket does not open to a guest.
      guest.emit("TYPING_START", { ticketId: ticket.id });
      assert.equal((await guest.next("ERROR")).code, 403);
      // Nothing was written.
      user.emit("LOAD_MORE_MESSAGES", { ticketId: ticket.id, page: 1, limit: 20 });
      assert.equal((await user.next("NEW_MESSAGE", (m) => m.page === 1)).messages.length, 1);
      // A signed-in user opens tickets with CREATE_TICKET, not the guest event.
      user.emit("CREATE_GUEST_TICKET", guestTicket());
      assert.equal((await user.next("ERROR")).code, 400);
      // The guest's socket still works.
      guest.emit("CREATE_GUEST_TICKET", guestTicket({ title: "Still here" }));
      assert.equal((await guest.next("NEW_TICKET")).title, "Still here");
      for (const c of [user, guest]) c.close();
    });

    test("guests of another tenant are another tenant's", async () => {
      const [guest, admin, foreignAdmin] = await Promise.all([
        connect(undefined, { auth: { tenant: "acme" } }),
        connect(adminToken(someone("boss"), "acme")),
        connect(adminToken(someone("boss"))),
      ]);
      guest.emit("CREATE_GUEST_TICKET", guestTicket());
      const created = await guest.next("NEW_TICKET");
      assert.equal((await admin.next("NEW_TICKET", (t) => t.id === created.id)).id, created.id);
      await foreignAdmin.none("NEW_TICKET", 400, (t) => t.id === created.id);
      foreignAdmin.emit("JOIN_ROOM", { ticketId: created.id });
      assert.equal((await foreignAdmin.next("ERROR")).code, 404);
      for (const c of [guest, admin, foreignAdmin]) c.close();
    });
  });
}
