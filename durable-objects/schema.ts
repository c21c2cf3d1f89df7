/**
 * Each Durable Object creates its SQLite tables once, under a stored schema version: `meta`
 * holds ('schema', n), and `migrations[i]` takes the tables from version i to i + 1. Every step
 * not yet applied runs inside one transactionSync together with the version bump, so an object
 * is never left half-migrated. Call it from the constructor inside blockConcurrencyWhile.
 */
export function ensureSchema(storage: DurableObjectStorage, migrations: readonly ((sql: SqlStorage) => void)[]): void {
  const sql = storage.sql;
  sql.exec(`CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)`);
  const current = sql.exec<{ value: number }>(`SELECT value FROM meta WHERE key = 'schema'`).toArray()[0]?.value ?? 0;
  if (current >= migrations.length) return;
  storage.transactionSync(() => {
    for (const step of migrations.slice(current)) step(sql);
    sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('schema', ?)`, migrations.length);
  });
}
