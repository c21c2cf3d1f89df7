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
 */
import { readFileSync, writeFileSync } from "node:fs";
import autocannon, { type RawRequest, type Request } from "autocannon";
import { z } from "zod";
import { ballotOf, isDemoDistrict, type DemoDistrict } from "./ballots.ts";

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
});
export type LoadSpec = z.infer<typeof LoadSpec>;

const Count = z.number().int().min(0);

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
function pooledRequests<T extends PoolItem>(
  spec: LoadSpec,
  pool: readonly T[],
  build: (request: RawRequest, item: T) => RawRequest,
  succeeded: (status: number) => boolean,
  onNearlyEmpty: () => void,
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

function castRequests(spec: LoadSpec, cast: NonNullable<LoadSpec["cast"]>, onNearlyEmpty: () => void): Pooled {
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
  );
}

async function main(): Promise<void> {
  const spec = LoadSpec.parse(JSON.parse(process.argv[2] ?? "{}"));
  let stop = (): void => undefined;
  const cast = spec.cast ? castRequests(spec, spec.cast, () => stop()) : undefined;
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
