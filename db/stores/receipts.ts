/**
 * Reads what a tracking code resolves to: what the tally consumer recorded (`receipts`, written by
 * db/stores/records.ts) and where the log sequencer placed its entry (`log_receipts`).
 */
import { eq } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { logReceipts, receipts } from "../schema.ts";
import type { ReceiptStatus } from "../../lib/vocabulary.ts";

export interface RecordedReceipt {
  readonly trackingCode: string;
  readonly electionId: string;
  readonly status: ReceiptStatus;
  readonly commitment: string;
  readonly recordedAt: string;
}

export async function findReceipt(db: D1Database, trackingCode: string): Promise<RecordedReceipt | undefined> {
  const row = await drizzle(db).select().from(receipts).where(eq(receipts.trackingCode, trackingCode)).get();
  if (!row) return undefined;
  return {
    trackingCode: row.trackingCode,
    electionId: row.electionId,
    status: row.status,
    commitment: row.commitment,
    recordedAt: row.recordedAt,
  };
}

/** Where the ballot's entry sits in its election's audit log, once a published checkpoint holds it. */
export async function findLogLeaf(
  db: D1Database,
  trackingCode: string,
): Promise<{ electionId: string; leafIndex: number } | undefined> {
  const row = await drizzle(db).select().from(logReceipts).where(eq(logReceipts.trackingCode, trackingCode)).get();
  return row ? { electionId: row.electionId, leafIndex: row.leafIndex } : undefined;
}
