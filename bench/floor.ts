/**
 * The floor baseline under load (POST /__baseline/floor, bench/baseline-worker.ts): the minimal
 * cast pipeline, a keyed MAC check, one write in one of 16 bucket objects, one queue send, and a
 * consumer applying each batch with one durable write. Measured the way the cast is: the same
 * load generator and connections, the runtime's CPU over each run (which counts whatever the
 * consumer applied during the run), and before the next run a wait until the consumer has applied
 * everything the buckets accepted, read from the objects themselves (GET /__baseline/floor/status).
 * A local queue stops delivering while the CPU is saturated, so without that wait one run's backlog
 * would be applied, and paid for, in the next.
 *
 * The load generator sends one valid token with every request, as the cast sends a session token;
 * the key is fresh for each runtime instance (floorCredentials).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { BASELINE_PREFIX } from "./runtime.ts";
import { importFloorKey, newFloorKey, signFloorToken } from "./floor-token.ts";
import { runLoad, type Measured } from "./measure.ts";
import { fixed, sum } from "./stats.ts";

export interface FloorCredentials {
  /** The baseline Worker's FLOOR_TOKEN_KEY for one runtime instance. */
  readonly key: string;
  /** The token the load generator sends as its bearer token. */
  readonly token: string;
}

export async function floorCredentials(): Promise<FloorCredentials> {
  const key = newFloorKey();
  return { key, token: await signFloorToken(await importFloorKey(key), `bench-floor-${crypto.randomUUID()}`) };
}

const FloorStatus = z.object({ accepted: z.number().int().min(0), applied: z.number().int().min(0) });
type FloorStatus = z.infer<typeof FloorStatus>;

export interface FloorRun extends Measured {
  /** Accepted by the buckets and not yet applied by the consumer when the run ended. */
  readonly backlog: number;
  /** Seconds from the end of the run until the consumer had applied everything; undefined: it stalled. */
  readonly drainSeconds: number | undefined;
  /** The objects' counts once drained (cumulative over the instance). */
  readonly accepted: number;
  readonly applied: number;
}

export interface FloorCheck {
  /** Requests answered 201 over every floor run, warm-up included. */
  readonly answered: number;
  readonly accepted: number;
  readonly applied: number;
  /** Every run drained, the consumer applied exactly what the buckets accepted, and no answer was lost. */
  readonly ok: boolean;
}

export interface FloorOptions {
  readonly baseUrl: string;
  readonly token: string;
  readonly connections: number;
  readonly timeoutSeconds: number;
  readonly warmupSeconds: number;
  readonly durationSeconds: number;
  readonly runs: number;
  /** Pause before each measured run, as for the other paths. */
  readonly settleMs: number;
  readonly workDir: string;
  readonly runtimePids: readonly number[];
  /** Called with each run (the warm-up first) as soon as it has drained. */
  readonly report: (run: FloorRun) => void;
}

/**
 * How long the consumer may show no progress before the drain is given up (and reported), and how
 * often the objects are asked: finer than the cast's poll, because a floor batch is one small
 * transaction and its drain is short enough that a 0.5 s step would be most of the figure.
 */
const STALL_SECONDS = 30;
const POLL_MS = 100;

async function statusOf(baseUrl: string): Promise<FloorStatus> {
  const res = await fetch(`${baseUrl}${BASELINE_PREFIX}/floor/status`);
  if (!res.ok) throw new Error(`floor status answered ${res.status}: ${(await res.text()).slice(0, 200)}`);
  return FloorStatus.parse(await res.json());
}

/** Waits until the consumer has applied all the buckets accepted; the seconds it took, or undefined if it stalled. */
async function drain(baseUrl: string): Promise<{ seconds: number | undefined; status: FloorStatus }> {
  const started = performance.now();
  let last = -1;
  let lastProgress = started;
  for (;;) {
    const status = await statusOf(baseUrl);
    if (status.applied >= status.accepted) return { seconds: (performance.now() - started) / 1000, status };
    if (status.applied !== last) {
      last = status.applied;
      lastProgress = performance.now();
    } else if (performance.now() - lastProgress > STALL_SECONDS * 1000) {
      return { seconds: undefined, status };
    }
    await sleep(POLL_MS);
  }
}

/** The warm-up and the measured runs, each followed by the consumer's drain; and the final check. */
export async function measureFloor(
  options: FloorOptions,
): Promise<{ readonly warm: FloorRun; readonly runs: FloorRun[]; readonly check: FloorCheck }> {
  const spec = {
    url: `${options.baseUrl}${BASELINE_PREFIX}/floor`,
    method: "POST" as const,
    connections: options.connections,
    timeoutSeconds: options.timeoutSeconds,
    headers: { authorization: `Bearer ${options.token}` },
  };
  const one = async (label: string, seconds: number): Promise<FloorRun> => {
    const measured = await runLoad(label, { ...spec, durationSeconds: seconds }, options.workDir, options.runtimePids);
    const atEnd = await statusOf(options.baseUrl);
    const drained = await drain(options.baseUrl);
    const run: FloorRun = {
      ...measured,
      backlog: Math.max(0, atEnd.accepted - atEnd.applied),
      drainSeconds: drained.seconds,
      accepted: drained.status.accepted,
      applied: drained.status.applied,
    };
    options.report(run);
    return run;
  };
  const warm = await one("floor warm-up", options.warmupSeconds);
  const runs: FloorRun[] = [];
  for (let i = 1; i <= options.runs; i++) {
    await sleep(options.settleMs);
    runs.push(await one(`floor run ${i}`, options.durationSeconds));
  }
  // A request dropped in flight at the end of a run may still land after its drain: drain once more.
  const final = await drain(options.baseUrl);
  const answered = sum([warm, ...runs].map((r) => r.statusCounts["201"] ?? 0));
  const check: FloorCheck = {
    answered,
    accepted: final.status.accepted,
    applied: final.status.applied,
    ok:
      final.seconds !== undefined &&
      [warm, ...runs].every((r) => r.drainSeconds !== undefined) &&
      final.status.applied === final.status.accepted &&
      final.status.accepted >= answered,
  };
  return { warm, runs, check };
}

/** The line under a floor run's figures: its backlog and how long the consumer took to apply it. */
export function floorDrainLine(run: FloorRun): string {
  const drain =
    run.drainSeconds === undefined
      ? "the consumer STALLED"
      : `consumer caught up ${fixed(run.drainSeconds, 1)} s after the run`;
  return `      ${run.backlog} accepted but not yet applied at the end of the run, ${drain} (${run.applied} of ${run.accepted} applied)`;
}

export function floorCheckLine(check: FloorCheck): string {
  return `floor check: ${check.accepted} accepted by the buckets, ${check.applied} applied by the consumer, ${check.answered} answered 201${check.ok ? " - equal" : " - MISMATCH"}`;
}
