/**
 * The one registry of operational and security events: what the system tells its operators, apart
 * from the public audit log (whose entries have their own registry, ENTRY_TYPES in
 * lib/audit/entries.ts). Each event has a name, a level, whether it is operational or a security
 * matter, and a sentence for the operator who reads it. Nothing writes an event that is not here,
 * so the security monitor's rules (DESIGN 3.7) range over a closed set, and an operator can read
 * the whole list of what may appear.
 *
 * Operational events go to the Worker's log as one JSON line each (`emitEvent`):
 *   {"level": "...", "event": "<name>", ...fields}
 * Security events are also stored as `security_events` rows (db/stores/security-events.ts), with
 * the name as their kind. Names are written as they have always appeared in logs and rows:
 * renaming one breaks the operators' searches and the monitor's rules, so names are frozen.
 */

type Level = "info" | "warn" | "error";

interface EventSpec {
  readonly level: Level;
  readonly kind: "operational" | "security";
  /** For the operator: what happened, and what follows from it. */
  readonly sentence: string;
}

export const EVENTS = {
  unhandled_error: {
    level: "error",
    kind: "operational",
    sentence:
      "A request failed on an error no code path expects (a bug or a broken dependency); the client got a 500 internal_error and nothing it sent was acknowledged.",
  },
  transient_error: {
    level: "warn",
    kind: "operational",
    sentence:
      "A request met an error the runtime marks as worth retrying (a Durable Object overloaded, reset or unreachable); the client got a 503 service_overloaded with Retry-After and retries with the same idempotency key.",
  },
  requests_shed: {
    level: "warn",
    kind: "operational",
    sentence:
      "The gateway refused requests on its peak write paths (casts, check-ins, scans, voter logins) because as many as it admits at once were already in flight; each got a 503 service_overloaded with Retry-After before anything was read or stored. The event counts them (at most one line a second) and names no voter.",
  },
  outbox_flush_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "A voter ledger or paper ballot box could not hand its queued messages to a ballot queue; the messages stay in its outbox and are retried with backoff.",
  },
  ballot_message_unparseable: {
    level: "error",
    kind: "operational",
    sentence:
      "A ballot queue carried a message that does not parse; it goes to the dead-letter queue for an operator, never counted and never dropped.",
  },
  ballot_records_failed: {
    level: "error",
    kind: "operational",
    sentence:
      "Writing a batch's cast vote records and receipt statuses to D1 failed; the batch is retried (the writes are idempotent by ballot id).",
  },
  tally_shard_failed: {
    level: "error",
    kind: "operational",
    sentence: "A tally shard refused or failed a batch; its messages are retried, and each ballot counts once.",
  },
  tally_report_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "A tally shard could not report its totals to the election's results aggregator; it retries, and live results lag until it succeeds.",
  },
  // Live results fan-out (durable-objects/results-aggregator.ts, results-relay.ts)
  results_publish_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "An election's results aggregator could not store a new snapshot in R2 or hand it to its first results relay; it retries with a growing pause, and displays lag until it succeeds.",
  },
  results_relay_forward_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "A results relay could not forward a snapshot to one of its child relays; it retries shortly, and the displays on that branch lag until it succeeds.",
  },
  results_relay_register_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "A results relay could not register with its parent relay, so it refused a display; the gateway placed the display on the next relay.",
  },
  dead_letter_failed: {
    level: "error",
    kind: "operational",
    sentence:
      "A message in the dead-letter queue could not be recorded or sent back; the dead-letter queue retries it.",
  },
  log_refused_batch: {
    level: "warn",
    kind: "operational",
    sentence:
      "An election's audit log refused a batch (its pool is full, or the entries are invalid); the messages are not acknowledged and come back.",
  },
  log_append_failed: {
    level: "error",
    kind: "operational",
    sentence: "Handing entries to an election's audit log failed; the messages are not acknowledged and come back.",
  },
  log_late_retraction: {
    level: "error",
    kind: "operational",
    sentence:
      "A retraction reached the audit log after its ballot's cast vote record was published; the published record stands, and the recount must take the retraction into account.",
  },
  log_cvr_publication: {
    level: "info",
    kind: "operational",
    sentence: "The cast vote records of an election were published to its audit log, shuffled, after the close.",
  },
  // Results exports (durable-objects/log-exports.ts).
  log_exports_waiting: {
    level: "warn",
    kind: "operational",
    sentence:
      "The results exports of an election could not be made yet (records held back, the tally and the log's records disagree, or a read or write failed); the reason is in the event and the log's status, and the sequencer retries.",
  },
  log_results_published: {
    level: "info",
    kind: "operational",
    sentence:
      "The signed NIST results report and cast vote record export of an election were put beside its audit log, and results-published was pooled.",
  },
  log_cvr_publication_refused: {
    level: "warn",
    kind: "operational",
    sentence:
      "An administrator asked to publish cast vote records before every accepted ballot and retraction had reached the audit log; refused.",
  },
  log_step_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "A publication step of an audit log failed (R2 or D1 refused); the sequencer finishes it from its staging bundle on the next attempt.",
  },
  log_halted: {
    level: "error",
    kind: "operational",
    sentence:
      "An audit log stopped publishing because its stored state contradicts what it published; nothing is lost, and an operator must look before it resumes.",
  },
  log_staging_delete_failed: {
    level: "warn",
    kind: "operational",
    sentence: "A published staging bundle could not be deleted from R2; it is garbage only, and is deleted later.",
  },
  log_publication_resumed: {
    level: "info",
    kind: "operational",
    sentence: "An audit log resumed an interrupted publication from its staging bundle after a restart.",
  },
  // The security monitor (durable-objects/security-monitor.ts).
  monitor_signal_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "Counts or a security event could not be handed to an election's security monitor; its windows miss them (the tally, the log and the security_events rows do not), so a rule may fire late or not at all.",
  },
  security_event_not_stored: {
    level: "error",
    kind: "operational",
    sentence:
      "A security event's security_events row could not be written to D1; the refusal that raised it answered as usual and the monitor still heard it, but the row is missing from the security events an official reads.",
  },
  monitor_step_failed: {
    level: "warn",
    kind: "operational",
    sentence:
      "The security monitor of an election could not finish a step (reading the log's, the aggregator's or the dead letters' state, or writing an alert to D1 or the log); it retries on its next tick.",
  },
  "voter-login-failed": {
    level: "info",
    kind: "security",
    sentence:
      "A voter login was refused (an invalid, replayed or under-assured ID token, or a person not on the roll). One is a mistake; many from one address or network is for the monitor.",
  },
  "cast-refused": {
    level: "info",
    kind: "security",
    sentence:
      "A voter's cast was refused by the ledger (already voted, checked in at a station, or a reused request). Many from one voter, address or network is for the monitor.",
  },
  "rate-limited": {
    level: "info",
    kind: "security",
    sentence:
      "A client went over a rate limit (the limiter is named); logged at most once a minute per limiter and address by each isolate.",
  },
  "station-signature-invalid": {
    level: "warn",
    kind: "security",
    sentence:
      "A request claiming to come from a station carried no valid signature by a registered, active key of that station (or a replayed one); refused.",
  },
  "geofence-refused": {
    level: "info",
    kind: "security",
    sentence: "A voter's login or cast came from a country outside the election's geofence, which refuses them.",
  },
  "flagged-country-ballot": {
    level: "warn",
    kind: "security",
    sentence:
      "A ballot was accepted from a country the election flags (outside a flagging geofence, or in its monitoring's flagged countries).",
  },
  "result-sheet-mismatch": {
    level: "warn",
    kind: "security",
    sentence:
      "A station's result sheet differs from the system's own counts of its check-ins and scans (docs/PAPER.md, reconciliation); the differences are in the reconciliation report.",
  },
  "geofence-flagged-login": {
    level: "warn",
    kind: "security",
    sentence:
      "A voter logged in from a country outside the election's geofence, which is set to flag rather than refuse.",
  },
  "paper-serial-reused": {
    level: "warn",
    kind: "security",
    sentence:
      "A station scanned a paper ballot whose serial was already accepted; the scan was refused. A copied ballot or a scanner fault.",
  },
  "bootstrap-admin-used": {
    level: "warn",
    kind: "security",
    sentence:
      "The first administrator's configured key (BOOTSTRAP_ADMIN_JWK) was used to get an access token; once other administrators exist it should be revoked.",
  },
  "check-in-conflict": {
    level: "warn",
    kind: "security",
    sentence:
      "A station tried to check in a voter who had already checked in (there or elsewhere) or, under first-wins, already voted online; no ballot was issued. A double check-in needs looking at.",
  },
  "check-in-cancelled-online-ballot": {
    level: "warn",
    kind: "security",
    sentence:
      "Under paper-supersedes, a station's check-in cancelled a voter's online ballot. Normal for a voter who changes their mind; many at one station are for the monitor to question.",
  },
  "offline-check-in-conflict": {
    level: "warn",
    kind: "security",
    sentence:
      "A station's offline check-in, synced later, conflicts with the voter's other channel (voted online under first-wins, checked in elsewhere, or no longer in the station's districts); the ballot it issued is held for an administrator's decision.",
  },
  "scans-exceed-check-ins": {
    level: "warn",
    kind: "security",
    sentence:
      "A station scanned more paper ballots than it has accepted check-ins; the ballot was refused. A station ballot-stuffing, or a check-in lost before it was recorded.",
  },
  "paper-foreign-serial": {
    level: "warn",
    kind: "security",
    sentence:
      "A station scanned a ballot whose serial lies outside every range issued to it; the ballot was refused. Sheets from another station, or photographed ones.",
  },
  "result-sheet-conflict": {
    level: "warn",
    kind: "security",
    sentence:
      "A station submitted a result sheet that differs from the one it submitted before for the same sequence; the new one was refused.",
  },
} as const satisfies Record<string, EventSpec>;

export type EventName = keyof typeof EVENTS;
type KindOf<N extends EventName> = (typeof EVENTS)[N]["kind"];
export type OperationalEventName = { [N in EventName]: KindOf<N> extends "operational" ? N : never }[EventName];
export type SecurityEventName = { [N in EventName]: KindOf<N> extends "security" ? N : never }[EventName];

/** Writes an operational event to the Worker's log as one JSON line, at its registered level. */
export function emitEvent(name: OperationalEventName, fields: Readonly<Record<string, unknown>>): void {
  const { level } = EVENTS[name];
  const line = JSON.stringify({ level, event: name, ...fields });
  switch (level) {
    case "info":
      console.log(line);
      break;
    case "warn":
      console.warn(line);
      break;
    case "error":
      console.error(line);
      break;
  }
}
