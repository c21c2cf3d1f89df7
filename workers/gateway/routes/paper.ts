/**
 * The paper channel's station routes. Every one is signed by the station's device key
 * (requireStation: a refused signature is a 401 and changes nothing) and answers with a stable
 * code either way.
 *
 *   POST /v1/stations/{stationId}/check-ins     identity checked at the station, roll, district,
 *        then one RPC to the voter's ledger, which decides under the cross-channel policy, and
 *        the accepted check-in counted in the station's StationBallotCount. The answer is only
 *        "issue a ballot of style X" or a refusal: whether the voter voted online or checked in
 *        elsewhere is one code (may_not_issue_ballot), so a station learns nothing of a voter's
 *        online vote; the ledger and the security events keep the real reason (security review H3).
 *        The voter is named by the typed national id or by a pollbook entry's sealed `voterRef`.
 *        An offline check-in (`offline: { decidedAt, envelope }`, with voterRef) was decided by the
 *        station already: it is judged as of decidedAt (the scan's time rules), and a conflict is
 *        not refused but held (D1 offline_conflicts, a security event, answer `held` + conflictId);
 *        its envelope is remembered by keyed digest, clear or held.
 *        The StationBallotCount and the public log count a held check-in too: it issued a ballot.
 *   POST /v1/stations/{stationId}/ballots       a scanned ballot: the QR of a BMD-marked ballot
 *        (signed by one of this station's ballot-marking devices' keys), or the QR of a
 *        pre-printed sheet (signed by an authority key registered for the election) with the marks
 *        the scanner read; either way the serial must lie in a range issued to this station.
 *        The device-signed scan time must lie in the polling hours and not ahead of our clock, and
 *        the sync must come before the close plus the election's paperSyncGraceMinutes (M3).
 *        Election, style and district (one of the station's districts the style serves, named by
 *        the scan when there are several: L8), marks (validateBallot) and signature are checked
 *        here; then the station's StationBallotCount reserves a place (paper ballots never exceed
 *        check-ins, and none after the station's result sheet), and the serial's single use is
 *        decided by its PaperBallotBox, which queues the ballot through its outbox like any other.
 *        A scan with an envelope needs the envelope known at this station (envelope_unknown) and
 *        unclaimed by another ballot (envelope_used); a held envelope's ballot is kept aside by the
 *        box (answer `held: true`) until its conflict's decision, applied by whichever of the scan
 *        and the decision comes second.
 *   POST /v1/stations/{stationId}/result-sheet  the station's signed totals, after the close only,
 *        stored once and answered with the station's current reconciliation.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { logEvent, logStationResults, stationResultsEntry } from "../../audit/log.ts";
import { checkInEntry } from "../../../lib/audit/entries.ts";
import {
  isOtherStationsKey,
  qrKeyLookup,
  saveResultSheet,
  serialAssigned,
  stationKeyRole,
} from "../../../db/stores/paper.ts";
import { voterDistrict } from "../../../db/stores/roll.ts";
import { recordSecurityEvent } from "../../monitor/security-events.ts";
import { signalMonitor } from "../../monitor/signal.ts";
import type { Difference } from "../../../lib/station/reconcile.ts";
import { coarseTime, ContestMarks } from "../../../lib/ballot/messages.ts";
import { canonicalBallot, commitBallot, newNonce, trackingCodeOf } from "../../../lib/ballot/commitment.ts";
import { validateBallot } from "../../../lib/ballot/validate.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { NationalId, voterKeyOf } from "../../../lib/identity/national-id.ts";
import type { QrError } from "../../../lib/qr/errors.ts";
import { decodeQrPayload, verifyQrPayload, type DecodedQrPayload } from "../../../lib/qr/payload.ts";
import { assertNever } from "../../../lib/result.ts";
import { DistrictId, StationId, StationRequestId } from "../../../lib/station/ids.ts";
import { STATION_REQUEST_SKEW_SECONDS } from "../../../lib/station/signed-request.ts";
import { ledgerFor, paperBoxFor, stationBallotCountFor } from "../../../durable-objects/addresses.ts";
import { reconcileStations } from "../../voting/reconciliation.ts";
import { requireStation, type StationAppEnv, type StationPrincipal } from "../auth/station.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, respondError, validationHook } from "../http.ts";
import { rollHashSecret } from "../roll/voter-key.ts";
import { ReconciliationSchema } from "./reconciliation.ts";
import { CheckInIdentity, PaperBallotSource, type ConflictDecision } from "../../../lib/vocabulary.ts";
import { sha256Hex } from "../../../lib/digest.ts";
import { ledgerDecision } from "../../../durable-objects/voter-ledger.ts";
import { votingEndsAtMs } from "../../../lib/election/polls.ts";
import type { ErrorCode } from "../../../lib/errors.ts";
import { EnvelopeCode, VoterRef } from "../../../lib/station/pollbook.ts";
import { envelopeDigest, openVoterRef } from "../../voting/pollbook-keys.ts";
import {
  claimEnvelope,
  conflictByEnvelope,
  forgetEnvelope,
  getEnvelope,
  recordConflict,
  rememberClearEnvelope,
  unclaimEnvelope,
  type ConflictKind,
  type OtherChannel,
} from "../../../db/stores/conflicts.ts";

/** A check-in or a scan is a few hundred bytes; a full result sheet's QR text under 4 KB. */
export const MAX_STATION_BODY_BYTES = 16 * 1024;

