/**
 * The overload campaign (docs/RELIABILITY.md "Overload"): in the runtime instance the cast runs
 * just measured, casts at twice the best rate they reached, to see that the system says "not now"
 * (429 or 503 with Retry-After) instead of queueing without bound, never answers another 5xx,
 * loses no acknowledged ballot, and is back to its normal latency within seconds of the load
 * dropping. One load process holds three phases back to back (bench/load.ts, phased run):
 *   baseline   BASELINE_SECONDS at the gentle rate (half the best): its p50 and p99;
 *   overload   the overload rate (twice the best) for --overload-seconds, open loop over up to
 *              two sockets per request a second, so that the rate and not the connections binds;
 *   recovery   the gentle rate again, until RECOVERED_SECONDS whole seconds in a row have a p50
 *              within RECOVERY_FACTOR of the baseline's, at most RECOVERY_CAP_SECONDS.
 * Then, as voters' devices would, every ballot refused with 429 or 503 or left unanswered is sent
 * again with its idempotency key (bench/cast.ts), the tally is given time to catch up, and it is
 * compared with the receipts. The campaign fails on any 5xx other than 503 service_overloaded, on
 * any 429 or 503 without Retry-After, on a tally that differs from the receipts, and when latency
 * is not back within the cap.
 */
import type { CastRun, CastSession, TallyCheck } from "./cast.ts";
import type { LoadPhase, PhaseResult } from "./load.ts";
import { fixed } from "./stats.ts";

const BASELINE_SECONDS = 5;
/** How much slower than the baseline's p50 a second's p50 may be and count as recovered. */
export const RECOVERY_FACTOR = 1.5;
/** The most the recovery phase waits for latency to come back. */
const RECOVERY_CAP_SECONDS = 30;
/** The gentle rate's connections: the cast runs' own. */
const GENTLE_CONNECTIONS = 64;
/** Bounds on the overload phase's sockets (two per request a second in between). */
const MIN_OVERLOAD_CONNECTIONS = 256;
const MAX_OVERLOAD_CONNECTIONS = 1_000;
/** Voters beyond the phases' rates times their durations: the connections' opening requests and slack. */
const VOTER_MARGIN = 1.2;

export interface OverloadFigures {
  readonly bestRate: number;
  readonly gentleRate: number;
  readonly overloadRate: number;
  readonly overloadConnections: number;
  readonly phases: readonly PhaseResult[];
  /** Requests sent per second during the overload phase. */
  readonly offeredPerSecond: number;
  /** Receipts (201) for the casts sent during the overload phase, per second of it (some answered after it). */
  readonly goodputPerSecond: number;
  /** Receipts answered while the overload phase ran, per whole second of it. */
  readonly answeredGoodputPerSecond: number;
  /** Answers other than 2xx over all phases, by status and code. */
  readonly errorMix: Record<string, number>;
  /** 5xx answers other than 503 service_overloaded, over all phases (must be 0). */
  readonly otherServerErrors: number;
  /** 429 and 503 answers without Retry-After, over all phases (must be 0). */
  readonly retryAfterMissing: number;
  readonly connectionErrors: number;
  readonly timeouts: number;
  /** Seconds after the load dropped until latency was back, or null if it was not within the cap. */
  readonly recoverySeconds: number | null;
  readonly recoveryBoundMs: number | undefined;
  readonly run: Pick<CastRun, "resolved" | "backlog" | "drainSeconds">;
  readonly tally: TallyCheck;
  /** What failed, in words; empty when every check held. */
  readonly failures: readonly string[];
}

/** Successes answered during the phase's whole seconds, per second (the per-second buckets count 2xx). */
function answeredWithin(phase: PhaseResult): number {
  const seconds = Math.floor(phase.seconds);
  if (seconds === 0) return 0;
  return phase.perSecond.slice(0, seconds).reduce((a, s) => a + s.ok, 0) / seconds;
}

function phaseNamed(phases: readonly PhaseResult[], name: string): PhaseResult | undefined {
  return phases.find((p) => p.name === name);
}

