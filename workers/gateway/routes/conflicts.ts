/**
 * Adjudicating offline check-ins' conflicts (docs/PAPER.md "Offline"): a station that could not
 * reach us checked a voter in from its pollbook, and the sync found the voter had voted online
 * (first-wins), checked in elsewhere, or was no longer the station's. The ballot it issued is
 * held in its PaperBallotBox (once scanned with its envelope) until an administrator decides.
 *
 *   GET  /v1/admin/elections/{id}/conflicts                          administrators, auditors
 *   POST /v1/admin/elections/{id}/conflicts/{conflictId}/decision    administrators
 *        { decision: "count" | "do-not-count", reason }
 *
 * Order of writes, so that no decision is applied that the log does not show:
 * 1. the decision is claimed in D1 (one conditional UPDATE: two administrators racing cannot both
 *    decide; the loser gets conflict_already_decided, or 200 if it decided the same);
 * 2. the `conflict-adjudicated` entry is appended, keyed `conflict/<id>` (a repeat logs nothing
 *    twice);
 * 3. only then is it put in force (`state`) and applied: the box queues the held ballot (count)
 *    or deletes it, once. If the ballot has not been scanned yet, the scan applies it when it
 *    arrives (routes/paper.ts), which reads only a decision in force.
 * A failure after 1 leaves the decision claimed and not in force; repeating the same decision
 * completes it. Nothing here names a voter.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { logSequencerFor, paperBoxFor } from "../../../durable-objects/addresses.ts";
import {
  claimDecision,
  forgetEnvelope,
  getConflict,
  getEnvelope,
  listConflicts,
  putDecisionInForce,
  type OfflineConflict,
} from "../../../db/stores/conflicts.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { coarseTime } from "../../../lib/ballot/messages.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { assertNever } from "../../../lib/result.ts";
import { ConflictDecision } from "../../../lib/vocabulary.ts";
import { logEvent } from "../../audit/log.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";
import { Reason } from "./polls.ts";

const ElectionParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const ConflictParam = ElectionParam.extend({
  conflictId: z
    .string()
    .regex(/^[0-9a-f-]{36}$/, "a conflict id is a UUID")
    .openapi({ param: { name: "conflictId", in: "path" } }),
});

const ConflictView = z
  .object({
    conflictId: z.string(),
    electionId: z.string(),
    stationId: z.string(),
    districtId: z.string(),
    kind: z.enum(["voted-online", "checked-in", "out-of-district"]).openapi({
      description:
        "voted-online: the voter's online ballot counted first (first-wins); checked-in: the voter checked in already, here or at another station; out-of-district: the roll no longer puts the voter in this station's districts",
    }),
    checkInMinute: z
      .string()
      .openapi({ description: "When the station decided the check-in (its clock), to the minute" }),
    syncedMinute: z.string().openapi({ description: "When its sync reached the server, to the minute" }),
    other: z
      .union([
        z.object({ channel: z.literal("online"), minute: z.string().nullable() }),
        z.object({ channel: z.literal("paper"), stationId: z.string(), minute: z.string() }),
      ])
      .nullable()
      .openapi({ description: "What the ledger knew of the voter's other channel" }),
    state: z.enum(["held", "count", "do-not-count"]),
    decision: z.object({ officialId: z.string(), minute: z.string(), reason: z.string() }).nullable(),
  })
  .openapi("OfflineConflict");
type ConflictView = z.infer<typeof ConflictView>;

function viewOf(conflict: OfflineConflict): ConflictView {
  return {
    conflictId: conflict.id,
    electionId: conflict.electionId,
    stationId: conflict.stationId,
    districtId: conflict.districtId,
    kind: conflict.kind,
    checkInMinute: conflict.checkInMinute,
    syncedMinute: conflict.syncedMinute,
    other: conflict.other,
    state: conflict.state,
    decision:
      conflict.decidedBy !== null && conflict.decidedMinute !== null && conflict.reason !== null
        ? { officialId: conflict.decidedBy, minute: conflict.decidedMinute, reason: conflict.reason }
        : null,
  };
}

const listRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/conflicts",
  tags: ["stations"],
  summary: "Offline check-ins' conflicts of an election, held and decided",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor")] as const,
  request: { params: ElectionParam },
  responses: {
    200: {
      description: "The conflicts, by station and minute",
      content: {
        "application/json": { schema: z.object({ electionId: z.string(), conflicts: z.array(ConflictView) }) },
      },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

const DecisionBody = z.object({ decision: ConflictDecision, reason: Reason }).strict();

const decideRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/conflicts/{conflictId}/decision",
  tags: ["stations"],
  summary: "Decide whether the held ballot of a conflicting offline check-in counts",
  description:
    "Once per conflict: the same decision again answers 200 (and completes one whose application was interrupted); another is refused with conflict_already_decided (409). Logged as `conflict-adjudicated` before it is applied. count queues the held ballot to the tally exactly once; do-not-count destroys its marks. A ballot not yet scanned is treated so when its scan arrives. Refusals: conflict_not_found (404), conflict_already_decided (409), results_already_published (409: the results exports, which wait for every open conflict, came out before this one was decided), log_pool_full (429: repeat).",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: {
    params: ConflictParam,
    body: { required: true, content: { "application/json": { schema: DecisionBody } } },
  },
  responses: {
    200: { description: "The conflict as decided", content: { "application/json": { schema: ConflictView } } },
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

/** Applies a stored decision to the held ballot, if it was scanned; forgets the envelope once applied. */
async function apply(env: Env, conflict: OfflineConflict): Promise<void> {
  if (conflict.state === "held") return;
  const envelope = await getEnvelope(env.DB, conflict.envelopeDigest);
  if (!envelope || envelope.serial === null) return; // applied already, or the scan will apply it
  const released = await paperBoxFor(env, conflict.electionId, envelope.serial).release({
    electionId: conflict.electionId,
    serial: envelope.serial,
    decision: conflict.state,
  });
  if (!released.ok) {
    switch (released.error) {
      case "not_scanned":
        return; // claimed by a scan still on its way: it applies the decision when it settles
      default:
        return assertNever(released.error);
    }
  }
  await forgetEnvelope(env.DB, conflict.envelopeDigest);
}

