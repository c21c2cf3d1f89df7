/**
 * How the rest of the Worker writes to an election's audit log (durable-objects/log-sequencer.ts).
 *
 * - The ballot-queue consumer calls logBallotMessages after a batch's tally and D1 writes
 *   succeeded, and acknowledges a message only when its election's log accepted it.
 * - Admin routes call logEvent / logEventEverywhere right after the change they record (a
 *   definition load, a roll chunk, an official's key). The change is already saved then: should
 *   the log refuse (log_pool_full) or fail, the route answers with that error and the
 *   administrator repeats the call; events are keyed, so a repeat that changes nothing logs
 *   nothing twice where the key allows it (see each caller).
 * - The paper channel calls logStationResults / logPaperCancellation (or appendToLog with any
 *   entry) from its own routes or objects.
 */
import { calculateJwkThumbprint, type JWK } from "jose";
import { electionIds } from "../../db/stores/elections.ts";
import { loggableEntry, type LogEntry, type LogEntryOf } from "../../lib/audit/entries.ts";
import { base64urlDecode, hexEncode } from "../../lib/bytes.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import { logSequencerFor, PAPER_BOX_BUCKETS } from "../../durable-objects/addresses.ts";
import { configOf } from "../../durable-objects/config.ts";
import type { AppendOutcome, DrainEvidence, LogRefusal } from "../../durable-objects/log-sequencer.ts";
import { countDeadLetters } from "../../db/stores/dead-letters.ts";
import type { BallotMessage } from "../../lib/ballot/messages.ts";
import { emitEvent } from "../../lib/events.ts";

/** Appends keyed entries to an election's log; log_pool_full means "retry shortly". */
export async function appendToLog(
  env: Env,
  electionId: string,
  items: readonly { key: string; entry: LogEntry }[],
): Promise<Result<AppendOutcome, LogRefusal>> {
  return logSequencerFor(env, electionId).append(electionId, [...items]);
}

/**
 * Logs a queue batch's messages, one call per election. Returns the elections whose log took
 * their messages; the consumer retries the messages of the others (refused or failed).
 */
export async function logBallotMessages(env: Env, messages: readonly BallotMessage[]): Promise<Set<string>> {
  const byElection = new Map<string, BallotMessage[]>();
  for (const m of messages) {
    const group = byElection.get(m.electionId);
    if (group) group.push(m);
    else byElection.set(m.electionId, [m]);
  }
  const accepted = new Set<string>();
  await Promise.all(
    [...byElection].map(async ([electionId, group]) => {
      try {
        const result = await logSequencerFor(env, electionId).recordBallots(electionId, group);
        if (result.ok) accepted.add(electionId);
        else emitEvent("log_refused_batch", { electionId, messages: group.length, reason: result.error });
      } catch (error) {
        emitEvent("log_append_failed", { electionId, messages: group.length, error: String(error) });
      }
    }),
  );
  return accepted;
}

/** For admin routes: logs one event; a refusal (log_pool_full: retry shortly) is the route's to answer. */
export async function logEvent(
  env: Env,
  electionId: string,
  key: string,
  entry: LogEntry,
): Promise<Result<AppendOutcome, LogRefusal>> {
  return appendToLog(env, electionId, [{ key, entry }]);
}

/**
 * Officials and their keys serve every election, so their changes go to every election's log
 * (one key, so a repeat of the same change is logged once per log).
 */
export async function logEventEverywhere(
  env: Env,
  key: string,
  entry: LogEntry,
): Promise<Result<undefined, LogRefusal>> {
  for (const id of await electionIds(env.DB)) {
    const result = await logEvent(env, id, key, entry);
    if (!result.ok) return result;
  }
  return ok(undefined);
}

/**
 * Whether everything the channels accepted for an election has reached its log, as evidence for
 * the sequencer's publication check (M4). Paper boxes are PAPER_BOX_BUCKETS objects per election;
 * ledgers are LEDGER_BUCKETS objects when that is set, and then every outbox is asked what it ever
 * enqueued and what is unsent. With one ledger per voter the ledgers cannot be enumerated: the
 * evidence is then only the election's dead letters, and the sequencer adds time (the grace after
 * the close, and a grace with no new ballot).
 */