const tooLarge = bodyLimit({ maxSize: MAX_STATION_BODY_BYTES, onError: (c) => respondError(c, "payload_too_large") });

const StationParam = z.object({
  stationId: StationId.openapi({ param: { name: "stationId", in: "path" }, example: "tallinn-001" }),
});

const stationSecurity = [{ stationSignature: [] }];

// ---------------------------------------------------------------------------------------------
// Check-in

const Identity = z
  .object({
    method: CheckInIdentity,
    /** The station's biometric match, where it has a reader; the signed request is its attestation. */
    biometric: z
      .object({ matched: z.boolean(), score: z.number().min(0).max(1).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((identity, ctx) => {
    if (identity.method === "id-card+biometric" && !identity.biometric) {
      ctx.addIssue({ code: "custom", path: ["biometric"], message: "a biometric check needs its result" });
    }
    if (identity.method === "id-card" && identity.biometric) {
      ctx.addIssue({
        code: "custom",
        path: ["biometric"],
        message: "a biometric result needs method id-card+biometric",
      });
    }
  });

const CheckInBody = z
  .object({
    electionId: ElectionId,
    /** The national id the official typed; or, from the station's pollbook, the voter's `voterRef`. */
    nationalId: z.string().min(1).max(64).optional(),
    /** A pollbook entry's ref (lib/station/pollbook.ts): the voter key sealed for this station. */
    voterRef: VoterRef.optional(),
    /**
     * A check-in the station decided from its pollbook while it could not reach us: when (its
     * clock, signed with the request) and the envelope its ballot was issued in. With voterRef only.
     */
    offline: z.object({ decidedAt: z.iso.datetime(), envelope: EnvelopeCode }).strict().optional(),
    identity: Identity,
    /** Chosen by the station (its outbox key, e.g. a UUID): a retry answers as the first time. */
    checkInId: StationRequestId,
  })
  .strict()
  .superRefine((body, ctx) => {
    if ((body.nationalId === undefined) === (body.voterRef === undefined))
      ctx.addIssue({ code: "custom", path: ["voterRef"], message: "give exactly one of nationalId and voterRef" });
    if (body.offline && body.voterRef === undefined)
      ctx.addIssue({ code: "custom", path: ["offline"], message: "an offline check-in names its voter by voterRef" });
  })
  .openapi("CheckIn");

const CheckInCommon = {
  checkInId: z.string(),
  electionId: z.string(),
  stationId: z.string(),
  ballotStyleId: z.string().openapi({ description: "Issue the voter a paper ballot of this style." }),
  districtId: z.string(),
  replayed: z.boolean(),
};

const CheckInAnswer = z
  .discriminatedUnion("outcome", [
    z.object({ ...CheckInCommon, outcome: z.literal("issue-ballot") }),
    z.object({
      ...CheckInCommon,
      outcome: z.literal("held").openapi({
        description:
          "An offline check-in that conflicts with the voter's other channel: the ballot the station issued is held, when scanned with its envelope, until an administrator decides.",
      }),
      conflictId: z.string(),
    }),
  ])
  .openapi("CheckInAnswer");

const checkInRoute = createRoute({
  method: "post",
  path: "/v1/stations/{stationId}/check-ins",
  tags: ["stations"],
  summary: "Check a voter in at a polling station: issue a ballot, or refuse with a reason",
  description:
    "Refusals: not_on_roll, station_wrong_district, identity_not_verified, may_not_issue_ballot (voted online under first-wins, or checked in already: one code, the reason is recorded for the monitor), polls_not_open, polls_closed, idempotency_conflict, voter_ref_invalid (422), check_in_time_outside_polls (422: an offline check-in's decidedAt outside the polling hours or ahead of our clock), paper_sync_closed (403). An offline check-in (`offline`, with `voterRef`) that conflicts is answered `held` with a conflictId instead of a refusal: the station has issued the ballot already.",
  security: stationSecurity,
  middleware: [tooLarge, requireStation()] as const,
  request: {
    params: StationParam,
    body: { required: true, content: { "application/json": { schema: CheckInBody } } },
  },
  responses: {
    201: { description: "Issue a ballot", content: { "application/json": { schema: CheckInAnswer } } },
    200: {
      description: "A repeat of an accepted check-in: the same answer",
      content: { "application/json": { schema: CheckInAnswer } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 422, 429, 503),
  },
});

// ---------------------------------------------------------------------------------------------
// Scanning

const ScanBody = z
  .object({
    electionId: ElectionId,
    /** Chosen by the station per scan (its outbox key): a retry answers as the first time. */
    scanId: StationRequestId,
    /** The QR text as scanned: a marked ballot ("ME1:..." signed by this station) or a pre-printed sheet. */
    qr: z.string().min(1).max(4096),
    /** With a pre-printed sheet only: the marks the scanner read, every contest of the style. */
    contests: z.array(ContestMarks.strict()).max(256).optional(),
    /**
     * When the device scanned the ballot, by its own clock, signed with the request: an offline
     * station syncing after the close proves by it that the scan was inside the polling hours.
     */
    scannedAt: z.iso.datetime(),
    /**
     * The district the ballot counts in, when its style serves several of this station's
     * districts (otherwise it may be left out: the one district is taken).
     */
    districtId: DistrictId.optional(),
    /** The envelope of the offline check-in this ballot was issued for (lib/station/pollbook.ts). */
    envelope: EnvelopeCode.optional(),
  })
  .strict()
  .openapi("ScannedBallot");

const ScanAnswer = z
  .object({
    electionId: z.string(),
    stationId: z.string(),
    scanId: z.string(),
    serial: z.number().int(),
    source: PaperBallotSource,
    channel: z.literal("paper"),
    trackingCode: z.string(),
    acceptedAt: z.string(),
    replayed: z.boolean(),
    held: z.boolean().openapi({
      description:
        "True for the ballot of a conflicting offline check-in: its serial is used, it is not counted unless an administrator decides so.",
    }),
  })
  .openapi("ScanAnswer");

const scanRoute = createRoute({
  method: "post",
  path: "/v1/stations/{stationId}/ballots",
  tags: ["stations"],
  summary: "Submit a scanned paper ballot",
  description:
    "Refusals: qr_invalid (422), qr_signature_invalid (422), qr_signer_wrong_role (422: a marked ballot not signed by a ballot-marking device's key), wrong_election (422), foreign_ballot (422: another station's key or serial, or a style or district this station does not serve), district_ambiguous (422), invalid_ballot (422), scan_time_outside_polls (422), scan_time_in_future (422), serial_already_used (409), serial_cancelled (409), envelope_unknown (409), envelope_used (409), idempotency_conflict (409), scans_exceed_check_ins (409), result_sheet_already_accepted (409), polls_not_open (403), paper_sync_closed (403).",
  security: stationSecurity,
  middleware: [tooLarge, requireStation()] as const,
  request: {
    params: StationParam,
    body: { required: true, content: { "application/json": { schema: ScanBody } } },
  },
  responses: {
    201: { description: "Accepted and queued for the tally", content: { "application/json": { schema: ScanAnswer } } },
    200: {
      description: "A repeat of an accepted scan: the same answer",
      content: { "application/json": { schema: ScanAnswer } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 422, 429, 503),
  },
});

// ---------------------------------------------------------------------------------------------
// Result sheet

const ResultSheetBody = z
  .object({
    electionId: ElectionId,
    /** The result sheet's QR text, signed by one of this station's device keys. */
    qr: z.string().min(1).max(4096),
  })
  .strict()
  .openapi("ResultSheetSubmission");

const ResultSheetAnswer = z
  .object({
    electionId: z.string(),
    stationId: z.string(),
    sequence: z.number().int(),
    payloadSha256: z.string(),
    replayed: z.boolean(),
    reconciliation: ReconciliationSchema,
  })
  .openapi("ResultSheetAnswer");

const resultSheetRoute = createRoute({
  method: "post",
  path: "/v1/stations/{stationId}/result-sheet",
  tags: ["stations"],
  summary: "Submit the station's signed result sheet; answers with the station's reconciliation",
  description:
    "A station has one result sheet per election, accepted only after the polls close (409 polls_not_closed before): the same sheet again is answered as before (200); a different one is refused (409 result_sheet_conflict) and recorded for the security monitor. Once a sheet is in, the station takes no more ballots.",
  security: stationSecurity,
  middleware: [tooLarge, requireStation()] as const,
  request: {
    params: StationParam,
    body: { required: true, content: { "application/json": { schema: ResultSheetBody } } },
  },
  responses: {
    201: {
      description: "Stored; the reconciliation as of now",
      content: { "application/json": { schema: ResultSheetAnswer } },
    },
    200: {
      description: "The same sheet again; the reconciliation as of now",
      content: { "application/json": { schema: ResultSheetAnswer } },
    },
    ...errorResponses(400, 401, 404, 409, 413, 422, 429),
  },
});

// ---------------------------------------------------------------------------------------------

/** Turns a QR refusal into the API's: signatures and elections have their own codes. */
function qrFailure(error: QrError): never {
  switch (error.code) {
    case "wrong_election":
      return fail("wrong_election", error.message);
    case "unknown_key":
    case "key_mismatch":
    case "bad_signature":
      return fail("qr_signature_invalid", error.message);
    default:
      return fail("qr_invalid", error.message, [{ path: "/qr", message: error.message, code: error.code }]);
  }
}

async function readVerified(
  env: Env,
  election: CompiledElection,
  station: StationPrincipal,
  text: string,
): Promise<DecodedQrPayload> {
  const decoded = await decodeQrPayload(text, election);
  if (!decoded.ok) return qrFailure(decoded.error);
  const verified = await verifyQrPayload(decoded.value, qrKeyLookup(env.DB, election.id, station.stationId));
  if (!verified.ok) {
    if (verified.error.code === "unknown_key" && decoded.value.type !== "ballot-sheet") {
      // This station's own key of the other role: a client key marking a ballot, or a BMD signing a sheet.
      if ((await stationKeyRole(env.DB, station.stationId, decoded.value.keyId)) !== undefined)
        return fail("qr_signer_wrong_role");
      if (await isOtherStationsKey(env.DB, decoded.value.keyId, station.stationId))
        return fail("foreign_ballot", "This payload was signed by another station's device.");
    }
    return qrFailure(verified.error);
  }
  return verified.value;
}

/**
 * The district a ballot of this style counts in at this station: the one the scan names, which
 * must be a district of the style this station serves, or, when the scan names none, the only
 * such district. Several and none named is refused rather than guessed (security review L8).
 */
function districtFor(
  election: CompiledElection,
  station: StationPrincipal,
  ballotStyleId: string,
  named: string | undefined,
): string {
  const style = election.ballotStyles.get(ballotStyleId);
  const served = style?.districtIds.filter((d) => station.districtIds.includes(d)).sort() ?? [];
  if (named !== undefined) {
    if (!served.includes(named))
      return fail("foreign_ballot", `This station does not serve district ${named} for ballot style ${ballotStyleId}.`);
    return named;
  }
  const [districtId, ...others] = served;
  if (districtId === undefined)
    return fail("foreign_ballot", `This station does not serve a district of ballot style ${ballotStyleId}.`);
  if (others.length > 0)
    return fail("district_ambiguous", `Ballot style ${ballotStyleId} serves ${served.join(", ")} here.`, [
      { path: "/districtId", message: "name one of the style's districts this station serves" },
    ]);
  return districtId;
}

/**
 * The time rules of what a station did offline and syncs later (security review M3): a scan's
 * `scannedAt`, an offline check-in's `decidedAt`. The sync comes before the scheduled close plus
 * the election's grace, and the device's signed time lies in the polling hours (before voting
 * ended, which an administrator's early close brings forward) and not ahead of our clock (by more
 * than a station request may be). An offline check-in has one code for both of its time refusals.
 */
function checkStationTime(
  election: CompiledElection,
  at: string,
  nowMs: number,
  codes: { outside: ErrorCode; future: ErrorCode },
): number {
  const { opensAtMs, closesAtMs } = election.polls;
  if (nowMs < opensAtMs) fail("polls_not_open");
  if (nowMs >= closesAtMs + election.settings.paperSyncGraceMinutes * 60_000) fail("paper_sync_closed");
  const atMs = Date.parse(at);
  if (atMs < opensAtMs || atMs >= votingEndsAtMs(election)) fail(codes.outside);
  if (atMs > nowMs + STATION_REQUEST_SKEW_SECONDS * 1000)
    fail(codes.future, codes.future === codes.outside ? "The signed time is ahead of our clock." : undefined);
  return atMs;
}

const SCAN_TIME = { outside: "scan_time_outside_polls", future: "scan_time_in_future" } as const;
const CHECK_IN_TIME = { outside: "check_in_time_outside_polls", future: "check_in_time_outside_polls" } as const;

/**
 * A serial already used, caught by the station's count or by the serial's box (a QR replay, a
 * copied sheet): the monitor's to see, then refused.
 */
async function refuseReusedSerial(
  env: Env,
  electionId: string,
  detail: { stationId: string; districtId: string; serial: number; source: string },
): Promise<never> {
  const { stationId, districtId, ...rest } = detail;
  await recordSecurityEvent(env, electionId, "paper-serial-reused", { stationId, districtId, detail: rest });
  return fail("serial_already_used");
}

/**
 * A result sheet's differences as a monitor's figures: the sheet's number less the system's, keyed
 * by what differs (kind, contest, option), at most 50 of them.
 */
function differenceFigures(differences: readonly Difference[]): Record<string, number> {
  return Object.fromEntries(
    differences.slice(0, 50).map((d) => [
      [d.kind, d.contestId, d.optionId]
        .filter((part) => part !== undefined)
        .join(":")
        .slice(0, 64),
      (d.station ?? 0) - d.system,
    ]),
  );
}

/** The voter key a check-in names: from the typed national id, or the pollbook entry's sealed ref. */
async function voterKeyFrom(
  env: Env,
  electionId: string,
  stationId: string,
  body: { nationalId?: string | undefined; voterRef?: string | undefined },
): Promise<string> {
  if (body.voterRef !== undefined) {
    const key = await openVoterRef(env, electionId, stationId, body.voterRef);
    return key ?? fail("voter_ref_invalid");
  }
  const nationalId = NationalId.safeParse(body.nationalId);
  if (!nationalId.success)
    return fail("invalid_request", undefined, [
      { path: "/nationalId", message: "a national id is 4-32 letters, digits and inner dashes" },
    ]);
  return voterKeyOf(await rollHashSecret(env), nationalId.data);
}

/**
 * An offline check-in that conflicts: the station issued the ballot already, so it is not refused
 * but held. Its conflict row (no voter, no check-in id), its held envelope and the check-in it
 * still counts as at the station are recorded together; the station's StationBallotCount counts
 * it too (its ballot takes a place like any other), and so does the public log (a `check-in`
 * entry), so that neither reconciliation nor the auditor's observer finds a difference for it. A retry finds the conflict by its envelope and
 * answers the same id; only a new conflict raises the security event.
 */
async function holdConflict(
  env: Env,
  electionId: string,
  stationId: string,
  districtId: string,
  checkInId: string,
  offline: { decidedAtMs: number; envelopeDigest: string },
  what: { kind: ConflictKind; other: OtherChannel | null },
): Promise<{ conflictId: string; replayed: boolean }> {
  const checkInMinute = coarseTime(new Date(offline.decidedAtMs));
  const { conflict, created } = await recordConflict(env.DB, {
    electionId,
    stationId,
    districtId,
    kind: what.kind,
    checkInMinute,
    syncedMinute: coarseTime(new Date()),
    other: what.other,
    envelopeDigest: offline.envelopeDigest,
    checkInId,
  });
  if (created)
    await recordSecurityEvent(env, electionId, "offline-check-in-conflict", {
      stationId,
      districtId,
      reason: what.kind,
      detail: { minute: checkInMinute, kind: what.kind },
    });
  await stationBallotCountFor(env, electionId, stationId).recordCheckIn({
    electionId,
    stationId,
    checkInId,
    held: true,
  });
  // The public log counts it as a check-in of the station too, as its result sheet does: keyed as
  // the queue consumer keys check-ins, so a retry logs it once.
  const logged = await logEvent(
    env,
    electionId,
    `check-in/${checkInId}`,
    checkInEntry({ stationId, districtId, checkedInAt: checkInMinute }),
  );
  if (!logged.ok) return fail(logged.error);
  return { conflictId: conflict.id, replayed: !created };
}

/** A scan's envelope as the scan route uses it: its digest, and how its ballot is to be kept. */
interface ScanEnvelope {
  readonly digest: string;
  /** A conflicting check-in's envelope: its ballot takes that check-in's held place. */
  readonly held: boolean;
  /** Absent for a clear envelope (counted as any scan); else hold, or the decision already taken. */
  readonly hold?: "hold" | ConflictDecision;
}

/**
 * The envelope a scan names, claimed for this scan's ballot. Unknown at this station:
 * envelope_unknown, unless it was forgotten because this very scan's ballot was counted or its
 * decision applied (a retry: the box answers it as the first time). Claimed by another scan:
 * envelope_used.
 */
async function envelopeFor(
  env: Env,
  electionId: string,
  stationId: string,
  code: string,
  scan: { scanId: string; serial: number },
): Promise<ScanEnvelope | undefined> {
  const digest = await envelopeDigest(env, electionId, stationId, code);
  const row = await getEnvelope(env.DB, digest);
  if (!row || row.electionId !== electionId || row.stationId !== stationId) {
    const status = await paperBoxFor(env, electionId, scan.serial).serialStatus(electionId, scan.serial);
    if (status.stationId === stationId && status.scanId === scan.scanId) return undefined;
    return fail("envelope_unknown");
  }
  if (!(await claimEnvelope(env.DB, digest, scan))) return fail("envelope_used");
  if (row.state === "clear") return { digest, held: false };
  const conflict = await conflictByEnvelope(env.DB, digest);
  return { digest, held: true, hold: conflict === undefined || conflict.state === "held" ? "hold" : conflict.state };
}

/**
 * After the box took the envelope's ballot: a clear envelope is forgotten; a held one too once a
 * decision is applied. A decision taken while this scan was on its way found no serial to
 * release, so it is looked for again here and applied (the box applies it once either way).
 */
async function settleEnvelope(env: Env, electionId: string, serial: number, envelope: ScanEnvelope): Promise<void> {
  if (envelope.hold === "hold") {
    const conflict = await conflictByEnvelope(env.DB, envelope.digest);
    if (conflict === undefined || conflict.state === "held") return;
    await paperBoxFor(env, electionId, serial).release({ electionId, serial, decision: conflict.state });
  }
  await forgetEnvelope(env.DB, envelope.digest);
}

export function paperRoutes(): OpenAPIHono<StationAppEnv> {
  const app = new OpenAPIHono<StationAppEnv>({ defaultHook: validationHook });

  app.openapi(checkInRoute, async (c) => {
    const station = c.get("station");
    const body = c.req.valid("json");
    const election = await getElection(c.env.DB, body.electionId);
    if (!election) return fail("election_not_found");
    const nowMs = Date.now();
    // An offline check-in is judged as of when the station decided it, within the sync's window.
    const decidedAtMs = body.offline && checkStationTime(election, body.offline.decidedAt, nowMs, CHECK_IN_TIME);
    if (body.identity.biometric && !body.identity.biometric.matched) return fail("identity_not_verified");
    const voterKey = await voterKeyFrom(c.env, election.id, station.stationId, body);

    const offline =
      body.offline && decidedAtMs !== undefined
        ? {
            decidedAtMs,
            envelopeDigest: await envelopeDigest(c.env, election.id, station.stationId, body.offline.envelope),
          }
        : undefined;

    const districtId = await voterDistrict(c.env.DB, election.id, voterKey);
    if (districtId === undefined) return fail("not_on_roll");
    const ownDistrict = station.districtIds.includes(districtId);
    if (!ownDistrict && !offline) return fail("station_wrong_district");
    const ballotStyleId = election.ballotStyleByDistrict.get(districtId);
    if (!ballotStyleId) return fail("no_ballot_style");
    const checkInId = `${station.stationId}/${body.checkInId}`;
    const answer = {
      checkInId: body.checkInId,
      electionId: election.id,
      stationId: station.stationId,
      ballotStyleId,
      districtId,
    };
    if (!ownDistrict && offline) {
      // The station's pollbook had the voter, the roll now puts them elsewhere: its ballot is held.
      const held = await holdConflict(c.env, election.id, station.stationId, districtId, checkInId, offline, {
        kind: "out-of-district",
        other: null,
      });
      return c.json({ ...answer, outcome: "held" as const, conflictId: held.conflictId, replayed: held.replayed }, 200);
    }

    const outcome = await ledgerFor(c.env, election.id, voterKey).checkIn({
      ...ledgerDecision(election, { voterKey, ballotStyleId, districtId }),
      stationId: station.stationId,
      // Scoped by station, so two stations' ids can never collide in one ledger.
      checkInId,
      identity: body.identity.method,
      ...(offline ? { decidedAtMs: offline.decidedAtMs } : {}),
    });
    // For the monitor: no voter key, only where, when (to the minute) and why (security review M12).
    const checkInEvent = { stationId: station.stationId, districtId, detail: { minute: coarseTime(new Date()) } };
    if (!outcome.ok) {
      switch (outcome.error) {
        case "already_voted_online":
        case "already_checked_in": {
          if (offline) {
            const held = await holdConflict(c.env, election.id, station.stationId, districtId, checkInId, offline, {
              kind: outcome.error === "already_voted_online" ? "voted-online" : "checked-in",
              other: outcome.other ?? null,
            });
            return c.json(
              { ...answer, outcome: "held" as const, conflictId: held.conflictId, replayed: held.replayed },
              200,
            );
          }
          await recordSecurityEvent(c.env, election.id, "check-in-conflict", {
            ...checkInEvent,
            reason: outcome.error,
          });
          // One code for both: the station must not learn whether the voter voted online.
          return fail("may_not_issue_ballot");
        }
        case "polls_not_open":
        case "polls_closed":
        case "idempotency_conflict":
          return fail(outcome.error);
        default:
          return assertNever(outcome.error);
      }
    }
    if (outcome.value.cancelledOnlineBallot && !outcome.value.replayed) {
      await recordSecurityEvent(c.env, election.id, "check-in-cancelled-online-ballot", checkInEvent);
    }
    // Remembered before the answer, a replay too: the envelope's ballot counts when it is scanned.
    if (offline)
      await rememberClearEnvelope(c.env.DB, {
        electionId: election.id,
        stationId: station.stationId,
        envelopeDigest: offline.envelopeDigest,
      });
    // Counted for the station's ballots, a replay too: a crash between the ledger's answer and
    // this call heals when the station retries the check-in.
    await stationBallotCountFor(c.env, election.id, station.stationId).recordCheckIn({
      electionId: election.id,
      stationId: station.stationId,
      checkInId,
    });
    return c.json(
      { ...answer, outcome: "issue-ballot" as const, replayed: outcome.value.replayed },
      outcome.value.replayed ? 200 : 201,
    );
  });

  app.openapi(scanRoute, async (c) => {
    const station = c.get("station");
    const body = c.req.valid("json");
    const election = await getElection(c.env.DB, body.electionId);
    if (!election) return fail("election_not_found");
    checkStationTime(election, body.scannedAt, Date.now(), SCAN_TIME);

    const payload = await readVerified(c.env, election, station, body.qr);
    let contests: readonly ContestMarks[];
    let serial: number;
    let ballotStyleId: string;
    switch (payload.type) {
      case "ballot-sheet": {
        if (!body.contests)
          return fail("invalid_request", undefined, [
            { path: "/contests", message: "a pre-printed sheet needs the marks the scanner read" },
          ]);
        ({ serial, ballotStyleId } = payload.fields);
        contests = body.contests;
        break;
      }
      case "marked-ballot": {
        if (body.contests)
          return fail("invalid_request", undefined, [
            { path: "/contests", message: "a marked ballot carries its marks in its QR code" },
          ]);
        ({ serial, ballotStyleId, contests } = payload.fields);
        break;
      }
      case "result-sheet":
        return fail("qr_invalid", "This is a result sheet, not a ballot.", [
          { path: "/qr", message: "expected a ballot", code: "unknown_type" },
        ]);
      default:
        return assertNever(payload);
    }
    // Marked or pre-printed, the paper was issued to a station: its serial must be in one of this
    // station's ranges, or the sheets came from elsewhere (another station's stack, a photograph).
    if (!(await serialAssigned(c.env.DB, station.stationId, serial))) {
      await recordSecurityEvent(c.env, election.id, "paper-foreign-serial", {
        stationId: station.stationId,
        detail: { serial, source: payload.type, minute: coarseTime(new Date()) },
      });
      return fail("foreign_ballot", `Serial ${serial} is not in a range issued to this station.`);
    }
    const districtId = districtFor(election, station, ballotStyleId, body.districtId);
    const marks = validateBallot(election, ballotStyleId, contests);
    if (!marks.ok) return fail("invalid_ballot", undefined, marks.error);
    const scan = { scanId: body.scanId, serial };
    const envelope =
      body.envelope === undefined
        ? undefined
        : await envelopeFor(c.env, election.id, station.stationId, body.envelope, scan);

    // A place among the station's check-ins, held before the box decides (StationBallotCount).
    const count = stationBallotCountFor(c.env, election.id, station.stationId);
    const place = { electionId: election.id, stationId: station.stationId, scanId: body.scanId, serial };
    // A held envelope's ballot takes its held check-in's place, which no other scan may take.
    const reserved = await count.reserveScan({ ...place, held: envelope?.held ?? false });
    if (!reserved.ok) {
      // No ballot of this scan exists: its envelope is free for the scan that will hold a place.
      if (envelope) await unclaimEnvelope(c.env.DB, envelope.digest, scan);
      switch (reserved.error) {
        case "scans_exceed_check_ins":
          await recordSecurityEvent(c.env, election.id, "scans-exceed-check-ins", {
            stationId: station.stationId,
            districtId,
            detail: { minute: coarseTime(new Date()) },
          });
          return fail("scans_exceed_check_ins");
        case "serial_already_used":
          return refuseReusedSerial(c.env, election.id, {
            stationId: station.stationId,
            districtId,
            serial,
            source: payload.type,
          });
        case "result_sheet_already_accepted":
        case "idempotency_conflict":
          return fail(reserved.error);
        default:
          return assertNever(reserved.error);
      }
    }

    const commitment = await commitBallot(canonicalBallot(election.id, ballotStyleId, marks.value), newNonce());
    const trackingCode = await trackingCodeOf(commitment);
    const outcome = await paperBoxFor(c.env, election.id, serial).scan({
      electionId: election.id,
      serial,
      stationId: station.stationId,
      scanId: body.scanId,
      source: payload.type,
      ballotStyleId,
      districtId,
      contests: marks.value,
      ballotId: crypto.randomUUID(),
      commitment,
      trackingCode,
      ...(envelope?.hold ? { hold: envelope.hold } : {}),
    });
    // Released only when the box holds no ballot of this scan; idempotency_conflict means it holds one.
    await count.settleScan({
      ...place,
      outcome:
        !outcome.ok && (outcome.error === "serial_already_used" || outcome.error === "serial_cancelled")
          ? "released"
          : "accepted",
    });
    if (envelope && !outcome.ok && (outcome.error === "serial_already_used" || outcome.error === "serial_cancelled"))
      await unclaimEnvelope(c.env.DB, envelope.digest, scan);
    if (envelope && outcome.ok) await settleEnvelope(c.env, election.id, serial, envelope);
    if (!outcome.ok) {
      switch (outcome.error) {
        case "serial_already_used":
          return refuseReusedSerial(c.env, election.id, {
            stationId: station.stationId,
            districtId,
            serial,
            source: payload.type,
          });
        case "idempotency_conflict":
          return fail("idempotency_conflict");
        // Cancelled as spoiled or void at the station (routes/cancellations.ts): never counted.
        case "serial_cancelled":
          return fail("serial_cancelled");
        default:
          return assertNever(outcome.error);
      }
    }
    // A held ballot never reaches the queues until it is released: the monitor hears of it here.
    if (outcome.value.held && !outcome.value.replayed)
      await signalMonitor(c.env, election.id, [{ kind: "held", at: Date.now(), stationId: station.stationId }]);
    return c.json(
      {
        electionId: election.id,
        stationId: station.stationId,
        scanId: body.scanId,
        serial,
        source: payload.type,
        channel: "paper" as const,
        trackingCode: outcome.value.trackingCode,
        acceptedAt: outcome.value.acceptedAt,
        replayed: outcome.value.replayed,
        held: outcome.value.held,
      },
      outcome.value.replayed ? 200 : 201,
    );
  });

  app.openapi(resultSheetRoute, async (c) => {
    const station = c.get("station");
    const body = c.req.valid("json");
    const election = await getElection(c.env.DB, body.electionId);
    if (!election) return fail("election_not_found");
    // A sheet's totals are public in the log: before the close they would be live results (M3).
    if (Date.now() < election.polls.closesAtMs) return fail("polls_not_closed");
    const payload = await readVerified(c.env, election, station, body.qr);
    if (payload.type !== "result-sheet") {
      return fail("qr_invalid", "This is a ballot, not a result sheet.", [
        { path: "/qr", message: "expected a result sheet", code: "unknown_type" },
      ]);
    }
    const sheet = payload.fields;
    if (sheet.stationId !== station.stationId)
      return fail("qr_invalid", `This result sheet is station ${sheet.stationId}'s.`, [
        { path: "/qr", message: "another station's sheet", code: "invalid_field" },
      ]);

    // Checked before anything is stored: a sheet the public log cannot hold must not reach D1
    // either, or the two would disagree for good (security review M8).
    const sheetForLog = {
      stationId: station.stationId,
      sequence: sheet.sequence,
      closedAt: sheet.closedAt,
      votersCheckedIn: sheet.votersCheckedIn,
      ballotsCast: sheet.ballotsCast,
      contests: sheet.contests.map((contest) => ({ ...contest, options: [...contest.options] })),
      payloadText: body.qr,
    };
    const loggable = stationResultsEntry(sheetForLog);
    if (!loggable.ok) return fail("result_sheet_out_of_range", undefined, [{ path: "/qr", message: loggable.error }]);

    const payloadSha256 = sha256Hex(body.qr);
    const totals = {
      sequence: sheet.sequence,
      closedAt: sheet.closedAt,
      votersCheckedIn: sheet.votersCheckedIn,
      ballotsCast: sheet.ballotsCast,
      contests: sheet.contests,
    };
    // The station takes no new ballot from here on. Closed before the sheet is stored, so no crash
    // can leave a stored sheet with the station still scanning; a closed station whose sheet did
    // not store sends it again.
    await stationBallotCountFor(c.env, election.id, station.stationId).closeForSheet();
    // One write decides: the first sheet for (election, station) is stored, any other finds it.
    const saved = await saveResultSheet(c.env.DB, {
      electionId: election.id,
      stationId: station.stationId,
      payloadSha256,
      payloadText: body.qr,
      totals,
    });
    if (!saved.ok) {
      await recordSecurityEvent(c.env, election.id, "result-sheet-conflict", {
        stationId: station.stationId,
        detail: {
          storedSha256: saved.error.storedSha256,
          refusedSha256: payloadSha256,
          refusedSequence: sheet.sequence,
        },
      });
      return fail("result_sheet_conflict");
    }
    const { replayed } = saved.value;
    // Audit log: the sheet as signed. Keyed by station and sequence, so a station that repeats the
    // submission after a refused append (log_pool_full) logs it exactly once.
    const logged = await logStationResults(c.env, election.id, sheetForLog);
    if (!logged.ok) return fail(logged.error);
    const [reconciliation] = await reconcileStations(c.env.DB, election, station.stationId);
    if (!reconciliation) throw new Error("reconciling one station answered nothing");
    if (!replayed && reconciliation.differences.length > 0)
      await recordSecurityEvent(c.env, election.id, "result-sheet-mismatch", {
        stationId: station.stationId,
        reason: reconciliation.differences[0]?.kind,
        figures: differenceFigures(reconciliation.differences),
        detail: { sequence: sheet.sequence, differences: reconciliation.differences.length },
      });
    return c.json(
      {
        electionId: election.id,
        stationId: station.stationId,
        sequence: sheet.sequence,
        payloadSha256,
        replayed,
        reconciliation,
      },
      replayed ? 200 : 201,
    );
  });

  return app;
}
