/**
 * Where a cast's runtime CPU goes: a V8 CPU profile of the production Worker's isolate, taken
 * through workerd's inspector (the Chrome DevTools protocol) while a cast run is under load, and a
 * breakdown of its samples by the part of the system that ran them.
 *
 * V8 samples an isolate only while the thread is in it, so a busy sample weighs the sampling gap
 * (the median time between samples) and the isolate's samples add up to the time it ran. What the
 * operating system counts for the runtime beyond that ran outside the production Worker: the local
 * runtime's emulations of the platform's services (D1, the queue broker, R2, the rate limiters,
 * each an isolate of its own) and Miniflare's entry worker, and native work between isolates
 * (HTTP, the event loop). That remainder is reported as one line, with the rate limiters' share
 * beside it when the bench measured one limit() call in the same runtime. Profiling the service
 * isolates the same way does not work: their samplers record a waiting stack as busy.
 *
 * Locally one isolate runs all of the production Worker's code: the gateway's fetch handler, every
 * Durable Object (ledgers, tally shards, the log sequencer, the aggregator and relays, the monitor)
 * and the queue consumer. A sample's stack therefore says which of them was on the thread:
 *   - the part is the outermost frame of the project's own code that names one (a Durable Object's
 *     class file, the consumer, the gateway's routes); frames of libraries and of lib/ or db/
 *     belong to whoever called them;
 *   - the detail is what ran inside it: the deepest project file on the stack, with the library or
 *     the runtime function (a native call such as `sign`, `exec` or `digest`) it was in.
 * Samples outside JavaScript are V8's own: "(program)" is the isolate in native code with no
 * JavaScript frame (RPC (de)serialisation, promise jobs), "(garbage collector)" is GC; both are the
 * isolate's time. "(idle)" is not.
 *
 * The bundle wrangler builds is one file in which esbuild marks each module's start with a
 * `// path` comment; a frame's line number is mapped back to its source file through those marks,
 * so no source map is needed.
 */
import { readFile, writeFile } from "node:fs/promises";
import { z } from "zod";
import { fixed, table } from "./stats.ts";

/** The sampling interval asked of V8 (microseconds): 200 µs gives thousands of samples in a run. */
const SAMPLING_INTERVAL_US = 200;

const CallFrame = z.object({
  functionName: z.string(),
  url: z.string(),
  lineNumber: z.number().int(),
});
const ProfileNode = z.object({
  id: z.number().int(),
  callFrame: CallFrame,
  children: z.array(z.number().int()).optional(),
});
const CpuProfile = z.object({
  nodes: z.array(ProfileNode),
  startTime: z.number(),
  endTime: z.number(),
  samples: z.array(z.number().int()),
  timeDeltas: z.array(z.number()),
});
export type CpuProfile = z.infer<typeof CpuProfile>;

const Target = z.object({ id: z.string(), title: z.string(), webSocketDebuggerUrl: z.string().optional() });

/** A DevTools-protocol session on one of workerd's isolates. */
class InspectorSession {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private readonly socket: WebSocket;

  private constructor(socket: WebSocket) {
    this.socket = socket;
    socket.addEventListener("message", (event) => {
      const message = z
        .object({ id: z.number().optional(), result: z.unknown().optional(), error: z.unknown().optional() })
        .safeParse(JSON.parse(String(event.data)));
      if (!message.success || message.data.id === undefined) return;
      const waiter = this.pending.get(message.data.id);
      if (!waiter) return;
      this.pending.delete(message.data.id);
      if (message.data.error !== undefined) waiter.reject(new Error(JSON.stringify(message.data.error)));
      else waiter.resolve(message.data.result);
    });
  }

  static async open(url: string): Promise<InspectorSession> {
    const socket = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      socket.addEventListener("open", () => resolve(), { once: true });
      socket.addEventListener("error", () => reject(new Error(`could not open the inspector at ${url}`)), {
        once: true,
      });
    });
    return new InspectorSession(socket);
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.send(JSON.stringify({ id, method, params }));
    });
  }

  close(): void {
    this.socket.close();
  }
}

export interface Profiler {
  /** Stops sampling and returns the profile of everything the isolate ran since start. */
  stop(): Promise<CpuProfile>;
}

/** Starts sampling one Worker's isolate (workerd names it `core:user:<worker name>`). */
export async function startProfiler(inspectorUrl: URL, workerName: string): Promise<Profiler> {
  const listing = await fetch(new URL("/json/list", `http://${inspectorUrl.host}`));
  const targets = z.array(Target).parse(await listing.json());
  const target = targets.find((t) => t.id === `core:user:${workerName}`);
  if (!target)
    throw new Error(`no inspector target for ${workerName} (targets: ${targets.map((t) => t.id).join(", ")})`);
  const session = await InspectorSession.open(target.webSocketDebuggerUrl ?? `ws://${inspectorUrl.host}/${target.id}`);
  await session.send("Profiler.enable");
  await session.send("Profiler.setSamplingInterval", { interval: SAMPLING_INTERVAL_US });
  await session.send("Profiler.start");
  return {
    async stop() {
      try {
        const result = z.object({ profile: z.unknown() }).parse(await session.send("Profiler.stop"));
        return CpuProfile.parse(result.profile);
      } finally {
        session.close();
      }
    },
  };
}

