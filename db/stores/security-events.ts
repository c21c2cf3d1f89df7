/**
 * Security events that are not yet alerts (db/schema.ts `security_events`), for the monitor to
 * come: a geofence-flagged login, a reused paper serial, a conflicting result sheet. Their kinds
 * are the security events of the one registry (lib/events.ts). Written by the
 * gateway where it notices them; administrators and auditors read them (GET
 * /v1/admin/elections/{id}/security-events) until the monitor turns them into alerts.
 */
import { and, asc, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { EVENTS, type SecurityEventName } from "../../lib/events.ts";
import { securityEvents } from "../schema.ts";

export async function recordSecurityEvent(
  db: D1Database,
  electionId: string | null,
  kind: SecurityEventName,
  detail: Record<string, unknown>,
): Promise<void> {
  await drizzle(db)
    .insert(securityEvents)
    .values({ electionId, kind, detailJson: JSON.stringify(detail) })
    .run();
}

export interface StoredSecurityEvent {
  readonly id: number;
  readonly kind: SecurityEventName;
  readonly at: string;
  readonly detail: Record<string, unknown>;
}

const Detail = z.record(z.string(), z.unknown());

function isSecurityEvent(kind: string): kind is SecurityEventName {
  return kind in EVENTS && EVENTS[kind as keyof typeof EVENTS].kind === "security";
}

/** An election's security events after `afterId`, oldest first, at most `limit`. */
export async function listSecurityEvents(
  d1: D1Database,
  electionId: string,
  afterId: number,
  limit: number,
): Promise<StoredSecurityEvent[]> {
  const rows = await drizzle(d1)
    .select()
    .from(securityEvents)
    .where(and(eq(securityEvents.electionId, electionId), gt(securityEvents.id, afterId)))
    .orderBy(asc(securityEvents.id))
    .limit(limit)
    .all();
  return rows.flatMap((row) => {
    const detail = Detail.safeParse(JSON.parse(row.detailJson));
    if (!detail.success || !isSecurityEvent(row.kind)) return [];
    return [{ id: row.id, kind: row.kind, at: row.at, detail: detail.data }];
  });
}
