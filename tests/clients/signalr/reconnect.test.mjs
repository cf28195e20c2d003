// Automatic reconnect with the official client: the server goes away (gracefully or by a
// crash) and comes back on the same port; the client reconnects, re-joins, and hears new
// messages. What it missed meanwhile it fetches with `direction=newer`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { startServer, freePort, people, conversation, text, collect, sleep } from "../lib/harness.mjs";
import { connect, transports } from "../lib/hubs.mjs";

const retries = Array.from({ length: 60 }, () => 250);

for (const [how, signal] of [["gracefully (SIGTERM)", "SIGTERM"], ["by a crash (SIGKILL)", "SIGKILL"]]) {
  for (const [name, transport] of Object.entries(transports)) {
    test(`a ${name} client reconnects after the server stops ${how}, re-joins and receives again`, async () => {
      const port = await freePort();
      let server = await startServer({ port });
      const dataDir = server.dataDir;
      try {
        const t = await people(server, "ana", "ben");
        const id = await conversation(server, t.ana, ["ben"]);
        const ben = await connect(server, "chat", t.ben, { transport, reconnect: retries });
        const received = collect(ben, "messageReceived");
        let reconnecting = 0;
        ben.onreconnecting(() => { reconnecting++; });
        const reconnected = new Promise((ok) => ben.onreconnected(async () => {
          await ben.invoke("JoinConversation", id); // what the SDK does after a reconnect
          ok();
        }));
        await ben.invoke("JoinConversation", id);
        const before = await server.api("POST", `/api/conversations/${id}/messages`, t.ana, { blocks: text("before") });
        await received.next((m) => m.id === before.body.id);

        await server.stop(signal);
        await sleep(300); // the client notices and starts retrying
        server = await startServer({ port, dataDir });
        const whileAway = await server.api("POST", `/api/conversations/${id}/messages`, t.ana, { blocks: text("while away") });
        await reconnected;
        assert.ok(reconnecting >= 1);
        assert.equal(ben.state, "Connected");

        const after = await server.api("POST", `/api/conversations/${id}/messages`, t.ana, { blocks: text("after") });
        assert.equal((await received.next((m) => m.id === after.body.id, 10000)).plainTextContent, "after");
        // What was sent before the re-join comes from history.
        const caughtUp = await server.api("GET", `/api/conversations/${id}/messages?direction=newer&cursor=${before.body.id}`, t.ben);
        assert.deepEqual(caughtUp.body.items.map((m) => m.id), [whileAway.body.id, after.body.id]);
        await ben.stop();
      } finally {
        await server.stop();
      }
    });
  }
}
