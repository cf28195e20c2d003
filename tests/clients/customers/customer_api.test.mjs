// The agents' customer API of seed 003: the {success, data} envelope, filters and paging,
// records, tokens for a customer, and who may use it.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, token } from "../lib/harness.mjs";
import { customerToken, openChat } from "../lib/customer.mjs";

let server;
const agent = token("agent-api", { role: "agent" });
const admin = token("admin-api", { role: "admin" });
before(async () => { server = await startServer({ config: "[customers]\ntoken_requests_per_second = 0\n" }); });
after(async () => { await server.close(); });

const api = (method, path, tok, body) => server.api(method, path, tok, body);

test("only agents and admins use the customer API", async () => {
  const none = await api("GET", "/api/v1/customers");
  assert.equal(none.status, 401);
  assert.equal(none.body.success, false);
  const user = await api("GET", "/api/v1/customers", token("u", { role: "user" }));
  assert.equal(user.status, 403);
  assert.equal(user.body.success, false);
  assert.match(user.body.message, /agent or admin/);
  assert.equal((await api("GET", "/api/v1/customers", admin)).status, 200);
});

test("agents create, read and update customer records", async () => {
  const created = await api("POST", "/api/v1/customers", agent, {
    name: "李四", primaryChannel: "WECHAT", wechatOpenId: "oAbCd1234567890", phone: "+8613900139000",
    tags: ["潜在客户"], notes: "对产品A感兴趣",
  });
  assert.equal(created.status, 201);
  const c = created.body.data;
  assert.equal(c.name, "李四");
  assert.equal(c.primaryChannel, "WECHAT");
  assert.deepEqual(c.identities, [{ channel: "WECHAT", channelId: "oAbCd1234567890" }]);
  assert.deepEqual(c.tags, ["潜在客户"]);
  assert.equal(c.active, true);
  assert.equal(c.lastInteractionAt, null);

  const updated = await api("PUT", `/api/v1/customers/${c.id}`, agent, { name: "李四（已购买）", tags: ["VIP", "已购买"], notes: "已购买产品A" });
  assert.equal(updated.status, 200);
  assert.deepEqual([updated.body.data.name, updated.body.data.tags, updated.body.data.notes], ["李四（已购买）", ["VIP", "已购买"], "已购买产品A"]);
  assert.equal(updated.body.data.phone, "+8613900139000", "fields left out stay");
  const read = await api("GET", `/api/v1/customers/${c.id}`, agent);
  assert.deepEqual(read.body.data, updated.body.data);

  // The WeChat identity now belongs to this customer: the public endpoint finds it.
  const t = await customerToken(server, "someone", "WECHAT", "oAbCd1234567890");
  assert.equal(t.body.data.customerId, c.id);
  // Nobody else may claim it.
  const clash = await api("POST", "/api/v1/customers", agent, { name: "Other", primaryChannel: "WECHAT", channelId: "oAbCd1234567890" });
  assert.equal(clash.status, 409);
});

test("bad records and unknown ids are refused clearly", async () => {
  const noName = await api("POST", "/api/v1/customers", agent, { primaryChannel: "WEB" });
  assert.equal(noName.status, 400);
  assert.match(noName.body.message, /name/);
  const badChannel = await api("POST", "/api/v1/customers", agent, { name: "X", primaryChannel: "FAX" });
  assert.equal(badChannel.status, 400);
  const tooManyTags = await api("POST", "/api/v1/customers", agent, { name: "X", primaryChannel: "WEB", tags: Array.from({ length: 51 }, (_, i) => `t${i}`) });
  assert.equal(tooManyTags.status, 400);
  const missing = await api("GET", "/api/v1/customers/nobody", agent);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.success, false);
  assert.equal((await api("PUT", "/api/v1/customers/nobody", agent, { name: "Y" })).status, 404);
});

test("the list filters by name, channel and activity, in pages", async () => {
  const tag = `batch${Date.now()}`;
  const ids = [];
  for (let i = 0; i < 5; i++) {
    const r = await api("POST", "/api/v1/customers", agent, { name: `Đức ${tag} ${i}`, primaryChannel: i % 2 ? "LINE" : "SMS", tags: [tag] });
    ids.push(r.body.data.id);
  }
  await api("PUT", `/api/v1/customers/${ids[4]}`, agent, { active: false });
  const byName = await api("GET", `/api/v1/customers?name=${encodeURIComponent(`duc ${tag}`)}&size=2`, agent);
  assert.equal(byName.status, 200);
  const page = byName.body.data;
  assert.equal(page.totalElements, 5);
  assert.equal(page.totalPages, 3);
  assert.equal(page.content.length, 2);
  const all = [];
  for (let p = 0; p < 3; p++) {
    const r = await api("GET", `/api/v1/customers?name=${tag}&size=2&page=${p}`, agent);
    all.push(...r.body.data.content.map((c) => c.id));
  }
  assert.deepEqual([...all].sort(), [...ids].sort(), "every customer once across the pages");
  const line = await api("GET", `/api/v1/customers?name=${tag}&channel=LINE`, agent);
  assert.deepEqual(line.body.data.content.map((c) => c.primaryChannel), ["LINE", "LINE"]);
  const active = await api("GET", `/api/v1/customers?name=${tag}&active=false`, agent);
  assert.deepEqual(active.body.data.content.map((c) => c.id), [ids[4]]);
  assert.equal((await api("GET", "/api/v1/customers?size=0", agent)).status, 400);
  assert.equal((await api("GET", "/api/v1/customers?page=-1", agent)).status, 400);
  assert.equal((await api("GET", "/api/v1/customers?channel=FAX", agent)).status, 400);
});

test("an agent can issue a token for a customer, and find the customer's conversations", async () => {
  const created = await api("POST", "/api/v1/customers", agent, { name: "Tok", primaryChannel: "TELEGRAM", channelId: `${Date.now()}` });
  const issued = await api("POST", `/api/v1/customers/${created.body.data.id}/token`, agent);
  assert.equal(issued.status, 200);
  assert.equal(issued.body.data.customerId, created.body.data.id);
  assert.equal(issued.body.data.channel, "TELEGRAM");
  const socket = await openChat(server, issued.body.data.token);
  socket.send({ content: "hi from telegram" });
  const echo = await socket.next();
  const list = await api("GET", `/api/v1/customers/${created.body.data.id}/conversations`, agent);
  assert.deepEqual(list.body.data.map((c) => [c.id, c.channel]), [[echo.conversationId, "TELEGRAM"]]);
  socket.close();
  // An inactive customer's tokens stop working.
  await api("PUT", `/api/v1/customers/${created.body.data.id}`, agent, { active: false });
  await assert.rejects(openChat(server, issued.body.data.token), (e) => e.status === 401);
});

test("the public token endpoint is rate limited per client address", async () => {
  const limited = await startServer({ config: "[customers]\ntoken_requests_per_second = 1\ntoken_burst = 2\n" });
  try {
    const statuses = [];
    for (let i = 0; i < 6; i++) statuses.push((await customerToken(limited, "R", "WEB", `r${i}`)).status);
    assert.ok(statuses.includes(429), `got ${statuses}`);
    const refused = await customerToken(limited, "R", "WEB", "again");
    if (refused.status === 429) {
      assert.equal(refused.body.success, false);
      assert.equal(refused.body.code, "RATE_LIMITED");
    }
  } finally {
    await limited.close();
  }
});
