/**
 * `npm run bench`: the cast path's capacity on the local runtime, as a ratio to two baselines
 * measured in the same runtime instance (DESIGN.md section 7; figures in docs/PERFORMANCE.md).
 *
 * For each voter ledger mapping (LEDGER_BUCKETS, durable-objects/addresses.ts) it starts a
 * fresh runtime (bench/runtime.ts: the production Worker bundled as `wrangler deploy` would ship
 * it, plus the baseline Worker, in one Miniflare instance on a loopback port), loads the demo
 * election and a synthetic roll through the admin API, and then, from a separate load-generator
 * process (autocannon, bench/load.ts) with 64 connections, a warm-up and several fixed-duration
 * runs of each of:
 *   bare           GET a constant from the baseline Worker
 *   durable write  POST: one SQLite write in one Durable Object, answered once durable
 *   floor          POST: the minimal cast pipeline (bench/floor.ts): a keyed MAC check, one write
 *                  in one of 16 bucket objects, one queue send; its consumer applies each batch
 *                  with one durable write, and every run waits for it to catch up, as for the cast
 *   cast           POST /v1/elections/demo-2026/ballots, a new voter's ballot every request
 * It prints medians per path (throughput, p50/p99 latency, errors), the ratios cast/bare and
 * cast/durable-write, and, once the queues have drained, whether the tally equals the receipts.
 * Every cast figure is also given as a ratio to the floor (the `cast/floor` lines), and each floor
 * run's line says how long its consumer took to apply what the run left queued.
 * Around every cast run it samples the election's audit log (bench/audit-log-metrics.ts), and
 * for the bucket mappings one more cast run measures acceptance-to-inclusion latency with casts
 * sampled beside the load (kept out of the medians: its probe polls receipts while it runs).
 *
 * A fresh instance per mapping because each per-voter ledger is its own Durable Object with its
 * own SQLite file, kept open while the instance lives: the local runtime has been seen to refuse
 * new objects past about 3,000 live ones, and it slows as they pile up. The per-voter mapping gets
 * a voter budget under that (PER_VOTER_BUDGET) and a clean start; the bucket mappings a large roll.
 *
 * The display run (bench/display-run.ts), under the first bucket mapping: result displays
 * connected over WebSockets while casts run at a fixed rate, first 100 of them, then --displays;
 * it reports acceptance-to-display and fan-out latency over all sockets, sockets lost, runtime CPU
 * per update pushed to one socket, and the aggregator's calls per second at each count.
 *
 * With --profile, one more cast run (and one more login run) under the first bucket mapping is
 * sampled by V8's CPU profiler through workerd's inspector (bench/profile.ts: the production
 * Worker's isolate), kept out of the medians, and the breakdown of the runtime's CPU per request by
 * part of the system is printed (what ran outside the Worker as one remainder, with the rate
 * limiters' share from the rate-limit baseline); the profiles are written to test-results/bench/
 * for Chrome DevTools.
 *
 * The login run (bench/login.ts), under the first bucket mapping unless --login says otherwise:
 *   login          POST /v1/auth/voter-session, a new national-eID ID token every request
 * with the same load, warm-up and runs as the cast, against the bench's own eID issuer
 * (bench/eid-issuer.ts, a loopback JWKS; the tokens are signed before each run). It prints
 * login/durable-write (throughput, and CPU per request), and checks that a used token is refused.
 * Before it, in the same way, a third baseline route: one rate-limiter call (limit() of a Rate
 * Limiting binding, which the local runtime emulates with a Durable Object write; a login makes
 * three), so its share of the login's CPU is known.
 *
 * The overload campaign (bench/overload.ts), under the first bucket mapping after its cast runs
 * and display run, in the same runtime instance: a baseline at half the best cast rate measured
 * there, then twice that best rate for --overload-seconds over several hundred connections, then
 * the half rate again until latency is back; it reports the offered rate, the goodput, the error
 * mix by status and code, connection errors and timeouts, whether every 429 and 503 carried
 * Retry-After, any other 5xx, admitted latency under overload and the seconds latency took to come
 * back, then resends what was refused or unanswered with the same idempotency keys and checks the
 * tally against the receipts. Any failed check fails the bench.
 *
 * The log at peak (bench/log-run.ts), in a runtime instance of its own after the mappings: one
 * election's audit-log sequencer alone, fed batches of 100 ballot messages through the queue
 * consumer's call (recordBallots) at rising fixed rates; per rate it reports the entries per
 * second published in signed checkpoints with their tiles in R2, the backlog, and acceptance to
 * inclusion p50/p99; then the line `log at peak` and the target verdicts.
 *
 * Options (all optional): --duration S (5), --runs N (3), --warmup S (3), --connections C (64),
 * --mappings 0,16,64, --bucket-voters N (50000), --per-voter-voters N (2800), --json FILE,
 * --quiet-wait S (60: seconds the whole bench may spend waiting for other processes' load to
 * pass before runs), --keep (leave the state directory), --displays N (1000; 0 skips the display
 * run), --display-rate R (100 casts/s during it), --display-seconds S (10), --profile, --login first|each|off
 * (first: the login run under the first bucket mapping only; each: under every mapping), --log-rates R,R,...
 * (2000,4000,8000,12000 entries/s; 0 skips the log bench), --log-seconds S (10 per rate),
 * --log-only (the log bench alone, no mapping), --overload on|off (on: the overload campaign),
 * --overload-seconds S (10: its overload phase), --admission-max-in-flight N (the Worker's
 * ADMISSION_MAX_IN_FLIGHT instead of wrangler.toml's; 99999 turns admission control off to compare).
 *
 * With --chaos the bench runs the chaos campaign alone (bench/chaos.ts, docs/RELIABILITY.md): the
 * production Worker with faults on command (bench/chaos-worker.ts) under online casts at
 * --chaos-rate R a second (60), three polling stations and result displays, faults injected at
 * random for --chaos-seconds S (30) from --chaos-seed N (1616), then every promise checked; it
 * prints the faults, what they cost and each check, and exits 1 if one fails. --chaos-only
 * K,K,... narrows the faults to those kinds (abort, queue, consumer, d1, r2) or classes (e.g. ResultsRelay).
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, platform, release, tmpdir, totalmem } from "node:os";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { OfficialClient } from "../cli/lib/api.ts";
import { CastSession, type CastRun, type TallyCheck } from "../bench/cast.ts";
import {
  floorCheckLine,
  floorCredentials,
  floorDrainLine,
  measureFloor,
  type FloorCheck,
  type FloorRun,
} from "../bench/floor.ts";
import { cpuSecondsOf, workerdPids } from "../bench/cpu.ts";
import { runLoad, runningChildren, setQuietBudget, type Measured } from "../bench/measure.ts";
import { cpuPerPushMs, displayPhase, type DisplayPhase } from "../bench/display-run.ts";
import { startBenchEidIssuer, type BenchEidIssuer } from "../bench/eid-issuer.ts";
import { loginExtra, LoginSession, type ReplayCheck } from "../bench/login.ts";
import {
  BASELINE_PREFIX,
  PRODUCTION_WORKER,
  benchVars,
  buildBundles,
  buildChaosBundle,
  generateSecrets,
  HIGH_LIMIT,
  RAISED_LIMITERS,
  RAISED_LOGIN_LIMITERS,
  startRuntime,
  writePrivateJson,
  type Bundles,
  type Runtime,
} from "../bench/runtime.ts";
import { breakdown, breakdownText, moduleMap, startProfiler, writeProfile, type Breakdown } from "../bench/profile.ts";
import { fixed, median, sum, table } from "../bench/stats.ts";
import { importSyntheticRoll } from "../bench/voters.ts";
import { inclusionTargetLine, logSummaryLines, runLogBench, type LogBench } from "../bench/log-run.ts";
import { chaosLines, runChaos } from "../bench/chaos.ts";
import {
  overloadCampaign,
  overloadLines,
  overloadSummary,
  overloadVoters,
  type OverloadFigures,
} from "../bench/overload.ts";
import { DEMO_ELECTION_ID, loadDemo } from "./demo.ts";
import { drillElection } from "./drills/setup.ts";
import { freePort } from "./system.ts";

process.env["CLOUDFLARE_CF_FETCH_ENABLED"] ??= "false";
process.env["WRANGLER_SEND_METRICS"] ??= "false";

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "5" },
    runs: { type: "string", default: "3" },
    warmup: { type: "string", default: "3" },
    connections: { type: "string", default: "64" },
    mappings: { type: "string", default: "0,16,64" },
    "bucket-voters": { type: "string", default: "50000" },
    "per-voter-voters": { type: "string", default: "2800" },
    json: { type: "string" },
    keep: { type: "boolean", default: false },
    "quiet-wait": { type: "string", default: "60" },
    displays: { type: "string", default: "1000" },
    "display-rate": { type: "string", default: "100" },
    "display-seconds": { type: "string", default: "10" },
    profile: { type: "boolean", default: false },
    login: { type: "string", default: "first" },
    "log-rates": { type: "string", default: "2000,4000,8000,12000" },
    "log-seconds": { type: "string", default: "10" },
    "log-only": { type: "boolean", default: false },
    chaos: { type: "boolean", default: false },
    "chaos-seconds": { type: "string", default: "30" },
    "chaos-rate": { type: "string", default: "60" },
    "chaos-seed": { type: "string", default: "1616" },
    "chaos-only": { type: "string", default: "" },
    overload: { type: "string", default: "on" },
    "overload-seconds": { type: "string", default: "10" },
    "admission-max-in-flight": { type: "string" },
  },
});

function positive(name: string, value: string | undefined): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, not ${value}`);
  return n;
}

const DURATION = positive("duration", args.duration);
const RUNS = Math.round(positive("runs", args.runs));
const WARMUP = positive("warmup", args.warmup);
const CONNECTIONS = Math.round(positive("connections", args.connections));
const MAPPINGS = (args.mappings ?? "").split(",").map((m) => Math.round(Number(m.trim())));
if (MAPPINGS.some((m) => !Number.isInteger(m) || m < 0))
  throw new Error("--mappings is a comma-separated list of 0 (per voter) or bucket counts");
const BUCKET_VOTERS = Math.round(positive("bucket-voters", args["bucket-voters"]));
/**
 * Per-voter ledgers: one object per voter, kept under the ~3,000 live objects the local runtime
 * has been seen to hold. 2,800 covers a 3 s warm-up and three 5 s runs at the ~130 casts/s this
 * mapping reaches on a 2-core machine, plus the 64 in flight at the end of each.
 */
