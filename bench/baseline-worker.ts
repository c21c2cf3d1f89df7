/**
 * The benchmark's baselines, run beside the production Worker in the same runtime instance
 * (bench/runtime.ts) so the cast path can be stated as a ratio to them. Not part of the production
 * Worker: nothing here is deployed.
 *
 *   GET  /__baseline/bare           a constant: the floor every request pays (routing, isolate)
 *   POST /__baseline/durable-write  one RPC to one Durable Object that does one SQLite INSERT and
 *                                   answers after it is durable (the output gate), like the ledger
 *   POST /__baseline/floor          the least a cast can do: check a keyed MAC over the bearer
 *                                   token, write once in one of 16 bucket objects (answered once
 *                                   durable), send once on a queue; this Worker's queue consumer
 *                                   applies each batch with one durable write
 *   GET  /__baseline/floor/status   what the buckets accepted and what the consumer applied, read
 *                                   from the objects (the bench waits for them to be equal)
 *   POST /__baseline/rate-limit     one call of a Rate Limiting binding (limit never reached): on
 *                                   the local runtime an emulation that is itself a Durable Object
 *                                   write (see docs/PERFORMANCE.md), measured beside the login path,
 *                                   which makes three such calls
 *
 *   POST /__baseline/log/{election}/record   the log bench (bench/log-run.ts): one batch of ballot
 *                                   messages to the production Worker's LogSequencer of that
 *                                   election, by the queue consumer's call (recordBallots)
 *   GET  /__baseline/log/{election}/status   that sequencer's status
 *   GET  /__baseline/log/{election}/tiles    how many tiles and entry bundles it put in R2
 *   GET  /__baseline/log/{election}/checkpoint   its public checkpoint, read from R2 like the
 *                                   public route but without the gateway's middleware, so that
 *                                   polling it costs the runtime's one thread next to nothing
 *
 * The durable write uses one object for every request on purpose: it is the cost of one durable
 * write on the runtime, serialised on one object, with no object creation in it. The cast path's
 * ratio to it says how much the rest of the cast (auth, validation, commitment, receipt signature,
 * queue) costs.
 *
 * The floor is the fair floor for a cast: every ballot must be checked against a key, written
 * durably once, handed to a queue once and applied somewhere by a consumer, and this route does
 * only that. It is shaped like the cast's pipeline with 16 ledger buckets (bucket by FNV-1a, as
 * durable-objects/addresses.ts does; the queue's batch settings are the ballot queues' in
 * wrangler.toml) and leaves out everything a ballot adds: its validation, commitment, receipt
 * signature, outbox, tally shards, records and audit log. The load generator cannot vary bodies
 * cheaply, so the id that picks the bucket is made here (crypto.randomUUID), one per request.
 *
 * Storage schemas (SQLite, created once per object):
 *   BaselineWriter  writes(id INTEGER PRIMARY KEY, at INTEGER)
 *   FloorBucket     accepted(id TEXT PRIMARY KEY, at INTEGER) WITHOUT ROWID
 *   FloorApplier    applied(id TEXT PRIMARY KEY, at INTEGER) WITHOUT ROWID
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import type { LogSequencer } from "../durable-objects/log-sequencer.ts";
import type { BallotMessage } from "../lib/ballot/messages.ts";
import { fnv1a } from "../lib/hash.ts";
import { importFloorKey, verifyFloorToken } from "./floor-token.ts";

/** As LEDGER_BUCKETS=16, the mapping the targets are stated for. */
const FLOOR_BUCKETS = 16;

interface BaselineEnv {
  readonly BASELINE_WRITER: DurableObjectNamespace<BaselineWriter>;
  readonly FLOOR_BUCKET: DurableObjectNamespace<FloorBucket>;
  readonly FLOOR_APPLIER: DurableObjectNamespace<FloorApplier>;
  readonly FLOOR_QUEUE: Queue<FloorMessage>;
  /** 32 random bytes, base64url, given by the bench for each runtime instance (bench/floor-token.ts). */
  readonly FLOOR_TOKEN_KEY?: string;
  readonly BASELINE_LIMITER: RateLimit;
  /** The production Worker's class (script_name in wrangler.baseline.toml): its code, its env. */
  readonly LOG_SEQUENCER: DurableObjectNamespace<LogSequencer>;
  readonly AUDIT_LOG: R2Bucket;
}

