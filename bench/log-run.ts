/**
 * The log at peak: one election's audit-log sequencer (durable-objects/log-sequencer.ts) on its
 * own, fed at fixed rates through the producers' path, for `npm run bench` (scripts/bench.ts).
 *
 * The driver (this process) sends ballot messages shaped as the queue consumer hands them on
 * (workers/tally/consumer.ts: a record id, a commitment, a tracking code, the marks), in batches
 * of the ballot queues' max_batch_size (100), to the baseline Worker's `/__baseline/log/{id}/record`
 * route, which makes the consumer's own call, `recordBallots`, on the production Worker's
 * LogSequencer bound across Workers (bench/wrangler.baseline.toml). Nothing is added to the
 * production Worker, and the sequencer runs with the production Worker's bindings: it seals,
 * hashes, signs and writes its tiles, bundles and checkpoints to R2, and its receipts' leaf
 * indexes to D1, on its own alarm, exactly as in the cast path.
 *
 * Each rate step (say 2,000, 4,000, 8,000, 12,000 entries/s for 10 s each) starts with an empty
 * pool (the previous step's backlog is drained first) and reports:
 *   - offered: entries sent per second, and accepted (the sequencer's acknowledgement);
 *   - sustained: entries published per second, the slope of the public checkpoint's size between
 *     the step's first and last new checkpoint (once the pipeline is full; its first second has
 *     nothing to publish yet, so published/duration would understate a log that keeps up);
 *   - backlog: entries accepted but in no published checkpoint when the step's time is up;
 *   - checkpoints seen, tiles and entry bundles written (objects in R2), the sequencer's own
 *     steps and busy time, the runtime's CPU;
 *   - acceptance to inclusion: for each batch, from its acknowledgement arriving here to the first
 *     public checkpoint whose size covers it (polled every POLL_MS from R2 through the baseline
 *     Worker: the public route, GET /v1/logs/{id}/checkpoint, reads the same object, but its
 *     gateway middleware cost a tenth of the runtime's thread at this polling rate).
 *
 * Which checkpoint covers a batch is read from the log itself: after the last step the driver
 * reads every published entry bundle (GET /v1/logs/{id}/tile/entries/...), decodes each entry and
 * finds the leaf index of every ballot it sent by its commitment; a batch is covered by the first
 * checkpoint whose size exceeds its entries' highest leaf index. That is exact whatever order the
 * batches reached the sequencer in, and it checks the log too: every accepted ballot must appear
 * in it exactly once. Latencies are weighted by entries (a batch counts 100 times), measured from
 * the acknowledgement's arrival here to the poll that first saw the covering checkpoint, so their
 * resolution is one poll round (POLL_MS plus the request), reported as `pollRoundMs`.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { decodeEntry } from "../lib/audit/entry-codec.ts";
import { decodeEntryBundle, entriesPath, TILE_WIDTH } from "../lib/tlog/tiles.ts";
import { ballotOf, DEMO_DISTRICTS, styleOf } from "./ballots.ts";
import { cpuSecondsOf, machineBusySeconds } from "./cpu.ts";
import { waitForQuiet } from "./measure.ts";
import { BASELINE_PREFIX } from "./runtime.ts";
import { fixed } from "./stats.ts";

/** The ballot queues' max_batch_size (wrangler.toml): one recordBallots call per queue batch. */
const QUEUE_BATCH = 100;
/** The seed's peak (DESIGN.md 7): the rate the log must sustain for one election. */
const PEAK_ENTRIES_PER_SECOND = 8_000;
/** Inclusion target under cast load (issue 14): p99 of acceptance to a covering checkpoint. */
const INCLUSION_P99_TARGET_MS = 2_000;
/** How often the public checkpoint is read: the inclusion figures' resolution. */
const POLL_MS = 50;
/** Batches in flight at most, like the queue consumers' concurrency; past it the offered rate falls (and says so). */
const MAX_IN_FLIGHT = 64;
/** The consumer's first retry delay after log_pool_full (retryDelaySeconds(1)). */
const REFUSED_RETRY_MS = 1_000;
/** How long the driver waits for a step's backlog to be published before the next step. */
const DRAIN_TIMEOUT_MS = 60_000;
/** A stamp on the checkpoint: its second line is the tree size (lib/tlog/checkpoint.ts). */
const CHECKPOINT_SIZE = /^[^\n]*\n([0-9]+)\n/;

