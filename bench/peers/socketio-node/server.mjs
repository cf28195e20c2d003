// The reference peer: a plain socket.io 4.x server doing what chatgate's benchmark asks of a
// room broadcast, with no storage and no domain logic.
//
//   node server.mjs            # listens on a free port and prints "listening on http://127.0.0.1:PORT"
//
// Namespace "/bench": a client connects with `auth: {room}`, is put in that room, and every
// `send` it emits goes to the others in the room as `message` (the same payload). `ack`-style
// sends (`send` with a callback) are acknowledged after the broadcast is queued.

import { createServer } from "node:http";
import { Server } from "socket.io";

const http = createServer();
const io = new Server(http, {
  serveClient: false,
  perMessageDeflate: false,
  maxHttpBufferSize: 1e6,
  pingInterval: 25000,
  pingTimeout: 20000,
});

io.of("/bench").on("connection", (socket) => {
  const room = String(socket.handshake.auth?.room ?? "default");
  socket.join(room);
  socket.on("send", (payload, ack) => {
    socket.to(room).emit("message", payload);
    if (typeof ack === "function") ack({ ok: true });
  });
});

http.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${http.address().port}`);
});
