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
 *   POST /v1/stations/{stationId}/result-sheet  the station's signed totals, after the close only,
 *        stored once and answered with the station's current reconciliation.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { logStationResults, stationResultsEntry } from "../../audit/log.ts";
import {
  isOtherStationsKey,
  qrKeyLookup,
  saveResultSheet,
  serialAssigned,
  stationKeyRole,
} from "../../../db/stores/paper.ts";
import { voterDistrict } from "../../../db/stores/roll.ts";
import { recordSecurityEvent } from "../../../db/stores/security-events.ts";
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
import { CheckInIdentity, PaperBallotSource } from "../../../lib/vocabulary.ts";
import { sha256Hex } from "../../../lib/digest.ts";
import { ledgerDecision } from "../../../durable-objects/voter-ledger.ts";
import { votingEndsAtMs } from "../../../lib/election/polls.ts";

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
    nationalId: z.string().min(1).max(64),
    identity: Identity,
    /** Chosen by the station (its outbox key, e.g. a UUID): a retry answers as the first time. */
    checkInId: StationRequestId,
  })
  .strict()
  .openapi("CheckIn");

const CheckInAnswer = z
  .object({
    checkInId: z.string(),
    electionId: z.string(),
    stationId: z.string(),
    outcome: z.literal("issue-ballot"),
    ballotStyleId: z.string().openapi({ description: "Issue the voter a paper ballot of this style." }),
    districtId: z.string(),
    replayed: z.boolean(),
  })
  .openapi("CheckInAnswer");

const checkInRoute = createRoute({
  method: "post",
  path: "/v1/stations/{stationId}/check-ins",
  tags: ["stations"],
  summary: "Check a voter in at a polling station: issue a ballot, or refuse with a reason",
  description:
    "Refusals: not_on_roll, station_wrong_district, identity_not_verified, may_not_issue_ballot (voted online under first-wins, or checked in already: one code, the reason is recorded for the monitor), polls_not_open, polls_closed, idempotency_conflict.",
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
    ...errorResponses(400, 401, 403, 404, 409, 413, 429),
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
  })
  .openapi("ScanAnswer");

