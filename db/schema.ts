/**
 * D1 tables (drizzle-orm). `migrations/` is generated from this file by `npm run db:generate`
 * (drizzle-kit); the migrations are what wrangler and the tests apply. Every statement on them
 * lives in a store, one per thing, in db/stores/ (the log sequencer's log_receipts writer aside).
 *
 * National ids never appear here: voters are keyed by `voter_key`, the HMAC of the normalised
 * national id under the ROLL_HASH_KEY secret.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import type { SecurityEventName } from "../lib/events.ts";
import type { RuleId } from "../lib/monitor/rules.ts";
import type {
  AlertSeverity,
  AlertState,
  Channel,
  DifferenceKind,
  OfficialRole,
  ReceiptStatus,
  StationKeyRole,
} from "../lib/vocabulary.ts";

/** One row per election: its NIST definition and our settings, as loaded by an administrator. */
export const elections = sqliteTable("elections", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** The whole definition document as loaded (NIST ElectionReport plus settings), JSON. */
  definitionJson: text("definition_json").notNull(),
  /** Increases by one on every accepted reload; caches compare it. */
  version: integer("version").notNull().default(1),
  opensAt: text("opens_at").notNull(),
  closesAt: text("closes_at").notNull(),
  createdAt: text("created_at")
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  updatedAt: text("updated_at")
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
});

/**
 * An administrator's early close of an election's polls (an emergency, with a reason), beside the
 * schedule its definition keeps. `generation` counts the closes and reopens that took effect;
 * the close or reopen in flight is `pending` (its log entry and key, JSON) until the log accepted
 * its entry, and only then moves into `closed_early_*`: no close is in force that the log does
 * not show (db/stores/elections.ts, workers/gateway/routes/polls.ts).
 */
export const electionPolls = sqliteTable("election_polls", {
  electionId: text("election_id").primaryKey(),
  generation: integer("generation").notNull().default(0),
  /** The instant (epoch ms) from which voting is closed; null while none is in force. */
  closedEarlyAtMs: integer("closed_early_at_ms"),
  closedEarlyReason: text("closed_early_reason"),
  /** The change awaiting its log entry: { key, entry } as the sequencer's append takes it. */
  pending: text("pending"),
});

/** The voter roll: who may vote in which election, and in which district. */
export const voters = sqliteTable(
  "voters",
  {
    electionId: text("election_id").notNull(),
    voterKey: text("voter_key").notNull(),
    districtId: text("district_id").notNull(),
    /**
     * The voter's offline pollbook id (lib/station/pollbook.ts): the HMAC of the normalised
     * national id under the district's pollbook key, computed by the roll import. Null for a row
     * imported before pollbook ids existed; importing the roll again fills it.
     */
    pollbookId: text("pollbook_id"),
  },
  (t) => [
    primaryKey({ columns: [t.electionId, t.voterKey] }),
    // Also the pollbook route's keyset: one district's voters in pollbook-id order.
    index("voters_by_district").on(t.electionId, t.districtId, t.pollbookId),
  ],
);

/** Officials: administrators, station officials and auditors. */
export const officials = sqliteTable("officials", {
  id: text("id").primaryKey(),
  role: text("role").$type<OfficialRole>().notNull(),
  displayName: text("display_name").notNull(),
  createdAt: text("created_at")
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  revokedAt: text("revoked_at"),
});

/**
 * An administrator proposed by one administrator and not yet approved by a second: creating an
 * administrator takes two (DESIGN: no single insider holds the keys). Approval registers the
 * official and deletes the proposal.
 */
export const officialProposals = sqliteTable("official_proposals", {
  id: text("id").primaryKey(),
  role: text("role").$type<OfficialRole>().notNull(),
  displayName: text("display_name").notNull(),
  publicJwk: text("public_jwk").notNull(),
  proposedBy: text("proposed_by").notNull(),
  proposedAt: text("proposed_at").notNull(),
});

/**
 * One administrator's request to revoke another administrator (`kid` empty) or one of another
 * administrator's keys, awaiting a second administrator: revoking an administrator takes two, as
 * creating one does, so one administrator cannot remove the others. The second administrator's
 * same request completes the revocation and deletes the row.
 */
export const officialRevocationRequests = sqliteTable(
  "official_revocation_requests",
  {
    officialId: text("official_id").notNull(),
    kid: text("kid").notNull().default(""),
    requestedBy: text("requested_by").notNull(),
    requestedAt: text("requested_at").notNull(),
  },
  (t) => [primaryKey({ columns: [t.officialId, t.kid] })],
);

