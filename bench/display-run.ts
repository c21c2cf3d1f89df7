/**
 * The bench's display run: result displays connected over WebSockets while the cast path is under
 * load (issue "Live results", item 5; figures in docs/PERFORMANCE.md, sizing in docs/CAPACITY.md).
 *
 * Two phases on the same runtime instance, each a cast run at the same fixed rate (so that the
 * cast path costs the same in both) with a different number of displays connected: a small
 * reference (100) and the run's full count (--displays, 1,000 by default). What the phases differ
 * in is the displays, so:
 * - runtime CPU per pushed update per socket = (CPU of the full phase - CPU of the reference) /
 *   (updates delivered in the full phase - in the reference);
 * - the aggregator's calls per second in each phase show that its load does not depend on how
 *   many displays there are (displays never reach it: relays do);
 * - time from acceptance to display: the i-th ballot accepted in the run is taken as included by
 *   the first release whose national ballot count reaches it (first in, first counted: the tally
 *   does not say which ballots a release holds, only how many; resends after the run are few and
 *   only make the estimate earlier), over every socket; and the fan-out alone, from the moment a
 *   release was cut (its asOf) to its arrival at each socket, for pushed releases (not the
 *   snapshot a display is given when it connects);
 * - sockets lost: closed or errored while the phase ran (each reconnects with its version, as
 *   the results page does); the target is none.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { OfficialClient } from "../cli/lib/api.ts";
import type { CastRun, CastSession } from "./cast.ts";
import { cpuSecondsOf } from "./cpu.ts";
import { readDisplayResult, type DisplayResult, type DisplaySpec } from "./displays.ts";
import { runningChildren } from "./measure.ts";

const DISPLAY_SCRIPT = join(import.meta.dirname, "displays.ts");
/**
 * Displays on the officials' channel in every phase: its releases are exact, so no k threshold
 * holds a ballot back, and their latency is the system's own when k is met.
 */
const OFFICIAL_DISPLAYS = 10;
/** After the casts stop and the tally has drained, time for the last release to reach everyone. */
const FINAL_RELEASE_WAIT_MS = 3_000;

