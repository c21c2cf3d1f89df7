/**
 * Security events that are not yet alerts (db/schema.ts `security_events`), for the monitor to
 * come: a geofence-flagged login, a reused paper serial, a conflicting result sheet. Their kinds
 * are the security events of the one registry (lib/events.ts). Written by the
 * gateway where it notices them; nothing in the gateway reads them back.
 */
import { drizzle } from "drizzle-orm/d1";
import type { SecurityEventName } from "../../lib/events.ts";
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