/** Each module's first line in the bundle, from esbuild's `// path` marks, in line order. */
export async function moduleMap(bundleFile: string): Promise<(line: number) => string> {
  const lines = (await readFile(bundleFile, "utf8")).split("\n");
  const starts: { line: number; file: string }[] = [];
  lines.forEach((text, i) => {
    const mark = /^\/\/ ((?:node_modules\/|node-built-in-modules:|[a-z-]+\/)[^\s]*\.?[a-z]*)$/.exec(text);
    if (mark?.[1]) starts.push({ line: i, file: mark[1] });
  });
  return (line: number) => {
    let lo = 0;
    let hi = starts.length - 1;
    let found = "(bundle prelude)";
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const start = starts[mid];
      if (!start) break;
      if (start.line <= line) {
        found = start.file;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
}

/** The parts of the system a cast sets off, by the project file whose code was running. */
const PARTS: readonly { readonly part: string; readonly files: RegExp }[] = [
  { part: "voter ledger (transaction, outbox, queue send)", files: /^durable-objects\/(voter-ledger|outbox)\.ts$/ },
  { part: "tally shards", files: /^durable-objects\/tally-shard\.ts$/ },
  { part: "log sequencer", files: /^durable-objects\/log-(sequencer|exports)\.ts$/ },
  { part: "results aggregator and relays", files: /^durable-objects\/results-(aggregator|relay)\.ts$/ },
  { part: "security monitor", files: /^(durable-objects\/security-monitor|workers\/monitor\/.*)\.ts$/ },
  { part: "replay guard", files: /^durable-objects\/replay-guard\.ts$/ },
  { part: "other Durable Objects", files: /^durable-objects\/.*\.ts$/ },
  { part: "queue consumer (D1 records, shard and log calls)", files: /^workers\/tally\/.*\.ts$/ },
  { part: "gateway (routing, session, validation, commitment, receipt)", files: /^workers\/.*\.(ts|tsx)$/ },
];

const V8_PSEUDO = new Set(["(program)", "(garbage collector)", "(idle)", "(root)"]);

function isProjectFile(file: string): boolean {
  return /^(workers|durable-objects|lib|db)\//.test(file);
}

export interface Breakdown {
  /** The run the profile covers: its accepted requests (casts or logins) and the runtime's CPU over it (from /proc). */
  readonly requests: number;
  /** What a request is, for the text: "cast" or "login". */
  readonly noun: string;
  readonly runtimeCpuMs: number | undefined;
  /** JavaScript milliseconds per part over the run (GC included; "(program)" and "(idle)" not). */
  readonly parts: readonly { readonly part: string; readonly ms: number }[];
  /** Within each part, its heaviest details. */
  readonly details: readonly { readonly part: string; readonly detail: string; readonly ms: number }[];
  /** The runtime's CPU outside the production Worker's isolate (see the header). */
  readonly outsideMs: number | undefined;
  /** Of that, the local rate limiters' emulation, when the bench measured one limit() call. */
  readonly limiterMs: number | undefined;
}

/**
 * One sample's weight in milliseconds: the median gap between an isolate's samples. The gap after
 * a sample is not used, since it can be a wait (on I/O, or while another isolate ran) after a busy
 * sample, which must not weigh it.
 */
function sampleMs(profile: CpuProfile): number {
  const gaps = [...profile.timeDeltas].filter((d) => d > 0).sort((a, b) => a - b);
  return (gaps[Math.floor(gaps.length / 2)] ?? SAMPLING_INTERVAL_US) / 1000;
}

/** Labels each sample of the production Worker's isolate with its part and detail (file header). */
function productionLabeller(
  profile: CpuProfile,
  fileOf: (line: number) => string,
  bundle: RegExp,
): (leafId: number) => { part: string; detail: string } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const cache = new Map<number, { part: string; detail: string }>();
  return (leafId) => {
    const cached = cache.get(leafId);
    if (cached) return cached;
    const stack: { name: string; file: string }[] = [];
    for (let id: number | undefined = leafId; id !== undefined; id = parent.get(id)) {
      const node = byId.get(id);
      if (!node) break;
      const { functionName, url, lineNumber } = node.callFrame;
      // The bundle's frames map to their source files; the runtime's own JavaScript
      // (cloudflare-internal:d1-api and the like) keeps its module name.
      stack.push({ name: functionName, file: url === "" ? "" : bundle.test(url) ? fileOf(lineNumber) : url });
    }
    // stack[0] is the leaf, the last entry the root.
    const leaf = stack[0];
    let label: { part: string; detail: string };
    if (leaf && V8_PSEUDO.has(leaf.name)) label = { part: leaf.name, detail: leaf.name };
    else {
      const outermost = [...stack].reverse().find((f) => PARTS.some((p) => p.files.test(f.file)));
      const part = outermost ? (PARTS.find((p) => p.files.test(outermost.file))?.part ?? "other") : "other JavaScript";
      const deepestProject = stack.find((f) => isProjectFile(f.file));
      const library = stack.find(
        (f) => f.file.startsWith("node_modules/") || f.file.startsWith("cloudflare-internal:"),
      );
      const native = leaf && leaf.file === "" ? leaf.name || "(native)" : undefined;
      const where = deepestProject ? deepestProject.file : "(no project frame)";
      const libraryName = library
        ? (/^node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(library.file)?.[1] ?? library.file)
        : undefined;
      const inner = [libraryName, native].filter((x): x is string => x !== undefined).join(" > ");
      label = { part, detail: inner ? `${where} > ${inner}` : where };
    }
    cache.set(leafId, label);
    return label;
  };
}

/**
 * Adds up the isolate's samples by part and detail, in milliseconds over the run; with the run's
 * casts and the runtime's CPU over it, the rest is what ran outside the isolate.
 */
export function breakdown(
  profile: CpuProfile,
  fileOf: (line: number) => string,
  bundleName: string,
  run: {
    readonly requests: number;
    readonly noun: string;
    readonly runtimeCpuMs: number | undefined;
    /** CPU ms of one local limit() call beyond a bare request, and how many a request makes. */
    readonly limiter?: { readonly msPerCall: number; readonly callsPerRequest: number };
  },
): Breakdown {
  const bundle = new RegExp(`(^|/)${bundleName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  const labelOf = productionLabeller(profile, fileOf, bundle);
  const weight = sampleMs(profile);
  const partMs = new Map<string, number>();
  const detailMs = new Map<string, { part: string; detail: string; ms: number }>();
  for (const nodeId of profile.samples) {
    const { part, detail } = labelOf(nodeId);
    if (part === "(idle)" || part === "(root)") continue;
    partMs.set(part, (partMs.get(part) ?? 0) + weight);
    const key = `${part}\u0000${detail}`;
    const entry = detailMs.get(key) ?? { part, detail, ms: 0 };
    entry.ms += weight;
    detailMs.set(key, entry);
  }
  const isolateMs = [...partMs.values()].reduce((a, b) => a + b, 0);
  const outsideMs = run.runtimeCpuMs === undefined ? undefined : Math.max(0, run.runtimeCpuMs - isolateMs);
  const limiterMs = run.limiter ? run.limiter.msPerCall * run.limiter.callsPerRequest * run.requests : undefined;
  return {
    requests: run.requests,
    noun: run.noun,
    runtimeCpuMs: run.runtimeCpuMs,
    parts: [...partMs.entries()].map(([part, ms]) => ({ part, ms })).sort((a, b) => b.ms - a.ms),
    details: [...detailMs.values()].sort((a, b) => b.ms - a.ms),
    outsideMs,
    limiterMs: limiterMs === undefined || outsideMs === undefined ? undefined : Math.min(limiterMs, outsideMs),
  };
}

/** The breakdown as text, in milliseconds of runtime CPU per accepted request, largest first. */
export function breakdownText(b: Breakdown, topDetails = 6): string {
  const perCast = (ms: number | undefined): string => (ms === undefined ? "-" : fixed(ms / b.requests, 3));
  const share = (ms: number | undefined): string =>
    ms === undefined || b.runtimeCpuMs === undefined ? "-" : `${fixed((ms / b.runtimeCpuMs) * 100, 1)}%`;
  const rows = [
    ...b.parts.map((p) => [p.part, perCast(p.ms), share(p.ms)]),
    [
      "outside the Worker: the local runtime's D1, queue, R2 and limiter emulations, entry worker, native I/O",
      perCast(b.outsideMs),
      share(b.outsideMs),
    ],
    ...(b.limiterMs === undefined
      ? []
      : [
          [
            "  of which the rate limiters' emulation (from the rate-limit baseline)",
            perCast(b.limiterMs),
            share(b.limiterMs),
          ],
        ]),
    [
      "total (the runtime's CPU per request in the measured runs, from /proc)",
      perCast(b.runtimeCpuMs),
      share(b.runtimeCpuMs),
    ],
  ];
  const lines = [
    `    ${b.requests} ${b.noun}s accepted in the profiled run`,
    table(["part", `ms per ${b.noun}`, "share"], rows)
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n"),
  ];
  for (const p of b.parts) {
    const details = b.details.filter((d) => d.part === p.part).slice(0, topDetails);
    if (details.length <= 1 || (b.runtimeCpuMs !== undefined && p.ms < 0.02 * b.runtimeCpuMs)) continue;
    lines.push(`    ${p.part}:`);
    for (const d of details) lines.push(`      ${perCast(d.ms).padStart(6)} ms  ${d.detail}`);
  }
  return lines.join("\n");
}

export async function writeProfile(file: string, profile: CpuProfile): Promise<void> {
  await writeFile(file, JSON.stringify(profile));
}
