/**
 * Where a cast's runtime CPU goes: a V8 CPU profile of the production Worker's isolate, taken
 * through workerd's inspector (the Chrome DevTools protocol) while a cast run is under load, and a
 * breakdown of its samples by the part of the system that ran them.
 *
 * Locally one isolate runs all of the production Worker's code: the gateway's fetch handler, every
 * Durable Object (ledgers, tally shards, the log sequencer, the aggregator and relays, the monitor)
 * and the queue consumer. A sample's stack therefore says which of them was on the thread:
 *   - the part is the outermost frame of the project's own code that names one (a Durable Object's
 *     class file, the consumer, the gateway's routes); frames of libraries and of lib/ or db/
 *     belong to whoever called them;
 *   - the detail is what ran inside it: the deepest project file on the stack, with the library or
 *     the runtime function (a native call such as `sign`, `exec` or `digest`) it was in.
 * Samples outside JavaScript are V8's own: "(program)" is the runtime's native work on the thread
 * (HTTP, RPC serialisation, storage commits, the queue, timers), "(garbage collector)" is GC and
 * "(idle)" is the thread waiting.
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

/** The inspector URL of one Worker's isolate (workerd names it `core:user:<worker name>`). */
async function isolateUrl(inspectorUrl: URL, workerName: string): Promise<string> {
  const listing = await fetch(new URL("/json/list", `http://${inspectorUrl.host}`));
  const targets = z.array(Target).parse(await listing.json());
  const target = targets.find((t) => t.id === `core:user:${workerName}` || t.title.includes(workerName));
  if (!target)
    throw new Error(`no inspector target for ${workerName} (targets: ${targets.map((t) => t.id).join(", ")})`);
  return target.webSocketDebuggerUrl ?? `ws://${inspectorUrl.host}/${target.id}`;
}

export interface Profiler {
  /** Stops sampling and returns the profile of everything the isolate ran since start. */
  stop(): Promise<CpuProfile>;
}

/** Starts sampling one Worker's isolate. */
export async function startProfiler(inspectorUrl: URL, workerName: string): Promise<Profiler> {
  const session = await InspectorSession.open(await isolateUrl(inspectorUrl, workerName));
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
  readonly samples: number;
  readonly busySamples: number;
  /** Samples per part (idle excluded) and their share of the busy samples. */
  readonly parts: readonly { readonly part: string; readonly samples: number; readonly share: number }[];
  /** Within each part, its heaviest details. */
  readonly details: readonly {
    readonly part: string;
    readonly detail: string;
    readonly samples: number;
    readonly share: number;
  }[];
  readonly seconds: number;
}

/**
 * Adds up a profile's samples by part and detail. Every sample counts the same: workerd does not
 * mark its waits as "(idle)", so the time to the next sample (V8's timeDeltas) can be a wait on
 * I/O after a busy sample and must not weigh it.
 */
export function breakdown(profile: CpuProfile, fileOf: (line: number) => string, bundleName: string): Breakdown {
  const bundle = new RegExp(`(^|/)${bundleName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}$`);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);

  const labelCache = new Map<number, { part: string; detail: string }>();
  const labelOf = (leafId: number): { part: string; detail: string } => {
    const cached = labelCache.get(leafId);
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
    labelCache.set(leafId, label);
    return label;
  };

  const partSamples = new Map<string, number>();
  const detailSamples = new Map<string, { part: string; detail: string; samples: number }>();
  let busy = 0;
  let busySamples = 0;
  profile.samples.forEach((nodeId) => {
    const samples = 1;
    const { part, detail } = labelOf(nodeId);
    if (part === "(idle)") return;
    busy += samples;
    busySamples += 1;
    partSamples.set(part, (partSamples.get(part) ?? 0) + samples);
    const key = `${part}\u0000${detail}`;
    const entry = detailSamples.get(key) ?? { part, detail, samples: 0 };
    entry.samples += samples;
    detailSamples.set(key, entry);
  });
  const share = (n: number): number => (busy > 0 ? n / busy : 0);
  return {
    samples: profile.samples.length,
    busySamples,
    seconds: (profile.endTime - profile.startTime) / 1e6,
    parts: [...partSamples.entries()]
      .map(([part, n]) => ({ part, samples: n, share: share(n) }))
      .sort((a, b) => b.samples - a.samples),
    details: [...detailSamples.values()]
      .map((d) => ({ ...d, share: share(d.samples) }))
      .sort((a, b) => b.samples - a.samples),
  };
}

/**
 * The breakdown as text, in milliseconds of runtime thread per cast: each part's share of the busy
 * samples times the runtime CPU per cast the bench measured for the same run (from /proc, so the
 * shares are the profile's and the total is the operating system's).
 */
export function breakdownText(b: Breakdown, cpuMsPerCast: number | undefined, topDetails = 6): string {
  const perCast = (share: number): string => (cpuMsPerCast === undefined ? "-" : fixed(share * cpuMsPerCast, 3));
  const rows = b.parts.map((p) => [p.part, `${fixed(p.share * 100, 1)}%`, perCast(p.share)]);
  const lines = [
    `    ${b.busySamples} busy samples of ${b.samples} over ${fixed(b.seconds, 1)} s; runtime CPU per cast ${fixed(cpuMsPerCast, 2)} ms`,
    table(["part", "share of busy thread", "ms per cast"], rows)
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n"),
  ];
  for (const p of b.parts) {
    const details = b.details.filter((d) => d.part === p.part).slice(0, topDetails);
    if (details.length <= 1 || p.share < 0.02) continue;
    lines.push(`    ${p.part}:`);
    for (const d of details)
      lines.push(`      ${fixed(d.share * 100, 1).padStart(5)}%  ${perCast(d.share).padStart(6)} ms  ${d.detail}`);
  }
  return lines.join("\n");
}

export async function writeProfile(file: string, profile: CpuProfile): Promise<void> {
  await writeFile(file, JSON.stringify(profile));
}