const PER_VOTER_BUDGET = Math.round(positive("per-voter-voters", args["per-voter-voters"]));
/** A request slower than this counts as an error (timeout); far above any p99 seen here. */
const TIMEOUT_SECONDS = 30;
/** Pause between runs so one run's leftovers (alarms, queue batches) do not land in the next. */
const SETTLE_MS = 1_000;
const PREFIX = "BENCH";
setQuietBudget(Number(args["quiet-wait"] ?? 60));
const DISPLAYS = Math.round(Number(args.displays));
if (!Number.isInteger(DISPLAYS) || DISPLAYS < 0) throw new Error(`--displays must be 0 or more, not ${args.displays}`);
const DISPLAY_RATE = positive("display-rate", args["display-rate"]);
const DISPLAY_SECONDS = positive("display-seconds", args["display-seconds"]);
/** The displays of the reference phase: few enough that their cost is small beside the full run's. */
const REFERENCE_DISPLAYS = 100;
/** The display run happens once, under the first bucket mapping (per-voter budgets have no room). */
const DISPLAY_MAPPING = DISPLAYS > 0 ? MAPPINGS.find((m) => m > 0) : undefined;
if (!["on", "off"].includes(args.overload ?? "")) throw new Error(`--overload is on or off, not ${args.overload}`);
/** The overload campaign runs once, under the first bucket mapping, after its cast and display runs. */
const OVERLOAD_MAPPING = args.overload === "on" ? MAPPINGS.find((m) => m > 0) : undefined;
const OVERLOAD_SECONDS = positive("overload-seconds", args["overload-seconds"]);
/** ADMISSION_MAX_IN_FLIGHT for the runtimes instead of wrangler.toml's (99999: admission control off, to compare). */
const ADMISSION_CAP =
  args["admission-max-in-flight"] === undefined
    ? undefined
    : String(Math.round(positive("admission-max-in-flight", args["admission-max-in-flight"])));
/** The profiled cast run happens once, under the first bucket mapping (or the only mapping). */
const PROFILE_MAPPING = args.profile ? (MAPPINGS.find((m) => m > 0) ?? MAPPINGS[0]) : undefined;
/** Where the profile is kept for Chrome DevTools (test-results/ is not committed). */
const PROFILE_DIR = join(import.meta.dirname, "..", "test-results", "bench");
if (!["first", "each", "off"].includes(args.login ?? ""))
  throw new Error(`--login is first, each or off, not ${args.login}`);
/** The login path does not depend on the ledger mapping: once is enough, under the first bucket mapping. */
const LOGIN_MAPPINGS =
  args.login === "each" ? MAPPINGS : args.login === "first" ? MAPPINGS.filter((m) => m > 0).slice(0, 1) : [];
/** The log bench's rates (entries/s), rising; "0" skips it. */
const LOG_RATES = (args["log-rates"] ?? "")
  .split(",")
  .map((r) => Math.round(Number(r.trim())))
  .filter((r) => r !== 0);
if (LOG_RATES.some((r) => !Number.isInteger(r) || r < 0))
  throw new Error("--log-rates is a comma-separated list of entries per second (0 skips the log bench)");
