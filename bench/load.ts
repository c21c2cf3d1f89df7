/**
 * The load generator: one autocannon run, in its own process (scripts/bench.ts starts one per
 * run), so the load it makes never shares an event loop with the runtime it measures. It takes a
 * LoadSpec as JSON in argv[2] and writes a LoadResult as JSON to spec.resultFile.
 *
 * For the cast path every request is a different voter's first ballot, so under first-wins every
 * answer should be 201 with a receipt. The run records which voters it sent and what each got:
 * autocannon drops the requests still in flight when the duration ends (and any that time out),
 * and those ballots may or may not have been accepted. scripts/bench.ts resolves them afterwards
 * the way a voter's device would, by sending the same request again with the same idempotency key
 * (the ledger answers 200 with the original receipt, or accepts it now), so the number of receipts
 * it compares with the tally is exact.
 *
 * For the login path every request carries a different ID token (the replay guard refuses a token
 * a second time), taken from a pool signed before the run, so every answer should be 200. Both
 * paths feed their pool to autocannon the same way (pooledRequests).
 *
 * A phased run (spec.phases, bench/overload.ts) holds one fixed rate after another from the same
 * pool, in this one process so that no pause falls between them, open loop (phasedMain), and
 * times every answer itself, by phase: status, registered error code, whether a 429 or 503
 * carried Retry-After, latency of the successes, and per second of a phase. Not autocannon: it
 * paces each connection to whole requests per second and sends a connection's next request only
 * after the last one's answer, so once answers take longer than a second the rate it holds falls
 * with them, and an overload test would measure its own back-off.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { Agent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { setTimeout as sleep } from "node:timers/promises";
import autocannon, { type RawRequest, type Request } from "autocannon";
import { z } from "zod";
import { ballotOf, isDemoDistrict, type DemoDistrict } from "./ballots.ts";

/** One phase of a phased run: a fixed rate over some connections for a time. */
export const LoadPhase = z.object({
  name: z.string().min(1),
  seconds: z.number().positive(),
  ratePerSecond: z.number().positive(),
  connections: z.number().int().min(1),
  /**
   * Ends the phase early, `seconds` being then the most it waits, once RECOVERED_SECONDS whole
   * seconds in a row each answered at least MIN_ANSWERS_PER_SECOND successes with a p50 latency
   * within `factor` times the p50 of the successes of the earlier phase `of`.
   */
  recoverTo: z.object({ of: z.string().min(1), factor: z.number().positive() }).optional(),
});
export type LoadPhase = z.infer<typeof LoadPhase>;

export const LoadSpec = z.object({
  url: z.url(),
  method: z.enum(["GET", "POST"]),
  connections: z.number().int().min(1),
  durationSeconds: z.number().positive(),
  timeoutSeconds: z.number().positive(),
  /** Requests per second over all connections; absent: as fast as the connections go. */
  ratePerSecond: z.number().positive().optional(),
  /** Sent with every request (the floor baseline's bearer token). */
  headers: z.record(z.string(), z.string()).optional(),
  resultFile: z.string().min(1),
  cast: z
    .object({
      /** Lines `n<TAB>district<TAB>token`, one voter each, used in order. */
      poolFile: z.string().min(1),
      /** Idempotency keys are idempotencyKeyOf(prefix, n): stable, so a resend is recognised. */
      idempotencyPrefix: z.string().regex(/^[A-Za-z0-9_-]+$/),
    })
    .optional(),
  login: z
    .object({
      /** Lines `n<TAB>idToken`, one signed ID token each, used in order (each may be used once). */
      poolFile: z.string().min(1),
      electionId: z.string().min(1),
    })
    .optional(),
  /** A phased run instead of one at `ratePerSecond`: connections and duration come from here. */
  phases: z.array(LoadPhase).min(1).optional(),
});
export type LoadSpec = z.infer<typeof LoadSpec>;

const Count = z.number().int().min(0);

