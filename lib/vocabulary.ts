/**
 * The domain's closed vocabularies, each defined once and imported everywhere: request and RPC
 * schemas, the audit log's entries, drizzle's column enums, the CLIs' choices. Adding a value here
 * is a decision with consequences (a new policy, a new role): the audit log's wire tables
 * (lib/audit/entries.ts) must then give it a byte, and a test fails until they do.
 */
import * as z from "zod";

/** How the online and paper channels settle a voter who uses both (DESIGN 3.4). */
export const CrossChannelPolicy = z.enum(["first-wins", "paper-supersedes"]);
export type CrossChannelPolicy = z.infer<typeof CrossChannelPolicy>;

/** When the public sees results: as they come in, or only after the polls close. */
export const ResultsVisibility = z.enum(["live", "after-close"]);
export type ResultsVisibility = z.infer<typeof ResultsVisibility>;

/** The channel a ballot was cast through. */
export const Channel = z.enum(["online", "paper"]);
export type Channel = z.infer<typeof Channel>;

/** Why a counted ballot was taken back out of the count. */
export const RetractionReason = z.enum(["superseded-by-online", "cancelled-by-paper"]);
export type RetractionReason = z.infer<typeof RetractionReason>;

/** What an official may do: every admin route names the roles it admits. */
export const OfficialRole = z.enum(["administrator", "station-official", "auditor", "security-officer"]);
export type OfficialRole = z.infer<typeof OfficialRole>;

/** How a station official identified the voter at check-in. */
export const CheckInIdentity = z.enum(["id-card", "id-card+biometric"]);
export type CheckInIdentity = z.infer<typeof CheckInIdentity>;

/** Where a scanned paper ballot's QR payload came from (docs/QR-PAYLOADS.md). */
export const PaperBallotSource = z.enum(["ballot-sheet", "marked-ballot"]);
export type PaperBallotSource = z.infer<typeof PaperBallotSource>;

/**
 * What a station device key may sign (security review H3): a station client signs requests only,
 * a ballot-marking device signs marked-ballot QR payloads only, so one stolen key is not both.
 */
export const StationKeyRole = z.enum(["client", "marking-device"]);
export type StationKeyRole = z.infer<typeof StationKeyRole>;

/**
 * How cast vote records are published after the close (security review M5): one record per
 * contest, each contest shuffled on its own (against pattern voting), or whole ballots.
 */
export const CastVoteRecordsMode = z.enum(["whole-ballot", "per-contest"]);
export type CastVoteRecordsMode = z.infer<typeof CastVoteRecordsMode>;

/** An ISO 3166-1 alpha-2 country code, as `request.cf.country` gives it. */
export const CountryCode = z.string().regex(/^[A-Z]{2}$/, "an ISO 3166-1 alpha-2 code in capitals");

/** How urgent a security monitor's alert is (lib/monitor/rules.ts); high ones are also public log entries. */
export const AlertSeverity = z.enum(["low", "medium", "high"]);
export type AlertSeverity = z.infer<typeof AlertSeverity>;

/** Where an alert is in an official's hands: raised, seen (acknowledged), or closed with a note. */
export const AlertState = z.enum(["open", "acknowledged", "closed"]);
export type AlertState = z.infer<typeof AlertState>;

/** What the geofence does with a login or cast from outside the election's countries. */
export const GeofenceAction = z.enum(["refuse", "flag"]);
export type GeofenceAction = z.infer<typeof GeofenceAction>;

/** What the public receipt check says of a ballot (the status a receipt row holds). */
export const ReceiptStatus = z.enum(["recorded", "superseded", "cancelled"]);
export type ReceiptStatus = z.infer<typeof ReceiptStatus>;

/** A way a station's result sheet and the system's own counts can disagree (lib/station/reconcile.ts). */
export const DifferenceKind = z.enum([
  "check-ins-vs-ballots",
  "ballots-cast",
  "voters-checked-in",
  "option-votes",
  "write-ins",
  "blanks",
  "result-sheet-missing",
]);
export type DifferenceKind = z.infer<typeof DifferenceKind>;

/** An administrator's decision on an offline check-in's conflict: count its held ballot, or not. */
export const ConflictDecision = z.enum(["count", "do-not-count"]);
export type ConflictDecision = z.infer<typeof ConflictDecision>;
