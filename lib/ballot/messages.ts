/**
 * What the voter ledgers send to the tally over the ballot queues (and, later, to the audit log).
 * One schema, parsed at the consumer: a queue message is a boundary like any request.
 *
 * Delivery is at least once and in no particular order, so consumers are idempotent by
 * `ballotId` and a retraction may arrive before the ballot it retracts.
 */
import { z } from "zod";
import { Channel, RetractionReason } from "../vocabulary.ts";

export const BallotId = z.uuid();

/** The marks of one contest on one ballot; an empty list is a blank (undervoted) contest. */
export const ContestMarks = z.object({
  contestId: z.string().min(1).max(128),
  /** Option (NIST ContestSelection) ids, each at most once. */
  optionIds: z.array(z.string().min(1).max(128)).max(64),
  /** Write-in texts, by write-in option id. */
  writeIns: z.record(z.string(), z.string().min(1).max(80)).optional(),
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
