/**
 * The production Worker with faults injected on command, for the chaos campaign
 * (`npm run bench -- --chaos`, bench/chaos.ts). Never deployed: the bench bundles this module in
 * place of workers/index.ts with the production configuration (wrangler.toml), so every binding,
 * Durable Object class, queue and migration is the production one, and the production code runs
 * unchanged underneath. Nothing in the production Worker knows that faults can be injected.
 *
 * What it can break, each only while the bench has switched that fault on, and each the way the
 * platform fails:
 *   abort   a Durable Object of the named class is reset (`ctx.abort`) on a call through its binding
 *           (RPC or fetch) or on its alarm, either before the call runs (the call is lost) or after
 *           it ran (its writes are kept, and its answer is lost): a crash or an eviction at the
 *           worst moment
 *   queue   a send or batch send on a ballot queue throws (the producer's outbox must keep it)
 *   consumer  the queue consumer crashes on a batch, before it ran (the runtime delivers the whole
 *           batch again) or after it ran (what it did not acknowledge comes again)
 *   d1      every D1 statement and batch throws D1's own overload error (a refusal window)
 *   r2      every R2 write (put, multipart upload) throws R2's internal error
 *
 * Control (loopback only; the bench is its only client):
 *   POST /__chaos/fault   {"kind","target"?,"rate","seconds"}: switch a fault on for that long;
 *                         rate is the chance each call is hit (1: every call)
 *   POST /__chaos/clear   switch every fault off
 *   GET  /__chaos/stats   what was injected so far, by kind, target and moment
 *
 * The Worker's fetch handler, its queue consumer and every Durable Object run in one isolate on
 * the local runtime, so the switches below (module state) reach all of them; the stats count only
 * what a switch actually hit.
 */
import type { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import production, * as entry from "../workers/index.ts";

const FaultKind = z.enum(["abort", "queue", "consumer", "d1", "r2"]);
type FaultKind = z.infer<typeof FaultKind>;

export const FaultSwitch = z.object({
  kind: FaultKind,
  /** For abort: the Durable Object class; for the others, unused (every binding of the kind). */
  target: z.string().optional(),
  rate: z.number().min(0).max(1),
  seconds: z.number().positive().max(600),
});
export type FaultSwitch = z.infer<typeof FaultSwitch>;

const CHAOS_PREFIX = "/__chaos/";

interface ActiveFault {
  readonly rate: number;
  readonly untilMs: number;
}

/** Switched-on faults by kind and target ("" for the kinds without one). */
const active = new Map<string, ActiveFault>();
/** Faults injected, by "kind target moment". */
const injected = new Map<string, number>();

function keyOf(kind: FaultKind, target = ""): string {
  return `${kind}:${target}`;
}

/** True when the switched-on fault of this kind (and target) hits this call; counts the hit. */
function hits(kind: FaultKind, target: string, moment: string): boolean {
  const fault = active.get(keyOf(kind, target));
  if (!fault || Date.now() > fault.untilMs || Math.random() >= fault.rate) return false;
  const counted = `${kind} ${target || "*"} ${moment}`.trim();
  injected.set(counted, (injected.get(counted) ?? 0) + 1);
  return true;
}

// ---- Durable Objects: reset before or after a call ----

/** The Durable Object bindings (wrangler.toml) and their classes, which the faults name. */
const OBJECT_CLASSES: Readonly<Record<string, string>> = {
  REPLAY_GUARD: "ReplayGuard",
  VOTER_LEDGER: "VoterLedger",
  TALLY_SHARD: "TallyShard",
  RESULTS: "ResultsAggregator",
  RESULTS_RELAY: "ResultsRelay",
  PAPER_BALLOT_BOX: "PaperBallotBox",
  STATION_BALLOT_COUNT: "StationBallotCount",
  LOG_SEQUENCER: "LogSequencer",
  SECURITY_MONITOR: "SecurityMonitor",
};

/** Starts the reason of every reset this Worker makes, so the errors it causes can be told apart. */
const CHAOS_REASON = "chaos:";

/**
 * What a caller gets from the platform for a call whose object was reset under it (a reset it
 * asked for, or one another call's fault caused while this call was in flight): an infrastructure
 * error marked .retryable (developers.cloudflare.com/durable-objects/best-practices/error-handling/).
 * The local runtime's error for ctx.abort carries no such mark, so it is given here.
 */
function platformReset(reason: string): Error {
  return Object.assign(new Error(`Durable Object reset because of an internal error (${reason})`), {
    retryable: true,
  });
}

/** The method every faulty class gains: the bench's way to reset one object from outside. */
const RESET = "chaosReset";

/** The faulty class's reset, as its stub offers it (every RPC call answers a promise). */
interface Resettable {
  [RESET](reason: string): Promise<void>;
}

/**
 * A stub whose calls may reset the object: before the call (the call never runs) or after it ran
 * and before its answer reached the caller (its writes are kept and the answer is lost). Either
 * way the caller gets the error the runtime gives for an object that was reset under a call. Only
 * calls through a binding are hit: an object's calls to its own methods are not RPC.
 */
function faultyStub<T extends object>(stub: T, cls: string): T {
  return new Proxy(stub, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof prop !== "string" || typeof value !== "function" || prop === RESET) return value;
      return async (...args: unknown[]) => {
        const reset = async (moment: string): Promise<never> => {
          const reason = `${CHAOS_REASON} ${cls} reset ${moment} ${prop}`;
          try {
            await (target as unknown as Resettable)[RESET](reason);
          } catch {
            // The reset's own call fails too; the caller is told below.
          }
          throw platformReset(reason);
        };
        if (hits("abort", cls, `before ${prop}`)) await reset("before");
        let result: unknown;
        try {
          // Reflect.apply, not value.apply: an RPC stub's methods take any property for a remote call.
          result = await Reflect.apply(value as (...a: unknown[]) => unknown, target, args);
        } catch (error) {
          // A call that was in flight on an object another call reset.
          if (String(error).includes(CHAOS_REASON)) throw platformReset(String(error));
          throw error;
        }
        if (hits("abort", cls, `after ${prop}`)) await reset("after");
        return result;
      };
    },
  });
}

