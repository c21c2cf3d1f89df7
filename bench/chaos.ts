/**
 * The chaos campaign (`npm run bench -- --chaos`; docs/RELIABILITY.md "Faults under load"): the
 * production Worker with faults on command (bench/chaos-worker.ts) under the bench's kind of load,
 * faults injected at random while it runs, and afterwards the promises checked from outside.
 *
 * Load, all at once, in three phases (calm, chaos, calm):
 *   - online casts at a fixed rate from this process, each voter a client that retries a 503 or a
 *     lost answer after the Retry-After it was given, with the same idempotency key, until it holds
 *     a receipt (what the portal and any API client do);
 *   - three polling stations of an election of their own, each checking voters in and scanning
 *     their marked ballots, retrying with the same check-in and scan ids (what the station's
 *     outbox does);
 *   - result displays on the public channel (bench/displays.ts, reconnecting as the results page
 *     does), and an auditor's watcher saving every checkpoint the two logs publish.
 * Faults (chaos phase only), one new every FAULT_EVERY_MS from a seeded shuffle of the menu, each
 * on for a window: Durable Objects of each class reset before or after calls (ledgers, tally
 * shards, the aggregator, relays, the log sequencer, paper boxes, station counts, the monitor),
 * queue sends failing, the queue consumer crashing on a batch, D1 refusing, R2 writes failing.
 *
 * Checked afterwards, each printed true or false (the bench exits 1 on any false):
 *   - every acknowledged online ballot counted exactly once: the tally equals the receipts, in
 *     total and per president option; every voter got a receipt in the end;
 *   - every acknowledged paper ballot counted exactly once: the paper election's tally equals the
 *     scans answered;
 *   - no answer but 2xx, a 4xx the client expects, or 503/429 with Retry-After;
 *   - both logs complete and verified by the auditor's own CLI (cli/auditor.ts verify, with the key
 *     pinned before any fault): as many ballot entries as acknowledged ballots;
 *   - no fork: every checkpoint the watcher saw is proved consistent with the final one;
 *   - no display left stale: every display's last snapshot holds the final count;
 *   - every receipt resolves to its inclusion proof, verified as a voter's browser does
 *     (lib/audit/receipt-proof.ts).
 * And what the faults cost: per phase, the retries and the time from first send to receipt.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import { OfficialClient } from "../cli/lib/api.ts";
import { openSource } from "../cli/auditor/source.ts";
import { openSigned, proveConsistent, trustedKey } from "../cli/auditor/checks.ts";
import { verifyReceiptProof } from "../lib/audit/receipt-proof.ts";
import { StationCallError } from "../lib/station-client/client.ts";
import { seeded } from "../lib/seeded.ts";
import { logVerifierKey } from "../durable-objects/log-key.ts";
import type { StationClient } from "../lib/station-client/client.ts";
import { ballotOf, PRESIDENT_CONTEST, PRESIDENT_OPTIONS, presidentChoiceOf } from "./ballots.ts";
import { startDisplays } from "./display-run.ts";
import type { BenchEidIssuer } from "./eid-issuer.ts";
import { idempotencyKeyOf } from "./load.ts";
import { benchVars, generateSecrets, startRuntime, writePrivateJson, type Bundles, type Runtime } from "./runtime.ts";
import { fixed } from "./stats.ts";
import { importSyntheticRoll, mintSessions, type BenchVoter } from "./voters.ts";

type DistrictName = "north" | "south" | "east";

/**
 * The paper channel's election, as scripts/drills/setup.ts makes it (a drill election with one
 * station per district): what the campaign needs of it.
 */
export interface PaperElection {
  readonly id: string;
  readonly voters: readonly { readonly nationalId: string; readonly district: DistrictName }[];
  readonly stations: readonly {
    readonly client: StationClient;
    readonly firstSerial: number;
    print(district: DistrictName, serial: number): Promise<string>;
  }[];
}

/** What the bench sets up in the runtime before the load: both elections (scripts/bench.ts). */
export interface ChaosElections {
  /** The demo election, with the synthetic roll PREFIX-1 .. PREFIX-rollSize, polls open. */
  readonly online: string;
  /** One station per district of STATION_DISTRICTS, in that order. */
  readonly paper: PaperElection;
}