const scanRoute = createRoute({
  method: "post",
  path: "/v1/stations/{stationId}/ballots",
  tags: ["stations"],
  summary: "Submit a scanned paper ballot",
  description:
    "Refusals: qr_invalid (422), qr_signature_invalid (422), qr_signer_wrong_role (422: a marked ballot not signed by a ballot-marking device's key), wrong_election (422), foreign_ballot (422: another station's key or serial, or a style or district this station does not serve), district_ambiguous (422), invalid_ballot (422), scan_time_outside_polls (422), scan_time_in_future (422), serial_already_used (409), serial_cancelled (409), idempotency_conflict (409), scans_exceed_check_ins (409), result_sheet_already_accepted (409), polls_not_open (403), paper_sync_closed (403).",
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
    ...errorResponses(400, 401, 403, 404, 409, 413, 422, 429),
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
 * The scan's time rules (security review M3): the sync comes before the scheduled close plus the
 * election's grace, and the device's signed scan time lies in the polling hours (before voting
 * ended, which an administrator's early close brings forward) and not ahead of our clock (by more
 * than a station request may be).
 */
function checkScanTime(election: CompiledElection, scannedAt: string, nowMs: number): void {
  const { opensAtMs, closesAtMs } = election.polls;
  if (nowMs < opensAtMs) fail("polls_not_open");
  if (nowMs >= closesAtMs + election.settings.paperSyncGraceMinutes * 60_000) fail("paper_sync_closed");
  const scannedAtMs = Date.parse(scannedAt);
  if (scannedAtMs < opensAtMs || scannedAtMs >= votingEndsAtMs(election)) fail("scan_time_outside_polls");
  if (scannedAtMs > nowMs + STATION_REQUEST_SKEW_SECONDS * 1000) fail("scan_time_in_future");
}

/**
 * A serial already used, caught by the station's count or by the serial's box (a QR replay, a
 * copied sheet): the monitor's to see, then refused.
 */
async function refuseReusedSerial(
  db: D1Database,
  electionId: string,
  detail: { stationId: string; serial: number; source: string },
): Promise<never> {
  await recordSecurityEvent(db, electionId, "paper-serial-reused", detail);
  return fail("serial_already_used");
}

export function paperRoutes(): OpenAPIHono<StationAppEnv> {
  const app = new OpenAPIHono<StationAppEnv>({ defaultHook: validationHook });

  app.openapi(checkInRoute, async (c) => {
    const station = c.get("station");
    const body = c.req.valid("json");
    const election = await getElection(c.env.DB, body.electionId);
    if (!election) return fail("election_not_found");
    const nationalId = NationalId.safeParse(body.nationalId);
    if (!nationalId.success)
      return fail("invalid_request", undefined, [
        { path: "/nationalId", message: "a national id is 4-32 letters, digits and inner dashes" },
      ]);
    if (body.identity.biometric && !body.identity.biometric.matched) return fail("identity_not_verified");

    const voterKey = await voterKeyOf(await rollHashSecret(c.env), nationalId.data);
    const districtId = await voterDistrict(c.env.DB, election.id, voterKey);
    if (districtId === undefined) return fail("not_on_roll");
    if (!station.districtIds.includes(districtId)) return fail("station_wrong_district");
    const ballotStyleId = election.ballotStyleByDistrict.get(districtId);
    if (!ballotStyleId) return fail("no_ballot_style");

    const outcome = await ledgerFor(c.env, election.id, voterKey).checkIn({
      ...ledgerDecision(election, { voterKey, ballotStyleId, districtId }),
      stationId: station.stationId,
      // Scoped by station, so two stations' ids can never collide in one ledger.
      checkInId: `${station.stationId}/${body.checkInId}`,
      identity: body.identity.method,
    });
    // For the monitor: no voter key, only where, when (to the minute) and why (security review M12).
    const checkInEvent = { stationId: station.stationId, districtId, minute: coarseTime(new Date()) };
    if (!outcome.ok) {
      switch (outcome.error) {
        case "already_voted_online":
        case "already_checked_in":
          await recordSecurityEvent(c.env.DB, election.id, "check-in-conflict", {
            ...checkInEvent,
            reason: outcome.error,
          });
          // One code for both: the station must not learn whether the voter voted online.
          return fail("may_not_issue_ballot");
        case "polls_not_open":
        case "polls_closed":
        case "idempotency_conflict":
          return fail(outcome.error);
        default:
          return assertNever(outcome.error);
      }
    }
    if (outcome.value.cancelledOnlineBallot && !outcome.value.replayed) {
      await recordSecurityEvent(c.env.DB, election.id, "check-in-cancelled-online-ballot", checkInEvent);
    }
    // Counted for the station's ballots, a replay too: a crash between the ledger's answer and
    // this call heals when the station retries the check-in.
    await stationBallotCountFor(c.env, election.id, station.stationId).recordCheckIn({
      electionId: election.id,
      stationId: station.stationId,
      checkInId: `${station.stationId}/${body.checkInId}`,
    });
    return c.json(
      {
        checkInId: body.checkInId,
        electionId: election.id,
        stationId: station.stationId,
        outcome: "issue-ballot" as const,
        ballotStyleId: outcome.value.issueBallotStyleId,
        districtId,
        replayed: outcome.value.replayed,
      },
      outcome.value.replayed ? 200 : 201,
    );
  });

  app.openapi(scanRoute, async (c) => {
    const station = c.get("station");
    const body = c.req.valid("json");
    const election = await getElection(c.env.DB, body.electionId);
    if (!election) return fail("election_not_found");
    checkScanTime(election, body.scannedAt, Date.now());

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
      await recordSecurityEvent(c.env.DB, election.id, "paper-foreign-serial", {
        stationId: station.stationId,
        serial,
        source: payload.type,
        minute: coarseTime(new Date()),
      });
      return fail("foreign_ballot", `Serial ${serial} is not in a range issued to this station.`);
    }
    const districtId = districtFor(election, station, ballotStyleId, body.districtId);
    const marks = validateBallot(election, ballotStyleId, contests);
    if (!marks.ok) return fail("invalid_ballot", undefined, marks.error);

    // A place among the station's check-ins, held before the box decides (StationBallotCount).
    const count = stationBallotCountFor(c.env, election.id, station.stationId);
    const place = { electionId: election.id, stationId: station.stationId, scanId: body.scanId, serial };
    const reserved = await count.reserveScan(place);
    if (!reserved.ok) {
      switch (reserved.error) {
        case "scans_exceed_check_ins":
          await recordSecurityEvent(c.env.DB, election.id, "scans-exceed-check-ins", {
            stationId: station.stationId,
            districtId,
            minute: coarseTime(new Date()),
          });
          return fail("scans_exceed_check_ins");
        case "serial_already_used":
          return refuseReusedSerial(c.env.DB, election.id, {
            stationId: station.stationId,
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
    });
    // Released only when the box holds no ballot of this scan; idempotency_conflict means it holds one.
    await count.settleScan({
      ...place,
      outcome:
        !outcome.ok && (outcome.error === "serial_already_used" || outcome.error === "serial_cancelled")
          ? "released"
          : "accepted",
    });
    if (!outcome.ok) {
      switch (outcome.error) {
        case "serial_already_used":
          return refuseReusedSerial(c.env.DB, election.id, {
            stationId: station.stationId,
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
      await recordSecurityEvent(c.env.DB, election.id, "result-sheet-conflict", {
        stationId: station.stationId,
        storedSha256: saved.error.storedSha256,
        refusedSha256: payloadSha256,
        refusedSequence: sheet.sequence,
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
