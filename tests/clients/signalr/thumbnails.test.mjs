// Thumbnails with the official @microsoft/signalr client: an image sent in a message gets a
// thumbnail in the background, announced on the chat hub as messageThumbnailsReady (after
// messageReceived) by block index; with signed downloads, the hub's media references carry
// signed URLs that download.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { deflateSync } from "node:zlib";
import { startServer, people, conversation, collect } from "../lib/harness.mjs";
import { connect, transports } from "../lib/hubs.mjs";

let server;
let signedServer;
before(async () => {
  [server, signedServer] = await Promise.all([startServer(), startServer({ args: ["--files-signed"] })]);
});
after(async () => {
  await Promise.all([server.close(), signedServer.close()]);
});

let n = 0;
const unique = (name) => `${name}-${++n}-${Date.now()}`;

const CRC_TABLE = Array.from({ length: 256 }, (_, i) => {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes) {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type, data) {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, "ascii"), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

/** An RGB PNG of a gradient, written by hand (no image library needed). */
function png(width, height) {
  const header = Buffer.alloc(13);
  header.writeUInt32BE(width, 0);
  header.writeUInt32BE(height, 4);
  header.set([8, 2, 0, 0, 0], 8);
  const rows = [];
  for (let y = 0; y < height; y++) {
    const row = Buffer.alloc(1 + width * 3);
    for (let x = 0; x < width; x++) row.set([x % 256, y % 256, 120], 1 + x * 3);
    rows.push(row);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk("IHDR", header),
    chunk("IDAT", deflateSync(Buffer.concat(rows))),
    chunk("IEND", Buffer.alloc(0)),
  ]);
}

/** Upload URL, then the bytes (PUT); returns the UploadResponse. */
async function upload(srv, token, fileName, contentType, bytes) {
  const granted = await srv.api("POST", "/api/files/upload-url", token, { fileName, contentType, fileSize: bytes.length });
  assert.equal(granted.status, 200, JSON.stringify(granted.body));
  const r = await fetch(srv.base + granted.body.uploadUrl, {
    method: "PUT",
    headers: { authorization: `Bearer ${token}`, "content-type": contentType },
    body: bytes,
  });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

const downloadPath = (key) => "/api/files/" + key.split("/").map(encodeURIComponent).join("/");

/** Records the order in which the named hub events arrive. */
function order(connection, ...events) {
  const seen = [];
  for (const e of events) connection.on(e, () => seen.push(e));
  return seen;
}

for (const [name, transport] of Object.entries({ WebSockets: transports.WebSockets, LongPolling: transports.LongPolling })) {
  test(`an image sent over the hub gets messageThumbnailsReady after messageReceived (${name})`, async () => {
    const [a, b] = [unique("ana"), unique("ben")];
    const t = await people(server, a, b);
    const id = await conversation(server, t[a], [b]);
    const image = await upload(server, t[a], "wide photo.png", "image/png", png(640, 320));

    const ana = await connect(server, "chat", t[a], { transport });
    const ben = await connect(server, "chat", t[b], { transport });
    const seen = order(ben, "messageReceived", "messageThumbnailsReady");
    const received = collect(ben, "messageReceived");
    const thumbnails = collect(ben, "messageThumbnailsReady");
    await ben.invoke("JoinConversation", id);

    const ack = await ana.invoke("SendMessage", {
      conversationId: id,
      blocks: [
        { $type: "text", format: "Plain", content: "look" },
        { $type: "image", source: { storageKey: image.storageKey }, caption: "wide" },
      ],
    });
    assert.equal(ack.success, true, JSON.stringify(ack));

    const m = await received.next();
    assert.equal(m.id, ack.messageId);
    assert.equal(m.blocks[1].thumbnail, null, "the thumbnail comes later");
    const ready = await thumbnails.next(() => true, 20_000);
    assert.deepEqual(Object.keys(ready).sort(), ["conversationId", "messageId", "thumbnails"]);
    assert.equal(ready.messageId, ack.messageId);
    assert.equal(ready.conversationId, id);
    assert.equal(ready.thumbnails.length, 1);
    assert.equal(ready.thumbnails[0].blockIndex, 1);
    const thumb = ready.thumbnails[0].thumbnail;
    assert.equal(typeof thumb.storageKey, "string");
    assert.equal(thumb.url, undefined, "no signed url when downloads are public");
    assert.deepEqual(seen, ["messageReceived", "messageThumbnailsReady"]);

    const jpeg = await fetch(server.base + downloadPath(thumb.storageKey));
    assert.equal(jpeg.status, 200);
    assert.equal(jpeg.headers.get("content-type"), "image/jpeg");
    const bytes = Buffer.from(await jpeg.arrayBuffer());
    assert.deepEqual([...bytes.subarray(0, 2)], [0xff, 0xd8]);

    const stored = await server.api("GET", `/api/messages/${ack.messageId}`, t[a]);
    assert.deepEqual(stored.body.blocks[1].thumbnail, { storageKey: thumb.storageKey });
    await Promise.all([ana.stop(), ben.stop()]);
  });
}

test("a message sent over REST gets its thumbnails announced to every joined connection", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(server, a, b);
  const id = await conversation(server, t[a], [b]);
  const first = await upload(server, t[a], "one.png", "image/png", png(100, 60));
  const second = await upload(server, t[a], "two.png", "image/png", png(60, 100));
  const ana = await connect(server, "chat", t[a]);
  const ben = await connect(server, "chat", t[b], { transport: transports.ServerSentEvents });
  const anaReady = collect(ana, "messageThumbnailsReady");
  const benReady = collect(ben, "messageThumbnailsReady");
  await Promise.all([ana.invoke("JoinConversation", id), ben.invoke("JoinConversation", id)]);

  const sent = await server.api("POST", `/api/conversations/${id}/messages`, t[a], {
    blocks: [
      { $type: "image", source: { storageKey: first.storageKey } },
      { $type: "video", source: { url: "https://cdn.example.com/clip.mp4" } },
      { $type: "image", source: { storageKey: second.storageKey } },
    ],
  });
  assert.equal(sent.status, 201);
  for (const ready of [await anaReady.next(() => true, 20_000), await benReady.next(() => true, 20_000)]) {
    assert.equal(ready.messageId, sent.body.id);
    assert.deepEqual(ready.thumbnails.map((x) => x.blockIndex).sort(), [0, 2], "outside URLs get none");
  }
  await Promise.all([ana.stop(), ben.stop()]);
});

