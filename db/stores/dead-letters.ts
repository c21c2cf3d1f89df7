/**
 * Messages that reached the ballots' dead-letter queue (db/schema.ts `dead_letters`), kept for the
 * operator by workers/tally/dead-letters.ts: one row per body, with whether it parses and how often
 * it came back.
 *
 * What must stay true: nothing of a body is stored in clear. The body is kept only as a JWE to the
 * offline dead-letter key (lib/ballot/dead-letter-seal.ts), opened on the operator's machine by
 * `admin dead-letters list --key`; the row is named by an HMAC of the body (so a re-delivery finds
 * its row, and nobody without the key can test a guessed ballot against it); the clear columns are
 * only what an operator triages by: election, kind, queue, attempts, times.
 */

export interface DeadLetter {
  /** HMAC of the body under the "dead-letter" purpose key (lib/keys.ts), hex. */
  readonly letterId: string;
  /** The election the body names, if it names one as text. */
  readonly electionId: string | null;
  /** The body's `kind` (ballot, retraction, check-in, or whatever an unparseable body says), if text. */
  readonly kind: string | null;
  /** The queue the delivery came from. */
  readonly queue: string;
  /** How often the platform had delivered this message when it arrived here. */
  readonly attempts: number;
  /** The body as a compact JWE to the offline key; null when no key is configured (development). */
  readonly bodyJwe: string | null;
  /** Whether the body parses as a queued ballot message. */
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
    .prepare(`SELECT COUNT(*) AS n FROM dead_letters WHERE election_id = ?`)
    .bind(electionId)
    .first<{ n: number }>();
  return row?.n ?? 0;
}

/** Records one delivery: a new body is inserted, a known one counts one more delivery. */
export async function recordDeadLetter(db: D1Database, letter: DeadLetter): Promise<void> {
  await db
    .prepare(
      `INSERT INTO dead_letters (letter_id, election_id, kind, queue, attempts, body_jwe, parses, deliveries, first_seen, last_seen)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 1, ?8, ?8)
       ON CONFLICT (letter_id) DO UPDATE SET deliveries = deliveries + 1, last_seen = excluded.last_seen,
         attempts = MAX(attempts, excluded.attempts)`,
    )
    .bind(
      letter.letterId,
      letter.electionId,
      letter.kind,
      letter.queue,
      letter.attempts,
      letter.bodyJwe,
      letter.parses ? 1 : 0,
      letter.at,
    )
    .run();
}

/** A kept dead letter: its first delivery as recorded, and how often and until when it came back. */
export interface StoredDeadLetter extends Omit<DeadLetter, "at"> {
  readonly deliveries: number;
  readonly firstSeen: string;
  readonly lastSeen: string;
}

/** A `dead_letters` row as D1 returns it (snake_case, `parses` as 0 or 1). */
export interface DeadLetterRow {
  letter_id: string;
  election_id: string | null;
  kind: string | null;
  queue: string;
  attempts: number;
  body_jwe: string | null;
  parses: number;
  deliveries: number;
  first_seen: string;
  last_seen: string;
}

/** Dead letters, oldest first, optionally of one election: `limit` of them from `offset`. */
export async function listDeadLetters(
  db: D1Database,
  options: { electionId?: string | undefined; offset: number; limit: number },
): Promise<StoredDeadLetter[]> {
  const rows = await db
    .prepare(
      `SELECT letter_id, election_id, kind, queue, attempts, body_jwe, parses, deliveries, first_seen, last_seen
       FROM dead_letters
       WHERE (?1 IS NULL OR election_id = ?1)
       ORDER BY first_seen, letter_id LIMIT ?3 OFFSET ?2`,
    )
    .bind(options.electionId ?? null, options.offset, options.limit)
    .all<DeadLetterRow>();
  return rows.results.map((r) => ({
    letterId: r.letter_id,
    electionId: r.election_id,
    kind: r.kind,
    queue: r.queue,
    attempts: r.attempts,
    bodyJwe: r.body_jwe,
    parses: r.parses === 1,
    deliveries: r.deliveries,
    firstSeen: r.first_seen,
    lastSeen: r.last_seen,
  }));
}
