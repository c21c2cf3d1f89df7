/**
 * An alert as officials see it (API, CLI, console, live channel), and the live channel's messages.
 * The security monitor (durable-objects/security-monitor.ts) is the one writer of an election's
 * alerts: it raises them, deduplicates a rule's firings while its alert is open or acknowledged
 * (one alert per rule and scope, its count and last-seen growing), and records acknowledgements and
 * closures. D1 (`alerts`) holds them for reading.
 */
import * as z from "zod";
import { AlertSeverity, AlertState } from "../vocabulary.ts";
import { RuleId } from "./rules.ts";

/**
 * An alert's evidence: figures, names and small tallies, flat enough to cross RPC with its type
 * (a recursive JSON type does not) and to land in D1 as JSON.
 */
export const Evidence = z.record(
  z.string(),
  z.union([z.string(), z.number(), z.boolean(), z.null(), z.array(z.string()), z.record(z.string(), z.number())]),
);
export type Evidence = z.infer<typeof Evidence>;

export const AlertId = z.string().regex(/^al_[0-9a-z]{20,40}$/, "an alert id");

/** An official's word on an alert. */
const Handling = z.object({ officialId: z.string(), at: z.iso.datetime(), note: z.string() }).strict();

export const Alert = z
  .object({
    id: AlertId,
    electionId: z.string(),
    rule: RuleId,
    severity: AlertSeverity,
    /**
     * What the alert is about, and its dedup key with the rule: `election`, `station:<id>`,
     * `district:<id>`, `country:<CC>`, `network:<cidr>`, `address:<ip>`, or `voter` (one voter,
     * never named: each voter's firing is its own alert under a scope `voter:<n>` numbered by the
     * monitor, never the tag).
     */
    scope: z.string().min(1).max(128),
    /** The rule's sentence, filled with this firing's figures: what an official reads first. */
    summary: z.string(),
    /** The figures behind it: counts, thresholds, windows, stations, districts, networks, times. */
    evidence: Evidence,
    firstSeen: z.iso.datetime(),
    lastSeen: z.iso.datetime(),
    /** How many times the rule fired for this scope while the alert was open. */
    count: z.number().int().min(1),
    state: AlertState,
    acknowledged: Handling.nullable(),
    closed: Handling.nullable(),
  })
  .strict();
export type Alert = z.infer<typeof Alert>;

/** The monitor's view of the machinery it watches (the console's "audit-log health" and more). */
export const MonitorStatus = z
  .object({
    electionId: z.string(),
    /** When the rules last ran on the timer. */
    evaluatedAt: z.iso.datetime().nullable(),
    log: z
      .object({
        size: z.number().int(),
        publishedSize: z.number().int(),
        /** Entries accepted but not yet in a published checkpoint. */
        backlog: z.number().int(),
        /** Seconds since the published size last grew (null before the first checkpoint). */
        checkpointAgeSeconds: z.number().nullable(),
        halted: z.string().nullable(),
      })
      .strict()
      .nullable(),
    deadLetters: z.number().int().nullable(),
    aggregator: z
      .object({
        /** Ballots the monitor heard of (net of retractions) that the aggregator's exact totals do not show yet. */
        behind: z.number().int(),
        /** Seconds it has been behind (0 when level). */
        laggingSeconds: z.number(),
      })
      .strict()
      .nullable(),
    openAlerts: z.number().int(),
  })
  .strict();
export type MonitorStatus = z.infer<typeof MonitorStatus>;

/**
 * The officials' live alert channel (WebSocket, subprotocol `alerts.v1`): first a snapshot of the
 * alerts not closed and the status, then each alert as it is raised or changes, and the status
 * when it changes. The client sends `ping` (answered `pong`) every 20 s.
 */
export const ALERTS_PROTOCOL = "alerts.v1";
export const AlertsLiveMessage = z.discriminatedUnion("type", [
  z.object({ type: z.literal("snapshot"), alerts: z.array(Alert), status: MonitorStatus }).strict(),
  z.object({ type: z.literal("alert"), alert: Alert }).strict(),
  z.object({ type: z.literal("status"), status: MonitorStatus }).strict(),
]);
export type AlertsLiveMessage = z.infer<typeof AlertsLiveMessage>;
