/**
 * ReplayGuard: remembers one-time identifiers (ID-token ids, official assertion ids, station
 * request nonces) until they expire, so that each is accepted exactly once.
 *
 * Invariants:
 * - `claim` decides with synchronous SQL and no await before it: two concurrent claims of the
 *   same id in this object are serialised by the object, and exactly one inserts the row.
 * - An id is kept at least until its expiry; the alarm deletes only expired rows, so a token
 *   cannot be replayed while it is still valid.
 * - Identifiers are sharded over several objects by the caller (see replay.ts); each id always
 *   maps to the same object, so the guarantee holds per id.
 *
 * Storage schema (SQLite, version 1):
 *   seen(id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)  -- expires_at in ms since the epoch
 */
import { DurableObject } from "cloudflare:workers";
import { ensureSchema } from "./schema.ts";

export class ReplayGuard extends DurableObject<Env> {
  private readonly sql: SqlStorage;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // The runtime delivers no request or alarm until this settles, and a throw resets the object.
    void ctx.blockConcurrencyWhile(async () =>
      ensureSchema(ctx.storage, {
        version: 1,
        create: (sql) => {
          sql.exec(`CREATE TABLE seen (id TEXT PRIMARY KEY, expires_at INTEGER NOT NULL)`);
          sql.exec(`CREATE INDEX seen_by_expiry ON seen (expires_at)`);
        },
      }),
    );
  }

  /** True the first time an id is claimed, false on every later claim until it expires. */
  async claim(id: string, expiresAtMs: number): Promise<boolean> {
    const now = Date.now();
    // An expired row may linger until the alarm runs; it no longer protects anything.
    this.sql.exec(`DELETE FROM seen WHERE id = ? AND expires_at < ?`, id, now);
    // rowsWritten also counts index writes, so ask SQLite which row it inserted instead.
    const inserted = this.sql
      .exec(`INSERT INTO seen (id, expires_at) VALUES (?, ?) ON CONFLICT (id) DO NOTHING RETURNING id`, id, expiresAtMs)
      .toArray();
    const first = inserted.length === 1;
    if (first && (await this.ctx.storage.getAlarm()) === null) {
      await this.ctx.storage.setAlarm(Math.max(expiresAtMs, now) + 1_000);
    }
    return first;
  }

  override async alarm(): Promise<void> {
    const now = Date.now();
    this.sql.exec(`DELETE FROM seen WHERE expires_at < ?`, now);
    const next = this.sql.exec<{ e: number | null }>(`SELECT MIN(expires_at) AS e FROM seen`).toArray()[0]?.e;
    if (next !== null && next !== undefined) {
      await this.ctx.storage.setAlarm(Math.max(next, now) + 1_000);
    }
  }
}