function faultyNamespace(namespace: DurableObjectNamespace, cls: string): DurableObjectNamespace {
  return new Proxy(namespace, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "get" || prop === "getByName") {
        return (...args: unknown[]) =>
          faultyStub(Reflect.apply(value as (...a: unknown[]) => object, target, args), cls);
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

// A mixin's base must take `any[]` (TypeScript's rule for classes extended by a class expression).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyObjectClass = new (...args: any[]) => DurableObject<Env>;

/**
 * The class with faults: its constructor gets the faulty bindings, it can be reset from outside
 * (RESET: `ctx.abort`, which the object's code cannot catch, as for a crash), and its alarm may
 * be reset before or after it ran (the runtime retries an alarm that failed).
 */
function withFaults<C extends AnyObjectClass>(name: string, cls: C): C {
  const Faulty = class extends cls {
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    constructor(...args: any[]) {
      const [ctx, env] = args as [DurableObjectState, Env];
      super(ctx, faultyEnv(env));
    }

    [RESET](reason: string): void {
      this.ctx.abort(reason);
    }

    override async alarm(info?: AlarmInvocationInfo): Promise<void> {
      if (hits("abort", name, "before alarm")) this.ctx.abort(`${CHAOS_REASON} ${name} reset before alarm`);
      await super.alarm?.(info);
      if (hits("abort", name, "after alarm")) this.ctx.abort(`${CHAOS_REASON} ${name} reset after alarm`);
    }
  };
  Object.defineProperty(Faulty, "name", { value: name });
  return Faulty;
}

// ---- Bindings: queues, D1, R2 ----

function faultyQueue(queue: Queue): Queue {
  return new Proxy(queue, {
    get(target, prop) {
      if (prop === "send" || prop === "sendBatch") {
        return (...args: unknown[]) => {
          if (hits("queue", "", String(prop))) return Promise.reject(new Error("Queue send failed: Internal Error"));
          return (target[prop] as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        };
      }
      const value: unknown = Reflect.get(target, prop, target);
      return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** D1's error when it sheds load (developers.cloudflare.com/d1/observability/debug-d1/). */
function d1Refusal(): Error {
  return new Error("D1_ERROR: D1 DB is overloaded. Too many requests queued.");
}

/** Faulty statements keep their real one here, so a batch can hand D1 what it made. */
const realStatement = new WeakMap<object, D1PreparedStatement>();

function faultyStatement(statement: D1PreparedStatement): D1PreparedStatement {
  const proxy = new Proxy(statement, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "bind") return (...args: unknown[]) => faultyStatement(target.bind(...args));
      if (prop === "run" || prop === "all" || prop === "first" || prop === "raw") {
        return (...args: unknown[]) => {
          if (hits("d1", "", "statement")) return Promise.reject(d1Refusal());
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
  realStatement.set(proxy, statement);
  return proxy;
}

function faultyD1<T extends D1Database | D1DatabaseSession>(db: T): T {
  return new Proxy(db, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "prepare") return (query: string) => faultyStatement(target.prepare(query));
      if (prop === "batch") {
        return (statements: D1PreparedStatement[]) => {
          if (hits("d1", "", "batch")) return Promise.reject(d1Refusal());
          return target.batch(statements.map((s) => realStatement.get(s) ?? s));
        };
      }
      if (prop === "exec") {
        return (query: string) => {
          if (hits("d1", "", "exec")) return Promise.reject(d1Refusal());
          return (target as D1Database).exec(query);
        };
      }
      if (prop === "withSession") {
        return (...args: unknown[]) => faultyD1((value as (...a: unknown[]) => D1DatabaseSession).apply(target, args));
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

function faultyR2(bucket: R2Bucket): R2Bucket {
  return new Proxy(bucket, {
    get(target, prop) {
      const value: unknown = Reflect.get(target, prop, target);
      if (typeof value !== "function") return value;
      if (prop === "put" || prop === "createMultipartUpload") {
        return (...args: unknown[]) => {
          if (hits("r2", "", String(prop)))
            return Promise.reject(
              new Error(`${String(prop)}: We encountered an internal error. Please try again. (10001)`),
            );
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      }
      return (value as (...a: unknown[]) => unknown).bind(target);
    },
  });
}

const faultyEnvs = new WeakMap<Env, Env>();

/** The bindings as the production code gets them here: the same objects, with faults on command. */
function faultyEnv(env: Env): Env {
  // One wrapped env per env, so what the production code caches per env object stays cached.
  const known = faultyEnvs.get(env);
  if (known) return known;
  const wrapped: Record<string, unknown> = {};
  for (const [name, binding] of Object.entries(env) as [string, unknown][]) {
    const cls = OBJECT_CLASSES[name];
    if (cls) wrapped[name] = faultyNamespace(binding as DurableObjectNamespace, cls);
    else if (name === "DB") wrapped[name] = faultyD1(binding as D1Database);
    else if (/^BALLOTS_/.test(name)) wrapped[name] = faultyQueue(binding as Queue);
    else if (name === "AUDIT_LOG" || name === "AUDIT_STAGING" || name === "RESULTS_SNAPSHOTS")
      wrapped[name] = faultyR2(binding as R2Bucket);
  }
  const faulty = { ...env, ...wrapped } as Env;
  faultyEnvs.set(env, faulty);
  return faulty;
}

// ---- Control ----

async function control(request: Request, path: string): Promise<Response> {
  if (request.method === "POST" && path === "fault") {
    const parsed = FaultSwitch.safeParse(await request.json().catch(() => undefined));
    if (!parsed.success) return Response.json({ error: parsed.error.message }, { status: 400 });
    const { kind, target, rate, seconds } = parsed.data;
    if (kind === "abort" && !target) return Response.json({ error: "abort needs a target class" }, { status: 400 });
    active.set(keyOf(kind, kind === "abort" ? target : ""), { rate, untilMs: Date.now() + seconds * 1000 });
    return Response.json({ ok: true });
  }
  if (request.method === "POST" && path === "clear") {
    active.clear();
    return Response.json({ ok: true });
  }
  if (request.method === "GET" && path === "stats") return Response.json(Object.fromEntries(injected));
  return Response.json({ error: "not found" }, { status: 404 });
}

export const ReplayGuard = withFaults("ReplayGuard", entry.ReplayGuard);
export const VoterLedger = withFaults("VoterLedger", entry.VoterLedger);
export const TallyShard = withFaults("TallyShard", entry.TallyShard);
export const ResultsAggregator = withFaults("ResultsAggregator", entry.ResultsAggregator);
export const ResultsRelay = withFaults("ResultsRelay", entry.ResultsRelay);
export const LogSequencer = withFaults("LogSequencer", entry.LogSequencer);
export const PaperBallotBox = withFaults("PaperBallotBox", entry.PaperBallotBox);
export const StationBallotCount = withFaults("StationBallotCount", entry.StationBallotCount);
export const SecurityMonitor = withFaults("SecurityMonitor", entry.SecurityMonitor);

export default {
  fetch: (request, env, ctx) => {
    const path = new URL(request.url).pathname;
    if (path.startsWith(CHAOS_PREFIX)) return control(request, path.slice(CHAOS_PREFIX.length));
    return production.fetch(request, faultyEnv(env), ctx);
  },
  queue: async (batch, env, ctx) => {
    if (hits("consumer", "", `before a batch of ${batch.queue}`))
      throw new Error(`${CHAOS_REASON} the consumer crashed before a batch`);
    await production.queue(batch, faultyEnv(env), ctx);
    if (hits("consumer", "", `after a batch of ${batch.queue}`))
      throw new Error(`${CHAOS_REASON} the consumer crashed after a batch`);
  },
} satisfies ExportedHandler<Env>;
