/**
 * Spoiled and void paper ballots (docs/PAPER.md):
 *
 *   POST /v1/stations/{stationId}/cancellations  { electionId, cancellationId, serial, reason, districtId? }
 *
 * A voter who spoils a ballot hands it back and gets another; the station cancels the first by
 * its serial so that it can never be counted. Station-signed like every station route. In order:
 * the election exists (election_not_found), the sync window of scans holds (polls_not_open before
 * the opening, paper_sync_closed after the close plus paperSyncGraceMinutes: an offline station
 * syncs its cancellations with its scans), the district is one of the station's in this election
 * (named, or its only one: station_wrong_district, foreign_ballot, district_ambiguous), the
 * serial lies in a range issued to this station (foreign_ballot). Then the serial's
 * PaperBallotBox decides in one transaction: not scanned (serial_already_used), not cancelled by
 * another cancellation (serial_cancelled), the same cancellation id with the same reason and
 * district answers as before (replayed) and with another is cancellation_conflict. A later scan
 * of the serial is refused with serial_cancelled.
 *
 * The audit log's `paper-cancellation` entry (station, district, minute, serial, reason) is keyed
 * by serial, and written after the box decided (a spoiled one is also a `spoiled` signal to the
 * election's security monitor): a repeat of the call (the station's outbox
 * retrying after a lost answer or a log_pool_full) writes it if it is missing and never twice.
 *
 * A bare serial has no ballot style, so the district is the station's: required when the station
 * serves several of the election's districts. A box knows only its own serials, so the serial each
 * cancellation id cancelled is also kept in D1 (db/stores/cancellations.ts): an id reused for
 * another serial is cancellation_conflict. (Two such calls at the very same moment could both
 * pass that read; a station's outbox sends one at a time, so only a broken client could try.)
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { signalMonitor } from "../../monitor/signal.ts";
import { bodyLimit } from "hono/body-limit";
import { cancelledSerialOf, recordCancellation } from "../../../db/stores/cancellations.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { serialAssigned } from "../../../db/stores/paper.ts";
import { paperBoxFor, stationBallotCountFor } from "../../../durable-objects/addresses.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { assertNever } from "../../../lib/result.ts";
import { DistrictId, StationId, StationRequestId } from "../../../lib/station/ids.ts";
import { logPaperCancellation } from "../../audit/log.ts";
import { requireStation, type StationAppEnv, type StationPrincipal } from "../auth/station.ts";
import { errorResponses, fail, orFail, respondError, validationHook } from "../http.ts";

const tooLarge = bodyLimit({ maxSize: 4 * 1024, onError: (c) => respondError(c, "payload_too_large") });

const CancellationBody = z
  .object({
    electionId: ElectionId,
    /** Chosen by the station (its outbox key): a retry answers as the first time. */
    cancellationId: StationRequestId,
    serial: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
    reason: z.enum(["spoiled", "void"]),
    /** The district whose ballot it was: required when the station serves several of the election's. */
    districtId: DistrictId.optional(),
  })
  .strict()
  .openapi("Cancellation");

const CancellationAnswer = z
  .object({
    electionId: z.string(),
    stationId: z.string(),
    cancellationId: z.string(),
    serial: z.number().int(),
    reason: z.enum(["spoiled", "void"]),
    replayed: z.boolean(),
  })
  .openapi("CancellationAnswer");