const LOG_SECONDS = positive("log-seconds", args["log-seconds"]);
/** The log bench's own election: any id the sequencer accepts; nothing else in its instance uses it. */
const LOG_ELECTION = "bench-log-peak";
const CHAOS_SECONDS = positive("chaos-seconds", args["chaos-seconds"]);
const CHAOS_RATE = positive("chaos-rate", args["chaos-rate"]);
const CHAOS_SEED = Math.round(Number(args["chaos-seed"]));
if (!Number.isInteger(CHAOS_SEED)) throw new Error(`--chaos-seed must be a whole number, not ${args["chaos-seed"]}`);

interface PathFigures {
  readonly path: string;
  readonly runs: readonly Measured[];
  readonly throughput: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
  readonly runtimeCores: number | undefined;
  readonly loadGeneratorCores: number | undefined;
  readonly otherCores: number | undefined;
}

interface MappingFigures {
  readonly mapping: string;
  readonly ledgerBuckets: number;
  readonly voters: number;
  readonly rollImportSeconds: number;
  readonly bare: PathFigures;
  readonly durableWrite: PathFigures;
  readonly floor: Omit<PathFigures, "runs"> & { readonly runs: readonly FloorRun[]; readonly check: FloorCheck };
  readonly cast: PathFigures & { readonly castRuns: readonly CastRun[]; readonly receipts: number };
  readonly tally: TallyCheck;
  readonly auditLog: {
    readonly entriesPerSecond: number;
    readonly capacityPerSecond: number;
    readonly proofLatency: CastRun["proofLatency"];
  };
  readonly displays?: { readonly reference: DisplayPhase; readonly full: DisplayPhase };
  readonly profile?: { readonly file: string; readonly run: CastRun; readonly breakdown: Breakdown };
  readonly login?: PathFigures & {
    readonly replay: ReplayCheck;
    readonly rateLimit: PathFigures;
    readonly profile?: { readonly file: string; readonly breakdown: Breakdown };
  };
  readonly overload?: OverloadFigures;
  readonly runtimeLog: Record<string, number>;
  readonly runtimeLogRecent: readonly string[];
}

function mappingName(buckets: number): string {
  return buckets === 0
    ? "per-voter ledgers (LEDGER_BUCKETS=0)"
    : `${buckets} ledger buckets (LEDGER_BUCKETS=${buckets})`;
}

/** Successful answers per second: 2xx for the baselines, receipts (201) for the cast path. */
function throughputOf(run: Measured): number {
  const ok = run.cast ? run.cast.accepted.length : run.ok;
  return ok / run.durationSeconds;
}

function errorsOf(run: Measured): number {
  const non2xx = sum(
    Object.entries(run.statusCounts)
      .filter(([s]) => !s.startsWith("2"))
      .map(([, c]) => c),
  );
  return non2xx + run.errors;
}

function figures(path: string, runs: readonly Measured[]): PathFigures {
  const cores = (pick: (r: Measured) => number | undefined): number | undefined => {
    const values = runs.map(pick).filter((v): v is number => v !== undefined);
    return values.length > 0 ? median(values) : undefined;
  };
  return {
    path,
    runs,
    throughput: median(runs.map(throughputOf)),
    p50: median(runs.map((r) => r.latency.p50)),
    p99: median(runs.map((r) => r.latency.p99)),
    errors: sum(runs.map(errorsOf)),
    runtimeCores: cores((r) => r.runtimeCores),
    loadGeneratorCores: cores((r) => r.loadGeneratorCores),
    otherCores: cores((r) => r.otherCores),
  };
}

function say(line: string): void {
  console.log(line);
}

function runLine(run: Measured): string {
  const extra = run.cast
    ? `, ${run.cast.unanswered.length} in flight at the end${run.stoppedEarly ? ", stopped early: voters nearly used up" : ""}${run.cast.poolExhausted > 0 ? `, ${run.cast.poolExhausted} REPEATS (pool exhausted)` : ""}`
    : "";
  const cores = `; cores: runtime ${fixed(run.runtimeCores, 2)}, load generator ${fixed(run.loadGeneratorCores, 2)}, other processes ${fixed(run.otherCores, 2)}`;
  return `    ${run.label}: ${fixed(throughputOf(run))}/s over ${fixed(run.durationSeconds, 2)} s, p50 ${fixed(run.latency.p50)} ms, p99 ${fixed(run.latency.p99)} ms, errors ${errorsOf(run)}${extra}${cores}`;
}

async function measureBaseline(
  runtime: Runtime,
  name: string,
  method: "GET" | "POST",
  path: string,
  workDir: string,
  pids: readonly number[],
): Promise<PathFigures> {
  const spec = { url: `${runtime.baseUrl}${path}`, method, connections: CONNECTIONS, timeoutSeconds: TIMEOUT_SECONDS };
  const warm = await runLoad(`${name} warm-up`, { ...spec, durationSeconds: WARMUP }, workDir, pids);
  say(runLine(warm));
  const runs: Measured[] = [];
  for (let i = 1; i <= RUNS; i++) {
    await sleep(SETTLE_MS);
    const run = await runLoad(`${name} run ${i}`, { ...spec, durationSeconds: DURATION }, workDir, pids);
    say(runLine(run));
    runs.push(run);
  }
  return figures(name, runs);
}

/**
 * Voters for one cast run. The roll is shared out over the remaining runs in proportion to their
 * seconds (for the per-voter mapping, whose budget is the binding limit, that is the whole rule),
 * and no run takes more than twice what the best rate so far would use (so 50,000 voters are
 * not minted for a few thousand casts). A run that nears the end of its share stops early and
 * says so.
 */
function votersFor(session: CastSession, seconds: number, secondsLeft: number, bestRate: number | undefined): number {
  const share = Math.floor((session.votersLeft * seconds) / secondsLeft);
  const enough = Math.ceil(Math.max(bestRate ?? 1_000, 200) * seconds * 2) + 2 * CONNECTIONS;
  return Math.max(2 * CONNECTIONS, Math.min(share, enough));
}

function castLine(run: CastRun): string {
  const drain =
    run.drainSeconds === undefined
      ? "the tally STALLED"
      : `tally caught up ${fixed(run.drainSeconds, 1)} s after the run`;
  const log = `audit log: ${run.log.entries} entries published (${fixed(run.log.entriesPerSecond)}/s over the run and its drain), sequencer ${fixed(run.log.capacityPerSecond)} entries per second of its busy time, ${run.log.backlog} pooled at the end`;
  const proof = run.proofLatency
    ? `\n      acceptance to log inclusion: p50 ${fixed(run.proofLatency.p50Ms)} ms, p99 ${fixed(run.proofLatency.p99Ms)} ms, max ${fixed(run.proofLatency.maxMs)} ms over ${run.proofLatency.samples} receipts cast beside the load (${run.proofLatency.missing} missing, ${run.proofLatency.refused} refused; polled in rounds of up to ${fixed(run.proofLatency.roundMs)} ms)\n      ${inclusionTargetLine(run.proofLatency.p99Ms)}`
    : "";
  return `${runLine(run)}\n      resent ${run.resolved.receipts + run.resolved.refused} in-flight ballots (${run.resolved.receipts} receipts); ${run.backlog} receipts not yet counted at the end of the run, ${drain}\n      ${log}${proof}`;
}