const Outcome = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), value: z.object({ pooled: z.number().int(), duplicates: z.number().int() }) }),
  z.object({ ok: z.literal(false), error: z.string() }),
]);
const Status = z.object({
  size: z.number().int(),
  publishedSize: z.number().int(),
  acknowledgedSize: z.number().int(),
  pooled: z.number().int(),
  halted: z.string().nullable(),
  sequencing: z.object({ entries: z.number(), steps: z.number(), busyMs: z.number() }),
});
type Status = z.infer<typeof Status>;
const Tiles = z.object({ objects: z.number().int() });

interface InclusionFigures {
  /** Batches whose latency is counted (each weighs its entries: percentiles are over entries). */
  readonly batches: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Batches with an entry missing from the published log. */
  readonly missing: number;
}

interface LogStep {
  readonly rate: number;
  readonly seconds: number;
  /** Entries sent, and accepted by the sequencer (pooled), in the step's time. */
  readonly offered: number;
  readonly offeredPerSecond: number;
  readonly accepted: number;
  readonly duplicates: number;
  /** Calls answered log_pool_full (retried a second later, as the consumer would) or failed. */
  readonly refusedBatches: number;
  readonly failedBatches: number;
  /** recordBallots as the producer sees it: send to acknowledgement (ms), over the step's batches. */
  readonly ackP50Ms: number;
  readonly ackP99Ms: number;
  /** Entries in published checkpoints over the step's time, and the slope between its first and last checkpoint. */
  readonly published: number;
  readonly sustainedPerSecond: number | undefined;
  readonly backlogAtEnd: number;
  /** Receipts' leaf indexes written to D1 (the sequencer's step 6) behind the published size at the end. */
  readonly unacknowledgedAtEnd: number;
  readonly checkpoints: number;
  readonly tilesWritten: number;
  /** The sequencer's own steps over the step's time and its drain (LogStatus.sequencing). */
  readonly sequencer: { readonly steps: number; readonly entries: number; readonly busyMs: number };
  readonly drainSeconds: number | undefined;
  readonly runtimeCores: number | undefined;
  readonly otherCores: number | undefined;
  readonly inclusion: InclusionFigures;
}

export interface LogBench {
  readonly electionId: string;
  readonly batchSize: number;
  readonly pollMs: number;
  /** The slowest checkpoint poll round seen (the inclusion figures' resolution). */
  readonly pollRoundMs: number;
  readonly steps: readonly LogStep[];
  /** The step the summary line reports: the peak rate's, else the highest rate run. */
  readonly peak: LogStep | undefined;
  /** Correctness: every accepted entry published, nothing logged twice, the log not halted. */
  readonly check: {
    readonly ok: boolean;
    readonly accepted: number;
    readonly published: number;
    readonly halted: string | null;
    readonly why: string | null;
  };
}

interface LogBenchOptions {
  readonly baseUrl: string;
  readonly electionId: string;
  readonly rates: readonly number[];
  readonly stepSeconds: number;
  readonly runtimePids: readonly number[];
  readonly say: (line: string) => void;
}

interface Batch {
  readonly step: number;
  readonly sentAt: number;
  readonly commitments: readonly string[];
  ackedAt?: number;
  pooled?: number;
  /** The highest leaf index of its entries in the published log (-1 until found). */
  lastLeaf: number;
  /** Its entries found in the published log. */
  found: number;
}

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

function trackingCode(): string {
  const bytes = randomBytes(16);
  const chars = Array.from(bytes, (b) => CROCKFORD[b & 31] ?? "0").join("");
  return chars.match(/.{4}/g)?.join("-") ?? chars;
}

/** A batch of accepted online ballots as the consumer hands them to the log (BallotAccepted). */
function ballotBatch(electionId: string, size: number, counter: { n: number }): { commitment: string }[] {
  const acceptedAt = new Date(Math.floor(Date.now() / 60_000) * 60_000).toISOString();
  return Array.from({ length: size }, () => {
    counter.n += 1;
    const district = DEMO_DISTRICTS[counter.n % DEMO_DISTRICTS.length] ?? DEMO_DISTRICTS[0];
    return {
      kind: "ballot",
      ballotId: randomBytes(32).toString("hex"),
      electionId,
      ballotStyleId: styleOf(district),
      districtId: district,
      channel: "online",
      contests: ballotOf(district, counter.n),
      trackingCode: trackingCode(),
      commitment: randomBytes(32).toString("base64url"),
      acceptedAt,
    };
  });
}

