/**
 * Security events as rows (db/schema.ts `security_events`): a geofence-flagged login, a refused
 * cast, a reused paper serial, a conflicting result sheet. Their kinds are the security events of
 * the one registry (lib/events.ts). Written only through `recordSecurityEvent`
 * (workers/monitor/security-events.ts), which also tells the election's security monitor and
 * keeps the client address and the voter tag out of the row; administrators, security officers
 * and auditors read them (GET /v1/admin/elections/{id}/security-events).
 */
import { and, asc, eq, gt } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { EVENTS, type SecurityEventName } from "../../lib/events.ts";
import { securityEvents } from "../schema.ts";

export async function recordSecurityEventRow(
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