function displayLine(d: DisplayPhase): string {
  const pct = (p: DisplayPhase["fanOutMs"]): string =>
    p ? `p50 ${fixed(p.p50)} ms, p99 ${fixed(p.p99)} ms, max ${fixed(p.max)} ms` : "no samples";
  return `    ${d.sockets} displays: ${d.opened} opened, ${d.failedToOpen} failed to open, ${d.lost} lost, ${d.outOfOrder} out of order; ${d.casts} casts (${fixed(d.castsPerSecond)}/s), ${d.releases} releases, ${d.delivered} deliveries
      acceptance to display (first in, first counted): ${pct(d.acceptanceToDisplayMs)}
      release cut to display (fan-out): ${pct(d.fanOutMs)}
      officials' exact channel (${d.official.sockets} displays, ${d.official.lost} lost; no k threshold): acceptance to display ${pct(d.official.acceptanceToDisplayMs)}; fan-out ${pct(d.official.fanOutMs)}
      runtime ${fixed(d.runtimeCpuSeconds, 2)} CPU s over ${fixed(d.seconds, 1)} s; aggregator ${fixed(d.aggregatorCallsPerSecond)} calls/s; display process ${fixed(d.displayProcessCores, 2)} cores`;
}

function shortName(buckets: number): string {
  return buckets === 0 ? "per-voter" : `${buckets} buckets`;
}

/**
 * The login path: a warm-up and RUNS runs like the cast, each with its own ID tokens signed just
 * before it. A run's tokens are twice what the best rate so far would use (the durable write's
 * rate before the first), so a run does not run out; one that nears the end stops early and says
 * so. Then a token from the last run is sent again, which the replay guard must refuse.
 */
async function measureLogin(
  runtime: Runtime,
  issuer: BenchEidIssuer,
  rollSize: number,
  durableWrite: PathFigures,
  workDir: string,
  pids: readonly number[],
  profiling?: {
    readonly bundles: Bundles;
    readonly name: string;
    readonly limiter: { readonly msPerCall: number; readonly callsPerRequest: number } | undefined;
  },
): Promise<
  PathFigures & {
    readonly replay: ReplayCheck;
    readonly profile?: { readonly file: string; readonly breakdown: Breakdown };
  }
> {
  const session = new LoginSession({
    baseUrl: runtime.baseUrl,
    issuer,
    vars: runtime.vars,
    electionId: DEMO_ELECTION_ID,
    prefix: PREFIX,
    rollSize,
    connections: CONNECTIONS,
    timeoutSeconds: TIMEOUT_SECONDS,
    workDir,
    runtimePids: pids,
  });
  const tokensFor = (seconds: number, rate: number): number =>
    Math.ceil(Math.max(rate, 200) * seconds * 2) + 2 * CONNECTIONS;
  const warm = await session.run("login warm-up", WARMUP, tokensFor(WARMUP, durableWrite.throughput));
  say(runLine(warm) + loginExtra(warm));
  let bestRate = throughputOf(warm);
  const runs: Measured[] = [];
  for (let i = 1; i <= RUNS; i++) {
    await sleep(SETTLE_MS);
    const run = await session.run(`login run ${i}`, DURATION, tokensFor(DURATION, bestRate));
    say(runLine(run) + loginExtra(run));
    runs.push(run);
    bestRate = Math.max(bestRate, throughputOf(run));
  }
  const replay = await session.checkReplay();
  say(
    `    a token already used, sent again: ${replay.status} ${replay.code ?? ""}${replay.ok ? " - refused as a replay" : " - NOT REFUSED AS A REPLAY"}`,
  );
  let profile: { readonly file: string; readonly breakdown: Breakdown } | undefined;
  if (profiling) {
    await sleep(SETTLE_MS);
    say("  login profile run (V8 CPU profile of the production Worker's isolate; not in the medians):");
    const taken = await profiledSpan(runtime, pids, profiling.bundles, profiling.name, () =>
      session.run("login profile run", DURATION, tokensFor(DURATION, bestRate)),
    );
    say(runLine(taken.result) + loginExtra(taken.result));
    const logins = taken.result.login?.accepted.length ?? 0;
    const measured = cpuMsPerRequest(figures("login", runs));
    const parts = taken.breakdown("login", logins, profiling.limiter, measured);
    say(
      `    profile written to ${taken.file}; runtime CPU per login in the measured runs ${fixed(measured, 2)} ms (the total below), over the profiled span ${fixed(taken.spanCpuMs === undefined ? undefined : taken.spanCpuMs / logins, 2)} ms`,
    );
    say(breakdownText(parts));
    profile = { file: taken.file, breakdown: parts };
  }
  return { ...figures("login", runs), replay, ...(profile ? { profile } : {}) };
}

/** One local limit() call's CPU beyond a bare request (both measured in this instance), times `calls`. */
function limiterCost(
  rateLimit: PathFigures,
  bare: PathFigures,
  calls: number,
): { readonly msPerCall: number; readonly callsPerRequest: number } | undefined {
  const limit = cpuMsPerRequest(rateLimit);
  const bareMs = cpuMsPerRequest(bare);
  return limit === undefined || bareMs === undefined
    ? undefined
    : { msPerCall: Math.max(0, limit - bareMs), callsPerRequest: calls };
}

/**
 * Runs `run` with V8's profiler on the production Worker's isolate (bench/profile.ts) and the
 * runtime's CPU counted over the same span; the profile is written to PROFILE_DIR/`name`.cpuprofile.
 * The span is the whole of `run` (a cast run's resends and drain included), so the requests it
 * accepted and the CPU are taken over the same time.
 */
