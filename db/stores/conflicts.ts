/**
 * Offline check-ins' D1 rows (db/schema.ts `offline_conflicts`, `offline_envelopes`, and the
 * `check_ins` row a conflicting offline check-in still counts as): what the check-in and scan
 * routes (workers/gateway/routes/paper.ts) and the adjudication routes
 * (workers/gateway/routes/conflicts.ts) ask of the database.
 *
 * What must stay true:
 * - Nothing here names a voter or a check-in: an envelope is known by its keyed digest, a
 *   conflict by a random id. The check-in id would join the ledger's voter to the envelope, hence
 *   to the ballot scanned with it.
 * - One conflict per envelope (a unique index): a station retrying its offline check-in finds the
 *   conflict it made the first time and answers with the same id.
 * - An envelope names one ballot: the first scan claims it with one conditional UPDATE, so two
 *   racing scans cannot both hold it.
 * - A conflict is decided once: one conditional UPDATE claims the decision, so two administrators
 *   racing cannot both decide; the decision is put in force (`state`) only after the caller logged
 *   it, so no held ballot is released on a decision the public log does not show.
 */
import { and, eq, isNotNull, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { ConflictDecision } from "../../lib/vocabulary.ts";
import { checkIns, offlineConflicts, offlineEnvelopes } from "../schema.ts";

export const ConflictKind = z.enum(["voted-online", "checked-in", "out-of-district"]);
export type ConflictKind = z.infer<typeof ConflictKind>;

/** What the ledger knew of the voter's other channel when it refused the offline check-in. */
export const OtherChannel = z.union([
  z.object({ channel: z.literal("online"), minute: z.string().nullable() }),
  z.object({ channel: z.literal("paper"), stationId: z.string(), minute: z.string() }),
]);
export type OtherChannel = z.infer<typeof OtherChannel>;

export const ConflictState = z.enum(["held", ...ConflictDecision.options]);
export type ConflictState = z.infer<typeof ConflictState>;

export interface OfflineConflict {
  readonly id: string;
  readonly electionId: string;
  readonly stationId: string;
  readonly districtId: string;
  readonly kind: ConflictKind;
  /** The minute the station decided the check-in (its signed clock). */
  readonly checkInMinute: string;
  /** The minute the station's sync reached us. */
  readonly syncedMinute: string;
  readonly other: OtherChannel | null;
  readonly envelopeDigest: string;
  /** In force: held until a decision is logged, then that decision. */
  readonly state: ConflictState;
  /** The decision claimed (maybe not yet logged, hence not yet in force). */
  readonly decision: ConflictDecision | null;
  readonly decidedBy: string | null;
  readonly decidedMinute: string | null;
  readonly reason: string | null;
}

type ConflictRow = typeof offlineConflicts.$inferSelect;

function conflictOf(row: ConflictRow): OfflineConflict {
  const other: OtherChannel | null =
    row.otherChannel === "online"
      ? { channel: "online", minute: row.otherMinute }
      : row.otherChannel === "paper" && row.otherStationId !== null && row.otherMinute !== null
        ? { channel: "paper", stationId: row.otherStationId, minute: row.otherMinute }
        : null;
  return {
    id: row.id,
    electionId: row.electionId,
    stationId: row.stationId,
    districtId: row.districtId,
    kind: ConflictKind.parse(row.kind),
    checkInMinute: row.checkInMinute,
    syncedMinute: row.syncedMinute,
    other,
    envelopeDigest: row.envelopeDigest,
    state: ConflictState.parse(row.state),
    decision: row.decision === null ? null : ConflictDecision.parse(row.decision),
    decidedBy: row.decidedBy,
    decidedMinute: row.decidedMinute,
    reason: row.reason,
  };
}

/** An accepted offline check-in's envelope: its ballot counts as any scan. Repeating changes nothing. */
export async function rememberClearEnvelope(
  db: D1Database,
  envelope: { electionId: string; stationId: string; envelopeDigest: string },
): Promise<void> {
  await drizzle(db)
    .insert(offlineEnvelopes)
    .values({ ...envelope, state: "clear" })
    .onConflictDoNothing()
    .run();
}

export interface NewConflict {
  readonly electionId: string;
  readonly stationId: string;
  readonly districtId: string;
  readonly kind: ConflictKind;
  readonly checkInMinute: string;
  readonly syncedMinute: string;
  readonly other: OtherChannel | null;
  readonly envelopeDigest: string;
  /** The station-scoped check-in id, for the station's `check_ins` count only (never stored here). */
  readonly checkInId: string;
}

/**
 * Records a conflict, its held envelope and the check-in it still counts as at its station (the
 * station issued a ballot: its result sheet counts it), in one batch. A conflict already recorded
 * for this envelope (a retried check-in) is answered as it is, with `created` false.
 */
export async function recordConflict(
  db: D1Database,
  conflict: NewConflict,
): Promise<{ conflict: OfflineConflict; created: boolean }> {
  const d = drizzle(db);
  const id = crypto.randomUUID();
  const other = conflict.other;
  await d.batch([
    d
      .insert(offlineConflicts)
      .values({
        id,
        electionId: conflict.electionId,
        stationId: conflict.stationId,
        districtId: conflict.districtId,
        kind: conflict.kind,
        checkInMinute: conflict.checkInMinute,
        syncedMinute: conflict.syncedMinute,
        otherChannel: other?.channel ?? null,
        otherStationId: other?.channel === "paper" ? other.stationId : null,
        otherMinute: other?.minute ?? null,
        envelopeDigest: conflict.envelopeDigest,
        state: "held",
      })
      .onConflictDoNothing(),
    d
      .insert(offlineEnvelopes)
      .values({
        envelopeDigest: conflict.envelopeDigest,
        electionId: conflict.electionId,
        stationId: conflict.stationId,
        state: "held",
      })
      .onConflictDoNothing(),
    d
      .insert(checkIns)
      .values({
        electionId: conflict.electionId,
        checkInId: conflict.checkInId,
        stationId: conflict.stationId,
        districtId: conflict.districtId,
        recordedAt: conflict.checkInMinute,
      })
      .onConflictDoNothing(),
  ]);
  const stored = await conflictByEnvelope(db, conflict.envelopeDigest);
  if (!stored) throw new Error("the conflict just recorded is not there");
  return { conflict: stored, created: stored.id === id };
}

export async function conflictByEnvelope(db: D1Database, envelopeDigest: string): Promise<OfflineConflict | undefined> {
  const row = await drizzle(db)
    .select()
    .from(offlineConflicts)
    .where(eq(offlineConflicts.envelopeDigest, envelopeDigest))
    .get();
  return row && conflictOf(row);
}

export async function getConflict(
  db: D1Database,
  electionId: string,
  conflictId: string,
): Promise<OfflineConflict | undefined> {
  const row = await drizzle(db)
    .select()
    .from(offlineConflicts)
    .where(and(eq(offlineConflicts.electionId, electionId), eq(offlineConflicts.id, conflictId)))
    .get();
  return row && conflictOf(row);
}

/** An election's conflicts, ordered by station, minute and id (never by arrival). */
export async function listConflicts(db: D1Database, electionId: string): Promise<OfflineConflict[]> {
  const rows = await drizzle(db)
    .select()
    .from(offlineConflicts)
    .where(eq(offlineConflicts.electionId, electionId))
    .orderBy(offlineConflicts.stationId, offlineConflicts.checkInMinute, offlineConflicts.id)
    .all();
  return rows.map(conflictOf);
}

/**
 * Claims a decision for a conflict; the first claim wins. Answers the conflict as stored
 * afterwards, whoever claimed it (the caller compares, logs the claimed decision, then puts it in
 * force with putDecisionInForce).
 */
export async function claimDecision(
  db: D1Database,
  electionId: string,
  conflictId: string,
  decision: { decision: ConflictDecision; officialId: string; reason: string; minute: string },
): Promise<OfflineConflict | undefined> {
  await drizzle(db)
    .update(offlineConflicts)
    .set({
      decision: decision.decision,
      decidedBy: decision.officialId,
      decidedMinute: decision.minute,
      reason: decision.reason,
    })
    .where(
      and(
        eq(offlineConflicts.electionId, electionId),
        eq(offlineConflicts.id, conflictId),
        isNull(offlineConflicts.decision),
      ),
    )
    .run();
  return getConflict(db, electionId, conflictId);
}

/** Puts the claimed (and logged) decision in force: scans and releases act on `state` only. */
export async function putDecisionInForce(
  db: D1Database,
  electionId: string,
  conflictId: string,
): Promise<OfflineConflict | undefined> {
  await drizzle(db)
    .update(offlineConflicts)
    .set({ state: sql`${offlineConflicts.decision}` })
    .where(
      and(
        eq(offlineConflicts.electionId, electionId),
        eq(offlineConflicts.id, conflictId),
        isNotNull(offlineConflicts.decision),
      ),
    )
    .run();
  return getConflict(db, electionId, conflictId);
}

export interface OfflineEnvelope {
  readonly envelopeDigest: string;
  readonly electionId: string;
  readonly stationId: string;
  readonly state: "clear" | "held";
  readonly scanId: string | null;
  readonly serial: number | null;
}

export async function getEnvelope(db: D1Database, envelopeDigest: string): Promise<OfflineEnvelope | undefined> {
  const row = await drizzle(db)
    .select()
    .from(offlineEnvelopes)
    .where(eq(offlineEnvelopes.envelopeDigest, envelopeDigest))
    .get();
  return row && { ...row, state: row.state === "held" ? "held" : "clear" };
}

/**
 * Claims the envelope for this scan's ballot: true when it is this scan's (claimed now or by an
 * earlier try of the same scan), false when another scan holds it.
 */
export async function claimEnvelope(
  db: D1Database,
  envelopeDigest: string,
  scan: { scanId: string; serial: number },
): Promise<boolean> {
  await drizzle(db)
    .update(offlineEnvelopes)
    .set({ scanId: scan.scanId, serial: scan.serial })
    .where(and(eq(offlineEnvelopes.envelopeDigest, envelopeDigest), isNull(offlineEnvelopes.scanId)))
    .run();
  const row = await getEnvelope(db, envelopeDigest);
  return row?.scanId === scan.scanId && row.serial === scan.serial;
}

/** Gives a claimed envelope back (its scan's serial was refused: no ballot of it exists). */
export async function unclaimEnvelope(
  db: D1Database,
  envelopeDigest: string,
  scan: { scanId: string; serial: number },
): Promise<void> {
  await drizzle(db)
    .update(offlineEnvelopes)
    .set({ scanId: null, serial: null })
    .where(
      and(
        eq(offlineEnvelopes.envelopeDigest, envelopeDigest),
        eq(offlineEnvelopes.scanId, scan.scanId),
        eq(offlineEnvelopes.serial, scan.serial),
      ),
    )
    .run();
}

/** Forgets an envelope whose ballot was counted, or whose held ballot's decision was applied. */
export async function forgetEnvelope(db: D1Database, envelopeDigest: string): Promise<void> {
  await drizzle(db).delete(offlineEnvelopes).where(eq(offlineEnvelopes.envelopeDigest, envelopeDigest)).run();
}
