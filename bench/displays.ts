/**
 * Result displays for the bench: N WebSocket clients of a live-results channel (the public one, or
 * the officials' exact one with an official's token), in a
 * process of their own (scripts/bench.ts starts it beside the load generator) so that their work
 * never shares an event loop with the bench or the runtime.
 *
 * It takes a DisplaySpec as JSON in argv[2], opens the sockets (a few at a time, as displays come
 * up over a minute in real life, never all in one burst), prints "ready <open>" on stdout once
 * every socket has its first snapshot (or has failed), and on "stop" on stdin closes them and
 * writes a DisplayResult to spec.resultFile: per socket, every release it received (version,
 * national ballots, when the release was cut, when it arrived), and how many sockets were lost
 * (closed or errored without being asked to) or never opened.
 *
 * A display does what the results page does: it pings every HEARTBEAT_INTERVAL_MS, applies updates
 * to the snapshot it holds (lib/results/live.ts), and when a socket drops it reconnects with the
 * version it holds. A reconnect counts as a loss: the target is none.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { z } from "zod";
import {
  applyUpdate,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_PING,
  LiveMessage,
  type LiveSnapshot,
} from "../lib/results/live.ts";

export const DisplaySpec = z.object({
  baseUrl: z.url(),
  electionId: z.string().min(1),
  sockets: z.number().int().min(1),
  /** Sockets opened at a time while connecting. */
  batch: z.number().int().min(1).default(50),
  resultFile: z.string().min(1),
  /** Distinct per run, so displays are spread over the relays by their ids. */
  idPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/),
  /** "official": the exact sums, which no k threshold holds back; needs an official's token. */
  channel: z.enum(["public", "official"]).default("public"),
  token: z.string().min(1).optional(),
});
export type DisplaySpec = z.input<typeof DisplaySpec>;

/** Node's WebSocket (undici) also takes request headers, which the DOM's type does not declare. */
const NodeWebSocket = WebSocket as unknown as new (
  url: string,
  init: { readonly headers?: Record<string, string> },
) => WebSocket;

const Count = z.number().int().min(0);
/** [version, national ballots, asOf ms, arrival ms] */
const Arrival = z.tuple([Count, Count, Count, Count]);

export const DisplayResult = z.object({
  opened: Count,
  failedToOpen: Count,
  /** Sockets that closed or errored while the run went on (each reconnected with its version). */
  lost: Count,
  /** Updates that did not apply to the snapshot held (the display asked again). */
  outOfOrder: Count,
  arrivals: z.array(z.array(Arrival)),
  cpuSeconds: z.number(),
  uptimeSeconds: z.number(),
});
export type DisplayResult = z.infer<typeof DisplayResult>;

interface Display {
  socket: WebSocket | undefined;
  held: LiveSnapshot | undefined;
  readonly arrivals: z.infer<typeof Arrival>[];
}

async function main(): Promise<void> {
  const spec = DisplaySpec.parse(JSON.parse(process.argv[2] ?? "{}"));
  const base = new URL(spec.baseUrl);
  const wsBase = `${base.protocol === "https:" ? "wss:" : "ws:"}//${base.host}`;
  const displays: Display[] = Array.from({ length: spec.sockets }, () => ({
    socket: undefined,
    held: undefined,
    arrivals: [],
  }));
  let stopping = false;
  let failedToOpen = 0;
  let lost = 0;
  let outOfOrder = 0;

  const connect = (index: number, display: Display): Promise<boolean> =>
    new Promise((resolve) => {
      const since = display.held ? `&since=${display.held.version}` : "";
      const election = encodeURIComponent(spec.electionId);
      const url =
        spec.channel === "official"
          ? `${wsBase}/v1/admin/elections/${election}/results/live?${since.slice(1)}`
          : `${wsBase}/v1/elections/${election}/results/live?display=${spec.idPrefix}-${index}${since}`;
      const socket = new NodeWebSocket(url, spec.token ? { headers: { authorization: `Bearer ${spec.token}` } } : {});
      display.socket = socket;
      let settled = false;
      const settle = (ok: boolean): void => {
        if (!settled) {
          settled = true;
          resolve(ok);
        }
      };
      socket.addEventListener("message", (event: MessageEvent) => {
        if (typeof event.data !== "string" || event.data === "pong") return;
        const message = LiveMessage.parse(JSON.parse(event.data));
        const arrived = Date.now();
        if (message.type === "snapshot") {
          display.held = message;
        } else if (message.type === "update") {
          const next = display.held ? applyUpdate(display.held, message) : undefined;
          if (!next) {
            outOfOrder += 1;
            socket.close(1000, "resync");
            return;
          }
          display.held = next;
        }
        if (message.type !== "current" && display.held) {
          display.arrivals.push([display.held.version, display.held.totals.ballots, display.held.asOf, arrived]);
        }
        settle(true);
      });
      // A failed handshake may end in `error` alone (Node's WebSocket fires no `close` after some
      // refusals): either event ends this socket, once, as the results page treats them.
      let ended = false;
      const end = (): void => {
        settle(false);
        if (ended || stopping) return;
        ended = true;
        lost += 1;
        // A display reconnects with the version it holds, as the results page does.
        setTimeout(() => void connect(index, display), 250);
      };
      socket.addEventListener("close", end);
      socket.addEventListener("error", end);
    });

  for (let i = 0; i < displays.length; i += spec.batch) {
    const opened = await Promise.all(
      displays.slice(i, i + spec.batch).map((d, k) => connect(i + k, d).catch(() => false)),
    );
    failedToOpen += opened.filter((ok) => !ok).length;
  }
  // Losses while connecting are failures to open, counted above.
  lost = 0;
  const pinger = setInterval(() => {
    for (const d of displays) if (d.socket?.readyState === WebSocket.OPEN) d.socket.send(HEARTBEAT_PING);
  }, HEARTBEAT_INTERVAL_MS);
  console.log(`ready ${displays.length - failedToOpen}`);

  await new Promise<void>((resolve) => {
    createInterface({ input: process.stdin }).on("line", (line) => {
      if (line.trim() === "stop") resolve();
    });
  });
  stopping = true;
  clearInterval(pinger);
  for (const d of displays) d.socket?.close(1000, "bench over");
  const usage = process.cpuUsage();
  const result: DisplayResult = {
    opened: displays.length - failedToOpen,
    failedToOpen,
    lost,
    outOfOrder,
    arrivals: displays.map((d) => d.arrivals),
    cpuSeconds: (usage.user + usage.system) / 1e6,
    uptimeSeconds: process.uptime(),
  };
  writeFileSync(spec.resultFile, JSON.stringify(result));
  process.exit(0);
}

/** Reads what a display process wrote. */
export function readDisplayResult(file: string): DisplayResult {
  return DisplayResult.parse(JSON.parse(readFileSync(file, "utf8")));
}

if (import.meta.main) await main();
