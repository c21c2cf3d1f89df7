/**
 * Recording a security event (lib/events.ts): a `security_events` row in D1 for officials to read,
 * and a `security` signal to the election's monitor (workers/monitor/signal.ts) for its rules.
 * Every place in the Worker that notices one goes through `recordSecurityEvent` here.
 *
 * The two get different facts. The row keeps the station, district, country, network, reason and
 * figures (and the caller's own detail), never the client address nor the voter tag: those reach
 * only the monitor's windows, which forget them with the window and never put them in evidence.
 *
 * Neither part can fail its caller. Most callers are refusals, which must answer exactly as they
 * would without the event (the same 4xx), so a failed D1 write is logged as the operational event
 * `security_event_not_stored` rather than thrown: a missing row is a gap an operator sees in the
 * Worker's log, while a 500 in place of the refusal would tell the client nothing true and make it
 * retry. The monitor's signal is advisory already (signalMonitor).
 */
import { recordSecurityEventRow } from "../../db/stores/security-events.ts";
import { emitEvent, type SecurityEventName } from "../../lib/events.ts";
import { MonitorSignal, type MonitorSignalInput } from "../../lib/monitor/signals.ts";
import { networkOf, signalMonitor } from "./signal.ts";

export interface SecurityEventFacts {
  readonly stationId?: string | undefined;
  readonly districtId?: string | undefined;
  /** `request.cf.country`; anything that is not an ISO alpha-2 code (Tor's T1, XX) is left out. */
  readonly country?: string | undefined;
  /** The client address: the monitor's only (its network is derived here and goes to both). */
  readonly address?: string | undefined;
  /** The monitor's keyed tag of the voter (monitorVoterTag): the monitor's only. */
  readonly voterTag?: string | undefined;
  /** Why: the refusal's error code, or the limiter's name. */
  readonly reason?: string | undefined;
  readonly figures?: Readonly<Record<string, number>> | undefined;
  /** More for the row only (a serial, a digest): never an address, a voter or a national id. */
  readonly detail?: Readonly<Record<string, unknown>> | undefined;
}

function defined(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
}

/**
 * The monitor's signal for the event, with any field the signal's schema refuses left out (an odd
 * country code or address must not cost the monitor the whole event).
 */
function securitySignalOf(
  kind: SecurityEventName,
  facts: SecurityEventFacts,
  network: string | undefined,
  at: number,
): MonitorSignalInput {
  const candidate: Record<string, unknown> = defined({
    kind: "security",
    at,
    event: kind,
    stationId: facts.stationId,
    districtId: facts.districtId,
    country: facts.country,
    address: facts.address,
    network,
    voterTag: facts.voterTag,
    reason: facts.reason,
    figures: facts.figures,
  });
  const parsed = MonitorSignal.safeParse(candidate);
  if (parsed.success) return parsed.data;
  for (const issue of parsed.error.issues) {
    const field = issue.path[0];
    if (typeof field === "string" && !["kind", "at", "event"].includes(field)) delete candidate[field];
  }
  return MonitorSignal.parse(candidate);
}

/**
 * Records a security event: the D1 row (with a null election when the request named none) and,
 * for an election, the monitor's signal. Never throws for either part (file header).
 */
export async function recordSecurityEvent(
  env: Env,
  electionId: string | null,
  kind: SecurityEventName,
  facts: SecurityEventFacts = {},
): Promise<void> {
  const at = Date.now();
  const network = facts.address !== undefined ? networkOf(facts.address) : undefined;
  const row = defined({
    ...facts.detail,
    stationId: facts.stationId,
    districtId: facts.districtId,
    country: facts.country,
    network,
    reason: facts.reason,
    figures: facts.figures,
  });
  const stored = recordSecurityEventRow(env.DB, electionId, kind, row).catch((error: unknown) => {
    emitEvent("security_event_not_stored", { electionId, kind, error: String(error) });
  });
  await Promise.all([stored, electionId !== null ? signal(env, electionId, kind, facts, network, at) : undefined]);
}

async function signal(
  env: Env,
  electionId: string,
  kind: SecurityEventName,
  facts: SecurityEventFacts,
  network: string | undefined,
  at: number,
): Promise<void> {
  let signal: MonitorSignalInput;
  try {
    signal = securitySignalOf(kind, facts, network, at);
  } catch (error) {
    emitEvent("monitor_signal_failed", { electionId, signals: 1, error: String(error) });
    return;
  }
  await signalMonitor(env, electionId, [signal]);
}
