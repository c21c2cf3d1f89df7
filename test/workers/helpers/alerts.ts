/** The monitor's live alerts channel, for tests inside workerd. */
import { expect } from "vitest";
import { AlertsLiveMessage } from "../../../lib/monitor/alerts.ts";
import { waitFor } from "./cast.ts";

/**
 * Accepts the WebSocket of an upgrade answered with the alerts.v1 subprotocol and waits for the
 * channel's first message, a snapshot: the socket, and every message it brings from then on.
 */
export async function acceptAlertsLive(res: Response): Promise<{ ws: WebSocket; messages: AlertsLiveMessage[] }> {
  expect(res.status).toBe(101);
  expect(res.headers.get("sec-websocket-protocol")).toBe("alerts.v1");
  const ws = res.webSocket;
  if (!ws) throw new Error("no socket");
  const messages: AlertsLiveMessage[] = [];
  ws.addEventListener("message", (event) => {
    messages.push(AlertsLiveMessage.parse(JSON.parse(String(event.data))));
  });
  ws.accept();
  await waitFor(async () => (messages.length > 0 ? true : undefined));
  expect(messages[0]?.type).toBe("snapshot");
  return { ws, messages };
}