/** What one phase of a phased run got, timed by this process. */
export const PhaseResult = z.object({
  name: z.string(),
  /** How long the phase ran (shorter than asked when it recovered early or the pool ran low). */
  seconds: z.number(),
  /** Requests sent in the phase. */
  sent: Count,
  /** Answers by HTTP status. */
  statusCounts: z.record(z.string(), Count),
  /** Answers other than 2xx by status and the body's error code: "503 service_overloaded", "502 -". */
  codes: z.record(z.string(), Count),
  /** 429 and 503 answers without a Retry-After header. */
  retryAfterMissing: Count,
  /** Connection errors and timeouts, as autocannon counts them (a timeout is an error too). */
  errors: Count,
  timeouts: Count,
  /** Milliseconds from a request's sending to its answer, over the phase's successes. */
  latency: z.object({ count: Count, p50: z.number().nullable(), p99: z.number().nullable() }),
  /** The same over its answers other than 2xx: how soon a refusal came. */
  refusalLatency: z.object({ count: Count, p50: z.number().nullable(), p99: z.number().nullable() }),
  /** Per whole second of the phase, by the time of the answer: successes and their p50. */
  perSecond: z.array(z.object({ answers: Count, ok: Count, p50: z.number().nullable() })),
  /** With recoverTo: the first second of the run of good seconds, or null if it never came. */
  recoveredAfterSeconds: z.number().int().min(0).nullable().optional(),
  /** With recoverTo: the p50 bound it waited for, ms. */
  recoveryBoundMs: z.number().optional(),
});
export type PhaseResult = z.infer<typeof PhaseResult>;

/**
 * What became of a pool's requests (voters for the cast path, ID tokens for the login path), by
 * their number in the pool file.
 */
const PoolOutcome = z.object({
  /** Voters whose request was answered with the path's success status (201 for a cast). */
  accepted: z.array(Count),
  /** When each of `accepted` was answered, ms since the epoch, in the same order. */
  acceptedAt: z.array(Count),
  /** Voters answered with anything else, and the status. */
  refused: z.array(z.tuple([Count, Count])),
  /** Voters whose request was sent (or built) and never answered. */
  unanswered: z.array(Count),
  /** Voters taken from the pool, in order from its first line: the rest were never sent. */
  used: Count,
  /** Requests that found the pool empty and repeated an answered voter (should be 0). */
  poolExhausted: Count,
  /** The first few refusal bodies, to say why. */
  refusalSamples: z.array(z.string()),
});
type PoolOutcome = z.infer<typeof PoolOutcome>;

export const LoadResult = z.object({
  durationSeconds: z.number(),
  /** True when the run ended before its duration because its voters were nearly used up. */
  stoppedEarly: z.boolean(),
  /** Answers with a 2xx status (for the cast path see cast.accepted). */
  ok: Count,
  statusCounts: z.record(z.string(), Count),
  /** Connection errors and timeouts (autocannon counts a timeout as an error too). */
  errors: Count,
  timeouts: Count,
  /** This process's CPU time and lifetime, so the report can say what the load generator used. */
  cpuSeconds: z.number(),
  uptimeSeconds: z.number(),
  /** Milliseconds, over 2xx answers. */
  latency: z.object({ p50: z.number(), p99: z.number(), mean: z.number(), max: z.number() }),
  cast: PoolOutcome.optional(),
  /** For the login path: the same outcome, by ID token (accepted means answered 200). */
  login: PoolOutcome.optional(),
  /** A phased run's phases, in order. */
  phases: z.array(PhaseResult).optional(),
});
export type LoadResult = z.infer<typeof LoadResult>;

/** 8-128 letters, digits, dashes or underscores (the cast route's rule), one per voter and run. */
export function idempotencyKeyOf(prefix: string, n: number): string {
  return `${prefix}-${String(n).padStart(8, "0")}`;
}

interface PoolVoter {
  readonly n: number;
  readonly district: DemoDistrict;
  readonly token: string;
}

function readPool(file: string): PoolVoter[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [n, district, token] = line.split("\t");
      if (n === undefined || district === undefined || token === undefined || !isDemoDistrict(district))
        throw new Error(`bad pool line: ${line.slice(0, 80)}`);
      return { n: Number(n), district, token };
    });
}

interface PoolItem {
  /** The item's number in the pool file: how the outcome names it. */
  readonly n: number;
}

interface Pooled {
  readonly requests: Request[];
  readonly outcome: () => PoolOutcome;
  readonly stoppedEarly: () => boolean;
}