export function conflictRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(listRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (!(await getElection(c.env.DB, electionId))) return fail("election_not_found");
    const conflicts = await listConflicts(c.env.DB, electionId);
    return c.json({ electionId, conflicts: conflicts.map(viewOf) }, 200);
  });

  app.openapi(decideRoute, async (c) => {
    const { electionId, conflictId } = c.req.valid("param");
    const { decision, reason } = c.req.valid("json");
    const officialId = c.get("official").officialId;
    if (!(await getElection(c.env.DB, electionId))) return fail("election_not_found");
    const found = await getConflict(c.env.DB, electionId, conflictId);
    if (!found) return fail("conflict_not_found");
    // The exports wait for every open conflict (durable-objects/log-exports.ts); one that arose after
    // them (a station syncing in its grace) keeps its ballot held: counting it now would make the
    // published results wrong.
    if (found.decision === null && (await logSequencerFor(c.env, electionId).status()).exports.state === "published")
      return fail("results_already_published");
    const conflict =
      found.decision === null
        ? await claimDecision(c.env.DB, electionId, conflictId, {
            decision,
            officialId,
            reason,
            minute: coarseTime(new Date()),
          })
        : found;
    if (!conflict || conflict.decision === null) throw new Error("a claimed decision reads as none");
    if (conflict.decision !== decision) return fail("conflict_already_decided");
    // Logged (once, by its key) before it is applied; a repeat logs nothing new and completes it.
    const logged = await logEvent(c.env, electionId, `conflict/${conflict.id}`, {
      type: "conflict-adjudicated",
      at: conflict.decidedMinute ?? coarseTime(new Date()),
      conflictId: conflict.id,
      stationId: conflict.stationId,
      districtId: conflict.districtId,
      decision: conflict.decision,
      officialId: conflict.decidedBy ?? officialId,
      reason: conflict.reason ?? reason,
    });
    if (!logged.ok) return fail(logged.error);
    const inForce = await putDecisionInForce(c.env.DB, electionId, conflictId);
    if (!inForce) throw new Error("the conflict vanished");
    await apply(c.env, inForce);
    return c.json(viewOf(inForce), 200);
  });

  return app;
}
