/** durable-objects/schema.ts: new objects get the latest schema at once; old ones are upgraded. */
import { env, runInDurableObject } from "cloudflare:test";
import { expect, it } from "vitest";
import { ensureSchema, type Schema } from "../../durable-objects/schema.ts";

function columns(sql: SqlStorage, table: string): string[] {
  return sql
    .exec<{ name: string }>(`SELECT name FROM pragma_table_info(?)`, table)
    .toArray()
    .map((r) => r.name);
}

const V1: Schema = { version: 1, create: (sql) => void sql.exec(`CREATE TABLE t_schema (a TEXT, old TEXT)`) };
const V2: Schema = {
  version: 2,
  create: (sql) => void sql.exec(`CREATE TABLE t_schema (a TEXT, b TEXT)`),
  upgrades: [
    (sql) => {
      sql.exec(`ALTER TABLE t_schema DROP COLUMN old`);
      sql.exec(`ALTER TABLE t_schema ADD COLUMN b TEXT`);
    },
  ],
};

it("creates the latest schema directly, upgrades an older one, and does nothing when current", async () => {
  const fresh = env.REPLAY_GUARD.get(env.REPLAY_GUARD.idFromName("schema-test-fresh"));
  await runInDurableObject(fresh, (_instance, state) => {
    state.storage.sql.exec(`DELETE FROM meta WHERE key = 'schema'`);
    ensureSchema(state.storage, V2);
    expect(columns(state.storage.sql, "t_schema")).toEqual(["a", "b"]);
    ensureSchema(state.storage, V2);
  });

  const old = env.REPLAY_GUARD.get(env.REPLAY_GUARD.idFromName("schema-test-old"));
  await runInDurableObject(old, (_instance, state) => {
    state.storage.sql.exec(`DELETE FROM meta WHERE key = 'schema'`);
    ensureSchema(state.storage, V1);
    state.storage.sql.exec(`INSERT INTO t_schema (a, old) VALUES ('kept', 'dropped')`);
    ensureSchema(state.storage, V2);
    expect(columns(state.storage.sql, "t_schema")).toEqual(["a", "b"]);
    expect(state.storage.sql.exec(`SELECT a FROM t_schema`).toArray()).toEqual([{ a: "kept" }]);
    expect(state.storage.sql.exec(`SELECT value FROM meta WHERE key = 'schema'`).one()).toEqual({ value: 2 });
  });
});
