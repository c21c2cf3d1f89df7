/**
 * Each Durable Object creates its SQLite tables once, under a stored schema version in `meta`
 * ('schema', n). A new object runs `create`, which builds the latest version directly (no
 * replaying of old steps: with one object per voter, creation is on the hot path); an object
 * stored at an older version runs the `upgrades` it lacks, where upgrades[i] takes version i + 1
 * to i + 2. Either way the steps and the version bump share one transactionSync, so an object is
 * never left half-migrated. Call it from the constructor inside blockConcurrencyWhile.
 */
export interface Schema {
  readonly version: number;
  readonly create: (sql: SqlStorage) => void;
  readonly upgrades?: readonly ((sql: SqlStorage) => void)[];
}

export function ensureSchema(storage: DurableObjectStorage, schema: Schema): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)`);
  const current = sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = 'schema'`).toArray()[0]?.value ?? 0;
  if (current >= schema.version) return;
  const upgrades = schema.upgrades ?? [];
  if (current > 0 && upgrades.length !== schema.version - 1) {
    throw new Error(
      `schema ${schema.version} has ${upgrades.length} upgrades; an object at version ${current} cannot be brought up`,
    );
  }
  storage.transactionSync(() => {
    if (current === 0) schema.create(sql);
    else for (const step of upgrades.slice(current - 1)) step(sql);
    sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)`, schema.version);
  });
}