export async function drainEvidence(env: Env, electionId: string): Promise<DrainEvidence> {
  const buckets = configOf(env).LEDGER_BUCKETS;
  if (buckets === 0) return { kind: "unenumerable", deadLetters: await countDeadLetters(env.DB, electionId) };
  const objects = [
    ...Array.from({ length: buckets }, (_, i) =>
      env.VOTER_LEDGER.get(env.VOTER_LEDGER.idFromName(`${electionId}/bucket/${i}`)).outboxCounts(electionId),
    ),
    ...Array.from({ length: PAPER_BOX_BUCKETS }, (_, i) =>
      env.PAPER_BALLOT_BOX.get(env.PAPER_BALLOT_BOX.idFromName(`${electionId}/box/${i}`)).outboxCounts(electionId),
    ),
  ];
  const counts = await Promise.all(objects);
  return {
    kind: "counted",
    ballots: counts.reduce((n, c) => n + c.enqueued.ballot, 0),
    retractions: counts.reduce((n, c) => n + c.enqueued.retraction, 0),
    pending: counts.reduce((n, c) => n + c.pending, 0),
  };
}

/** RFC 7638 SHA-256 thumbprint of a public JWK, in hex (the entry's digest form). */
export async function jwkThumbprintHex(jwk: JWK): Promise<string> {
  const thumbprint = base64urlDecode(await calculateJwkThumbprint(jwk, "sha256"));
  if (!thumbprint) throw new Error("jose returned a thumbprint that is not base64url");
  return hexEncode(thumbprint);
}

/** Seconds precision, UTC, as entries carry it. */
export function logTime(date: Date = new Date()): string {
  return new Date(Math.floor(date.getTime() / 1000) * 1000).toISOString();
}

// ---------------------------------------------------------------------------------------------
// The paper channel's entries (keys make every call idempotent). Check-ins are logged by the
// queue consumer, as they reach it through the ballot queues.

/** What a station's result sheet fields are (lib/qr ResultSheetFields and the QR text as submitted). */
interface StationSheet {
  readonly stationId: string;
  readonly sequence: number;
  readonly closedAt: string;
  readonly votersCheckedIn: number;
  readonly ballotsCast: number;
  readonly contests: LogEntryOf<"station-results">["contests"];
  readonly payloadText: string;
}

/**
 * The log entry of a station's result sheet, if the log can hold it (its ranges are narrower than
 * the QR format's: a sequence of 1 to 65,535, counts below 2^32, a time before 2106).
 */
export function stationResultsEntry(sheet: StationSheet): Result<LogEntryOf<"station-results">, string> {
  const { payloadText, ...fields } = sheet;
  const closedAt = new Date(sheet.closedAt);
  if (Number.isNaN(closedAt.getTime())) return err(`closedAt ${sheet.closedAt} is not a time`);
  const entry = loggableEntry({ type: "station-results", ...fields, closedAt: logTime(closedAt), sheet: payloadText });
  if (!entry.ok) return entry;
  if (entry.value.type !== "station-results") throw new Error("a station-results entry changed type");
  return ok(entry.value);
}

/**
 * A station's result sheet, once per station and sequence: a correction (a higher sequence) is a
 * new entry. Callers check stationResultsEntry first; a sheet the log cannot hold is a bug here.
 */
export async function logStationResults(
  env: Env,
  electionId: string,
  sheet: StationSheet,
): Promise<Result<AppendOutcome, LogRefusal>> {
  const entry = stationResultsEntry(sheet);
  if (!entry.ok) throw new Error(`a result sheet the log cannot hold reached the log: ${entry.error}`);
  const key = `station-results/${sheet.stationId}/${sheet.sequence}`;
  return appendToLog(env, electionId, [{ key, entry: entry.value }]);
}

/**
 * A cancelled paper ballot, once per serial: POST /v1/stations/{id}/cancellations
 * (routes/cancellations.ts) calls it after the serial's PaperBallotBox cancelled it, and again on
 * each repeat, which the key makes a no-op once the entry is in.
 */
export async function logPaperCancellation(
  env: Env,
  electionId: string,
  cancellation: Omit<LogEntryOf<"paper-cancellation">, "type">,
): Promise<Result<AppendOutcome, LogRefusal>> {
  return appendToLog(env, electionId, [
    { key: `paper-cancellation/${cancellation.serial}`, entry: { type: "paper-cancellation", ...cancellation } },
  ]);
}