/**
 * One autocannon request definition that takes the next item of a pool for every request it
 * sends (a new voter for each cast, a new ID token for each login), so that no two requests are
 * the same, and records what each item's request got. `build` turns autocannon's request into
 * the item's; `succeeded` says which status counts as the path's success.
 */
/** A phased run's view of the pool: each item taken for a request. */
interface Observer {
  sent(): void;
}

function pooledRequests<T extends PoolItem>(
  spec: LoadSpec,
  pool: readonly T[],
  build: (request: RawRequest, item: T) => RawRequest,
  succeeded: (status: number) => boolean,
  onNearlyEmpty: () => void,
  observer: Observer | undefined,
): Pooled {
  const path = new URL(spec.url).pathname;
  let next = 0;
  const sent = new Set<number>();
  const accepted: number[] = [];
  const acceptedAt: number[] = [];
  const refused: [number, number][] = [];
  const refusalSamples: string[] = [];
  let poolExhausted = 0;
  let stopping = false;
  const started = performance.now();
  // Stop early, rather than run out, when what is left would not last the second autocannon may
  // take to stop (it looks at its stop flag once a second) plus one request per connection. The
  // rate counts from the first second on: the opening burst of one request per connection is not
  // a rate.
  const nearlyEmpty = (): boolean => {
    const seconds = (performance.now() - started) / 1000;
    const left = pool.length - next;
    if (seconds < 1) return left < 2 * spec.connections;
    return left < Math.max(0, next - spec.connections) / seconds + spec.connections;
  };

  const requests: Request[] = [
    {
      method: "POST",
      path,
      setupRequest: (request, context) => {
        if (!stopping && next % 16 === 0 && nearlyEmpty()) {
          stopping = true;
          onNearlyEmpty();
        }
        let item = pool[next];
        if (item) {
          next += 1;
          sent.add(item.n);
        } else {
          // Never expected (the pool is sized for the run); a repeat keeps the run going and is counted.
          poolExhausted += 1;
          item = pool[accepted.length > 0 ? pool.findIndex((v) => v.n === accepted[0]) : 0] ?? pool[0];
          if (!item) throw new Error("empty pool");
        }
        context["item"] = item.n;
        observer?.sent();
        // autocannon hands over its request with the host and port filled in: change it, keep those.
        request.method = "POST";
        request.path = path;
        return build(request, item);
      },
      onResponse: (status, body, context) => {
        const n = context["item"];
        if (typeof n !== "number" || !sent.delete(n)) return; // a repeat after exhaustion
        if (succeeded(status)) {
          accepted.push(n);
          acceptedAt.push(Date.now());
        } else {
          refused.push([n, status]);
          if (refusalSamples.length < 5) refusalSamples.push(`${status} ${body.slice(0, 300)}`);
        }
      },
    },
  ];
  return {
    requests,
    stoppedEarly: () => stopping,
    outcome: () => ({
      accepted,
      acceptedAt,
      refused,
      unanswered: [...sent],
      used: next,
      poolExhausted,
      refusalSamples,
    }),
  };
}

function castRequests(
  spec: LoadSpec,
  cast: NonNullable<LoadSpec["cast"]>,
  onNearlyEmpty: () => void,
  observer: Observer | undefined,
): Pooled {
  return pooledRequests(
    spec,
    readPool(cast.poolFile),
    (request, voter) => {
      request.headers = {
        ...request.headers,
        "content-type": "application/json",
        authorization: `Bearer ${voter.token}`,
      };
      request.body = JSON.stringify({
        idempotencyKey: idempotencyKeyOf(cast.idempotencyPrefix, voter.n),
        contests: ballotOf(voter.district, voter.n),
      });
      return request;
    },
    (status) => status === 201,
    onNearlyEmpty,
    observer,
  );
}

interface PoolToken {
  readonly n: number;
  readonly idToken: string;
}

function readTokens(file: string): PoolToken[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => {
      const [n, idToken] = line.split("\t");
      if (n === undefined || idToken === undefined) throw new Error(`bad token line: ${line.slice(0, 80)}`);
      return { n: Number(n), idToken };
    });
}