/** Each official's public keys; a key is rotated by adding a new one and revoking the old. */
export const officialKeys = sqliteTable(
  "official_keys",
  {
    kid: text("kid").primaryKey(),
    officialId: text("official_id").notNull(),
    publicJwk: text("public_jwk").notNull(),
    createdAt: text("created_at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("official_keys_by_official").on(t.officialId)],
);

/** Security events that are not yet alerts: geofence flags, for the monitor to come. */
export const securityEvents = sqliteTable(
  "security_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    electionId: text("election_id"),
    kind: text("kind").$type<SecurityEventName>().notNull(),
    detailJson: text("detail_json").notNull(),
    at: text("at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [index("security_events_by_election").on(t.electionId, t.at)],
);

/**
 * Where each ballot's entry sits in its election's audit log: written by the log sequencer
 * (durable-objects/log-sequencer.ts) once the entry is in a published checkpoint, so a tracking
 * code resolves to an inclusion proof (GET /v1/receipts/{trackingCode}/proof). The tracking code
 * is derived from the public commitment, so this links nothing that the log does not show.
 */
export const logReceipts = sqliteTable(
  "log_receipts",
  {
    trackingCode: text("tracking_code").primaryKey(),
    electionId: text("election_id").notNull(),
    leafIndex: integer("leaf_index").notNull(),
    loggedAt: text("logged_at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [index("log_receipts_by_election").on(t.electionId, t.leafIndex)],
);

/**
 * Anonymous cast vote records, written by the tally consumer from the ballot queues: one row per
 * accepted ballot, keyed by its ballot id. No voter key and no tracking code, on purpose: nothing
 * here links a voter or a receipt to a choice. `retracted` is 1 once the ballot no longer counts
 * (superseded by an online re-vote, or cancelled by a paper vote); `recorded_at` is the day of
 * acceptance only: the ledger knows the minute, and in a quiet district the minute would join them.
 */
export const castVoteRecords = sqliteTable(
  "cast_vote_records",
  {
    cvrId: text("cvr_id").primaryKey(),
    electionId: text("election_id").notNull(),
    ballotStyleId: text("ballot_style_id").notNull(),
    districtId: text("district_id").notNull(),
    channel: text("channel").$type<Channel>().notNull(),
    stationId: text("station_id"),
    /** The ballot's contests and marks (lib/ballot/messages.ts ContestMarks[]), JSON. */
    marksJson: text("marks_json").notNull(),
    retracted: integer("retracted").notNull().default(0),
    recordedAt: text("recorded_at").notNull(),
  },
  (t) => [
    index("cast_vote_records_by_election").on(t.electionId, t.districtId),
    // Station reconciliation sums a station's paper ballots (db/stores/paper.ts readReconciliation).
    index("cast_vote_records_by_station").on(t.electionId, t.stationId),
  ],
);

/**
 * What a voter's tracking code resolves to: its commitment and whether the ballot still counts.
 * Written by the tally consumer from the same messages as the cast vote records. A retraction
 * that arrives before its ballot leaves a row with an empty commitment and its final status; the
 * ballot, when it comes, fills in the commitment and leaves the status alone.
 */
export const receipts = sqliteTable(
  "receipts",
  {
    trackingCode: text("tracking_code").primaryKey(),
    electionId: text("election_id").notNull(),
    commitment: text("commitment").notNull(),
    status: text("status").$type<ReceiptStatus>().notNull(),
    recordedAt: text("recorded_at").notNull(),
  },
  (t) => [index("receipts_by_election").on(t.electionId, t.status)],
);

// ---------------------------------------------------------------------------------------------
// Paper channel: polling stations, their device keys, the election authority's keys for
// pre-printed ballot sheets, check-ins counted per station, result sheets and reconciliation.

/**
 * Polling stations. A station is a place with devices, not an election's artefact: it keeps its
 * id across elections, and serves the districts (GpUnit ids) listed in `station_districts`.
 */
export const stations = sqliteTable("stations", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  createdAt: text("created_at")
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  revokedAt: text("revoked_at"),
});

export const stationDistricts = sqliteTable(
  "station_districts",
  {
    stationId: text("station_id").notNull(),
    districtId: text("district_id").notNull(),
  },
  (t) => [primaryKey({ columns: [t.stationId, t.districtId] })],
);

/**
 * Ballot serials a station's ballot-marking devices may print, per station, inclusive. Serials
 * are one namespace per election (a blank sheet's pre-printed serial and a BMD print of it are
 * the same paper), so ranges of different stations never overlap (checked on registration).
 */
export const stationSerialRanges = sqliteTable(
  "station_serial_ranges",
  {
    stationId: text("station_id").notNull(),
    firstSerial: integer("first_serial").notNull(),
    lastSerial: integer("last_serial").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.stationId, t.firstSerial] }),
    index("station_serial_ranges_by_first").on(t.firstSerial),
  ],
);

/**
 * Station devices' Ed25519 public keys. `qr_key_id` is the key id QR payloads carry (hex of the
 * first 8 bytes of SHA-256 of the raw public key), so a marked ballot's signer is found by it.
 */
export const stationKeys = sqliteTable(
  "station_keys",
  {
    kid: text("kid").primaryKey(),
    stationId: text("station_id").notNull(),
    publicJwk: text("public_jwk").notNull(),
    qrKeyId: text("qr_key_id").notNull(),
    createdAt: text("created_at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
    revokedAt: text("revoked_at"),
    /** client: signs requests (and result sheets); marking-device: signs marked ballots only. */
    role: text("role").$type<StationKeyRole>().notNull().default("client"),
  },
  (t) => [index("station_keys_by_station").on(t.stationId), index("station_keys_by_qr_key_id").on(t.qrKeyId)],
);

/** The election authority's Ed25519 public keys that sign pre-printed ballot sheets, per election. */
export const sheetSigningKeys = sqliteTable(
  "sheet_signing_keys",
  {
    kid: text("kid").primaryKey(),
    electionId: text("election_id").notNull(),
    publicJwk: text("public_jwk").notNull(),
    qrKeyId: text("qr_key_id").notNull(),
    createdAt: text("created_at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("sheet_signing_keys_by_election").on(t.electionId, t.qrKeyId)],
);

/**
 * Accepted check-ins, written by the tally consumer from the ledgers' `check-in` messages, so
 * check-ins can be counted per station. No voter key: the ledger alone links a voter to a
 * station. `check_in_id` is the ledger's id (station-scoped), `recorded_at` the coarse minute.
 */
export const checkIns = sqliteTable(
  "check_ins",
  {
    electionId: text("election_id").notNull(),
    checkInId: text("check_in_id").notNull(),
    stationId: text("station_id").notNull(),
    districtId: text("district_id").notNull(),
    recordedAt: text("recorded_at").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.electionId, t.checkInId] }),
    index("check_ins_by_station").on(t.electionId, t.stationId),
  ],
);

/**
 * Each station's result sheet, one per (election, station): the QR text as submitted, its
 * SHA-256, and the totals decoded from it (JSON). A different sheet is refused, never replaced.
 */
export const resultSheets = sqliteTable(
  "result_sheets",
  {
    electionId: text("election_id").notNull(),
    stationId: text("station_id").notNull(),
    payloadSha256: text("payload_sha256").notNull(),
    payloadText: text("payload_text").notNull(),
    totalsJson: text("totals_json").notNull(),
    submittedAt: text("submitted_at")
      .notNull()
      .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [primaryKey({ columns: [t.electionId, t.stationId] })],
);

/**
 * Differences between what a station reports and what the system recorded, for the security
 * monitor: one row per (election, station, kind, contest, option) with the latest figures seen.
 * `resolved_at` is set when a later reconciliation no longer finds the difference (a queue that
 * caught up), and cleared if it comes back. Empty strings stand for "no contest / no option".
 */
export const reconciliationDifferences = sqliteTable(
  "reconciliation_differences",
  {
    electionId: text("election_id").notNull(),
    stationId: text("station_id").notNull(),
    kind: text("kind").$type<DifferenceKind>().notNull(),
    contestId: text("contest_id").notNull().default(""),
    optionId: text("option_id").notNull().default(""),
    systemCount: integer("system_count").notNull(),
    stationCount: integer("station_count"),
    firstSeenAt: text("first_seen_at").notNull(),
    lastSeenAt: text("last_seen_at").notNull(),
    resolvedAt: text("resolved_at"),
  },
  (t) => [primaryKey({ columns: [t.electionId, t.stationId, t.kind, t.contestId, t.optionId] })],
);

/**
 * Messages that reached the ballots' dead-letter queue (workers/tally/dead-letters.ts, through
 * db/stores/dead-letters.ts): kept for the operator, with how often each came back. Since
 * migration 0007 nothing of a body is kept in clear: the body is a JWE to the offline dead-letter
 * key (`body_jwe`; NULL where none is configured, development only, and for rows from before
 * 0007), keyed by an HMAC of the body (`letter_id`) rather than a digest anyone could match, beside
 * what an operator triages by: election, kind, queue, attempts, times.
 */
export const deadLetters = sqliteTable("dead_letters", {
  letterId: text("letter_id").primaryKey(),
  electionId: text("election_id"),
  kind: text("kind"),
  queue: text("queue").notNull(),
  attempts: integer("attempts").notNull(),
  bodyJwe: text("body_jwe"),
  parses: integer("parses").notNull(),
  deliveries: integer("deliveries").notNull(),
  firstSeen: text("first_seen").notNull(),
  lastSeen: text("last_seen").notNull(),
});

/**
 * Which serial each station's cancellation id cancelled (workers/gateway/routes/cancellations.ts):
 * the serial's PaperBallotBox decides a cancellation and recognises its repeats, but a box knows
 * only its own serials, so this is what refuses one cancellation id reused for another serial.
 */
export const paperCancellations = sqliteTable(
  "paper_cancellations",
  {
    electionId: text("election_id").notNull(),
    stationId: text("station_id").notNull(),
    cancellationId: text("cancellation_id").notNull(),
    serial: integer("serial").notNull(),
  },
  (t) => [primaryKey({ columns: [t.electionId, t.stationId, t.cancellationId] })],
);

/**
 * Conflicts between a station's offline check-in and the voter's other channel, for an
 * administrator's decision (db/stores/conflicts.ts, issue 12). Nothing here names a voter, and no
 * check-in id is kept: with one, the ledger's voter would join this row's envelope, hence its
 * ballot. Times are whole minutes. `kind`: voted-online | checked-in | out-of-district; `other*`
 * is what the ledger knew of the other channel (online + its ballot's minute, or paper + station
 * + the accepted check-in's minute). `state`: held | count | do-not-count, in force only once the
 * decision is in the public log (`decision` holds it from the claim until then). Migration 0010 makes
 * the table WITHOUT ROWID (keyed by random ids), so rows carry no order of arrival.
 */
export const offlineConflicts = sqliteTable(
  "offline_conflicts",
  {
    id: text("id").notNull(),
    electionId: text("election_id").notNull(),
    stationId: text("station_id").notNull(),
    districtId: text("district_id").notNull(),
    kind: text("kind").notNull(),
    checkInMinute: text("check_in_minute").notNull(),
    syncedMinute: text("synced_minute").notNull(),
    otherChannel: text("other_channel"),
    otherStationId: text("other_station_id"),
    otherMinute: text("other_minute"),
    envelopeDigest: text("envelope_digest").notNull(),
    state: text("state").notNull(),
    /** The decision claimed, before its log entry; `state` takes it once the entry is appended. */
    decision: text("decision"),
    decidedBy: text("decided_by"),
    decidedMinute: text("decided_minute"),
    reason: text("reason"),
  },
  (t) => [
    primaryKey({ columns: [t.electionId, t.id] }),
    uniqueIndex("offline_conflicts_by_envelope").on(t.envelopeDigest),
  ],
);

/**
 * Envelopes of offline check-ins by their keyed digest (workers/voting/pollbook-keys.ts
 * `envelopeDigest`): `clear` (the check-in was accepted) or `held` (it conflicts). `serial` is set
 * when its ballot was scanned (one ballot per envelope). A row is deleted once its ballot is
 * counted, or, held, once the decision was applied. WITHOUT ROWID (migration 0010), no voter and
 * no check-in id.
 */
export const offlineEnvelopes = sqliteTable("offline_envelopes", {
  envelopeDigest: text("envelope_digest").primaryKey(),
  electionId: text("election_id").notNull(),
  stationId: text("station_id").notNull(),
  state: text("state").notNull(),
  scanId: text("scan_id"),
  serial: integer("serial"),
});

/**
 * The security monitor's alerts (lib/monitor/alerts.ts), written only by each election's
 * SecurityMonitor (durable-objects/security-monitor.ts), which deduplicates firings while an alert
 * is open or acknowledged; read by officials (API, CLI, console). Evidence names stations,
 * districts, networks, countries and times, never a voter.
 */
export const alerts = sqliteTable(
  "alerts",
  {
    id: text("id").primaryKey(),
    electionId: text("election_id").notNull(),
    rule: text("rule").$type<RuleId>().notNull(),
    severity: text("severity").$type<AlertSeverity>().notNull(),
    scope: text("scope").notNull(),
    summary: text("summary").notNull(),
    evidenceJson: text("evidence_json").notNull(),
    firstSeen: text("first_seen").notNull(),
    lastSeen: text("last_seen").notNull(),
    count: integer("count").notNull(),
    state: text("state").$type<AlertState>().notNull(),
    acknowledgedBy: text("acknowledged_by"),
    acknowledgedAt: text("acknowledged_at"),
    acknowledgedNote: text("acknowledged_note"),
    closedBy: text("closed_by"),
    closedAt: text("closed_at"),
    closedNote: text("closed_note"),
  },
  (t) => [index("alerts_by_election").on(t.electionId, t.state, t.lastSeen)],
);