const PREFIX = "CHAOS";
const LEDGER_BUCKETS = 16;
/** A new fault starts this often during the chaos phase; windows overlap. */
const FAULT_EVERY_MS = 2_000;
/** Calm before and after the chaos phase, in seconds. */
const CALM_SECONDS = 5;
/** Stations of the paper election, one per district, and the paper ballots each has in flight. */
const STATION_DISTRICTS: readonly DistrictName[] = ["north", "south", "east"];
const STATION_CONCURRENCY = 3;
/** Voters on the paper election's roll per district: more than the stations get through. */
const PAPER_VOTERS = 1000;
/** Online casts in flight at most (the rate binds, not this). */
const MAX_CASTS_IN_FLIGHT = 256;
/** A client gives up after this many tries (a voter would have been told to come back later). */
const MAX_TRIES = 30;
const DISPLAYS = 30;
const OFFICIAL_DISPLAYS = 3;
/** After the tallies have drained, time for the last release to reach every display. */
const DISPLAY_SETTLE_MS = 10_000;
const WATCH_EVERY_MS = 500;
/** How long the tally or the log may show no progress while draining before the check fails. */
const STALL_MS = 60_000;

/** One fault of the menu: what the bench switches on for `seconds`. */
interface Fault {
  readonly kind: "abort" | "queue" | "consumer" | "d1" | "r2";
  readonly target?: string;
  readonly rate: number;
  readonly seconds: number;
}

/**
 * The menu: every class of Durable Object the load reaches, the queue sends, D1 and R2. Rates are
 * the chance each call is hit while the window is open; a ledger is hit on few calls because every
 * cast goes through one (a reset ledger fails the voter's request, which is retried).
 */
const MENU: readonly Fault[] = [
  { kind: "abort", target: "VoterLedger", rate: 0.1, seconds: 2 },
  { kind: "abort", target: "TallyShard", rate: 0.5, seconds: 2 },
  { kind: "abort", target: "ResultsAggregator", rate: 0.5, seconds: 2 },
  { kind: "abort", target: "ResultsRelay", rate: 0.5, seconds: 2 },
  { kind: "abort", target: "LogSequencer", rate: 0.5, seconds: 2 },
  { kind: "abort", target: "PaperBallotBox", rate: 0.3, seconds: 2 },
  { kind: "abort", target: "StationBallotCount", rate: 0.3, seconds: 2 },
  { kind: "abort", target: "SecurityMonitor", rate: 0.5, seconds: 2 },
  { kind: "queue", rate: 0.5, seconds: 2 },
  { kind: "consumer", rate: 0.5, seconds: 2 },
  { kind: "d1", rate: 1, seconds: 2 },
  { kind: "r2", rate: 1, seconds: 3 },
];

function faultName(f: Fault): string {
  return f.kind === "abort"
    ? `reset ${f.target ?? "?"}`
    : { queue: "queue sends fail", consumer: "the consumer crashes", d1: "D1 refuses", r2: "R2 writes fail" }[f.kind];
}

export interface ChaosOptions {
  readonly bundles: Bundles;
  readonly workDir: string;
  readonly issuer: BenchEidIssuer;
  readonly seed: number;
  /** Length of the chaos phase. */
  readonly seconds: number;
  /** Online casts per second, in every phase. */
  readonly rate: number;
  /** Only the faults whose kind or target is named (all when empty): to narrow a finding down. */
  readonly only: readonly string[];
  readonly say: (line: string) => void;
  readonly onRuntime: (runtime: Runtime | undefined) => void;
  /** A free loopback port for the runtime. */
  readonly port: number;
  /**
   * Loads the demo election with the synthetic roll (importing it with `importRoll` before its
   * polls open) and a paper election with a station per district of `districts`, each district
   * with `paperVoters` voters.
   */
  readonly setUp: (runtime: {
    readonly api: string;
    readonly admin: OfficialClient;
    readonly importRoll: (admin: OfficialClient, electionId: string) => Promise<void>;
    readonly districts: readonly DistrictName[];
    readonly paperVoters: number;
  }) => Promise<ChaosElections>;
}

export interface ChaosCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface ChaosReport {
  readonly seed: number;
  readonly faults: readonly {
    readonly atMs: number;
    readonly fault: string;
    readonly rate: number;
    readonly seconds: number;
  }[];
  readonly injected: Record<string, number>;
  readonly phases: readonly PhaseCost[];
  /** Per fault window, and last the requests sent with no window open. */
  readonly faultCosts: readonly FaultCost[];
  readonly drainSeconds: number;
  /** The security monitor's alerts over the run, by election: what the officials were shown. */
  readonly alerts: Record<string, string[]>;
  readonly checks: readonly ChaosCheck[];
  readonly ok: boolean;
}

type Phase = "calm before" | "chaos" | "calm after";
const PHASES: readonly Phase[] = ["calm before", "chaos", "calm after"];