/** POST /v1/auth/voter-session (the API flow), a different ID token every request. */
function loginRequests(spec: LoadSpec, login: NonNullable<LoadSpec["login"]>, onNearlyEmpty: () => void): Pooled {
  return pooledRequests(
    spec,
    readTokens(login.poolFile),
    (request, token) => {
      request.headers = { ...request.headers, "content-type": "application/json" };
      request.body = JSON.stringify({ electionId: login.electionId, idToken: token.idToken });
      return request;
    },
    (status) => status === 200,
    onNearlyEmpty,
    undefined,
  );
}

/** A second counts towards recovery only with at least this many successes answered in it. */
const MIN_ANSWERS_PER_SECOND = 5;
/** Whole seconds in a row within the bound that count as recovered. */
const RECOVERED_SECONDS = 2;
/** How often the open-loop sender wakes to send what is due. */
const SEND_TICK_MS = 5;

/** The q-quantile (0..1) of `values` by nearest rank; null when there are none. */
function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

/** The registered error code of an error body, or "-" when it has none. */
function codeOf(body: string): string {
  try {
    const parsed: unknown = JSON.parse(body);
    const code = (parsed as { error?: { code?: unknown } } | null)?.error?.code;
    return typeof code === "string" ? code : "-";
  } catch {
    return "-";
  }
}

function hasHeader(headers: IncomingHttpHeaders, name: string): boolean {
  const value = headers[name];
  return value !== undefined && String(value) !== "";
}

interface PhaseState {
  readonly phase: LoadPhase;
  readonly startedAt: number;
  sent: number;
  readonly statusCounts: Record<string, number>;
  readonly codes: Record<string, number>;
  retryAfterMissing: number;
  errors: number;
  timeouts: number;
  /** With recoverTo: the first recovered second (null: not within the phase), and the bound, ms. */
  recovered: number | null;
  boundMs: number | undefined;
  readonly okLatencies: number[];
  readonly refusalLatencies: number[];
  readonly perSecond: { answers: number; okLatencies: number[] }[];
}

function perSecondOf(state: PhaseState, second: number): { answers: number; okLatencies: number[] } {
  for (let i = state.perSecond.length; i <= second; i++) state.perSecond.push({ answers: 0, okLatencies: [] });
  const bucket = state.perSecond[second];
  if (!bucket) throw new Error("no such second");
  return bucket;
}

/** The first second of RECOVERED_SECONDS complete seconds in a row within `boundMs`, or null. */
function recoveredAt(state: PhaseState, completeSeconds: number, boundMs: number): number | null {
  let run = 0;
  for (let second = 0; second < Math.min(completeSeconds, state.perSecond.length); second++) {
    const ok = state.perSecond[second]?.okLatencies ?? [];
    const p50 = quantile(ok, 0.5);
    run = ok.length >= MIN_ANSWERS_PER_SECOND && p50 !== null && p50 <= boundMs ? run + 1 : 0;
    if (run >= RECOVERED_SECONDS) return second - RECOVERED_SECONDS + 1;
  }
  return null;
}

/**
 * Sends one pooled request now over `agent` and settles when it is answered, fails or times out:
 * the pool's own setupRequest and onResponse (pooledRequests) pick its item and record its outcome,
 * as autocannon would call them.
 */
function sendOne(
  spec: LoadSpec,
  request: Request,
  agent: Agent,
  state: PhaseState,
  record: (state: PhaseState, status: number, body: string, headers: IncomingHttpHeaders, sentAt: number) => void,
): Promise<void> {
  const url = new URL(spec.url);
  const context: Record<string, unknown> = {};
  const setup = request.setupRequest;
  const onResponse = request.onResponse;
  if (!setup || !onResponse) throw new Error("a pooled request has setupRequest and onResponse");
  const raw = setup({ method: spec.method, path: url.pathname, headers: {} }, context);
  const body = typeof raw.body === "string" ? raw.body : (raw.body ?? "");
  const sentAt = performance.now();
  return new Promise<void>((resolve) => {
    let settled = false;
    const settle = (): void => {
      settled = true;
      clearTimeout(timer);
      resolve();
    };
    const req = httpRequest({
      host: url.hostname,
      port: url.port,
      method: raw.method ?? spec.method,
      path: raw.path ?? url.pathname,
      headers: { ...raw.headers, "content-length": String(Buffer.byteLength(body)) },
      agent,
    });
    // From the moment the request is due, whether it waits for a socket or for its answer.
    const timer = setTimeout(() => {
      if (settled) return;
      state.timeouts += 1;
      state.errors += 1;
      req.destroy();
      settle();
    }, spec.timeoutSeconds * 1000);
    req.on("response", (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        if (settled) return;
        const text = Buffer.concat(chunks).toString("utf8");
        const status = res.statusCode ?? 0;
        record(state, status, text, res.headers, sentAt);
        onResponse(status, text, context, res.headers as Record<string, string | string[]>);
        settle();
      });
      res.on("error", () => undefined);
    });
    req.on("error", () => {
      if (settled) return;
      state.errors += 1;
      settle();
    });
    req.end(body);
  });
}

