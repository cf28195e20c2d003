// The support desk (/support) with the official socket.io-client.

import { io } from "socket.io-client";
import { token } from "./harness.mjs";

/** Every event the server sends on /support. */
export const SERVER_EVENTS = [
  "TICKET_LIST", "NEW_TICKET", "NEW_MESSAGE", "STATUS_CHANGED", "TICKET_UPDATED",
  "TYPING_START", "TYPING_END", "READ_RECEIPT", "ERROR", "UNREAD_COUNT",
];

/** The transports the tests run over. */
export const TRANSPORTS = ["websocket", "polling"];

let people = 0;
/** A fresh participant id (tests share one server). */
export const someone = (name) => `${name}-${++people}-${Date.now().toString(36)}`;

/** A user token (role user) and an admin token of `tenant`. */
export const userToken = (id, tenant = "default") => token(id, { role: "user", tenant, name: `User ${id}` });
export const adminToken = (id, tenant = "default") => token(id, { role: "admin", tenant, name: `Admin ${id}` });

/**
 * Connects to /support. Options: `token` (sent as auth.token), `transport`, `auth` (more of the
 * handshake's auth payload), `query`, `extraHeaders`. Resolves once connected to a client that
 * records every server event from the first one (TICKET_LIST arrives on connect):
 * `next(event, match, ms)` waits for one, `none(event, ms, match)` asserts none arrives,
 * `emit(event, payload)`, `close()`.
 */
export function connectSupport(server, { token: jwt, transport = "websocket", auth = {}, query, extraHeaders } = {}) {
  const socket = io(`${server.base}/support`, {
    transports: [transport],
    auth: jwt ? { token: jwt, ...auth } : auth,
    query,
    extraHeaders,
    forceNew: true,
    reconnection: false,
  });
  const seen = Object.fromEntries(SERVER_EVENTS.map((e) => [e, []]));
  const waiters = [];
  for (const event of SERVER_EVENTS) {
    socket.on(event, (payload) => {
      seen[event].push(payload);
      for (const w of [...waiters]) {
        if (w.event === event && w.match(payload)) {
          waiters.splice(waiters.indexOf(w), 1);
          seen[event].splice(seen[event].indexOf(payload), 1);
          w.ok(payload);
          return;
        }
      }
    });
  }
  const client = {
    socket,
    seen,
    get id() { return socket.id; },
    emit: (event, ...args) => socket.emit(event, ...args),
    /** The first (unclaimed) `event` that matches, waiting up to `ms`. */
    next(event, match = () => true, ms = 5000) {
      const found = seen[event].find(match);
      if (found !== undefined) {
        seen[event].splice(seen[event].indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise((ok, fail) => {
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          fail(new Error(`no matching ${event} within ${ms} ms; saw ${JSON.stringify(seen)}`));
        }, ms);
        const waiter = { event, match, ok: (v) => { clearTimeout(timer); ok(v); } };
        waiters.push(waiter);
      });
    },
    /** Resolves after `ms` if no matching `event` arrived (or was waiting), else rejects. */
    async none(event, ms = 400, match = () => true) {
      await new Promise((ok) => setTimeout(ok, ms));
      const found = seen[event].filter(match);
      if (found.length > 0) throw new Error(`unexpected ${event}: ${JSON.stringify(found)}`);
    },
    close: () => socket.disconnect(),
  };
  return new Promise((ok, fail) => {
    socket.once("connect", () => ok(client));
    socket.once("connect_error", (e) => { socket.disconnect(); fail(e); });
  });
}

/** Opens a ticket as `client` and returns the NEW_TICKET it gets back. */
export async function openTicket(client, fields = {}) {
  const title = fields.title ?? `Ticket ${someone("t")}`;
  client.emit("CREATE_TICKET", { category: "TECHNICAL", message: "It does not work", priority: "HIGH", ...fields, title });
  return client.next("NEW_TICKET", (t) => t.title === title);
}

/** The keys of a ticket in TICKET_LIST and NEW_TICKET: the seed's, then chatgate's additions. */
export const TICKET_KEYS = [
  "admin_id", "admin_name", "category", "created_at", "guest_email", "guest_name", "id", "priority",
  "status", "title", "updated_at", "user_id", "user_name",
].sort();

/** The keys of a message in NEW_MESSAGE, exactly the seed's. */
export const MESSAGE_KEYS = [
  "admin_id", "admin_name", "attachments", "created_at", "current_status", "id", "message",
  "ticket_id", "user_id", "user_name",
].sort();