async function profiledSpan<T>(
  runtime: Runtime,
  pids: readonly number[],
  bundles: Bundles,
  name: string,
  run: () => Promise<T>,
): Promise<{
  readonly result: T;
  readonly file: string;
  /** The runtime's CPU over the whole profiled span, from /proc (the profiler's own cost included). */
  readonly spanCpuMs: number | undefined;
  breakdown(
    noun: string,
    requests: number,
    limiter: { readonly msPerCall: number; readonly callsPerRequest: number } | undefined,
    measuredMsPerRequest: number | undefined,
  ): Breakdown;
}> {
  if (!runtime.inspectorUrl) throw new Error("the runtime was started without an inspector port");
  const cpuBefore = cpuSecondsOf(pids);
  const profiler = await startProfiler(runtime.inspectorUrl, PRODUCTION_WORKER);
  const result = await run();
  const cpuProfile = await profiler.stop();
  const cpuAfter = cpuSecondsOf(pids);
  await mkdir(PROFILE_DIR, { recursive: true });
  const file = join(PROFILE_DIR, `${name}.cpuprofile`);
  await writeProfile(file, cpuProfile);
  const fileOf = await moduleMap(bundles.production);
  const spanCpuMs = cpuBefore === undefined || cpuAfter === undefined ? undefined : (cpuAfter - cpuBefore) * 1000;
  return {
    result,
    file,
    spanCpuMs,
    // The total is the measured runs' CPU per request (what every ratio uses), not the profiled
    // span's: that span also holds the bench's own polls during the drain and the profiler's cost.
    breakdown: (noun, requests, limiter, measuredMsPerRequest) =>
      breakdown(cpuProfile, fileOf, basename(bundles.production), {
        noun,
        requests,
        runtimeCpuMs: measuredMsPerRequest === undefined ? undefined : measuredMsPerRequest * requests,
        ...(limiter ? { limiter } : {}),
      }),
  };
}

/** `login/durable-write R (1 : x, CPU per request xN)`, the login figures beside the same instance's durable write. */
function loginRatioLine(short: string, login: NonNullable<MappingFigures["login"]>, durableWrite: PathFigures): string {
  const loginCpu = cpuMsPerRequest(login);
  const writeCpu = cpuMsPerRequest(durableWrite);
  const limiterCpu = cpuMsPerRequest(login.rateLimit);
  const cpu =
    loginCpu !== undefined && writeCpu !== undefined ? `, CPU per request x${fixed(loginCpu / writeCpu, 1)}` : "";
  const limiter =
    limiterCpu !== undefined && writeCpu !== undefined
      ? `; one local rate-limiter call: CPU x${fixed(limiterCpu / writeCpu, 1)} of a durable write's (a login makes 3)`
      : "";
  return `  ${short.padEnd(11)} login/durable-write ${fixed(login.throughput / durableWrite.throughput, 2)} (1 : ${fixed(durableWrite.throughput / login.throughput, 1)}${cpu}); ${login.errors} errors${limiter}`;
}

