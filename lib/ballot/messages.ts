/**
 * What the voter ledgers and paper boxes send over the ballot queues (`QueuedMessage`), and what
 * the consumer hands on to the tally shards, D1 and the audit log (`BallotMessage`).
 *
 * The producers' messages carry a ballot's tracking code but no ballot id: the ledger, which knows
 * the voter, must never hold an id that the marks are stored under. The consumer, right after
 * parsing, derives the record id (`recordIdOf`: HMAC under a per-election key derived from
 * BALLOT_LINK_KEY, lib/keys.ts) from the tracking code, and a retraction derives the same id from
 * the retracted ballot's tracking code; everything downstream keys the marks by that id, which the
 * ledger never sees and which cannot be computed from a tracking code without the secret.
 *
 * Delivery is at least once and in no particular order, so consumers are idempotent by
 * `ballotId` and a retraction may arrive before the ballot it retracts.
 */
import * as z from "zod";
import { keyedDigestHex, purposeKey } from "../keys.ts";
import { Channel, RetractionReason } from "../vocabulary.ts";

/** The record id: lowercase hex of an HMAC-SHA-256 (older ids were UUIDs; both parse). */
export const BallotId = z.string().regex(/^[0-9a-f-]{32,64}$/, "a record id");

/** The longest write-in name a ballot carries (the portal's field says so to the voter). */
export const WRITE_IN_MAX_LENGTH = 80;

/** The marks of one contest on one ballot; an empty list is a blank (undervoted) contest. */
export const ContestMarks = z.object({
  contestId: z.string().min(1).max(128),
  /** Option (NIST ContestSelection) ids, each at most once. */
  optionIds: z.array(z.string().min(1).max(128)).max(64),
  /** Write-in texts, by write-in option id. */
  writeIns: z.record(z.string(), z.string().min(1).max(WRITE_IN_MAX_LENGTH)).optional(),
});
export type ContestMarks = z.infer<typeof ContestMarks>;

export const BallotAccepted = z.object({
  kind: z.literal("ballot"),
  ballotId: BallotId,
  electionId: z.string().min(1),
  ballotStyleId: z.string().min(1),
  districtId: z.string().min(1),
  channel: Channel,
  /** The station, for paper ballots. */
  stationId: z.string().min(1).optional(),
  /** Every contest of the ballot style, in ballot order; blank contests have no option ids. */
  contests: z.array(ContestMarks).min(1).max(256),
  /** Receipt linkage, kept out of the cast vote records. */
  trackingCode: z.string().min(1),
  commitment: z.string().min(1),
  /** Coarse time of acceptance (minute precision), ISO 8601. */
  acceptedAt: z.iso.datetime(),
});
export type BallotAccepted = z.infer<typeof BallotAccepted>;

/** A ballot that no longer counts: superseded by an online re-vote, or cancelled by paper. */
export const BallotRetracted = z.object({
  kind: z.literal("retraction"),
  ballotId: BallotId,
  electionId: z.string().min(1),
  districtId: z.string().min(1),
  trackingCode: z.string().min(1),
  reason: RetractionReason,
  retractedAt: z.iso.datetime(),
});
export type BallotRetracted = z.infer<typeof BallotRetracted>;

/**
 * An accepted station check-in, so check-ins can be counted per station (reconciliation) without
 * the voter: no voter key, the ledger's check-in id (station-scoped) and the coarse minute only.
 */
export const CheckInRecorded = z.object({
  kind: z.literal("check-in"),
  checkInId: z.string().min(8).max(128),
  electionId: z.string().min(1),
  stationId: z.string().min(1),
  districtId: z.string().min(1),
  /** Coarse time of the check-in (minute precision), ISO 8601. */
  checkedInAt: z.iso.datetime(),
});
export type CheckInRecorded = z.infer<typeof CheckInRecorded>;

/** A ballot as a producer queues it: no record id (the consumer derives it, see the header). */
export const QueuedBallot = BallotAccepted.omit({ ballotId: true });
export type QueuedBallot = z.infer<typeof QueuedBallot>;

/** A retraction as a producer queues it: it names the retracted ballot by its tracking code only. */
export const QueuedRetraction = BallotRetracted.omit({ ballotId: true });
export type QueuedRetraction = z.infer<typeof QueuedRetraction>;

/** What travels on the ballot queues (and so what the dead-letter queue receives). */
export const QueuedMessage = z.discriminatedUnion("kind", [QueuedBallot, QueuedRetraction, CheckInRecorded]);
export type QueuedMessage = z.infer<typeof QueuedMessage>;

/**
 * The id the cast vote record, the tally shard and the log pool keep a ballot under: HMAC-SHA-256
 * of its tracking code under the election's "record-id" key (lib/keys.ts), as hex. Without
 * BALLOT_LINK_KEY nobody, the ledger's reader included, can go from a tracking code to it.
 */
export async function recordIdOf(linkKey: string, electionId: string, trackingCode: string): Promise<string> {
  return keyedDigestHex(await purposeKey(linkKey, "record-id", electionId), trackingCode);
}

/** A queued message with its record id, as the consumer hands it on (check-ins have none). */
export async function withRecordId(linkKey: string, message: QueuedMessage): Promise<BallotMessage> {
  if (message.kind === "check-in") return message;
  const ballotId = await recordIdOf(linkKey, message.electionId, message.trackingCode);
  return { ...message, ballotId };
}

/** The key a producer's outbox picks the ballot queue by: names the ballot (or check-in), never a voter. */
export function queueKeyOf(message: QueuedMessage): string {
  return message.kind === "check-in" ? message.checkInId : message.trackingCode;
}

/** What the tally shards count: ballots and retractions (check-ins never reach a shard). */
export const TallyMessage = z.discriminatedUnion("kind", [BallotAccepted, BallotRetracted]);
export type TallyMessage = z.infer<typeof TallyMessage>;

export const BallotMessage = z.discriminatedUnion("kind", [BallotAccepted, BallotRetracted, CheckInRecorded]);
export type BallotMessage = z.infer<typeof BallotMessage>;

/** Minute precision: enough for turnout curves, too coarse to match a ballot to a login. */
export function coarseTime(date: Date): string {
  const d = new Date(date.getTime());
  d.setUTCSeconds(0, 0);
  return d.toISOString();
}
