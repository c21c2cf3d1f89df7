/**
 * The benchmark's baselines, run beside the production Worker in the same runtime instance
 * (bench/runtime.ts) so the cast path can be stated as a ratio to them. Not part of the production
 * Worker: nothing here is deployed.
 *
 *   GET  /__baseline/bare           a constant: the floor every request pays (routing, isolate)
 *   POST /__baseline/durable-write  one RPC to one Durable Object that does one SQLite INSERT and
 *                                   answers after it is durable (the output gate), like the ledger
 *
 *   POST /__baseline/rate-limit     one call of a Rate Limiting binding (limit never reached): on
 *                                   the local runtime an emulation that is itself a Durable Object
 *                                   write (see docs/PERFORMANCE.md), measured beside the login path,
 *                                   which makes three such calls
 *
 * One object for every request on purpose: it is the cost of one durable write on the runtime,
 * serialised on one object, with no object creation in it. The cast path's ratio to it says how
 * much the rest of the cast (auth, validation, commitment, receipt signature, queue) costs.
 *
 * Storage schema (SQLite, created once per object): writes(id INTEGER PRIMARY KEY, at INTEGER).
 */
import { DurableObject } from "cloudflare:workers";

interface BaselineEnv {
  readonly BASELINE_WRITER: DurableObjectNamespace<BaselineWriter>;
  readonly BASELINE_LIMITER: RateLimit;
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
    if (pathname === "/__baseline/rate-limit" && request.method === "POST") {
      const { success } = await env.BASELINE_LIMITER.limit({ key: "bench" });
      return Response.json({ success }, { status: success ? 200 : 429 });
    }
    return new Response("not found", { status: 404 });
  },
} satisfies ExportedHandler<BaselineEnv>;