async function measureMapping(
  ledgerBuckets: number,
  bundles: Awaited<ReturnType<typeof buildBundles>>,
  workDir: string,
  issuer: BenchEidIssuer,
): Promise<MappingFigures> {
  const name = mappingName(ledgerBuckets);
  say(`\n== ${name}`);
  const stateDir = join(workDir, `state-${ledgerBuckets}`);
  const secrets = await generateSecrets();
  const vars = {
    ...benchVars(secrets, ledgerBuckets, issuer.vars),
    ...(ADMISSION_CAP !== undefined ? { ADMISSION_MAX_IN_FLIGHT: ADMISSION_CAP } : {}),
  };
  const profiled = ledgerBuckets === PROFILE_MAPPING;
  const floorKeys = await floorCredentials();
  const runtime = await startRuntime({
    bundles,
    stateDir,
    port: await freePort(),
    vars,
    ...(profiled ? { inspectorPort: await freePort() } : {}),
    baselineVars: { FLOOR_TOKEN_KEY: floorKeys.key },
  });
  activeRuntime = runtime;
  try {
    const pids = workerdPids();
    const keyFile = join(workDir, `admin-${ledgerBuckets}.jwk.json`);
    await writePrivateJson(keyFile, secrets.adminPrivateJwk);
    const client = new OfficialClient({ baseUrl: runtime.baseUrl, officialId: "bootstrap-admin", keyFile });
    const voters = ledgerBuckets === 0 ? PER_VOTER_BUDGET : BUCKET_VOTERS;
    // The roll is fixed once the polls open: it is imported while the demo is not yet open.
    let imported: { accepted: number; seconds: number } | undefined;
    await loadDemo(client, new Date(), async (admin) => {
      imported = await importSyntheticRoll(
        admin,
        DEMO_ELECTION_ID,
        join(workDir, `roll-${ledgerBuckets}.csv`),
        PREFIX,
        voters,
      );
    });
    const roll = imported;
    if (!roll) throw new Error("the demo election was already open: the synthetic roll was not imported");
    say(
      `  runtime ${runtime.baseUrl}; demo election loaded; ${voters} voters imported through the admin API in ${fixed(roll.seconds, 1)} s`,
    );

    say("  bare Worker route (GET, constant):");
    const bare = await measureBaseline(runtime, "bare", "GET", `${BASELINE_PREFIX}/bare`, workDir, pids);
    say("  one durable write (POST, one SQLite INSERT in one Durable Object):");
    const durableWrite = await measureBaseline(
      runtime,
      "durable-write",
      "POST",
      `${BASELINE_PREFIX}/durable-write`,
      workDir,
      pids,
    );
    say("  floor (POST: MAC check, one write in 16 bucket objects, one queue send; its consumer applies each batch):");
    const floorMeasured = await measureFloor({
      baseUrl: runtime.baseUrl,
      token: floorKeys.token,
      connections: CONNECTIONS,
      timeoutSeconds: TIMEOUT_SECONDS,
      warmupSeconds: WARMUP,
      durationSeconds: DURATION,
      runs: RUNS,
      settleMs: SETTLE_MS,
      workDir,
      runtimePids: pids,
      report: (run) => say(`${runLine(run)}\n${floorDrainLine(run)}`),
    });
    say(`  ${floorCheckLine(floorMeasured.check)}`);

    let login: MappingFigures["login"];
    if (LOGIN_MAPPINGS.includes(ledgerBuckets)) {
      // What one rate-limiter call costs on this runtime: the login makes three (docs/PERFORMANCE.md).
      say("  one rate-limiter call (POST, one limit() of a Rate Limiting binding, never refused):");
      const rateLimit = await measureBaseline(
        runtime,
        "rate-limit",
        "POST",
        `${BASELINE_PREFIX}/rate-limit`,
        workDir,
        pids,
      );
      say("  login (POST /v1/auth/voter-session, a new eID ID token each request):");
      const limiter = limiterCost(rateLimit, bare, RAISED_LOGIN_LIMITERS.length);
      const profiling = profiled ? { bundles, name: `login-${ledgerBuckets}`, limiter } : undefined;
      login = { ...(await measureLogin(runtime, issuer, voters, durableWrite, workDir, pids, profiling)), rateLimit };
      say(loginRatioLine(shortName(ledgerBuckets), login, durableWrite));
    }

    say("  cast (POST /v1/elections/demo-2026/ballots, a new voter each request):");
    const session = new CastSession({
      baseUrl: runtime.baseUrl,
      client,
      vars: runtime.vars,
      electionId: DEMO_ELECTION_ID,
      prefix: PREFIX,
      rollSize: voters,
      connections: CONNECTIONS,
      timeoutSeconds: TIMEOUT_SECONDS,
      workDir,
      runtimePids: pids,
    });
    const warm = await session.run(
      "cast warm-up",
      WARMUP,
      votersFor(session, WARMUP, WARMUP + RUNS * DURATION, undefined),
    );
    say(castLine(warm));
    let bestRate = throughputOf(warm);
    const castRuns: CastRun[] = [];
    for (let i = 1; i <= RUNS; i++) {
      await sleep(SETTLE_MS);
      const run = await session.run(
        `cast run ${i}`,
        DURATION,
        votersFor(session, DURATION, (RUNS - i + 1) * DURATION, bestRate),
      );
      say(castLine(run));
      castRuns.push(run);
      bestRate = Math.max(bestRate, throughputOf(run));
    }
    // The audit log's acceptance-to-inclusion latency, under the same load but outside the
    // medians (its probe polls receipts during the run). Not for per-voter ledgers: their voter
    // budget has no room for it, and the log does not depend on the ledger mapping.
    let probeRun: CastRun | undefined;
    if (ledgerBuckets > 0) {
      await sleep(SETTLE_MS);
      // At least 10 s: about 50 sampled receipts at the probe's 5 a second.
      const seconds = Math.max(DURATION, 10);
      probeRun = await session.run("cast probe run", seconds, votersFor(session, seconds, seconds, bestRate), {
        probe: true,
      });
      say(castLine(probeRun));
      bestRate = Math.max(bestRate, throughputOf(probeRun));
    }
    let profile: MappingFigures["profile"];
    if (profiled && runtime.inspectorUrl) {
      await sleep(SETTLE_MS);
      say("  cast profile run (V8 CPU profile of the production Worker's isolate; not in the medians):");
      const receiptsBefore = session.receiptCount;
      const taken = await profiledSpan(runtime, pids, bundles, `cast-${ledgerBuckets}`, () =>
        session.run("cast profile run", DURATION, votersFor(session, DURATION, DURATION, bestRate)),
      );
      say(castLine(taken.result));
      const limiter = login ? limiterCost(login.rateLimit, bare, RAISED_LIMITERS.length) : undefined;
      const casts = session.receiptCount - receiptsBefore;
      const measured = cpuMsPerRequest(figures("cast", castRuns));
      const parts = taken.breakdown("cast", casts, limiter, measured);
      say(
        `    profile written to ${taken.file} (open it in Chrome DevTools); runtime CPU per cast in the measured runs ${fixed(measured, 2)} ms (the total below), over the profiled span ${fixed(taken.spanCpuMs === undefined ? undefined : taken.spanCpuMs / casts, 2)} ms`,
      );
      say(breakdownText(parts));
      profile = { file: taken.file, run: taken.result, breakdown: parts };
    }
    let displays: MappingFigures["displays"];
    if (ledgerBuckets === DISPLAY_MAPPING) {
      say(
        `  result displays (WebSockets on the public channel) while casts run at ${DISPLAY_RATE}/s for ${DISPLAY_SECONDS} s:`,
      );
      const phase = async (sockets: number): Promise<DisplayPhase> => {
        await sleep(SETTLE_MS);
        const figures = await displayPhase({
          label: `displays-${sockets}`,
          session,
          client,
          baseUrl: runtime.baseUrl,
          electionId: DEMO_ELECTION_ID,
          workDir,
          runtimePids: pids,
          sockets,
          seconds: DISPLAY_SECONDS,
          ratePerSecond: DISPLAY_RATE,
          voters: Math.ceil(DISPLAY_RATE * DISPLAY_SECONDS * 1.5) + 2 * CONNECTIONS,
        });
        say(displayLine(figures));
        return figures;
      };
      const reference = await phase(Math.min(REFERENCE_DISPLAYS, DISPLAYS));
      const full = await phase(DISPLAYS);
      say(
        `    runtime CPU per update pushed to one socket: ${fixed(cpuPerPushMs(reference, full), 3)} ms (from the difference between the two phases)`,
      );
      displays = { reference, full };
    }
    let overload: OverloadFigures | undefined;
    if (ledgerBuckets === OVERLOAD_MAPPING) {
      await sleep(SETTLE_MS);
      const needed = overloadVoters(bestRate, OVERLOAD_SECONDS);
      if (session.votersLeft < needed) {
        say(
          `  overload campaign skipped: it needs about ${needed} voters at these rates and ${session.votersLeft} are left (--bucket-voters)`,
        );
      } else {
        say(
          `  overload campaign (baseline at half the best cast rate, ${OVERLOAD_SECONDS} s at twice it, then back to half until latency recovers):`,
        );
        overload = await overloadCampaign(session, bestRate, OVERLOAD_SECONDS);
        for (const line of overloadLines(overload)) say(line);
      }
    }
    // Every run already waited for its backlog; this is the last word, after a final wait.
    await session.drain();
    const tally = await session.check();
    say(
      `  tally check: ${tally.counted} ballots counted, ${tally.receipts} receipts${tally.ok ? " - equal" : " - MISMATCH"}; president: ${tally.president.map((p) => `${p.option.replace("sel-president-", "")} ${p.counted}/${p.expected}`).join(", ")}`,
    );
    say(`  voters used: ${session.votersUsed} of ${voters}`);
    return {
      mapping: name,
      ledgerBuckets,
      voters,
      rollImportSeconds: roll.seconds,
      bare,
      durableWrite,
      floor: { ...figures("floor", floorMeasured.runs), runs: floorMeasured.runs, check: floorMeasured.check },
      cast: { ...figures("cast", castRuns), castRuns, receipts: session.receiptCount },
      auditLog: {
        entriesPerSecond: median(castRuns.map((r) => r.log.entriesPerSecond)),
        capacityPerSecond: median(
          castRuns.map((r) => r.log.capacityPerSecond).filter((c): c is number => c !== undefined),
        ),
        proofLatency: probeRun?.proofLatency,
      },
      tally,
      ...(displays ? { displays } : {}),
      ...(profile ? { profile } : {}),
      ...(login ? { login } : {}),
      ...(overload ? { overload } : {}),
      runtimeLog: Object.fromEntries(runtime.log.counts),
      runtimeLogRecent: runtime.log.recent,
    };
  } finally {
    await runtime.dispose();
    activeRuntime = undefined;
  }
}

/**
 * The runtime's CPU per successful request: less sensitive than throughput to what else the
 * machine runs (workerd runs a Worker's JavaScript, its Durable Objects and the queue consumers on
 * one thread, so throughput stops at one core whatever the machine has). For the cast path it
 * includes the queue consumer's and the tally's share, done during the run.
 */
function cpuMsPerRequest(f: PathFigures): number | undefined {
  return f.runtimeCores === undefined ? undefined : (f.runtimeCores * 1000) / f.throughput;
}