const FloorMessage = z.object({ id: z.string().min(1), bucket: z.number().int().min(0) });
type FloorMessage = z.infer<typeof FloorMessage>;

export class BaselineWriter extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS writes (id INTEGER PRIMARY KEY, at INTEGER NOT NULL)`);
  }

  /** One durable write; the caller sees the answer only once it is on disk. */
  async write(): Promise<number> {
    this.ctx.storage.sql.exec(`INSERT INTO writes (at) VALUES (?)`, Date.now());
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT last_insert_rowid() AS n`).one().n;
  }
}

/** One of the floor's 16 buckets: what the voter ledger's bucket does at the least, one keyed INSERT. */
export class FloorBucket extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(
      `CREATE TABLE IF NOT EXISTS accepted (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`,
    );
  }

  /** One durable write; the caller sees the answer only once it is on disk (the output gate). */
  async accept(id: string): Promise<void> {
    this.ctx.storage.sql.exec(`INSERT INTO accepted (id, at) VALUES (?, ?)`, id, Date.now());
  }

  async count(): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM accepted`).one().n;
  }
}

/** Where the floor's consumer applies its batches: one transaction per batch, like a tally shard's. */
export class FloorApplier extends DurableObject<BaselineEnv> {
  constructor(ctx: DurableObjectState, env: BaselineEnv) {
    super(ctx, env);
    ctx.storage.sql.exec(`CREATE TABLE IF NOT EXISTS applied (id TEXT PRIMARY KEY, at INTEGER NOT NULL) WITHOUT ROWID`);
  }

  /** A whole batch in one transaction; a redelivered message is applied once (the queue is at least once). */
  async apply(ids: readonly string[]): Promise<void> {
    const parsed = z.array(z.string().min(1)).max(100).parse(ids);
    const now = Date.now();
    this.ctx.storage.transactionSync(() => {
      for (const id of parsed)
        this.ctx.storage.sql.exec(`INSERT OR IGNORE INTO applied (id, at) VALUES (?, ?)`, id, now);
    });
  }

  async count(): Promise<number> {
    return this.ctx.storage.sql.exec<{ n: number }>(`SELECT count(*) AS n FROM applied`).one().n;
  }
}

const BARE = JSON.stringify({ status: "ok" });

/** Imported once per isolate (per key), as the production Worker keeps its derived keys. */
let floorKey: { readonly text: string; readonly key: Promise<CryptoKey> } | undefined;

function floorKeyOf(env: BaselineEnv): Promise<CryptoKey> | undefined {
  const text = env.FLOOR_TOKEN_KEY;
  if (text === undefined) return undefined;
  if (floorKey?.text !== text) floorKey = { text, key: importFloorKey(text) };
  return floorKey.key;
}

function bucketOf(env: BaselineEnv, bucket: number): DurableObjectStub<FloorBucket> {
  return env.FLOOR_BUCKET.get(env.FLOOR_BUCKET.idFromName(`bucket/${bucket}`));
}

function applierOf(env: BaselineEnv): DurableObjectStub<FloorApplier> {
  return env.FLOOR_APPLIER.get(env.FLOOR_APPLIER.idFromName("one"));
}

async function floor(request: Request, env: BaselineEnv): Promise<Response> {
  const key = floorKeyOf(env);
  if (!key) return Response.json({ error: "FLOOR_TOKEN_KEY is not set" }, { status: 503 });
  const auth = request.headers.get("authorization") ?? "";
  const token = auth.startsWith("Bearer ") ? auth.slice("Bearer ".length) : "";
  if (!(await verifyFloorToken(await key, token))) return Response.json({ error: "invalid_token" }, { status: 401 });
  const id = crypto.randomUUID();
  const bucket = fnv1a(id) % FLOOR_BUCKETS;
  await bucketOf(env, bucket).accept(id);
  await env.FLOOR_QUEUE.send({ id, bucket });
  return Response.json({ id }, { status: 201 });
}

async function floorStatus(env: BaselineEnv): Promise<Response> {
  const [accepted, applied] = await Promise.all([
    Promise.all(Array.from({ length: FLOOR_BUCKETS }, (_, b) => bucketOf(env, b).count())),
    applierOf(env).count(),
  ]);
  return Response.json({ accepted: accepted.reduce((a, b) => a + b, 0), applied });
}

// The log's R2 paths are lib/audit/layout.ts's (logs/<election>/...), written out here so that
// this Worker bundles nothing of the production code (its bare route stays bare).
const LOG_ROUTE = /^\/__baseline\/log\/([a-z0-9-]{3,64})\/(record|status|tiles|checkpoint)$/;

/**
 * The log bench's routes. The body of `record` is passed on as the consumer passes its batch:
 * the sequencer parses every message with its own schema (a bad one throws there, a 500 here,
 * which the bench counts as a failed batch), so it is not parsed twice on the runtime's one thread.
 */
async function logRoute(request: Request, env: BaselineEnv, electionId: string, action: string): Promise<Response> {
  const log = env.LOG_SEQUENCER.get(env.LOG_SEQUENCER.idFromName(electionId));
  if (action === "record" && request.method === "POST") {
    const body: unknown = await request.json();
    const messages = typeof body === "object" && body !== null && "messages" in body ? body.messages : undefined;
    if (!Array.isArray(messages)) return new Response("a JSON object with a messages array", { status: 400 });
    const outcome = await log.recordBallots(electionId, messages as BallotMessage[]);
    return Response.json(outcome, { status: outcome.ok ? 200 : 429 });
  }
  if (action === "status" && request.method === "GET") return Response.json(await log.status());
  if (action === "checkpoint" && request.method === "GET") {
    const object = await env.AUDIT_LOG.get(`logs/${electionId}/checkpoint`);
    return object ? new Response(await object.text()) : new Response("no checkpoint yet", { status: 404 });
  }
  if (action === "tiles" && request.method === "GET") {
    // Every tile and entry bundle is its own object under tile/; partial ones too (tlog-tiles).
    let objects = 0;
    let cursor: string | undefined;
    do {
      const page = await env.AUDIT_LOG.list({ prefix: `logs/${electionId}/tile/`, limit: 1000, cursor });
      objects += page.objects.length;
      cursor = page.truncated ? page.cursor : undefined;
    } while (cursor);
    return Response.json({ objects });
  }
  return new Response("not found", { status: 404 });
}

export default {
  async fetch(request, env) {
    const { pathname } = new URL(request.url);
    if (pathname === "/__baseline/bare") {
      return new Response(BARE, { headers: { "content-type": "application/json" } });
    }
    if (pathname === "/__baseline/durable-write" && request.method === "POST") {
      const writer = env.BASELINE_WRITER.get(env.BASELINE_WRITER.idFromName("one"));
      return Response.json({ id: await writer.write() }, { status: 201 });
    }
    if (pathname === "/__baseline/floor" && request.method === "POST") return floor(request, env);
    if (pathname === "/__baseline/floor/status" && request.method === "GET") return floorStatus(env);
    if (pathname === "/__baseline/rate-limit" && request.method === "POST") {
      const { success } = await env.BASELINE_LIMITER.limit({ key: "bench" });
      return Response.json({ success }, { status: success ? 200 : 429 });
    }
    const log = LOG_ROUTE.exec(pathname);
    if (log?.[1] && log[2]) return logRoute(request, env, log[1], log[2]);
    return new Response("not found", { status: 404 });
  },

  /** The floor's consumer: each batch in one RPC, one transaction, then acked. */
  async queue(batch, env) {
    const ids: string[] = [];
    for (const message of batch.messages) {
      const body = FloorMessage.safeParse(message.body);
      // Never expected (this Worker alone sends here); left unapplied, the drain wait reports it.
      if (body.success) ids.push(body.data.id);
    }
    if (ids.length > 0) await applierOf(env).apply(ids);
    batch.ackAll();
  },
} satisfies ExportedHandler<BaselineEnv, FloorMessage>;
