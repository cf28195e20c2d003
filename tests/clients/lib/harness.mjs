// The client-test harness: starts the real chatgate binary on a free port with its own data
// directory, mints tokens with the same secret, and talks REST to it.

import { spawn } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { createServer } from "node:net";

const here = dirname(fileURLToPath(import.meta.url));
export const BIN = process.env.CHATGATE_BIN ?? resolve(here, "../../../target/debug/chatgate");
export const SECRET = "client-test-secret";

/** A free TCP port on loopback (for servers that must come back on the same port). */
export async function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
    s.on("error", fail);
  });
}

/**
 * Starts chatgate. Options: `port` (0 = any), `dataDir` (reuse one to restart), `config`
 * (TOML text), `args` (extra flags).
 */
export async function startServer({ port = 0, dataDir, config, args = [] } = {}) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "chatgate-client-"));
  const flags = ["serve", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dir, "--dev",
    "--rate-limit-per-ip", "0", "--rate-limit-per-user", "0", "--log", "info,chatgate=debug"];
  if (config) {
    const path = join(dir, "chatgate.toml");
    writeFileSync(path, config);
    flags.push("--config", path);
  }
  const child = spawn(BIN, [...flags, ...args], {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, CHATGATE_JWT_SECRET: SECRET, DATABASE_URL: "", CHATGATE_BUS_URL: "" },
  });
  const log = [];
  const base = await new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("chatgate did not start:\n" + log.join(""))), 30_000);
    child.stderr.on("data", (chunk) => {
      const text = chunk.toString();
      log.push(text);
      const m = /listening on (http:\/\/\S+)/.exec(text);
      if (m) {
        clearTimeout(timer);
        ok(m[1]);
      }
    });
    child.on("exit", (code) => fail(new Error(`chatgate exited (${code}):\n` + log.join(""))));
  });
  child.removeAllListeners("exit");
  const server = {
    base,
    dataDir: dir,
    child,
    log: () => log.join(""),
    /** Stops the process: "SIGTERM" (graceful) or "SIGKILL" (a crash). */
    async stop(signal = "SIGKILL") {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((ok) => child.once("exit", ok));
      child.kill(signal);
      await exited;
    },
    async close() {
      await server.stop();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
    api: (method, path, token, body) => api(base, method, path, token, body),
  };
  return server;
}

function b64url(data) {
  return Buffer.from(data).toString("base64url");
}

/** A JWT (HS256) for `sub`, as `chatgate token` would make it. */
export function token(sub, { role = "user", tenant = "default", name = sub, ttl = 3600 } = {}) {
  const header = b64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const claims = b64url(JSON.stringify({ sub, role, tenant, name, exp: Math.floor(Date.now() / 1000) + ttl }));
  const signature = createHmac("sha256", SECRET).update(`${header}.${claims}`).digest("base64url");
  return `${header}.${claims}.${signature}`;
}

/** A REST call; returns `{status, body}` (body parsed when JSON). */
export async function api(base, method, path, tokenValue, body) {
  const response = await fetch(base + path, {
    method,
    headers: {
      ...(tokenValue ? { authorization: `Bearer ${tokenValue}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let parsed = text;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed };
}

/** Creates participants (acting as each) and returns their tokens by id. */
export async function people(server, ...ids) {
  const tokens = {};
  for (const id of ids) {
    tokens[id] = token(id, { name: `Name ${id}` });
    const r = await server.api("POST", "/api/participants", tokens[id], {
      id, uniqueName: id, fullName: `Name ${id}`,
    });
    if (r.status !== 200) throw new Error(`participant ${id}: ${r.status} ${JSON.stringify(r.body)}`);
  }
  return tokens;
}

/** Creates a conversation owned by `ownerToken`; returns its id. */
export async function conversation(server, ownerToken, participantIds, name = "Test") {
  const r = await server.api("POST", "/api/conversations", ownerToken, { name, participantIds });
  if (r.status !== 201) throw new Error(`conversation: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body.id;
}

export function text(content) {
  return [{ $type: "text", format: "Plain", content }];
}

/**
 * Collects every call of `event` on a client (anything with `.on(name, handler)`), and lets a
 * test wait for one that matches.
 */
export function collect(client, event) {
  const seen = [];
  const waiters = [];
  client.on(event, (...args) => {
    const value = args.length > 1 ? args : args[0];
    seen.push(value);
    for (const w of [...waiters]) {
      if (w.match(value)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.ok(value);
      }
    }
  });
  return {
    seen,
    next(match = () => true, ms = 5000) {
      const found = seen.find(match);
      if (found !== undefined) {
        seen.splice(seen.indexOf(found), 1);
        return Promise.resolve(found);
      }
      return new Promise((ok, fail) => {
        const timer = setTimeout(() => fail(new Error(`no '${event}' within ${ms} ms (saw ${JSON.stringify(seen)})`)), ms);
        waiters.push({ match, ok: (v) => { clearTimeout(timer); seen.splice(seen.indexOf(v), 1); ok(v); } });
      });
    },
  };
}

export const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
