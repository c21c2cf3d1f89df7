/**
 * The benchmark's baselines, run beside the production Worker in the same runtime instance
 * (bench/runtime.ts) so the cast path can be stated as a ratio to them. Not part of the production
 * Worker: nothing here is deployed.
 *
 *   GET  /__baseline/bare           a constant: the floor every request pays (routing, isolate)
 *   POST /__baseline/durable-write  one RPC to one Durable Object that does one SQLite INSERT and
 *                                   answers after it is durable (the output gate), like the ledger
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
 * One object for every request on purpose: it is the cost of one durable write on the runtime,
 * serialised on one object, with no object creation in it. The cast path's ratio to it says how
 * much the rest of the cast (auth, validation, commitment, receipt signature, queue) costs.
 *
 * Storage schema (SQLite, created once per object): writes(id INTEGER PRIMARY KEY, at INTEGER).
 */
import { DurableObject } from "cloudflare:workers";
import type { LogSequencer } from "../durable-objects/log-sequencer.ts";
import type { BallotMessage } from "../lib/ballot/messages.ts";

interface BaselineEnv {
  readonly BASELINE_WRITER: DurableObjectNamespace<BaselineWriter>;
  /** The production Worker's class (script_name in wrangler.baseline.toml): its code, its env. */
  readonly LOG_SEQUENCER: DurableObjectNamespace<LogSequencer>;
  readonly AUDIT_LOG: R2Bucket;
}

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

const BARE = JSON.stringify({ status: "ok" });

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
    const log = LOG_ROUTE.exec(pathname);
    if (log?.[1] && log[2]) return logRoute(request, env, log[1], log[2]);
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<BaselineEnv>;