test("with signed downloads, hub events carry signed URLs that download", async () => {
  const [a, b] = [unique("ana"), unique("ben")];
  const t = await people(signedServer, a, b);
  const id = await conversation(signedServer, t[a], [b]);
  const image = await upload(signedServer, t[a], "cat.png", "image/png", png(200, 200));
  assert.match(image.downloadUrl, /\?expires=.+&sig=/);
  const ben = await connect(signedServer, "chat", t[b]);
  const received = collect(ben, "messageReceived");
  const thumbnails = collect(ben, "messageThumbnailsReady");
  await ben.invoke("JoinConversation", id);
  const sent = await signedServer.api("POST", `/api/conversations/${id}/messages`, t[a], {
    blocks: [{ $type: "image", source: { storageKey: image.storageKey } }],
  });
  assert.equal(sent.status, 201);

  const m = await received.next();
  const source = m.blocks[0].source;
  assert.equal(source.storageKey, image.storageKey);
  assert.ok(source.url.startsWith(downloadPath(image.storageKey) + "?expires="), source.url);
  const original = await fetch(signedServer.base + source.url);
  assert.equal(original.status, 200);
  assert.equal(original.headers.get("content-type"), "image/png");

  const unsigned = await fetch(signedServer.base + downloadPath(image.storageKey));
  assert.equal(unsigned.status, 400);
  assert.equal((await unsigned.json()).title, "Invalid Signature");

  const ready = await thumbnails.next(() => true, 20_000);
  const thumb = ready.thumbnails[0].thumbnail;
  assert.match(thumb.url, /^\/api\/files\/.+\?expires=.+&sig=.+/);
  const jpeg = await fetch(signedServer.base + thumb.url);
  assert.equal(jpeg.status, 200);
  assert.equal(jpeg.headers.get("content-type"), "image/jpeg");
  await ben.stop();
});