export interface Percentiles {
  readonly samples: number;
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface DisplayPhase {
  readonly sockets: number;
  readonly opened: number;
  readonly failedToOpen: number;
  readonly lost: number;
  readonly outOfOrder: number;
  readonly casts: number;
  readonly castsPerSecond: number;
  readonly releases: number;
  /** Updates (and first snapshots) delivered, over all sockets. */
  readonly delivered: number;
  readonly acceptanceToDisplayMs: Percentiles | undefined;
  readonly fanOutMs: Percentiles | undefined;
  /** The same on the officials' (exact) channel, whose releases no k threshold holds back. */
  readonly official: {
    readonly sockets: number;
    readonly lost: number;
    readonly acceptanceToDisplayMs: Percentiles | undefined;
    readonly fanOutMs: Percentiles | undefined;
  };
  readonly runtimeCpuSeconds: number | undefined;
  readonly seconds: number;
  readonly aggregatorCallsPerSecond: number | undefined;
  readonly displayProcessCores: number;
}

const AggregatorStats = z.object({ calls: z.number().int().min(0) });

/** The aggregator's calls so far (its own counter, through the officials' diagnostics route). */
async function aggregatorCalls(client: OfficialClient, electionId: string): Promise<number | undefined> {
  try {
    return AggregatorStats.parse(
      await client.call("GET", `/v1/admin/elections/${encodeURIComponent(electionId)}/results/aggregator`),
    ).calls;
  } catch {
    return undefined;
  }
}

function percentiles(values: number[]): Percentiles | undefined {
  if (values.length === 0) return undefined;
  values.sort((a, b) => a - b);
  const at = (q: number): number => values[Math.min(values.length - 1, Math.floor(q * values.length))] ?? NaN;
  return { samples: values.length, p50: at(0.5), p99: at(0.99), max: values[values.length - 1] ?? NaN };
}

/** Starts the display process and waits until every socket has its first snapshot. */
export async function startDisplays(
  spec: DisplaySpec,
): Promise<{ stop(): Promise<DisplayResult>; readonly opened: number }> {
  const child = spawn(process.execPath, [DISPLAY_SCRIPT, JSON.stringify(spec)], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  runningChildren.add(child);
  const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
  const opened = await new Promise<number>((resolve, reject) => {
    if (!child.stdout) return reject(new Error("the display process has no stdout"));
    createInterface({ input: child.stdout }).on("line", (line) => {
      const m = /^ready (\d+)$/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    void exited.then((code) => reject(new Error(`the display process exited (${code}) before it was ready`)));
  });
  return {
    opened,
    stop: async () => {
      child.stdin?.write("stop\n");
      const code = await exited;
      runningChildren.delete(child);
      if (code !== 0) throw new Error(`the display process failed (exit ${code})`);
      return readDisplayResult(spec.resultFile);
    },
  };
}

/**
 * Acceptance to display, first in first counted: for the ballots this run accepted (ordinals
 * base+1 .. base+n in acceptance order), the first arrival at each socket of a release holding at
 * least that many ballots.
 */
function acceptanceToDisplay(run: CastRun, base: number, result: DisplayResult): number[] {
  const acceptedAt = [...(run.cast?.acceptedAt ?? [])].sort((a, b) => a - b);
  const latencies: number[] = [];
  for (const arrivals of result.arrivals) {
    let k = 0;
    for (let i = 0; i < acceptedAt.length; i++) {
      const ordinal = base + i + 1;
      while (k < arrivals.length && (arrivals[k]?.[1] ?? 0) < ordinal) k++;
      const arrival = arrivals[k];
      if (!arrival) break;
      latencies.push(arrival[3] - (acceptedAt[i] ?? 0));
    }
  }
  return latencies;
}

export async function displayPhase(options: {
  readonly label: string;
  readonly session: CastSession;
  readonly client: OfficialClient;
  readonly baseUrl: string;
  readonly electionId: string;
  readonly workDir: string;
  readonly runtimePids: readonly number[];
  readonly sockets: number;
  readonly seconds: number;
  readonly ratePerSecond: number;
  readonly voters: number;
}): Promise<DisplayPhase> {
  const { session } = options;
  await session.drain();
  const base = session.receiptCount;
  const idPrefix = options.label.replace(/[^A-Za-z0-9_-]/g, "-");
  const displays = await startDisplays({
    baseUrl: options.baseUrl,
    electionId: options.electionId,
    sockets: options.sockets,
    resultFile: join(options.workDir, `displays-${process.hrtime.bigint()}.json`),
    idPrefix,
  });
  const officialDisplays = await startDisplays({
    baseUrl: options.baseUrl,
    electionId: options.electionId,
    sockets: OFFICIAL_DISPLAYS,
    resultFile: join(options.workDir, `official-displays-${process.hrtime.bigint()}.json`),
    idPrefix: `${idPrefix}-official`,
    channel: "official",
    token: await options.client.accessToken(),
  });
  const callsBefore = await aggregatorCalls(options.client, options.electionId);
  const cpuBefore = cpuSecondsOf(options.runtimePids);
  const started = performance.now();
  const run = await session.run(options.label, options.seconds, options.voters, {
    ratePerSecond: options.ratePerSecond,
  });
  await sleep(FINAL_RELEASE_WAIT_MS);
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = cpuSecondsOf(options.runtimePids);
  const callsAfter = await aggregatorCalls(options.client, options.electionId);
  const result = await displays.stop();
  const official = await officialDisplays.stop();

  const { fanOut, delivered, versions } = pushes(result);
  const casts = run.cast?.accepted.length ?? 0;
  return {
    sockets: options.sockets,
    opened: result.opened,
    failedToOpen: result.failedToOpen,
    lost: result.lost,
    outOfOrder: result.outOfOrder,
    casts,
    castsPerSecond: casts / run.durationSeconds,
    releases: versions.size,
    delivered,
    acceptanceToDisplayMs: percentiles(acceptanceToDisplay(run, base, result)),
    fanOutMs: percentiles(fanOut),
    official: {
      sockets: OFFICIAL_DISPLAYS,
      lost: official.lost + official.failedToOpen,
      acceptanceToDisplayMs: percentiles(acceptanceToDisplay(run, base, official)),
      fanOutMs: percentiles(pushes(official).fanOut),
    },
    runtimeCpuSeconds: cpuBefore !== undefined && cpuAfter !== undefined ? cpuAfter - cpuBefore : undefined,
    seconds,
    aggregatorCallsPerSecond:
      callsBefore !== undefined && callsAfter !== undefined ? (callsAfter - callsBefore) / seconds : undefined,
    displayProcessCores: result.cpuSeconds / result.uptimeSeconds,
  };
}

/** Releases delivered, the versions seen, and the fan-out of each pushed one (cut to arrival). */
function pushes(result: DisplayResult): { fanOut: number[]; delivered: number; versions: Set<number> } {
  const fanOut: number[] = [];
  let delivered = 0;
  const versions = new Set<number>();
  for (const arrivals of result.arrivals) {
    arrivals.forEach(([version, , asOf, arrived], i) => {
      delivered += 1;
      versions.add(version);
      // The first is the snapshot a display gets when it connects, cut before it came: not a push.
      if (i > 0) fanOut.push(arrived - asOf);
    });
  }
  return { fanOut, delivered, versions };
}

/** Runtime CPU per update pushed to one socket, from the difference between two phases. */
export function cpuPerPushMs(reference: DisplayPhase, full: DisplayPhase): number | undefined {
  if (reference.runtimeCpuSeconds === undefined || full.runtimeCpuSeconds === undefined) return undefined;
  const pushes = full.delivered - reference.delivered;
  if (pushes <= 0) return undefined;
  // Per second of each phase, so a phase that ran a little longer does not count as more work.
  const extra = full.runtimeCpuSeconds / full.seconds - reference.runtimeCpuSeconds / reference.seconds;
  const extraPushes = full.delivered / full.seconds - reference.delivered / reference.seconds;
  return extraPushes > 0 ? (extra * 1000) / extraPushes : undefined;
}