function percentileOfWeighted(sorted: readonly { ms: number; weight: number }[], p: number): number {
  const total = sorted.reduce((a, s) => a + s.weight, 0);
  if (total === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * total);
  let seen = 0;
  for (const s of sorted) {
    seen += s.weight;
    if (seen >= rank) return s.ms;
  }
  return sorted[sorted.length - 1]?.ms ?? Number.NaN;
}

/** Polls the public checkpoint and keeps each new size with the time it was first seen. */
class CheckpointWatch {
  readonly seen: { atMs: number; size: number }[] = [];
  roundMs = 0;
  private stopped = false;
  private readonly loop: Promise<void>;

  constructor(baseUrl: string, electionId: string) {
    this.loop = (async () => {
      while (!this.stopped) {
        const started = Date.now();
        const res = await fetch(`${baseUrl}${BASELINE_PREFIX}/log/${electionId}/checkpoint`);
        const text = res.status === 200 ? await res.text() : (await res.body?.cancel(), "");
        const arrived = Date.now();
        const size = Number(CHECKPOINT_SIZE.exec(text)?.[1] ?? -1);
        if (size > (this.seen[this.seen.length - 1]?.size ?? -1)) this.seen.push({ atMs: arrived, size });
        this.roundMs = Math.max(this.roundMs, arrived - started);
        await sleep(POLL_MS);
      }
    })();
  }

  get size(): number {
    return this.seen[this.seen.length - 1]?.size ?? 0;
  }

