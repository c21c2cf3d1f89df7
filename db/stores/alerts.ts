/**
 * Reading an election's alerts (db/schema.ts `alerts`). The security monitor
 * (durable-objects/security-monitor.ts) is their one writer and writes them with its own
 * statements (objects do not import db/); this store is what officials' routes read.
 */
import { and, desc, eq, inArray, type SQL } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { Alert } from "../../lib/monitor/alerts.ts";
import type { AlertState } from "../../lib/vocabulary.ts";
import { alerts } from "../schema.ts";

const Evidence = z.record(z.string(), z.unknown());

function handling(by: string | null, at: string | null, note: string | null): Alert["acknowledged"] {
  return by !== null && at !== null ? { officialId: by, at, note: note ?? "" } : null;
}

function alertOf(row: typeof alerts.$inferSelect): Alert {
  // Written only by the monitor from an Alert: a row that does not parse back is a bug (a 500).
  return Alert.parse({
    id: row.id,
    electionId: row.electionId,
    rule: row.rule,
    severity: row.severity,
    scope: row.scope,
    summary: row.summary,
    evidence: Evidence.parse(JSON.parse(row.evidenceJson)),
    firstSeen: row.firstSeen,
    lastSeen: row.lastSeen,
    count: row.count,
    state: row.state,
    acknowledged: handling(row.acknowledgedBy, row.acknowledgedAt, row.acknowledgedNote),
    closed: handling(row.closedBy, row.closedAt, row.closedNote),
  });
}

/** An election's alerts in the given states, the most recently seen first, at most `limit`. */
export async function listAlerts(
  db: D1Database,
  electionId: string,
  states: readonly AlertState[],
  limit: number,
): Promise<Alert[]> {
  const where: SQL[] = [eq(alerts.electionId, electionId)];
  if (states.length > 0) where.push(inArray(alerts.state, [...states]));
  const rows = await drizzle(db)
    .select()
    .from(alerts)
    .where(and(...where))
    .orderBy(desc(alerts.lastSeen), desc(alerts.id))
    .limit(limit)
    .all();
  return rows.map(alertOf);
}

export async function getAlert(db: D1Database, electionId: string, alertId: string): Promise<Alert | undefined> {
  const row = await drizzle(db)
    .select()
    .from(alerts)
    .where(and(eq(alerts.electionId, electionId), eq(alerts.id, alertId)))
    .get();
  return row ? alertOf(row) : undefined;
}