const cancellationRoute = createRoute({
  method: "post",
  path: "/v1/stations/{stationId}/cancellations",
  tags: ["stations"],
  summary: "Cancel a spoiled or void paper ballot by its serial, before it is scanned",
  description:
    "Refusals: election_not_found (404), polls_not_open (403), paper_sync_closed (403), station_wrong_district (403), foreign_ballot (422: a serial not issued to this station, or a district it does not serve), district_ambiguous (422), serial_already_used (409: scanned already), serial_cancelled (409: cancelled by another cancellation), cancellation_conflict (409: this cancellation id with another reason or district), result_sheet_already_accepted (409: the station's result sheet closed its paper).",
  security: [{ stationSignature: [] }],
  middleware: [tooLarge, requireStation()] as const,
  request: {
    params: z.object({
      stationId: StationId.openapi({ param: { name: "stationId", in: "path" }, example: "tallinn-001" }),
    }),
    body: { required: true, content: { "application/json": { schema: CancellationBody } } },
  },
  responses: {
    201: { description: "Cancelled", content: { "application/json": { schema: CancellationAnswer } } },
    200: {
      description: "A repeat of this cancellation: the same answer",
      content: { "application/json": { schema: CancellationAnswer } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 422, 429),
  },
});

/** The window in which a station may sync paper (the scan route's, without a device time). */
function checkSyncWindow(election: CompiledElection, nowMs: number): void {
  const { opensAtMs, closesAtMs } = election.polls;
  if (nowMs < opensAtMs) fail("polls_not_open");
  if (nowMs >= closesAtMs + election.settings.paperSyncGraceMinutes * 60_000) fail("paper_sync_closed");
}

/** The cancelled ballot's district: the one named, which the station must serve, or its only one. */
function cancellationDistrict(
  election: CompiledElection,
  station: StationPrincipal,
  named: string | undefined,
): string {
  const served = [...new Set(station.districtIds)].filter((d) => election.ballotStyleByDistrict.has(d)).sort();
  if (served.length === 0) return fail("station_wrong_district");
  if (named !== undefined) {
    if (!served.includes(named)) return fail("foreign_ballot", `This station does not serve district ${named}.`);
    return named;
  }
  const [only, ...others] = served;
  if (only === undefined || others.length > 0)
    return fail("district_ambiguous", `This station serves ${served.join(", ")} in this election.`, [
      { path: "/districtId", message: "name the district whose ballot it was" },
    ]);
  return only;
}

export function cancellationRoutes(): OpenAPIHono<StationAppEnv> {
  const app = new OpenAPIHono<StationAppEnv>({ defaultHook: validationHook });

  app.openapi(cancellationRoute, async (c) => {
    const station = c.get("station");
    const body = c.req.valid("json");
    const election = await getElection(c.env.DB, body.electionId);
    if (!election) return fail("election_not_found");
    checkSyncWindow(election, Date.now());
    const districtId = cancellationDistrict(election, station, body.districtId);
    if (!(await serialAssigned(c.env.DB, station.stationId, body.serial)))
      return fail("foreign_ballot", `Serial ${body.serial} is not in a range issued to this station.`);

    const key = { electionId: election.id, stationId: station.stationId, cancellationId: body.cancellationId };
    const earlier = await cancelledSerialOf(c.env.DB, key);
    if (earlier !== undefined && earlier !== body.serial)
      return fail("cancellation_conflict", `This cancellation id cancelled serial ${earlier}.`);
    // After its result sheet a station's paper is final, as for scans; a repeat still answers.
    if (earlier === undefined && (await stationBallotCountFor(c.env, election.id, station.stationId).counts()).closed)
      return fail("result_sheet_already_accepted");

    const outcome = await paperBoxFor(c.env, election.id, body.serial).cancel({
      electionId: election.id,
      serial: body.serial,
      stationId: station.stationId,
      cancellationId: body.cancellationId,
      reason: body.reason,
      districtId,
    });
    if (!outcome.ok) {
      switch (outcome.error) {
        case "serial_already_used":
        case "serial_cancelled":
        case "cancellation_conflict":
          return fail(outcome.error);
        default:
          return assertNever(outcome.error);
      }
    }
    await recordCancellation(c.env.DB, key, body.serial);
    // A spoiled ballot's voter checked in and will not have this ballot scanned: the monitor's
    // check-ins-without-ballots rule counts it as explained (advisory, once per cancellation).
    if (body.reason === "spoiled" && !outcome.value.replayed)
      await signalMonitor(c.env, election.id, [{ kind: "spoiled", at: Date.now(), stationId: station.stationId }]);
    // Keyed by serial: a replay logs it only if the first call's append did not land.
    orFail(
      await logPaperCancellation(c.env, election.id, {
        stationId: station.stationId,
        districtId,
        at: outcome.value.cancelledAt,
        serial: String(body.serial),
        reason: body.reason,
      }),
    );
    return c.json(
      {
        electionId: election.id,
        stationId: station.stationId,
        cancellationId: body.cancellationId,
        serial: body.serial,
        reason: body.reason,
        replayed: outcome.value.replayed,
      },
      outcome.value.replayed ? 200 : 201,
    );
  });

  return app;
}
