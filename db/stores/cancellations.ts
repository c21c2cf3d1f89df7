/**
 * The cancellation ids stations used (db/schema.ts `paper_cancellations`), so that one id names
 * one serial: the route reads it before the serial's PaperBallotBox decides and records it after.
 * Recording is idempotent (the first serial stays), so a repeat after a lost answer heals a crash
 * between the box and this write.
 */
import { and, eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { paperCancellations } from "../schema.ts";

export interface CancellationKey {
  readonly electionId: string;
  readonly stationId: string;
  readonly cancellationId: string;
}

/** The serial this station's cancellation id cancelled, if it was used. */
export async function cancelledSerialOf(db: D1Database, key: CancellationKey): Promise<number | undefined> {
  const row = await drizzle(db)
    .select({ serial: paperCancellations.serial })
    .from(paperCancellations)
    .where(
      and(
        eq(paperCancellations.electionId, key.electionId),
        eq(paperCancellations.stationId, key.stationId),
        eq(paperCancellations.cancellationId, key.cancellationId),
      ),
    )
    .get();
  return row?.serial;
}

/** Records the serial a cancellation id cancelled; a repeat keeps the first. */
export async function recordCancellation(db: D1Database, key: CancellationKey, serial: number): Promise<void> {
  await drizzle(db)
    .insert(paperCancellations)
    .values({ ...key, serial })
    .onConflictDoNothing();
}
