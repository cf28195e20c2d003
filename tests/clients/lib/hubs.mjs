// Connecting to chatgate's hubs with the official @microsoft/signalr client.

import * as signalR from "@microsoft/signalr";

export const transports = {
  WebSockets: signalR.HttpTransportType.WebSockets,
  ServerSentEvents: signalR.HttpTransportType.ServerSentEvents,
  LongPolling: signalR.HttpTransportType.LongPolling,
};

/** A started connection to `/hubs/{hub}` as the holder of `token`. */
export async function connect(server, hub, token, { transport = transports.WebSockets, reconnect, skipNegotiation } = {}) {
  let builder = new signalR.HubConnectionBuilder()
    .withUrl(`${server.base}/hubs/${hub}`, { accessTokenFactory: () => token, transport, skipNegotiation })
    .configureLogging(signalR.LogLevel.None);
  if (reconnect) builder = builder.withAutomaticReconnect(reconnect);
  const connection = builder.build();
  await connection.start();
  return connection;
}

export { signalR };