  /** When a checkpoint of at least `size` was first seen, or undefined. */
  coveredAt(size: number): number | undefined {
    return this.seen.find((s) => s.size >= size)?.atMs;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

export async function runLogBench(options: LogBenchOptions): Promise<LogBench> {
  const { baseUrl, electionId, say } = options;
  const route = `${baseUrl}${BASELINE_PREFIX}/log/${electionId}`;
  const status = async (): Promise<Status> => Status.parse(await (await fetch(`${route}/status`)).json());
  const tiles = async (): Promise<number> => Tiles.parse(await (await fetch(`${route}/tiles`)).json()).objects;
  const start = await status();
  // Whatever the log held before the first step: every threshold counts from there.
  const base = start.size + start.pooled;
  const watch = new CheckpointWatch(baseUrl, electionId);
  const batches: Batch[] = [];
  const counter = { n: 0 };
  let refused = 0;
  let failed = 0;
  let duplicates = 0;
  let inFlight = 0;
  let slotFreed: (() => void) | undefined;

  /** One batch, retried after log_pool_full or a failure as the consumer's queue would retry it. */
  const send = async (step: number, messages: { commitment: string }[]): Promise<void> => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      const batch: Batch = {
        step,
        sentAt: Date.now(),
        commitments: messages.map((m) => m.commitment),
        lastLeaf: -1,
        found: 0,
      };
      let res: Response | undefined;
      try {
        res = await fetch(`${route}/record`, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ messages }),
        });
      } catch {
        res = undefined;
      }
      const outcome =
        res && (res.status === 200 || res.status === 429) ? Outcome.safeParse(await res.json()) : undefined;
      if (res && !outcome) await res.body?.cancel();
      if (outcome?.success && outcome.data.ok) {
        batch.ackedAt = Date.now();
        batch.pooled = outcome.data.value.pooled;
        duplicates += outcome.data.value.duplicates;
        batches.push(batch);
        return;
      }
      if (outcome?.success) refused += 1;
      else failed += 1;
      await sleep(REFUSED_RETRY_MS);
    }
  };

  const steps: LogStep[] = [];
  for (const [index, rate] of options.rates.entries()) {
    await waitForQuiet(`log ${rate}/s`, options.runtimePids);
    const before = await status();
    const tilesBefore = await tiles();
    const cpu0 = cpuSecondsOf(options.runtimePids);
    const machine0 = machineBusySeconds();
    const self0 = process.cpuUsage();
    const refused0 = refused;
    const failed0 = failed;
    const duplicates0 = duplicates;
    const seenBefore = watch.seen.length;
    const publishedBefore = watch.size;
    const total = Math.round((rate * options.stepSeconds) / QUEUE_BATCH);
    const interval = (QUEUE_BATCH * 1000) / rate;
    const started = Date.now();
    const sends: Promise<void>[] = [];
    let sent = 0;
    for (let k = 0; k < total; k++) {
      const due = started + k * interval;
      const wait = due - Date.now();
      if (wait > 0) await sleep(wait);
      while (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (slotFreed = resolve));
      inFlight += 1;
      sent += QUEUE_BATCH;
      sends.push(
        send(index, ballotBatch(electionId, QUEUE_BATCH, counter)).finally(() => {
          inFlight -= 1;
          slotFreed?.();
          slotFreed = undefined;
        }),
      );
    }
    // The step's time is the schedule's, or longer if the sends fell behind it.
    const endAt = Math.max(Date.now(), started + options.stepSeconds * 1000);
    await sleep(endAt - Date.now());
    const seconds = (Date.now() - started) / 1000;
    const cpu1 = cpuSecondsOf(options.runtimePids);
    const machine1 = machineBusySeconds();
    const self = process.cpuUsage(self0);
    const publishedAtEnd = watch.size;
    const acceptedInTime = batches
      .filter((b) => b.step === index && (b.ackedAt ?? Infinity) <= endAt)
      .reduce((a, b) => a + (b.pooled ?? 0), 0);
    const acceptedSoFar = batches.reduce((a, b) => a + (b.pooled ?? 0), 0);
    const atEnd = await status();
    await Promise.all(sends);
    // Drain: the next step starts from an empty pool.
    const drainStarted = Date.now();
    const target = base + batches.reduce((a, b) => a + (b.pooled ?? 0), 0);
    while (watch.size < target && Date.now() - drainStarted < DRAIN_TIMEOUT_MS) await sleep(POLL_MS);
    const drained = watch.size >= target;
    const after = await status();
    const stepCheckpoints = watch.seen.slice(seenBefore).filter((s) => s.atMs <= endAt);
    const first = stepCheckpoints[0];
    const last = stepCheckpoints[stepCheckpoints.length - 1];
    const runtimeCores = cpu0 !== undefined && cpu1 !== undefined ? (cpu1 - cpu0) / seconds : undefined;
    const otherCores =
      machine0 !== undefined && machine1 !== undefined && runtimeCores !== undefined
        ? Math.max(0, (machine1 - machine0 - (self.user + self.system) / 1e6) / seconds - runtimeCores)
        : undefined;
    const acks = batches
      .filter((b) => b.step === index && b.ackedAt !== undefined)
      .map((b) => (b.ackedAt ?? 0) - b.sentAt)
      .sort((a, b) => a - b);
    const step: LogStep = {
      rate,
      seconds,
      offered: sent,
      offeredPerSecond: sent / seconds,
      accepted: acceptedInTime,
      duplicates: duplicates - duplicates0,
      refusedBatches: refused - refused0,
      failedBatches: failed - failed0,
      ackP50Ms: percentileOfWeighted(
        acks.map((ms) => ({ ms, weight: 1 })),
        50,
      ),
      ackP99Ms: percentileOfWeighted(
        acks.map((ms) => ({ ms, weight: 1 })),
        99,
      ),
      published: publishedAtEnd - publishedBefore,
      sustainedPerSecond:
        first && last && last.atMs > first.atMs
          ? ((last.size - first.size) * 1000) / (last.atMs - first.atMs)
          : undefined,
      backlogAtEnd: base + acceptedSoFar - publishedAtEnd,
      unacknowledgedAtEnd: atEnd.publishedSize - atEnd.acknowledgedSize,
      checkpoints: stepCheckpoints.length,
      tilesWritten: (await tiles()) - tilesBefore,
      sequencer: {
        steps: after.sequencing.steps - before.sequencing.steps,
        entries: after.sequencing.entries - before.sequencing.entries,
        busyMs: after.sequencing.busyMs - before.sequencing.busyMs,
      },
      drainSeconds: drained ? (Date.now() - drainStarted) / 1000 : undefined,
      runtimeCores,
      otherCores,
      // Filled in below, once every batch's checkpoint is known.
      inclusion: { batches: 0, p50Ms: Number.NaN, p99Ms: Number.NaN, maxMs: Number.NaN, missing: 0 },
    };
    steps.push(step);
    if (!drained) {
      say(`    log ${rate}/s: the backlog was not published within ${DRAIN_TIMEOUT_MS / 1000} s; no further steps`);
      break;
    }
  }
  await watch.stop();
  const final = await status();

  // Every ballot's leaf index, from the published entry bundles.
  const accepted = batches.filter((b): b is Batch & { ackedAt: number; pooled: number } => b.ackedAt !== undefined);
  const batchOf = new Map<string, Batch>();
  for (const b of accepted) for (const c of b.commitments) batchOf.set(c, b);
  const read = await readLeaves(baseUrl, electionId, final.publishedSize, (index, commitment) => {
    const b = batchOf.get(commitment);
    if (!b) return false;
    b.found += 1;
    b.lastLeaf = Math.max(b.lastLeaf, index);
    batchOf.delete(commitment);
    return true;
  });
  const inclusion = options.rates.map(() => ({ samples: [] as { ms: number; weight: number }[], missing: 0 }));
  for (const b of accepted) {
    const figures = inclusion[b.step];
    if (!figures || b.pooled === 0) continue;
    const at = b.found === b.commitments.length ? watch.coveredAt(b.lastLeaf + 1) : undefined;
    if (at === undefined) figures.missing += 1;
    else figures.samples.push({ ms: Math.max(0, at - b.ackedAt), weight: b.pooled });
  }
  const withInclusion = steps.map((step, i): LogStep => {
    const figures = inclusion[i];
    if (!figures) return step;
    const sorted = figures.samples.sort((a, b) => a.ms - b.ms);
    return {
      ...step,
      inclusion: {
        batches: sorted.length,
        p50Ms: percentileOfWeighted(sorted, 50),
        p99Ms: percentileOfWeighted(sorted, 99),
        maxMs: sorted[sorted.length - 1]?.ms ?? Number.NaN,
        missing: figures.missing,
      },
    };
  });
  for (const step of withInclusion) say(logStepLine(step));

  const acceptedTotal = accepted.reduce((a, b) => a + b.pooled, 0);
  const published = final.publishedSize - start.publishedSize;
  const why =
    final.halted !== null
      ? `the log halted: ${final.halted}`
      : published !== acceptedTotal
        ? `${acceptedTotal} entries accepted, ${published} published`
        : batchOf.size > 0
          ? `${batchOf.size} accepted ballots are not in the published entry bundles`
          : read.repeated > 0 || read.unknown > 0
            ? `the published bundles hold ${read.repeated} ballots twice and ${read.unknown} entries not sent here`
            : duplicates > 0
              ? `${duplicates} entries were duplicates`
              : failed > 0
                ? `${failed} calls failed`
                : null;
  const peak =
    withInclusion.find((s) => s.rate === PEAK_ENTRIES_PER_SECOND) ??
    [...withInclusion].sort((a, b) => b.rate - a.rate)[0];
  return {
    electionId,
    batchSize: QUEUE_BATCH,
    pollMs: POLL_MS,
    pollRoundMs: watch.roundMs,
    steps: withInclusion,
    peak,
    check: { ok: why === null, accepted: acceptedTotal, published, halted: final.halted, why },
  };
}