function summary(results: readonly MappingFigures[]): string {
  const header = [
    "path",
    "req/s",
    "p50 ms",
    "p99 ms",
    "errors",
    "runtime CPU ms/req",
    "runtime cores",
    "loadgen cores",
    "other cores",
  ];
  const row = (label: string, f: PathFigures): string[] => [
    label,
    fixed(f.throughput),
    fixed(f.p50),
    fixed(f.p99),
    String(f.errors),
    fixed(cpuMsPerRequest(f), 2),
    fixed(f.runtimeCores, 2),
    fixed(f.loadGeneratorCores, 2),
    fixed(f.otherCores, 2),
  ];
  const rows: string[][] = [];
  for (const r of results) {
    const short = r.ledgerBuckets === 0 ? "per-voter" : `${r.ledgerBuckets} buckets`;
    rows.push(row(`bare route           [${short}]`, r.bare));
    rows.push(row(`one durable write    [${short}]`, r.durableWrite));
    rows.push(row(`floor                [${short}]`, r.floor));
    rows.push(row(`cast                 [${short}]`, r.cast));
    if (r.login) rows.push(row(`one rate-limiter call [${short}]`, r.login.rateLimit));
    if (r.login) rows.push(row(`login                [${short}]`, r.login));
  }
  const ratios = results.map((r) => {
    const short = r.ledgerBuckets === 0 ? "per-voter" : `${r.ledgerBuckets} buckets`;
    const cpuRatio = (base: PathFigures): string => {
      const cast = cpuMsPerRequest(r.cast);
      const other = cpuMsPerRequest(base);
      return cast !== undefined && other !== undefined ? `, CPU per request x${fixed(cast / other, 1)}` : "";
    };
    return `  ${short.padEnd(11)} cast/bare ${fixed(r.cast.throughput / r.bare.throughput, 3)} (1 : ${fixed(r.bare.throughput / r.cast.throughput, 1)}${cpuRatio(r.bare)}), cast/durable-write ${fixed(r.cast.throughput / r.durableWrite.throughput, 2)} (1 : ${fixed(r.durableWrite.throughput / r.cast.throughput, 1)}${cpuRatio(r.durableWrite)}); tally ${r.tally.counted} = receipts ${r.tally.receipts}: ${r.tally.ok ? "yes" : "NO"}`;
  });
  const floors = results.map((r) => {
    const short = r.ledgerBuckets === 0 ? "per-voter" : `${r.ledgerBuckets} buckets`;
    const cast = cpuMsPerRequest(r.cast);
    const floor = cpuMsPerRequest(r.floor);
    const cpu = cast !== undefined && floor !== undefined ? ` (CPU per request x${fixed(cast / floor, 2)})` : "";
    const drains = r.floor.runs.map((run) => run.drainSeconds);
    const drain = drains.every((d): d is number => d !== undefined)
      ? `floor consumer caught up at most ${fixed(Math.max(...drains), 1)} s after a run`
      : "floor consumer STALLED";
    const latency = `p50 x${fixed(r.cast.p50 / r.floor.p50, 2)}, p99 x${fixed(r.cast.p99 / r.floor.p99, 2)}`;
    return `  ${short.padEnd(11)} cast/floor ${fixed(r.cast.throughput / r.floor.throughput, 3)}${cpu}; latency ${latency}; ${drain}; ${floorCheckLine(r.floor.check)}`;
  });
  const logs = results.map((r) => {
    const short = r.ledgerBuckets === 0 ? "per-voter" : `${r.ledgerBuckets} buckets`;
    const proof = r.auditLog.proofLatency;
    return `  ${short.padEnd(11)} ${fixed(r.auditLog.entriesPerSecond)} entries/s published over a run and its drain, sequencer ${fixed(r.auditLog.capacityPerSecond)} entries/s of busy time${
      proof
        ? `; acceptance to inclusion p50 ${fixed(proof.p50Ms)} ms, p99 ${fixed(proof.p99Ms)} ms (${proof.samples} receipts)\n              ${inclusionTargetLine(proof.p99Ms)}`
        : ""
    }`;
  });
  const displays = results.flatMap((r) => {
    if (!r.displays) return [];
    const { reference, full } = r.displays;
    const p99 = (d: DisplayPhase): string =>
      `acceptance to display p99 ${fixed(d.acceptanceToDisplayMs?.p99)} ms (exact channel ${fixed(d.official.acceptanceToDisplayMs?.p99)} ms), fan-out p99 ${fixed(d.fanOutMs?.p99)} ms`;
    return [
      "",
      `Result displays (${r.ledgerBuckets} buckets, casts at ${fixed(full.castsPerSecond)}/s):`,
      `  ${reference.sockets} displays: ${p99(reference)}, ${reference.lost} lost, aggregator ${fixed(reference.aggregatorCallsPerSecond)} calls/s`,
      `  ${full.sockets} displays: ${p99(full)}, ${full.lost} lost, aggregator ${fixed(full.aggregatorCallsPerSecond)} calls/s`,
      `  runtime CPU per update per socket: ${fixed(cpuPerPushMs(reference, full), 3)} ms`,
    ];
  });
  return [
    table(header, rows),
    "",
    "Ratios of median throughput, each to the baselines of the same runtime instance:",
    ...ratios,
    ...results.flatMap((r) => (r.login ? [loginRatioLine(shortName(r.ledgerBuckets), r.login, r.durableWrite)] : [])),
    "",
    "Ratios to the floor baseline (the minimal cast pipeline, its consumer included), same instance:",
    ...floors,
    "",
    "Audit log during the cast runs (medians; bench/audit-log-metrics.ts):",
    ...logs,
    ...displays,
    ...results.flatMap((r) => [
      ...(r.login?.profile
        ? [
            "",
            `Where a login's runtime CPU goes (${r.ledgerBuckets} buckets, the profiled run; bench/profile.ts):`,
            breakdownText(r.login.profile.breakdown, 0),
          ]
        : []),
      ...(r.profile
        ? [
            "",
            `Where a cast's runtime CPU goes (${r.ledgerBuckets} buckets, the profiled run; bench/profile.ts):`,
            breakdownText(r.profile.breakdown, 0),
          ]
        : []),
    ]),
  ].join("\n");
}

/**
 * The log at peak, in a fresh runtime instance: no cast runs' alarms, queue batches or pooled
 * entries left over, and no election loaded (the sequencer takes any valid id; the public
 * checkpoint route reads R2 only).
 */
async function measureLog(bundles: Bundles, workDir: string, issuer: BenchEidIssuer): Promise<LogBench> {
  say(`\n== The log at peak: one election's sequencer fed through recordBallots, ${LOG_SECONDS} s per rate`);
  const secrets = await generateSecrets();
  const runtime = await startRuntime({
    bundles,
    stateDir: join(workDir, "state-log"),
    port: await freePort(),
    vars: benchVars(secrets, MAPPINGS.find((m) => m > 0) ?? 16, issuer.vars),
  });
  activeRuntime = runtime;
  try {
    return await runLogBench({
      baseUrl: runtime.baseUrl,
      electionId: LOG_ELECTION,
      rates: LOG_RATES,
      stepSeconds: LOG_SECONDS,
      runtimePids: workerdPids(),
      say,
    });
  } finally {
    await runtime.dispose();
    activeRuntime = undefined;
  }
}

