/**
 * Messages that reached the ballots' dead-letter queue (db/schema.ts `dead_letters`), kept for the
 * operator by workers/tally/dead-letters.ts: one row per body, keyed by the body's SHA-256, with
 * whether it parses and how often it came back.
 */

export interface DeadLetter {
  /** SHA-256 of `bodyJson`, hex. */
  readonly bodySha256: string;
  /** The message body as JSON. */
  readonly bodyJson: string;
  /** Whether the body parses as a BallotMessage. */
  readonly parses: boolean;
  /** When this delivery arrived (ISO 8601). */
  readonly at: string;
}

/**
 * Dead letters whose body names this election: while any is kept, some accepted message never
 * reached the log, so its cast vote records must not be published (M4).
 */
export async function countDeadLetters(db: D1Database, electionId: string): Promise<number> {
  const row = await db
    .prepare(`SELECT COUNT(*) AS n FROM dead_letters WHERE json_extract(body_json, '$.electionId') = ?`)
    .bind(electionId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Records one delivery: a new body is inserted, a known one counts one more delivery. */
export async function recordDeadLetter(db: D1Database, letter: DeadLetter): Promise<void> {
  await db
    .prepare(
      `INSERT INTO dead_letters (body_sha256, body_json, parses, deliveries, first_seen, last_seen)
       VALUES (?1, ?2, ?3, 1, ?4, ?4)
       ON CONFLICT (body_sha256) DO UPDATE SET deliveries = deliveries + 1, last_seen = excluded.last_seen`,
    )
    .bind(letter.bodySha256, letter.bodyJson, letter.parses ? 1 : 0, letter.at)
    .run();
}