/** What one request (a cast, a check-in, a scan) took from its first send to its answer. */
interface Outcome {
  readonly phase: Phase;
  /** When its first try was sent (performance.now()). */
  readonly at: number;
  readonly tries: number;
  readonly ms: number;
  readonly ok: boolean;
}

export interface PhaseCost extends Cost {
  readonly phase: Phase;
  readonly path: "cast" | "check-in" | "scan";
}

/** What a set of requests cost: how many, their retries and failures, first send to answer. */
interface Cost {
  readonly requests: number;
  readonly retried: number;
  readonly retries: number;
  readonly failed: number;
  readonly p50Ms: number | undefined;
  readonly p99Ms: number | undefined;
}

function costOf(outcomes: readonly Outcome[]): Cost {
  const answered = outcomes.filter((o) => o.ok).map((o) => o.ms);
  return {
    requests: outcomes.length,
    retried: outcomes.filter((o) => o.tries > 1).length,
    retries: outcomes.reduce((n, o) => n + o.tries - 1, 0),
    failed: outcomes.filter((o) => !o.ok).length,
    p50Ms: percentile(answered, 0.5),
    p99Ms: percentile(answered, 0.99),
  };
}

/**
 * What one fault cost: the requests of every path whose first try went out while its window was
 * open (windows overlap, so a request may count for two), against those sent with no window open.
 */
export interface FaultCost extends Cost {
  readonly fault: string;
  readonly atMs: number;
}

/** Answers over the whole run: status (or "network") to count, and the problems seen. */
class Answers {
  readonly counts = new Map<string, number>();
  readonly problems: string[] = [];

  /** `status` "station 2xx": the station client answers a success's body, not its status. */
  record(status: number | "network" | "station 2xx", retryAfter: string | null, body: string): void {
    const key = String(status);
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    if (status === "network" || status === "station 2xx") return;
    if ((status === 503 || status === 429) && !/^\d+$/.test(retryAfter ?? ""))
      this.problem(`${status} without Retry-After: ${body.slice(0, 200)}`);
    else if (status >= 500 && status !== 503) this.problem(`${status}: ${body.slice(0, 200)}`);
  }

  problem(text: string): void {
    if (this.problems.length < 20) this.problems.push(text);
    else this.problems[19] = `... and more (last: ${text.slice(0, 120)})`;
  }
}

/** True for an answer a client retries as it is: the request may or may not have taken effect. */
function retryable(status: number | "network"): boolean {
  return status === "network" || status === 503 || status === 429;
}

/** The Retry-After to wait, capped so a run does not sleep for long; 1 s for a lost answer. */
function waitMs(status: number | "network", retryAfter: string | null): number {
  if (status === "network") return 1000;
  return Math.min(5, Number(retryAfter ?? "1") || 1) * 1000;
}

const Receipt = z.object({ trackingCode: z.string() });

interface CastResult {
  readonly voter: BenchVoter;
  readonly trackingCode: string | undefined;
  readonly outcome: Outcome;
}

