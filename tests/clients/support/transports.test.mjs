// How the official socket.io-client connects when left to its defaults: long polling first, then
// the upgrade to WebSocket, with nothing lost or repeated across it; and how it comes back when
// the server restarts.

import { test } from "node:test";
import assert from "node:assert/strict";
import { io } from "socket.io-client";
import { startServer, freePort, sleep, collect } from "../lib/harness.mjs";
import { connectSupport, someone, userToken, adminToken } from "../lib/support.mjs";

test("the default transports start on polling and upgrade to WebSocket, losing and repeating nothing", async () => {
  const server = await startServer();
  try {
    const ana = someone("ana");
    const socket = io(`${server.base}/support`, { auth: { token: userToken(ana) }, forceNew: true, reconnection: false });
    const tickets = collect(socket, "NEW_TICKET");
    const messages = collect(socket, "NEW_MESSAGE");
    const opened = new Promise((ok) => socket.io.once("open", () => ok(socket.io.engine.transport.name)));
    const upgraded = new Promise((ok) => socket.io.once("open", () => socket.io.engine.once("upgrade", (t) => ok(t.name))));
    // Emitted before the connection is even open: the client sends them as soon as it can, over
    // polling, while it probes the WebSocket.
    for (let i = 0; i < 20; i++) {
      socket.emit("CREATE_TICKET", { title: `t${i}`, category: "GENERAL", message: `m${i}`, priority: "LOW" });
    }
    await new Promise((ok, fail) => { socket.once("connect", ok); socket.once("connect_error", fail); });
    assert.equal(await opened, "polling");
    assert.equal(await upgraded, "websocket");
    const created = [];
    for (let i = 0; i < 20; i++) created.push(await tickets.next((t) => t.title === `t${i}`));

    const admin = await connectSupport(server, { token: adminToken(someone("boss")) });
    const ticket = created[0];
    admin.emit("JOIN_ROOM", { ticketId: ticket.id });
    await admin.next("TICKET_LIST");
    admin.emit("SEND_MESSAGE", { ticketId: ticket.id, message: "over the WebSocket" });
    await messages.next((m) => m.messages[0].message === "over the WebSocket");

    await sleep(300);
    assert.deepEqual(tickets.seen, [], "each ticket arrives once");
    assert.equal(socket.io.engine.transport.name, "websocket");
    socket.disconnect();
    admin.close();
  } finally {
    await server.close();
  }
});

for (const transport of ["websocket", "polling"]) {
  test(`a client over ${transport} reconnects by itself when the server restarts gracefully`, async () => {
    const port = await freePort();
    let server = await startServer({ port });
    const dataDir = server.dataDir;
    try {
      const ana = someone("ana");
      const socket = io(`${server.base}/support`, {
        auth: { token: userToken(ana) }, transports: [transport], forceNew: true,
        reconnectionDelay: 100, reconnectionDelayMax: 250,
      });
      const lists = collect(socket, "TICKET_LIST");
      const tickets = collect(socket, "NEW_TICKET");
      const reasons = [];
      socket.on("disconnect", (reason) => reasons.push(reason));
      await lists.next();
      const before = await openTicketOn(socket, tickets, "before");

      await server.stop("SIGTERM");
      server = await startServer({ port, dataDir });
      // Connected again: the list comes on connect, and has the ticket opened before.
      await lists.next((list) => list.some((t) => t.id === before.id), 15000);
      assert.equal(socket.connected, true);
      assert.ok(["transport close", "transport error"].includes(reasons[0]), `disconnected by ${reasons[0]}`);

      await openTicketOn(socket, tickets, "after");
      socket.disconnect();
    } finally {
      await server.close();
    }
  });
}

async function openTicketOn(socket, tickets, title) {
  socket.emit("CREATE_TICKET", { title, category: "GENERAL", message: "hello", priority: "LOW" });
  return tickets.next((t) => t.title === title);
}