/**
 * A phased cast run, open loop: each phase sends its requests on a fixed schedule (its rate,
 * spread evenly, never waiting for earlier answers), over up to `connections` keep-alive sockets
 * of its own (a request due when all are busy waits for one, and its latency counts the wait).
 * Every answer is timed from the moment its request was due and sorted by the phase that sent it.
 * Requests still in flight when a phase ends keep their sockets and are waited for (within the
 * timeout) before the result is written: a client under overload waits too.
 */
async function phasedMain(spec: LoadSpec, phases: readonly LoadPhase[]): Promise<void> {
  if (!spec.cast) throw new Error("a phased run is a cast run");
  const states: PhaseState[] = [];
  let current: PhaseState | undefined;
  let exhausted = false;
  const observer: Observer = {
    sent: () => {
      if (current) current.sent += 1;
    },
  };
  const pooled = castRequests(spec, spec.cast, () => (exhausted = true), observer);
  const request = pooled.requests[0];
  if (!request) throw new Error("no pooled request");
  const record = (state: PhaseState, status: number, body: string, headers: IncomingHttpHeaders, sentAt: number) => {
    const now = performance.now();
    state.statusCounts[status] = (state.statusCounts[status] ?? 0) + 1;
    const bucket = perSecondOf(state, Math.floor((now - state.startedAt) / 1000));
    bucket.answers += 1;
    if (status >= 200 && status < 300) {
      state.okLatencies.push(now - sentAt);
      bucket.okLatencies.push(now - sentAt);
    } else {
      state.refusalLatencies.push(now - sentAt);
      const key = `${status} ${codeOf(body)}`;
      state.codes[key] = (state.codes[key] ?? 0) + 1;
      if ((status === 429 || status === 503) && !hasHeader(headers, "retry-after")) state.retryAfterMissing += 1;
    }
  };

  const inFlight = new Set<Promise<void>>();
  const agents: Agent[] = [];
  const ended: number[] = [];
  for (const phase of phases) {
    if (exhausted) break;
    const state: PhaseState = {
      phase,
      startedAt: performance.now(),
      sent: 0,
      statusCounts: {},
      codes: {},
      retryAfterMissing: 0,
      errors: 0,
      timeouts: 0,
      recovered: null,
      boundMs: undefined,
      okLatencies: [],
      refusalLatencies: [],
      perSecond: [],
    };
    current = state;
    states.push(state);
    const reference = phase.recoverTo ? states.find((s) => s.phase.name === phase.recoverTo?.of) : undefined;
    const referenceP50 = reference ? quantile(reference.okLatencies, 0.5) : null;
    const boundMs = phase.recoverTo && referenceP50 !== null ? referenceP50 * phase.recoverTo.factor : undefined;
    state.boundMs = boundMs;
    const agent = new Agent({ keepAlive: true, maxSockets: phase.connections });
    agents.push(agent);
    const deadline = state.startedAt + phase.seconds * 1000;
    let due = 0;
    for (let now = performance.now(); !exhausted && now < deadline; now = performance.now()) {
      const dueNow = Math.floor(((now - state.startedAt) / 1000) * phase.ratePerSecond) + 1;
      for (; due < dueNow && !exhausted; due++) {
        const sending = sendOne(spec, request, agent, state, record);
        inFlight.add(sending);
        void sending.then(() => inFlight.delete(sending));
      }
      if (boundMs !== undefined) {
        state.recovered = recoveredAt(state, Math.floor((now - state.startedAt) / 1000), boundMs);
        if (state.recovered !== null) break;
      }
      await sleep(SEND_TICK_MS);
    }
    ended.push(performance.now());
  }
  current = undefined;
  await Promise.all([...inFlight]);
  for (const agent of agents) agent.destroy();

  const results: PhaseResult[] = states.map((state, i) => {
    return {
      name: state.phase.name,
      seconds: ((ended[i] ?? performance.now()) - state.startedAt) / 1000,
      sent: state.sent,
      statusCounts: state.statusCounts,
      codes: state.codes,
      retryAfterMissing: state.retryAfterMissing,
      errors: state.errors,
      timeouts: state.timeouts,
      latency: {
        count: state.okLatencies.length,
        p50: quantile(state.okLatencies, 0.5),
        p99: quantile(state.okLatencies, 0.99),
      },
      refusalLatency: {
        count: state.refusalLatencies.length,
        p50: quantile(state.refusalLatencies, 0.5),
        p99: quantile(state.refusalLatencies, 0.99),
      },
      perSecond: state.perSecond.map((b) => ({
        answers: b.answers,
        ok: b.okLatencies.length,
        p50: quantile(b.okLatencies, 0.5),
      })),
      ...(state.phase.recoverTo
        ? {
            recoveredAfterSeconds: state.recovered,
            ...(state.boundMs !== undefined ? { recoveryBoundMs: state.boundMs } : {}),
          }
        : {}),
    };
  });

  const statusCounts: Record<string, number> = {};
  for (const r of results)
    for (const [status, count] of Object.entries(r.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + count;
  const ok = Object.entries(statusCounts)
    .filter(([status]) => status.startsWith("2"))
    .reduce((a, [, c]) => a + c, 0);
  const latencies = states.flatMap((s) => s.okLatencies);
  const loadResult: LoadResult = {
    durationSeconds: results.reduce((a, r) => a + r.seconds, 0),
    stoppedEarly: exhausted,
    ok,
    statusCounts,
    errors: results.reduce((a, r) => a + r.errors, 0),
    timeouts: results.reduce((a, r) => a + r.timeouts, 0),
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    uptimeSeconds: process.uptime(),
    latency: {
      p50: quantile(latencies, 0.5) ?? 0,
      p99: quantile(latencies, 0.99) ?? 0,
      mean: latencies.length > 0 ? latencies.reduce((a, b) => a + b, 0) / latencies.length : 0,
      max: latencies.reduce((a, b) => Math.max(a, b), 0),
    },
    cast: pooled.outcome(),
    phases: results,
  };
  writeFileSync(spec.resultFile, JSON.stringify(loadResult));
}

async function main(): Promise<void> {
  const spec = LoadSpec.parse(JSON.parse(process.argv[2] ?? "{}"));
  if (spec.phases) return phasedMain(spec, spec.phases);
  let stop = (): void => undefined;
  const cast = spec.cast ? castRequests(spec, spec.cast, () => stop(), undefined) : undefined;
  const login = spec.login ? loginRequests(spec, spec.login, () => stop()) : undefined;
  if (cast && login) throw new Error("a load run is either a cast run or a login run");
  const pooled = cast ?? login;
  const instance = autocannon({
    url: spec.url,
    method: spec.method,
    connections: spec.connections,
    pipelining: 1,
    duration: spec.durationSeconds,
    timeout: spec.timeoutSeconds,
    ...(spec.ratePerSecond ? { overallRate: spec.ratePerSecond } : {}),
    ...(spec.headers ? { headers: spec.headers } : {}),
    ...(pooled ? { requests: pooled.requests } : {}),
  });
  stop = () => instance.stop();
  const result = await instance;
  const statusCounts: Record<string, number> = {};
  for (const [status, { count }] of Object.entries(result.statusCodeStats)) statusCounts[status] = count;
  const loadResult: LoadResult = {
    durationSeconds: result.duration,
    ok: result["2xx"],
    statusCounts,
    errors: result.errors,
    timeouts: result.timeouts,
    cpuSeconds: (process.cpuUsage().user + process.cpuUsage().system) / 1e6,
    uptimeSeconds: process.uptime(),
    latency: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean, max: result.latency.max },
    stoppedEarly: pooled?.stoppedEarly() ?? false,
    ...(cast ? { cast: cast.outcome() } : {}),
    ...(login ? { login: login.outcome() } : {}),
  };
  writeFileSync(spec.resultFile, JSON.stringify(loadResult));
}

if (import.meta.main) await main();