/** Voters the campaign needs at these rates, with its margin. */
export function overloadVoters(bestRate: number, overloadSeconds: number): number {
  const gentle = bestRate / 2;
  const overload = 2 * bestRate;
  const connections = Math.min(MAX_OVERLOAD_CONNECTIONS, Math.max(MIN_OVERLOAD_CONNECTIONS, Math.ceil(2 * overload)));
  return Math.ceil(
    (gentle * (BASELINE_SECONDS + RECOVERY_CAP_SECONDS) + overload * overloadSeconds) * VOTER_MARGIN + connections,
  );
}

export async function overloadCampaign(
  session: CastSession,
  bestRate: number,
  overloadSeconds: number,
): Promise<OverloadFigures> {
  const gentleRate = Math.max(1, Math.round(bestRate / 2));
  const overloadRate = Math.max(2, Math.round(2 * bestRate));
  const overloadConnections = Math.min(
    MAX_OVERLOAD_CONNECTIONS,
    Math.max(MIN_OVERLOAD_CONNECTIONS, Math.ceil(2 * overloadRate)),
  );
  const phases: LoadPhase[] = [
    { name: "baseline", seconds: BASELINE_SECONDS, ratePerSecond: gentleRate, connections: GENTLE_CONNECTIONS },
    { name: "overload", seconds: overloadSeconds, ratePerSecond: overloadRate, connections: overloadConnections },
    {
      name: "recovery",
      seconds: RECOVERY_CAP_SECONDS,
      ratePerSecond: gentleRate,
      connections: GENTLE_CONNECTIONS,
      recoverTo: { of: "baseline", factor: RECOVERY_FACTOR },
    },
  ];
  const seconds = phases.reduce((a, p) => a + p.seconds, 0);
  const voters = Math.min(session.votersLeft, overloadVoters(bestRate, overloadSeconds));
  const run = await session.run("overload", seconds, voters, { phases });
  await session.drain();
  const tally = await session.check();

  const results = run.phases ?? [];
  const overload = phaseNamed(results, "overload");
  const recovery = phaseNamed(results, "recovery");
  const errorMix: Record<string, number> = {};
  for (const phase of results)
    for (const [key, count] of Object.entries(phase.codes)) errorMix[key] = (errorMix[key] ?? 0) + count;
  const otherServerErrors = Object.entries(errorMix)
    .filter(([key]) => key.startsWith("5") && key !== "503 service_overloaded")
    .reduce((a, [, c]) => a + c, 0);
  const retryAfterMissing = results.reduce((a, p) => a + p.retryAfterMissing, 0);
  const recoverySeconds = recovery?.recoveredAfterSeconds ?? null;

  const failures: string[] = [];
  if (results.length < phases.length)
    failures.push(`only ${results.length} of ${phases.length} phases ran (the voters ran out)`);
  if (otherServerErrors > 0) failures.push(`${otherServerErrors} 5xx answers other than 503 service_overloaded`);
  if (retryAfterMissing > 0) failures.push(`${retryAfterMissing} 429/503 answers without Retry-After`);
  if (!tally.ok) failures.push(`tally ${tally.counted} != receipts ${tally.receipts}`);
  if (recoverySeconds === null) failures.push(`latency not back within ${RECOVERY_CAP_SECONDS} s of the load dropping`);

  return {
    bestRate,
    gentleRate,
    overloadRate,
    overloadConnections,
    phases: results,
    offeredPerSecond: overload ? overload.sent / overload.seconds : 0,
    goodputPerSecond: overload ? (overload.statusCounts["201"] ?? 0) / overload.seconds : 0,
    answeredGoodputPerSecond: overload ? answeredWithin(overload) : 0,
    errorMix,
    otherServerErrors,
    retryAfterMissing,
    connectionErrors: results.reduce((a, p) => a + p.errors - p.timeouts, 0),
    timeouts: results.reduce((a, p) => a + p.timeouts, 0),
    recoverySeconds,
    recoveryBoundMs: recovery?.recoveryBoundMs,
    run: { resolved: run.resolved, backlog: run.backlog, drainSeconds: run.drainSeconds },
    tally,
    failures,
  };
}