/**
 * Reads the published entry bundles of a log of `size` entries (full bundles and the last
 * partial one) through the public tile route and calls `leaf` for every ballot entry with its
 * index; `leaf` says whether the commitment was one sent here (and not seen before).
 */
async function readLeaves(
  baseUrl: string,
  electionId: string,
  size: number,
  leaf: (index: number, commitment: string) => boolean,
): Promise<{ repeated: number; unknown: number }> {
  const seen = new Set<string>();
  let repeated = 0;
  let unknown = 0;
  const bundles = Math.ceil(size / TILE_WIDTH);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let n = next++; n < bundles; n = next++) {
      const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
      const path = entriesPath(n, width === TILE_WIDTH ? undefined : width);
      const res = await fetch(`${baseUrl}/v1/logs/${electionId}/${path}`);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
      const entries = decodeEntryBundle(new Uint8Array(await res.arrayBuffer()), width);
      if (!entries.ok) throw new Error(`${path}: ${entries.error}`);
      for (const [i, bytes] of entries.value.entries()) {
        const entry = decodeEntry(bytes);
        if (!entry.ok || entry.value.type !== "ballot") {
          unknown += 1;
          continue;
        }
        const { commitment } = entry.value;
        if (seen.has(commitment)) repeated += 1;
        else if (!leaf(n * TILE_WIDTH + i, commitment)) unknown += 1;
        seen.add(commitment);
      }
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return { repeated, unknown };
}

