/**
 * The voter roll in D1 (db/schema.ts `voters`): who may vote in which election, and in which
 * district, by voter key (the HMAC of the national id; workers/gateway/roll/import.ts turns ids
 * into keys before anything reaches this store).
 *
 * Invariants of a write:
 * - A chunk lands whole or not at all: all its statements go in one `batch`, which D1 runs as
 *   one transaction. A client that retries a chunk after a lost answer therefore never leaves half
 *   a chunk, and the retry itself is a no-op or completes it.
 * - `written` counts rows inserted or moved to another district, exactly: the upsert only updates
 *   when the district differs, and SQLite counts a row in `changes` only when it was inserted or
 *   updated. Each voter key appears at most once per chunk (lib/roll/validate.ts rejects repeats),
 *   so no row is counted twice.
 */
import { and, count, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { chunksOf, rowsPerStatement } from "../../lib/d1-limits.ts";
import { voters } from "../schema.ts";

/**
 * Rows per INSERT: the election id is bound once as ?1 and each row adds its voter key and
 * district, so rowsPerStatement(2, 1) = floor(99 / 2) = 49 (99 bound values). A 10,000-row chunk
 * is 205 statements, inside the 1,000 queries one Worker invocation may make.
 */
const ROWS_PER_STATEMENT = rowsPerStatement(2, 1);

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

export interface RollRow {
  readonly voterKey: string;
  readonly districtId: string;
}

/** Upserts a chunk's rows in one D1 batch; answers how many were inserted or changed district. */
export async function writeVoters(db: D1Database, electionId: string, rows: readonly RollRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const full = db.prepare(fullStatementSql);
  const statements = chunksOf(rows, ROWS_PER_STATEMENT).map((chunk) =>
    (chunk.length === ROWS_PER_STATEMENT ? full : db.prepare(upsertSql(chunk.length))).bind(
      electionId,
      ...chunk.flatMap((row) => [row.voterKey, row.districtId]),
    ),
  );

  const results = await db.batch(statements);
  return results.reduce((sum, r) => sum + r.meta.changes, 0);
}

/** The district a voter key is on the roll for, or undefined when it is not on this election's roll. */
export async function voterDistrict(db: D1Database, electionId: string, voterKey: string): Promise<string | undefined> {
  const row = await drizzle(db)
    .select({ districtId: voters.districtId })
    .from(voters)
    .where(and(eq(voters.electionId, electionId), eq(voters.voterKey, voterKey)))
    .get();
  return row?.districtId;
}

export interface RollCount {
  readonly total: number;
  readonly byDistrict: Readonly<Record<string, number>>;
}

/**
 * How many voters an election's roll holds, in total and per district. The `voters_by_district`
 * index (election_id, district_id) covers the query, so it reads the index and not the rows.
 */
export async function countRoll(db: D1Database, electionId: string): Promise<RollCount> {
  const rows = await drizzle(db)
    .select({ districtId: voters.districtId, voters: count() })
    .from(voters)
    .where(eq(voters.electionId, electionId))
    .groupBy(voters.districtId)
    .orderBy(voters.districtId);
  // fromEntries defines own properties, so no district id (not even "__proto__") is special.
  const byDistrict = Object.fromEntries(rows.map((r) => [r.districtId, r.voters]));
  return { total: rows.reduce((sum, r) => sum + r.voters, 0), byDistrict };
}