function mix(counts: Record<string, number>): string {
  const entries = Object.entries(counts).sort(([a], [b]) => a.localeCompare(b));
  return entries.length === 0 ? "none" : entries.map(([key, count]) => `${key} ${count}`).join(", ");
}

function phaseLine(p: PhaseResult): string {
  return `    ${p.name.padEnd(9)} ${fixed(p.seconds, 1)} s, sent ${p.sent} (${fixed(p.sent / p.seconds)}/s), 201 ${p.statusCounts["201"] ?? 0} (${fixed((p.statusCounts["201"] ?? 0) / p.seconds)}/s), p50 ${fixed(p.latency.p50 ?? undefined)} ms, p99 ${fixed(p.latency.p99 ?? undefined)} ms; refused: ${mix(p.codes)}${p.refusalLatency.count > 0 ? ` (answered in p50 ${fixed(p.refusalLatency.p50 ?? undefined)} ms, p99 ${fixed(p.refusalLatency.p99 ?? undefined)} ms)` : ""}; connection errors ${p.errors - p.timeouts}, timeouts ${p.timeouts}`;
}

/** The report's lines for the campaign. */
export function overloadLines(f: OverloadFigures): string[] {
  const overload = phaseNamed(f.phases, "overload");
  const recovery = phaseNamed(f.phases, "recovery");
  const perSecond = (recovery?.perSecond ?? []).map((s) => fixed(s.p50 ?? undefined)).join(" ");
  return [
    ...f.phases.map(phaseLine),
    `    overload: offered ${fixed(f.offeredPerSecond)}/s (asked ${f.overloadRate}/s = 2 x the best ${fixed(f.bestRate)} casts/s, over ${f.overloadConnections} connections), goodput ${fixed(f.goodputPerSecond)} receipts/s for the casts it sent (${fixed(f.answeredGoodputPerSecond)}/s answered while it ran), admitted p50 ${fixed(overload?.latency.p50 ?? undefined)} ms p99 ${fixed(overload?.latency.p99 ?? undefined)} ms`,
    `    error mix over the campaign: ${mix(f.errorMix)}; connection errors ${f.connectionErrors}, timeouts ${f.timeouts}; 429/503 without Retry-After: ${f.retryAfterMissing}; other 5xx: ${f.otherServerErrors}`,
    `    recovery: ${f.recoverySeconds === null ? `NOT back within ${recovery ? fixed(recovery.seconds) : "-"} s` : `p50 back within ${RECOVERY_FACTOR}x of the baseline's (${fixed(f.recoveryBoundMs)} ms) ${f.recoverySeconds} s after the load dropped`}; p50 per second: ${perSecond}`,
    `    resent (refused 429/503 or unanswered, same idempotency keys): ${f.run.resolved.receipts} receipts, ${f.run.resolved.refused} refused; tally drained in ${fixed(f.run.drainSeconds, 1)} s`,
    `    overload tally check: ${f.tally.counted} ballots counted, ${f.tally.receipts} receipts${f.tally.ok ? " - equal" : " - MISMATCH"}`,
    `    overload checks: ${f.failures.length === 0 ? "all held" : `FAILED: ${f.failures.join("; ")}`}`,
  ];
}

/** One line for the bench's summary. */
export function overloadSummary(f: OverloadFigures): string {
  const overload = phaseNamed(f.phases, "overload");
  return `offered ${fixed(f.offeredPerSecond)}/s (2 x ${fixed(f.bestRate)}), goodput ${fixed(f.goodputPerSecond)} receipts/s, refused ${mix(f.errorMix)}, admitted p50 ${fixed(overload?.latency.p50 ?? undefined)} ms p99 ${fixed(overload?.latency.p99 ?? undefined)} ms, recovery ${f.recoverySeconds === null ? "NOT reached" : `${f.recoverySeconds} s`}, tally ${f.tally.ok ? "equal" : "MISMATCH"}; ${f.failures.length === 0 ? "checks held" : `FAILED: ${f.failures.join("; ")}`}`;
}