function logStepLine(s: LogStep): string {
  const inc = s.inclusion;
  return `    log ${s.rate}/s for ${fixed(s.seconds, 1)} s: offered ${fixed(s.offeredPerSecond)}/s (${s.offered} entries, ${s.accepted} accepted in time, ${s.refusedBatches} batches refused, ${s.failedBatches} failed), sustained ${fixed(s.sustainedPerSecond)}/s published (${s.published} in the step's time, ${s.checkpoints} checkpoints), backlog ${s.backlogAtEnd} at the end (all published ${fixed(s.drainSeconds, 1)} s after the last answer), receipts not yet acknowledged ${s.unacknowledgedAtEnd}
      inclusion p50 ${fixed(inc.p50Ms)} ms, p99 ${fixed(inc.p99Ms)} ms, max ${fixed(inc.maxMs)} ms over ${inc.batches} batches (${inc.missing} missing); recordBallots answered in p50 ${fixed(s.ackP50Ms)} ms, p99 ${fixed(s.ackP99Ms)} ms; ${s.tilesWritten} tiles and bundles written; sequencer ${s.sequencer.steps} steps, ${s.sequencer.entries} entries in ${fixed(s.sequencer.busyMs)} ms busy; cores: runtime ${fixed(s.runtimeCores, 2)}, other processes ${fixed(s.otherCores, 2)}`;
}

/**
 * Whether a step shows the log sustaining the peak: the driver kept the schedule (sent at least
 * 98% of the peak rate: timers and the in-flight cap aside, a log that answers slowly makes the
 * driver fall behind), the published size grew at 95% of the peak or more (the slope's checkpoint
 * times carry a poll round of error at each end, a few percent over a 10 s step), and no more than
 * two seconds of entries were waiting at the end (a log that falls behind leaves a growing backlog).
 */
function keptUp(step: LogStep): boolean {
  return (
    step.rate >= PEAK_ENTRIES_PER_SECOND &&
    step.offeredPerSecond >= 0.98 * PEAK_ENTRIES_PER_SECOND &&
    (step.sustainedPerSecond ?? 0) >= 0.95 * PEAK_ENTRIES_PER_SECOND &&
    step.backlogAtEnd <= 2 * step.offeredPerSecond
  );
}

/** The summary's lines: `log at peak ...` and the target verdicts. */
export function logSummaryLines(bench: LogBench): string[] {
  const peak = bench.peak;
  if (!peak) return ["log at peak: no step ran"];
  const best = Math.max(...bench.steps.map((s) => s.sustainedPerSecond ?? 0));
  return [
    `log at peak: ${peak.rate} entries/s offered (${fixed(peak.offeredPerSecond)}/s sent), ${fixed(peak.sustainedPerSecond)}/s sustained, inclusion p50 ${fixed(peak.inclusion.p50Ms)} ms p99 ${fixed(peak.inclusion.p99Ms)} ms, backlog ${peak.backlogAtEnd} at the end`,
    `  target >= ${PEAK_ENTRIES_PER_SECOND} entries/s sustained (one log per election): ${
      keptUp(peak) ? "met" : "NOT MET"
    } (highest sustained over the steps ${fixed(best)}/s)`,
    `  log check: ${bench.check.accepted} entries accepted, ${bench.check.published} published${bench.check.ok ? " - equal" : ` - ${bench.check.why ?? "FAILED"}`}`,
  ];
}

/** The inclusion target's verdict for the cast probe run (acceptance to a receipt naming its leaf, under cast load). */
export function inclusionTargetLine(p99Ms: number | undefined): string {
  if (p99Ms === undefined || Number.isNaN(p99Ms))
    return `target inclusion p99 < ${INCLUSION_P99_TARGET_MS} ms under cast load: no samples`;
  return `target inclusion p99 < ${INCLUSION_P99_TARGET_MS} ms under cast load: ${p99Ms < INCLUSION_P99_TARGET_MS ? "met" : "NOT MET"} (${fixed(p99Ms)} ms)`;
}
