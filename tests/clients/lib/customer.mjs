// A customer of the /ws/chat gateway, with the `ws` client.

import WebSocket from "ws";

/** Asks the public endpoint for a token. */
export async function customerToken(server, name, channel, channelId) {
  return server.api("POST", "/api/v1/public/customer-token", undefined, { name, channel, channelId });
}

/**
 * Opens /ws/chat with `token`. Resolves to a socket with `frames` (parsed), `next(match)` and
 * `send(obj)`; rejects with `{status, body}` when the upgrade is refused.
 */
export function openChat(server, token) {
  const url = `${server.base.replace("http", "ws")}/ws/chat?token=${encodeURIComponent(token)}`;
  const ws = new WebSocket(url);
  const frames = [];
  const waiters = [];
  ws.on("message", (data) => {
    const frame = JSON.parse(data.toString());
    frames.push(frame);
    for (const w of [...waiters]) if (w.match(frame)) { waiters.splice(waiters.indexOf(w), 1); w.ok(frame); }
  });
  const closed = new Promise((ok) => ws.on("close", (code) => ok(code)));
  return new Promise((ok, fail) => {
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c) => { body += c; });
      res.on("end", () => fail({ status: res.statusCode, body: JSON.parse(body) }));
    });
    ws.on("error", (e) => fail(e));
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
