/**
 * Writes a validated roll chunk to D1: each national id becomes its voter key (the HMAC under
 * ROLL_HASH_KEY; the id itself goes no further than this function's memory), and the entries are
 * upserted so that importing the same file twice changes nothing.
 *
 * Invariants:
 * - A chunk lands whole or not at all: all its statements go in one `DB.batch`, which D1 runs as
 *   one transaction. A client that retries a chunk after a lost answer therefore never leaves half
 *   a chunk, and the retry itself is a no-op or completes it.
 * - `written` counts rows inserted or moved to another district, exactly: the upsert only updates
 *   when the district differs, and SQLite counts a row in `changes` only when it was inserted or
 *   updated. Each voter key appears at most once per chunk (validate.ts rejects repeats), so no
 *   row is counted twice.
 */
import { voterKeyOf } from "../../../lib/identity/national-id.ts";
import type { RollEntry } from "../../../lib/roll/validate.ts";
import { rollHashSecret } from "./voter-key.ts";

/**
 * Rows per INSERT. D1 binds at most 100 parameters per statement; the election id is bound once
 * as ?1 and each row adds its voter key and district: 1 + 2 × 49 = 99. A 10,000-row chunk is
 * 205 statements, inside the 1,000 queries one Worker invocation may make.
 */
export const ROWS_PER_STATEMENT = 49;

/** Names from db/schema.ts (`voters`); the workers tests read the table back through drizzle. */
function upsertSql(rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) values.push(`(?1, ?${2 + 2 * r}, ?${3 + 2 * r})`);
  return (
    `INSERT INTO voters (election_id, voter_key, district_id) VALUES ${values.join(", ")} ` +
    "ON CONFLICT (election_id, voter_key) DO UPDATE SET district_id = excluded.district_id " +
    "WHERE voters.district_id != excluded.district_id"
  );
}

const fullStatementSql = upsertSql(ROWS_PER_STATEMENT);

export interface RollWrite {
  /** Entries inserted, or moved to another district. */
  readonly written: number;
  /** Entries already on the roll with the same district. */
  readonly unchanged: number;
}

export async function writeRollEntries(
  env: Env,
  electionId: string,
  entries: readonly RollEntry[],
): Promise<RollWrite> {
  if (entries.length === 0) return { written: 0, unchanged: 0 };
  const secret = await rollHashSecret(env);
  const keys = await Promise.all(entries.map((e) => voterKeyOf(secret, e.nationalId)));

  const full = env.DB.prepare(fullStatementSql);
  const statements: D1PreparedStatement[] = [];
  for (let start = 0; start < entries.length; start += ROWS_PER_STATEMENT) {
    const end = Math.min(start + ROWS_PER_STATEMENT, entries.length);
    const params: string[] = [electionId];
    for (let i = start; i < end; i++) {
      const entry = entries[i];
      const key = keys[i];
      if (entry === undefined || key === undefined) throw new Error("roll entry index out of range");
      params.push(key, entry.districtId);
    }
    const statement = end - start === ROWS_PER_STATEMENT ? full : env.DB.prepare(upsertSql(end - start));
    statements.push(statement.bind(...params));
  }

  const results = await env.DB.batch(statements);
  const written = results.reduce((sum, r) => sum + r.meta.changes, 0);
  return { written, unchanged: entries.length - written };
}
