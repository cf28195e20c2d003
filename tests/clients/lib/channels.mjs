// Channel accounts and connectors, driven like a connector process would drive them (HTTP and
// the `ws` client), and the two channel dashboards with the official socket.io-client.

import { io } from "socket.io-client";
import WebSocket from "ws";
import { token } from "./harness.mjs";

export const TRANSPORTS = [["websocket"], ["polling"]];

/** An admin of `tenant` creates a channel; returns `{id, key, body}`. */
export async function createChannel(server, tenant, body) {
  const admin = token(`admin-of-${tenant}`, { role: "admin", tenant });
  const r = await server.api("POST", "/api/channels", admin, body);
  if (r.status !== 201) throw new Error(`channel: ${r.status} ${JSON.stringify(r.body)}`);
  return { id: r.body.id, key: r.body.connectorKey, body: r.body };
}

/** Posts connector events (one or an array) with the channel's key. */
export function postEvents(server, channel, events) {
  return server.api("POST", `/api/connectors/${channel.id}/events`, channel.key, events);
}

/** Posts one event and insists it was stored; returns its result. */
export async function ingest(server, channel, event) {
  const r = await postEvents(server, channel, event);
  if (r.status !== 200) throw new Error(`events: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.results[0];
}

let counter = 0;
/** A platform id no other test uses. */
export const unique = (prefix) => `${prefix}${Date.now()}${++counter}`;

/** An inbound WhatsApp text from `number` (`…@c.us`). */
export function whatsappText(number, text, extra = {}) {
  return {
    kind: "message", externalChatId: number, chatName: "Солнышко мое 😊", isGroup: false,
    externalMessageId: unique("wamid."), fromMe: false, from: number, fromName: "Солнышко мое 😊",
    text, messageType: "chat", timestamp: "2025-07-16T11:13:54Z", ...extra,
  };
}

/**
 * A socket on the WhatsApp namespace `/`. Resolves once connected; rejects with the
 * `connect_error` (and records whether `connect` ever fired) when refused.
 */
export function whatsappSocket(server, authToken, transports) {
  const socket = io(server.base, {
    transports, forceNew: true, reconnection: false,
    ...(authToken === undefined ? {} : { auth: { token: authToken } }),
  });
  const log = record(socket);
  return new Promise((ok, fail) => {
    socket.once("connect", () => ok(Object.assign(socket, { log })));
    socket.once("connect_error", (error) => {
      socket.close();
      fail(Object.assign(error, { everConnected: log.connected }));
    });
  });
}

/** A socket on `/chatomni` in `room`, connected but not authenticated. */
export function chatomniSocket(server, room, transports) {
  const socket = io(`${server.base}/chatomni`, {
    transports, forceNew: true, reconnection: false,
    ...(room === undefined ? {} : { query: { room, EIO: "4" } }),
  });
  const log = record(socket);
  return new Promise((ok, fail) => {
    socket.once("connect", () => ok(Object.assign(socket, { log })));
    socket.once("connect_error", fail);
  });
}

/** Emits `auth {token}`; resolves with `["authenticated", data]` or `["unauthorized", data]`. */
export function authenticate(socket, payload) {
  return new Promise((ok) => {
    socket.once("authenticated", (data) => ok(["authenticated", data]));
    socket.once("unauthorized", (data) => ok(["unauthorized", data]));
    socket.emit("auth", payload);
  });
}

/** An authenticated `/chatomni` socket of `room` for the holder of `jwt`. */
export async function chatomni(server, room, jwt, transports) {
  const socket = await chatomniSocket(server, room, transports);
  const [answer, data] = await authenticate(socket, { token: jwt });
  if (answer !== "authenticated") throw new Error(`chatomni auth: ${JSON.stringify(data)}`);
  return socket;
}

/**
 * Every event a socket receives, in order, with a way to wait for one: `log.next(name, match)`
 * resolves with the event's first argument.
 */
function record(socket) {
  const log = { events: [], connected: false, waiters: [] };
  socket.on("connect", () => { log.connected = true; });
  socket.onAny((name, ...args) => {
    log.events.push({ name, args });
    for (const w of [...log.waiters]) {
      if (w.name === name && w.match(args[0])) {
        log.waiters.splice(log.waiters.indexOf(w), 1);
        w.ok(args[0]);
      }
    }
  });
  log.names = () => log.events.map((e) => e.name);
  log.next = (name, match = () => true, ms = 5000) => {
    const found = log.events.find((e) => e.name === name && match(e.args[0]) && !e.taken);
    if (found) {
      found.taken = true;
      return Promise.resolve(found.args[0]);
    }
    return new Promise((ok, fail) => {
      const timer = setTimeout(
        () => fail(new Error(`no '${name}' within ${ms} ms; saw ${JSON.stringify(log.names())}`)), ms);
      log.waiters.push({
        name, match,
        ok: (value) => {
          clearTimeout(timer);
          const e = log.events.find((x) => x.name === name && x.args[0] === value && !x.taken);
          if (e) e.taken = true;
          ok(value);
        },
      });
    });
  };
  return log;
}

/** A JSON-string argument, parsed (ChatOmni sends its payloads as JSON text). */
export function parsed(value) {
  if (typeof value !== "string") throw new Error(`expected a JSON string, got ${JSON.stringify(value)}`);
  return JSON.parse(value);
}

/**
 * Opens the connector stream of `channel` with `key` (default: the channel's). Resolves to
 * `{ws, next(match), send(obj), close(), closed}`; rejects with `{status, body}` when refused.
 */
export function connectorStream(server, channel, key = channel.key) {
  const ws = new WebSocket(`${server.base.replace("http", "ws")}/api/connectors/${channel.id}/stream`, {
    headers: { authorization: `Bearer ${key}` },
  });
  const frames = [];
  const waiters = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const w of [...waiters]) if (w.match(frame)) { waiters.splice(waiters.indexOf(w), 1); w.ok(frame); }
  });
  const closed = new Promise((ok) => ws.on("close", (code, reason) => ok({ code, reason: reason.toString() })));
  return new Promise((ok, fail) => {
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => fail({ status: res.statusCode, body: JSON.parse(body) }));
    });
    ws.on("error", fail);
    ws.on("open", () => ok({
      ws, frames, closed,
      send: (obj) => ws.send(typeof obj === "string" ? obj : JSON.stringify(obj)),
      next(match = () => true, ms = 5000) {
        const found = frames.find(match);
        if (found) { frames.splice(frames.indexOf(found), 1); return Promise.resolve(found); }
        return new Promise((resolve, reject) => {
          const t = setTimeout(() => reject(new Error(`no matching frame in ${ms} ms; saw ${JSON.stringify(frames)}`)), ms);
          waiters.push({ match, ok: (f) => { clearTimeout(t); frames.splice(frames.indexOf(f), 1); resolve(f); } });
        });
      },
      close: () => ws.close(),
    }));
  });
}

/** `POST /api/token` with the OAuth2 password grant, as the ChatOmni dashboard logs in. */
export async function passwordGrant(server, form) {
  const response = await fetch(`${server.base}/api/token`, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams(form).toString(),
  });
  return { status: response.status, body: await response.json() };
}