let activeRuntime: Runtime | undefined;
let workDir: string | undefined;
let eidIssuer: BenchEidIssuer | undefined;

async function cleanUp(): Promise<void> {
  for (const child of runningChildren) child.kill("SIGTERM");
  await activeRuntime?.dispose().catch(() => undefined);
  await eidIssuer?.close().catch(() => undefined);
  if (workDir && !args.keep) await rm(workDir, { recursive: true, force: true });
}

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    say(`\n${signal}: stopping the load generator and the runtime`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const started = performance.now();
  workDir = await mkdtemp(join(tmpdir(), "mixed-election-bench-"));
  say(`mixed-election bench, ${new Date().toISOString()}`);
  say(
    `machine: ${cpus().length} x ${cpus()[0]?.model ?? "unknown CPU"}, ${fixed(totalmem() / 2 ** 30, 1)} GiB, ${platform()} ${release()}, Node ${process.versions.node}; load average now ${loadavg()
      .map((l) => fixed(l, 2))
      .join(" ")}`,
  );
  if (!args.chaos)
    say(
      `method: ${CONNECTIONS} connections from a separate autocannon process over loopback; per path a ${WARMUP} s warm-up, then ${RUNS} runs of ${DURATION} s; medians of the runs.`,
    );
  say(
    `runtime: Miniflare (wrangler's) on 127.0.0.1, workerd; production Worker bundled by wrangler deploy --dry-run; state in ${workDir}`,
  );
  say(
    `NOTE: ${RAISED_LIMITERS.join(" and ")} are raised to ${HIGH_LIMIT} per period for this run: one load-generator address would otherwise be held to 600 casts a minute. A capacity figure, not a policy test.`,
  );
  if (LOGIN_MAPPINGS.length > 0)
    say(
      `NOTE: ${RAISED_LOGIN_LIMITERS.join(", ")} are raised to ${HIGH_LIMIT} per period for this run: every login comes from one address for one election (and a roll voter logs in again and again). A capacity figure, not a policy test.`,
    );
  const bundles = await buildBundles(join(workDir, "build"));
  // Before any runtime: the Worker's EID_* variables name it.
  const issuer = await startBenchEidIssuer();
  eidIssuer = issuer;
  if (args.chaos) {
    say(
      `\n== Chaos: casts at ${CHAOS_RATE}/s, three stations and result displays under random faults for ${CHAOS_SECONDS} s`,
    );
    const report = await runChaos({
      bundles: { ...bundles, production: await buildChaosBundle(join(workDir, "build")) },
      workDir,
      issuer,
      seed: CHAOS_SEED,
      seconds: CHAOS_SECONDS,
      rate: CHAOS_RATE,
      only: (args["chaos-only"] ?? "").split(",").filter((f) => f !== ""),
      say,
      onRuntime: (runtime) => (activeRuntime = runtime),
      port: await freePort(),
      // The elections come from the demo's and the drills' own loaders (scripts/), not the bench's.
      setUp: async ({ api, admin, importRoll, districts, paperVoters }) => {
        await loadDemo(admin, new Date(), (a) => importRoll(a, DEMO_ELECTION_ID));
        const paper = await drillElection(
          { api, issuer: issuer.vars.EID_ISSUER, admin },
          {
            name: "chaos",
            stations: districts.map((d) => [d]),
            voters: Object.fromEntries(districts.map((d) => [d, paperVoters])),
          },
        );
        return { online: DEMO_ELECTION_ID, paper };
      },
    });
    for (const line of chaosLines(report)) say(line);
    say(`\nfinished in ${fixed((performance.now() - started) / 1000)} s`);
    if (args.json)
      await writeFile(args.json, JSON.stringify({ date: new Date().toISOString(), chaos: report }, null, 2));
    return report.ok ? 0 : 1;
  }
  const results: MappingFigures[] = [];
  for (const buckets of args["log-only"] ? [] : MAPPINGS)
    results.push(await measureMapping(buckets, bundles, workDir, issuer));
  const logPeak = LOG_RATES.length > 0 ? await measureLog(bundles, workDir, issuer) : undefined;

  say("\n== Summary (medians)");
  if (results.length > 0) say(summary(results));
  for (const r of results)
    if (r.overload) say(`\nOverload:\n  ${shortName(r.ledgerBuckets)}  ${overloadSummary(r.overload)}`);
  if (logPeak) say(["", ...logSummaryLines(logPeak)].join("\n"));
  const seconds = (performance.now() - started) / 1000;
  say(`\nfinished in ${fixed(seconds)} s`);
  const logged = results.filter((r) => (r.runtimeLog["error"] ?? 0) > 0);
  for (const r of logged)
    say(
      `runtime errors logged under ${r.mapping}: ${r.runtimeLog["error"]}; last: ${r.runtimeLogRecent.slice(-3).join(" | ")}`,
    );
  if (args.json) {
    // Without the per-voter lists of each run: the figures, not the ballots.
    const slimmer = (key: string, value: unknown): unknown =>
      ["accepted", "acceptedAt", "refused", "unanswered"].includes(key) && Array.isArray(value) ? value.length : value;
    const slim = JSON.stringify(
      {
        date: new Date().toISOString(),
        seconds,
        connections: CONNECTIONS,
        duration: DURATION,
        runs: RUNS,
        warmup: WARMUP,
        results,
        ...(logPeak ? { logPeak } : {}),
      },
      slimmer,
      2,
    );
    await writeFile(args.json, slim);
    say(`figures written to ${args.json}`);
  }
  const displaysHeld = (r: MappingFigures): boolean =>
    !r.displays ||
    [r.displays.reference, r.displays.full].every((d) => d.lost === 0 && d.failedToOpen === 0 && d.official.lost === 0);
  const loginHeld = (r: MappingFigures): boolean => !r.login || (r.login.errors === 0 && r.login.replay.ok);
  // A mapping that was to run the campaign and skipped it (too few voters) fails too.
  const overloadHeld = (r: MappingFigures): boolean =>
    r.ledgerBuckets !== OVERLOAD_MAPPING || (r.overload !== undefined && r.overload.failures.length === 0);
  return results.every(
    (r) =>
      r.tally.ok &&
      r.cast.errors === 0 &&
      displaysHeld(r) &&
      loginHeld(r) &&
      overloadHeld(r) &&
      r.floor.check.ok &&
      r.floor.errors === 0,
  ) &&
    (logPeak?.check.ok ?? true)
    ? 0
    : 1;
}

const exitCode = await main().finally(cleanUp);
process.exit(exitCode);