async function castUntilAnswered(
  baseUrl: string,
  electionId: string,
  voter: BenchVoter,
  phase: Phase,
  answers: Answers,
): Promise<CastResult> {
  const started = performance.now();
  const body = JSON.stringify({
    idempotencyKey: idempotencyKeyOf(PREFIX.toLowerCase(), voter.n),
    contests: ballotOf(voter.district, voter.n),
  });
  for (let tries = 1; ; tries++) {
    let status: number | "network" = "network";
    let retryAfter: string | null = null;
    let text: string;
    try {
      const res = await fetch(`${baseUrl}/v1/elections/${encodeURIComponent(electionId)}/ballots`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${voter.token}` },
        body,
        signal: AbortSignal.timeout(30_000),
      });
      status = res.status;
      retryAfter = res.headers.get("retry-after");
      text = await res.text();
    } catch (error) {
      text = String(error);
    }
    answers.record(status, retryAfter, text);
    const done = (ok: boolean, trackingCode?: string): CastResult => ({
      voter,
      trackingCode,
      outcome: { phase, at: started, tries, ms: performance.now() - started, ok },
    });
    if (status === 200 || status === 201) return done(true, Receipt.parse(JSON.parse(text)).trackingCode);
    if (!retryable(status) || tries >= MAX_TRIES) {
      answers.problem(`cast of voter ${voter.n} ended with ${status} after ${tries} tries: ${text.slice(0, 200)}`);
      return done(false);
    }
    await sleep(waitMs(status, retryAfter));
  }
}

/**
 * A station call tried until answered: a StationCallError with a 503/429 (or no answer at all) is
 * tried again with the same ids, anything else ends it. The StationClient signs each try afresh.
 */
async function stationUntilAnswered(
  call: () => Promise<unknown>,
  phase: Phase,
  answers: Answers,
  what: string,
): Promise<Outcome> {
  const started = performance.now();
  for (let tries = 1; ; tries++) {
    // 200 stands for any success: StationClient answers the body of a 2xx, not its status.
    let status: number | "network" = 200;
    let retryAfter: string | null = null;
    let text = "";
    try {
      await call();
    } catch (error) {
      if (error instanceof StationCallError) {
        status = error.status;
        // The client keeps the code, not the headers: a 503/429 is checked for Retry-After by the
        // online casts, which go through the same error response.
        retryAfter = status === 503 || status === 429 ? "1" : null;
        text = `${error.code}: ${error.message}`;
      } else {
        status = "network";
        text = String(error);
      }
    }
    answers.record(status === 200 ? "station 2xx" : status, retryAfter, text);
    if (status === 200) return { phase, at: started, tries, ms: performance.now() - started, ok: true };
    if (!retryable(status) || tries >= MAX_TRIES) {
      answers.problem(`${what} ended with ${status} after ${tries} tries: ${text.slice(0, 200)}`);
      return { phase, at: started, tries, ms: performance.now() - started, ok: false };
    }
    await sleep(waitMs(status, retryAfter));
  }
}

function percentile(values: readonly number[], q: number): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const Results = z.object({
  turnout: z.object({ ballotsCounted: z.number().int() }),
  contests: z.array(
    z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), votes: z.number().int() })) }),
  ),
});
const LogStatus = z.object({ size: z.number(), publishedSize: z.number(), pooled: z.number() });

/** Waits until `done` holds, giving up after STALL_MS without `progress` changing. */
async function waitUntil(done: () => Promise<boolean>, progress: () => Promise<number>): Promise<boolean> {
  let last = -1;
  let since = performance.now();
  for (;;) {
    if (await done()) return true;
    const now = await progress();
    if (now !== last) {
      last = now;
      since = performance.now();
    } else if (performance.now() - since > STALL_MS) return false;
    await sleep(500);
  }
}

/** The auditor's CLI, as an auditor runs it: `auditor verify --log URL --key KEY`. */
async function auditorVerify(logUrl: string, key: string): Promise<{ ok: boolean; output: string; ballots: number }> {
  const child = spawn(
    process.execPath,
    [join(import.meta.dirname, "..", "cli", "auditor.ts"), "verify", "--log", logUrl, "--key", key, "--no-progress"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  const ballots = Number(/entries\s+.*?\bballot (\d+)/.exec(output)?.[1] ?? 0);
  return { ok: code === 0, output: output.trim(), ballots };
}

/** Saves every distinct checkpoint the log at `logUrl` publishes, until stopped. */
function watchCheckpoints(logUrl: string): { stop(): Promise<string[]> } {
  const seen: string[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      try {
        const res = await fetch(`${logUrl}checkpoint`);
        const text = await res.text();
        if (res.ok && seen[seen.length - 1] !== text) seen.push(text);
      } catch {
        // A refused or lost read is no checkpoint: the next one will do.
      }
      await sleep(WATCH_EVERY_MS);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

/** Proves every saved checkpoint consistent with the final one (the auditor's own proof check). */
async function noFork(logUrl: string, key: string, saved: readonly string[], finalText: string): Promise<ChaosCheck> {
  const source = openSource(logUrl);
  const trusted = await trustedKey(source, key, undefined);
  const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
  const final = await openSigned(bytes(finalText), trusted, "the final checkpoint");
  let proved = 0;
  for (const [i, text] of saved.entries()) {
    const older = await openSigned(bytes(text), trusted, `checkpoint ${i + 1} seen during the run`);
    try {
      await proveConsistent(source, older.checkpoint, final.checkpoint, {
        older: `checkpoint ${i + 1} (size ${older.checkpoint.size})`,
        newer: "the final checkpoint",
      });
      proved += 1;
    } catch (error) {
      return { name: "no fork", ok: false, detail: String(error) };
    }
  }
  return {
    name: "no fork",
    ok: proved === saved.length && saved.length > 1,
    detail: `${proved} checkpoints seen during the run, each proved a prefix of the final one (size ${final.checkpoint.size})`,
  };
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { say, seed } = options;
  const random = seeded(seed);
  const secrets = await generateSecrets();
  const vars = benchVars(secrets, LEDGER_BUCKETS, options.issuer.vars);
  const runtime = await startRuntime({
    bundles: options.bundles,
    stateDir: join(options.workDir, "state-chaos"),
    port: options.port,
    vars,
  });
  options.onRuntime(runtime);
  try {
    const base = runtime.baseUrl;
    const keyFile = join(options.workDir, "admin-chaos.jwk.json");
    await writePrivateJson(keyFile, secrets.adminPrivateJwk);
    const admin = new OfficialClient({ baseUrl: base, officialId: "bootstrap-admin", keyFile });
    const totalSeconds = options.seconds + 2 * CALM_SECONDS;
    const rollSize = Math.ceil(options.rate * totalSeconds * 1.2) + 100;
    const elections = await options.setUp({
      api: base,
      admin,
      importRoll: async (a, electionId) => {
        await importSyntheticRoll(a, electionId, join(options.workDir, "roll-chaos.csv"), PREFIX, rollSize);
      },
      districts: STATION_DISTRICTS,
      paperVoters: PAPER_VOTERS,
    });
    const { paper, online: onlineId } = elections;
    const env = runtime.vars as unknown as Env;
    const keys = {
      online: await logVerifierKey(env, onlineId),
      paper: await logVerifierKey(env, paper.id),
    };
    const logUrl = (id: string): string => `${base}/v1/logs/${encodeURIComponent(id)}/`;
    say(
      `  runtime ${base}; the demo election with ${rollSize} voters online, ${paper.id} with ${paper.stations.length} stations; seed ${seed}`,
    );

    const answers = new Answers();
    const results = async (id: string) =>
      Results.parse(await admin.call("GET", `/v1/admin/elections/${encodeURIComponent(id)}/results`));
    const counted = async (id: string) => (await results(id)).turnout.ballotsCounted;
    const watchers = { online: watchCheckpoints(logUrl(onlineId)), paper: watchCheckpoints(logUrl(paper.id)) };

    let phase: Phase = "calm before";
    let stopping = false;
    const voters = await mintSessions(runtime.vars, onlineId, PREFIX, rollSize, 1, rollSize);

    const runStarted = performance.now();
    // Online casts at a fixed rate, each voter retrying until answered.
    const casts: Promise<CastResult>[] = [];
    let inFlight = 0;
    const castLoad = (async () => {
      const started = performance.now();
      for (const voter of voters) {
        if (stopping) break;
        const due = started + (casts.length * 1000) / options.rate;
        if (due > performance.now()) await sleep(due - performance.now());
        while (inFlight >= MAX_CASTS_IN_FLIGHT) await sleep(10);
        inFlight += 1;
        casts.push(castUntilAnswered(base, onlineId, voter, phase, answers).finally(() => (inFlight -= 1)));
      }
    })();

    // Paper: each station checks its district's voters in and scans their ballots.
    const paperOutcomes: { checkIns: Outcome[]; scans: Outcome[] } = { checkIns: [], scans: [] };
    const paperLoad = Promise.all(
      paper.stations.map(async (station, k) => {
        const district = STATION_DISTRICTS[k] ?? "north";
        const queue = paper.voters.filter((v) => v.district === district);
        let serial = station.firstSerial;
        const worker = async (): Promise<void> => {
          for (let voter = queue.shift(); voter && !stopping; voter = queue.shift()) {
            const checkInId = crypto.randomUUID();
            const checkIn = await stationUntilAnswered(
              () =>
                station.client.checkIn({
                  electionId: paper.id,
                  nationalId: voter.nationalId,
                  identity: { method: "id-card" },
                  checkInId,
                }),
              phase,
              answers,
              `check-in of ${voter.nationalId}`,
            );
            paperOutcomes.checkIns.push(checkIn);
            if (!checkIn.ok) continue;
            // Taken before any await: the station's workers share its serials.
            const qr = await station.print(district, serial++);
            const scanId = crypto.randomUUID();
            const scannedAt = new Date();
            paperOutcomes.scans.push(
              await stationUntilAnswered(
                () => station.client.scan({ electionId: paper.id, qr, scanId, scannedAt }),
                phase,
                answers,
                `scan of ${qr.slice(0, 24)}`,
              ),
            );
          }
        };
        await Promise.all(Array.from({ length: STATION_CONCURRENCY }, worker));
      }),
    );

    // Displays connect once the first ballots are counted: the public channel has a snapshot to give.
    while ((await counted(onlineId)) === 0) await sleep(200);
    const displays = await startDisplays({
      baseUrl: base,
      electionId: onlineId,
      sockets: DISPLAYS,
      resultFile: join(options.workDir, "chaos-displays.json"),
      idPrefix: "chaos",
    });
    const officialDisplays = await startDisplays({
      baseUrl: base,
      electionId: onlineId,
      sockets: OFFICIAL_DISPLAYS,
      resultFile: join(options.workDir, "chaos-official-displays.json"),
      idPrefix: "chaos-official",
      channel: "official",
      token: await admin.accessToken(),
    });
    // The faults: one new every FAULT_EVERY_MS during the chaos phase, from a seeded shuffle of
    // the menu, so every kind comes round before any comes twice.
    const faults: ChaosReport["faults"][number][] = [];
    const menu = MENU.filter(
      (f) => options.only.length === 0 || options.only.includes(f.kind) || options.only.includes(f.target ?? ""),
    );
    const setFault = async (f: Fault): Promise<void> => {
      const res = await fetch(`${base}/__chaos/fault`, { method: "POST", body: JSON.stringify(f) });
      if (!res.ok) throw new Error(`the chaos Worker refused ${JSON.stringify(f)}: ${await res.text()}`);
    };
    await sleep(Math.max(0, runStarted + CALM_SECONDS * 1000 - performance.now()));
    phase = "chaos";
    say(`  chaos phase: ${options.seconds} s, a new fault every ${FAULT_EVERY_MS / 1000} s`);
    const chaosEnds = performance.now() + options.seconds * 1000;
    let deck: Fault[] = [];
    while (performance.now() < chaosEnds) {
      if (deck.length === 0) {
        deck = menu.length > 0 ? [...menu] : [];
        if (deck.length === 0) throw new Error(`no fault of the menu is named by ${options.only.join(",")}`);
        for (let i = deck.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [deck[i], deck[j]] = [deck[j] as Fault, deck[i] as Fault];
        }
      }
      const fault = deck.shift() as Fault;
      await setFault(fault);
      faults.push({
        atMs: Math.round(performance.now() - runStarted),
        fault: faultName(fault),
        rate: fault.rate,
        seconds: fault.seconds,
      });
      await sleep(Math.min(FAULT_EVERY_MS, Math.max(0, chaosEnds - performance.now())));
    }
    await fetch(`${base}/__chaos/clear`, { method: "POST" });
    phase = "calm after";
    await sleep(CALM_SECONDS * 1000);
    stopping = true;
    await castLoad;
    const castResults = await Promise.all(casts);
    await paperLoad;
    const loadEnded = performance.now();

    // Drain: the tallies and the logs catch up with everything acknowledged.
    const receipts = castResults.filter((c) => c.trackingCode !== undefined);
    const scansAccepted = paperOutcomes.scans.filter((s) => s.ok).length;
    const logStatus = async (id: string) =>
      LogStatus.parse(await admin.call("GET", `/v1/admin/elections/${encodeURIComponent(id)}/log`));
    const logSettled = async (id: string, expected: number): Promise<boolean> => {
      const s = await logStatus(id);
      return s.pooled === 0 && s.publishedSize === s.size && s.size >= expected;
    };
    const drained = {
      online: await waitUntil(
        async () => (await counted(onlineId)) >= receipts.length,
        () => counted(onlineId),
      ),
      paper: await waitUntil(
        async () => (await counted(paper.id)) >= scansAccepted,
        () => counted(paper.id),
      ),
      onlineLog: await waitUntil(
        () => logSettled(onlineId, receipts.length),
        async () => (await logStatus(onlineId)).publishedSize,
      ),
      paperLog: await waitUntil(
        () => logSettled(paper.id, scansAccepted),
        async () => (await logStatus(paper.id)).publishedSize,
      ),
    };
    const drainSeconds = (performance.now() - loadEnded) / 1000;
    // The last release's way to every display.
    await sleep(DISPLAY_SETTLE_MS);
    const displayResult = await displays.stop();
    const officialResult = await officialDisplays.stop();
    const saved = { online: await watchers.online.stop(), paper: await watchers.paper.stop() };
    const injected = z.record(z.string(), z.number()).parse(await (await fetch(`${base}/__chaos/stats`)).json());

    const checks: ChaosCheck[] = [];
    // Every acknowledged online ballot counted once.
    const online = await results(onlineId);
    const expected = new Map<string, number>(PRESIDENT_OPTIONS.map((o) => [o, 0]));
    for (const r of receipts)
      expected.set(presidentChoiceOf(r.voter.n), (expected.get(presidentChoiceOf(r.voter.n)) ?? 0) + 1);
    const president = online.contests.find((c) => c.id === PRESIDENT_CONTEST);
    const perOption = PRESIDENT_OPTIONS.every(
      (o) => (president?.options.find((p) => p.id === o)?.votes ?? 0) === expected.get(o),
    );
    checks.push({
      name: "online: tally equals receipts",
      ok: drained.online && online.turnout.ballotsCounted === receipts.length && perOption,
      detail: `${online.turnout.ballotsCounted} counted, ${receipts.length} receipts; per president option ${perOption ? "equal" : "DIFFERENT"}`,
    });
    checks.push({
      name: "online: every voter got a receipt",
      ok: receipts.length === castResults.length,
      detail: `${receipts.length} of ${castResults.length} voters`,
    });
    const paperCounted = await counted(paper.id);
    checks.push({
      name: "paper: tally equals scans answered",
      ok: drained.paper && paperCounted === scansAccepted,
      detail: `${paperCounted} counted, ${scansAccepted} scans answered; ${paperOutcomes.checkIns.filter((c) => c.ok).length} check-ins answered`,
    });
    checks.push({
      name: "paper: every check-in and scan answered",
      ok: paperOutcomes.checkIns.every((c) => c.ok) && paperOutcomes.scans.every((s) => s.ok),
      detail: `${paperOutcomes.checkIns.filter((c) => !c.ok).length} check-ins and ${paperOutcomes.scans.filter((s) => !s.ok).length} scans not answered`,
    });
    checks.push({
      name: "answers: 2xx, or 503/429 with Retry-After",
      ok: answers.problems.length === 0,
      detail:
        [...answers.counts.entries()].map(([s, n]) => `${n} x ${s}`).join(", ") +
        (answers.problems.length > 0 ? `; problems: ${answers.problems.join(" | ")}` : ""),
    });
    // The logs, by the auditor's CLI, then the watcher's checkpoints and every receipt.
    for (const [name, id, key, expectedBallots, drainedLog, seen] of [
      ["online", onlineId, keys.online, receipts.length, drained.onlineLog, saved.online],
      ["paper", paper.id, keys.paper, scansAccepted, drained.paperLog, saved.paper],
    ] as const) {
      const verified = await auditorVerify(logUrl(id), key);
      checks.push({
        name: `${name} log: complete, verified by the auditor`,
        ok: drainedLog && verified.ok && verified.ballots === expectedBallots,
        detail: `${verified.ballots} ballot entries for ${expectedBallots} acknowledged; auditor: ${verified.output
          .split("\n")
          .filter((l) => /^(OK|size|entries)|rror|fail/i.test(l))
          .join("; ")}`,
      });
      const finalText = await (await fetch(`${logUrl(id)}checkpoint`)).text();
      checks.push({ ...(await noFork(logUrl(id), key, seen, finalText)), name: `${name} log: no fork` });
    }
    let proofsOk = 0;
    const proofProblems: string[] = [];
    const pending = [...receipts];
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let r = pending.shift(); r; r = pending.shift()) {
          const code = r.trackingCode ?? "";
          const res = await fetch(`${base}/v1/receipts/${encodeURIComponent(code)}/proof`);
          const text = await res.text();
          const proven = res.ok ? await verifyReceiptProof(code, text, keys.online) : undefined;
          if (proven?.ok) proofsOk += 1;
          else if (proofProblems.length < 5)
            proofProblems.push(`${code}: ${proven ? proven.error : `${res.status} ${text.slice(0, 100)}`}`);
        }
      }),
    );
    checks.push({
      name: "every receipt resolves to its proof",
      ok: proofsOk === receipts.length,
      detail: `${proofsOk} of ${receipts.length} proofs verified${proofProblems.length > 0 ? `; ${proofProblems.join(" | ")}` : ""}`,
    });
    if (runtime.log.unhandled.length > 0)
      checks.push({ name: "no error unhandled by the Worker", ok: false, detail: runtime.log.unhandled.join(" | ") });
    // The public channel shows a district only once it moved by k ballots (the aggregator's rule),
    // so its displays must hold what the public results page says; the officials' channel is exact.
    const publicCount = z
      .object({ turnout: z.object({ ballotsCounted: z.number() }) })
      .parse(await (await fetch(`${base}/v1/elections/${onlineId}/results`)).json()).turnout.ballotsCounted;
    const staleOf = (result: typeof displayResult, count: number) => {
      const last = result.arrivals.map((a) => a[a.length - 1]?.[1] ?? -1);
      return {
        stale: last.filter((n) => n !== count).length,
        held: last.length > 0 ? `${Math.min(...last)} to ${Math.max(...last)}` : "nothing",
      };
    };
    const publicStale = staleOf(displayResult, publicCount);
    const officialStale = staleOf(officialResult, online.turnout.ballotsCounted);
    checks.push({
      name: "no display left stale",
      ok:
        publicStale.stale === 0 &&
        officialStale.stale === 0 &&
        displayResult.failedToOpen === 0 &&
        officialResult.failedToOpen === 0,
      detail: `${displayResult.opened} public displays hold ${publicStale.held} (the public results say ${publicCount}), ${publicStale.stale} stale; ${officialResult.opened} officials' displays hold ${officialStale.held} (exact: ${online.turnout.ballotsCounted}), ${officialStale.stale} stale; ${displayResult.lost + officialResult.lost} reconnects`,
    });

    const castOutcomes = castResults.map((c) => c.outcome);
    const phases = PHASES.flatMap((p) => [
      { phase: p, path: "cast" as const, ...costOf(castOutcomes.filter((o) => o.phase === p)) },
      { phase: p, path: "check-in" as const, ...costOf(paperOutcomes.checkIns.filter((o) => o.phase === p)) },
      { phase: p, path: "scan" as const, ...costOf(paperOutcomes.scans.filter((o) => o.phase === p)) },
    ]);
    const alertsOf = async (id: string): Promise<string[]> =>
      z
        .object({ alerts: z.array(z.object({ rule: z.string(), scope: z.string() })) })
        .parse(await admin.call("GET", `/v1/admin/elections/${encodeURIComponent(id)}/alerts?state=all`))
        .alerts.map((a) => `${a.rule} (${a.scope})`);
    const alerts = { online: await alertsOf(onlineId), paper: await alertsOf(paper.id) };
    const everything = [...castOutcomes, ...paperOutcomes.checkIns, ...paperOutcomes.scans];
    const windowOf = (f: (typeof faults)[number]): [number, number] => [
      runStarted + f.atMs,
      runStarted + f.atMs + f.seconds * 1000,
    ];
    const inWindow = (o: Outcome, [from, to]: [number, number]): boolean => o.at >= from && o.at < to;
    const faultCosts = [
      ...faults.map((f) => ({
        fault: f.fault,
        atMs: f.atMs,
        ...costOf(everything.filter((o) => inWindow(o, windowOf(f)))),
      })),
      {
        fault: "no fault open",
        atMs: 0,
        ...costOf(everything.filter((o) => !faults.some((f) => inWindow(o, windowOf(f))))),
      },
    ];
    return {
      seed,
      faults,
      injected,
      phases,
      faultCosts,
      drainSeconds,
      alerts,
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    await runtime.dispose();
    options.onRuntime(undefined);
  }
}

/** The report as the bench prints it. */
export function chaosLines(report: ChaosReport): string[] {
  const lines = [`  faults switched on (seed ${report.seed}), ms after the load started:`];
  for (const f of report.faults)
    lines.push(`    ${String(f.atMs).padStart(6)}  ${f.fault}, rate ${f.rate}, ${f.seconds} s`);
  lines.push("  faults injected (calls hit):");
  for (const [what, n] of Object.entries(report.injected).sort()) lines.push(`    ${String(n).padStart(6)}  ${what}`);
  lines.push("  what they cost (first send to answer, over answered requests):");
  for (const c of report.phases) {
    lines.push(
      `    ${c.phase.padEnd(12)} ${c.path.padEnd(8)} ${String(c.requests).padStart(6)} requests, ${String(c.retried).padStart(4)} retried (${c.retries} retries), ${c.failed} failed; p50 ${fixed(c.p50Ms, 0)} ms, p99 ${fixed(c.p99Ms, 0)} ms`,
    );
  }
  lines.push("  what each fault cost (requests of every path first sent while its window was open):");
  for (const c of report.faultCosts) {
    lines.push(
      `    ${c.fault === "no fault open" ? "     -" : String(c.atMs).padStart(6)}  ${c.fault.padEnd(26)} ${String(c.requests).padStart(5)} requests, ${String(c.retried).padStart(3)} retried (${c.retries} retries), ${c.failed} failed; p50 ${fixed(c.p50Ms, 0)} ms, p99 ${fixed(c.p99Ms, 0)} ms`,
    );
  }
  lines.push(`  drained ${fixed(report.drainSeconds, 1)} s after the load stopped`);
  for (const [election, alerts] of Object.entries(report.alerts))
    lines.push(`  alerts the monitor raised (${election}): ${alerts.length > 0 ? alerts.join(", ") : "none"}`);
  lines.push("  checks:");
  for (const c of report.checks) lines.push(`    ${c.ok ? "true " : "FALSE"}  ${c.name}: ${c.detail}`);
  lines.push(`  chaos: ${report.ok ? "every check holds" : "A CHECK FAILED"}`);
  return lines;
}
