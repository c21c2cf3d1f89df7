/**
 * The voter roll in D1 (db/schema.ts `voters`): who may vote in which election, and in which
 * district, by voter key (the HMAC of the national id; workers/gateway/roll/import.ts turns ids
 * into keys before anything reaches this store), with each voter's offline pollbook id.
 *
 * Invariants of a write:
 * - A chunk lands whole or not at all: all its statements go in one `batch`, which D1 runs as
 *   one transaction. A client that retries a chunk after a lost answer therefore never leaves half
 *   a chunk, and the retry itself is a no-op or completes it.
 * - `written` counts rows inserted, moved to another district or given their pollbook id, exactly:
 *   the upsert only updates when the district or the pollbook id differs (a row imported before
 *   pollbook ids has none, so a re-import fills it), and SQLite counts a row in `changes` only when it was inserted or
 *   updated. Each voter key appears at most once per chunk (lib/roll/validate.ts rejects repeats),
 *   so no row is counted twice.
 */
import { and, asc, count, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { chunksOf, rowsPerStatement } from "../../lib/d1-limits.ts";
import { voters } from "../schema.ts";

/**
 * Rows per INSERT: the election id is bound once as ?1 and each row adds its voter key, district
 * and pollbook id, so rowsPerStatement(3, 1) = floor(99 / 3) = 33 (100 bound values). A 10,000-row
 * chunk is 304 statements, inside the 1,000 queries one Worker invocation may make.
 */
const ROWS_PER_STATEMENT = rowsPerStatement(3, 1);

/** Names from db/schema.ts (`voters`); the workers tests read the table back through drizzle. */
function upsertSql(rows: number): string {
  const values: string[] = [];
  for (let r = 0; r < rows; r++) values.push(`(?1, ?${2 + 3 * r}, ?${3 + 3 * r}, ?${4 + 3 * r})`);
  return (
    `INSERT INTO voters (election_id, voter_key, district_id, pollbook_id) VALUES ${values.join(", ")} ` +
    "ON CONFLICT (election_id, voter_key) DO UPDATE SET district_id = excluded.district_id, " +
    "pollbook_id = excluded.pollbook_id " +
    "WHERE voters.district_id != excluded.district_id OR voters.pollbook_id IS NOT excluded.pollbook_id"
  );
}

const fullStatementSql = upsertSql(ROWS_PER_STATEMENT);

export interface RollRow {
  readonly voterKey: string;
  readonly districtId: string;
  /** lib/station/pollbook.ts pollbookEntryId under the district's key. */
  readonly pollbookId: string;
}

/** Upserts a chunk's rows in one D1 batch; answers how many were inserted or changed. */
export async function writeVoters(db: D1Database, electionId: string, rows: readonly RollRow[]): Promise<number> {
  if (rows.length === 0) return 0;
  const full = db.prepare(fullStatementSql);
  const statements = chunksOf(rows, ROWS_PER_STATEMENT).map((chunk) =>
    (chunk.length === ROWS_PER_STATEMENT ? full : db.prepare(upsertSql(chunk.length))).bind(
      electionId,
      ...chunk.flatMap((row) => [row.voterKey, row.districtId, row.pollbookId]),
    ),
  );

  const results = await db.batch(statements);
  return results.reduce((sum, r) => sum + r.meta.changes, 0);
}

/**
 * The district a voter key is on the roll for, or undefined when it is not on this election's roll.
 * `db` may be a D1 session (D1Database.withSession), so a caller can let a read replica answer;
 * drizzle takes only the database itself, hence the plain statement (names from db/schema.ts,
 * one primary-key lookup).
 */
export async function voterDistrict(
  db: D1Database | D1DatabaseSession,
  electionId: string,
  voterKey: string,
): Promise<string | undefined> {
  const row = await db
    .prepare("SELECT district_id FROM voters WHERE election_id = ?1 AND voter_key = ?2")
    .bind(electionId, voterKey)
    .first<{ district_id: string }>();
  return row?.district_id;
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

/**
 * One pollbook page's voters of one district: those with a pollbook id greater than `afterId`
 * (every one when it is ""), in pollbook-id order, at most `limit`. One range scan of the
 * `voters_by_district` index (election_id, district_id, pollbook_id). Rows imported before pollbook
 * ids existed have none (NULL compares to nothing) and are left out until the roll is imported again.
 * The keyset is the pollbook id, which the station holds anyway, never the voter key.
 */
export async function pollbookVoters(
  db: D1Database,
  electionId: string,
  districtId: string,
  afterId: string,
  limit: number,
): Promise<{ voterKey: string; pollbookId: string }[]> {
  const rows = await drizzle(db)
    .select({ voterKey: voters.voterKey, pollbookId: voters.pollbookId })
    .from(voters)
    .where(and(eq(voters.electionId, electionId), eq(voters.districtId, districtId), gt(voters.pollbookId, afterId)))
    .orderBy(asc(voters.pollbookId))
    .limit(limit);
  return rows.flatMap((r) => (r.pollbookId === null ? [] : [{ voterKey: r.voterKey, pollbookId: r.pollbookId }]));
}
