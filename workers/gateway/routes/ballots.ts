/**
 * Casting online and checking receipts. The gateway validates the ballot against the voter's
 * ballot style, makes the commitment (under a fresh random nonce) and tracking code, and asks the
 * voter's ledger to decide; the ledger persists and queues; the gateway signs the receipt. That
 * path is workers/voting/cast.ts, which the portal's cast form takes too.
 *
 * What each reader learns:
 * - The public receipt check (`GET /v1/receipts/{code}`) answers only that the ballot was
 *   recorded and where it sits in the log, never whether it was later superseded or cancelled:
 *   whoever holds a receipt may be a coercer, and a re-vote must stay invisible to them.
 * - The voter, in their own session, sees their ballots' standing (`GET .../my-ballot`, and a
 *   repeat of a replaced ballot's request is told it no longer counts), from their ledger.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ContestMarks } from "../../../lib/ballot/messages.ts";
import { TRACKING_CODE } from "../../../lib/ballot/commitment.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { assertNever } from "../../../lib/result.ts";
import { requireVoter } from "../auth/middleware.ts";
import { castingClient, clientAddress, rateLimited } from "../edge.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";
import { castBallot, voterStanding } from "../../voting/cast.ts";
import { qrPng, qrSvg } from "../../voting/qr.ts";
import { receiptPublicKeys } from "../../voting/receipts.ts";
import { findLogLeaf, findReceipt } from "../../../db/stores/receipts.ts";

const CastBody = z
  .object({
    /** Chosen by the client per ballot; a retry with the same key returns the same receipt. */
    idempotencyKey: z.string().regex(/^[A-Za-z0-9_-]{8,128}$/, "8-128 letters, digits, dashes or underscores"),
    contests: z.array(ContestMarks.strict()).max(256),
  })
  .strict()
  .openapi("CastBallot");

const Receipt = z
  .object({
    electionId: z.string(),
    trackingCode: z.string().openapi({ example: "7K3M-Q9TX-2D4F-H8JA" }),
    commitment: z.string(),
    acceptedAt: z.string(),
    channel: z.literal("online"),
    receiptJws: z.string().openapi({ description: "EdDSA JWS over the receipt; keys at /v1/receipt-keys" }),
    checkUrl: z.string(),
    qr: z.object({ svgUrl: z.string(), pngUrl: z.string() }),
    replayed: z.boolean(),
  })
  .openapi("Receipt");

const castRoute = createRoute({
  method: "post",
  path: "/v1/elections/{electionId}/ballots",
  tags: ["voting"],
  summary: "Cast an online ballot",
  security: [{ voterSession: [] }],
  // Both limits run before the ballot is parsed: per client address first, then per voter.
  middleware: [
    rateLimited(
      (env) => env.CAST_IP_LIMITER,
      (c) => clientAddress(c),
      "cast-address",
    ),
    requireVoter(),
    rateLimited(
      (env) => env.CAST_VOTER_LIMITER,
      (c) => `${c.get("voter").electionId}:${c.get("voter").voterKey}`,
      "cast-voter",
    ),
  ] as const,
  request: {
    params: z.object({ electionId: ElectionId }),
    body: { required: true, content: { "application/json": { schema: CastBody } } },
  },
  responses: {
    201: { description: "Accepted: the signed receipt", content: { "application/json": { schema: Receipt } } },
    200: {
      description: "A repeat of an accepted request: the same receipt",
      content: { "application/json": { schema: Receipt } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 422, 429, 503),
  },
});

const LedgerBallotStatus = z.enum(["counted", "superseded", "cancelled"]);

const myBallotRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}/my-ballot",
  tags: ["voting"],
  summary: "The voter's own ballots and whether each still counts (voter session only)",
  security: [{ voterSession: [] }],
  middleware: [requireVoter()] as const,
  request: { params: z.object({ electionId: ElectionId }) },
  responses: {
    200: {
      description: "What the voter's ledger holds about them",
      content: {
        "application/json": {
          schema: z
            .object({
              electionId: z.string(),
              state: z.enum(["none", "online", "paper"]),
              /** The tracking code of the online ballot that counts, if one does. */
              countedTrackingCode: z.string().nullable(),
              checkedInOnPaper: z.boolean(),
              ballots: z.array(
                z.object({ trackingCode: z.string(), acceptedAt: z.string(), status: LedgerBallotStatus }),
              ),
              linksKept: z.boolean().openapi({
                description: "False after the forget time: the ledger no longer knows which ballots were yours.",
              }),
            })
            .openapi("MyBallot"),
        },
      },
    },
    ...errorResponses(401, 403, 404),
  },
});

const TrackingCodeParam = z.object({
  trackingCode: z.string().regex(TRACKING_CODE, "a tracking code like 7K3M-Q9TX-2D4F-H8JA"),
});

const receiptRoute = createRoute({
  method: "get",
  path: "/v1/receipts/{trackingCode}",
  tags: ["voting"],
  summary: "Check that a ballot with this tracking code was recorded",
  request: { params: TrackingCodeParam },
  responses: {
    200: {
      description: "What the system recorded for this tracking code",
      content: {
        "application/json": {
          schema: z.object({
            trackingCode: z.string(),
            electionId: z.string(),
            status: z.literal("recorded").openapi({
              description:
                "Always recorded: whether a later ballot replaced this one is told only to the voter (my-ballot), never to whoever holds the receipt.",
            }),
            commitment: z.string(),
            recordedAt: z.string(),
            log: z
              .object({ leafIndex: z.number().int().min(0), proofUrl: z.string(), checkpointUrl: z.string() })
              .optional()
              .openapi({
                description: "Where the ballot sits in the election's audit log, once a published checkpoint holds it.",
              }),
          }),
        },
      },
    },
    ...errorResponses(400, 404),
  },
});

const qrSvgRoute = createRoute({
  method: "get",
  path: "/v1/receipts/{trackingCode}/qr.svg",
  tags: ["voting"],
  summary: "The receipt's QR code (check URL) as SVG",
  request: { params: TrackingCodeParam },
  responses: {
    200: { description: "SVG", content: { "image/svg+xml": { schema: z.string() } } },
    ...errorResponses(400),
  },
});

const qrPngRoute = createRoute({
  method: "get",
  path: "/v1/receipts/{trackingCode}/qr.png",
  tags: ["voting"],
  summary: "The receipt's QR code (check URL) as PNG",
  request: { params: TrackingCodeParam },
  responses: { 200: { description: "PNG", content: { "image/png": { schema: z.string() } } }, ...errorResponses(400) },
});

const keysRoute = createRoute({
  method: "get",
  path: "/v1/receipt-keys",
  tags: ["voting"],
  summary: "The public keys that verify receipts (JWKS)",
  responses: {
    200: {
      description: "JWKS",
      content: { "application/json": { schema: z.object({ keys: z.array(z.looseObject({ kty: z.string() })) }) } },
    },
  },
});

/**
 * What a receipt's QR code encodes and its `checkUrl` says: the portal's `/check` page, which a
 * phone's camera opens as a page a person can read (the receipt API's JSON is for programs).
 */
function checkUrlOf(requestUrl: string, trackingCode: string): string {
  const url = new URL("/check", requestUrl);
  url.searchParams.set("code", trackingCode);
  return url.toString();
}

/** The receipt API's own path, under which its QR images are served. */
function receiptApiUrlOf(requestUrl: string, trackingCode: string): string {
  return new URL(`/v1/receipts/${trackingCode}`, requestUrl).toString();
}

export function ballotRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(castRoute, async (c) => {
    const voter = c.get("voter");
    const election = await getElection(c.env.DB, voter.electionId);
    if (!election) fail("election_not_found");
    const client = await castingClient(c, election, voter);
    if (!client) fail("geofence_refused");

    const body = c.req.valid("json");
    const cast = await castBallot(c.env, election, voter, client, body.idempotencyKey, body.contests);
    if (!cast.ok) {
      const failure = cast.error;
      switch (failure.code) {
        case "invalid_ballot":
          fail("invalid_ballot", undefined, failure.problems);
        case "already_voted":
        case "already_voted_on_paper":
        case "polls_not_open":
        case "polls_closed":
        case "idempotency_conflict":
        case "ballot_superseded":
          fail(failure.code);
        default:
          assertNever(failure);
      }
    }
    const accepted = cast.value;
    const receiptUrl = receiptApiUrlOf(c.req.url, accepted.trackingCode);
    return c.json(
      {
        electionId: election.id,
        trackingCode: accepted.trackingCode,
        commitment: accepted.commitment,
        acceptedAt: accepted.acceptedAt,
        channel: "online" as const,
        receiptJws: accepted.receiptJws,
        checkUrl: checkUrlOf(c.req.url, accepted.trackingCode),
        qr: { svgUrl: `${receiptUrl}/qr.svg`, pngUrl: `${receiptUrl}/qr.png` },
        replayed: accepted.replayed,
      },
      accepted.replayed ? 200 : 201,
    );
  });

  app.openapi(receiptRoute, async (c) => {
    const { trackingCode } = c.req.valid("param");
    const [receipt, leaf] = await Promise.all([
      findReceipt(c.env.DB, trackingCode),
      findLogLeaf(c.env.DB, trackingCode),
    ]);
    // A retraction that arrived before its ballot leaves a row without a commitment: the ballot
    // itself is not recorded yet, and that is all this check may say about it.
    if (!receipt || receipt.commitment === "") fail("receipt_not_found");
    const log = leaf && {
      leafIndex: leaf.leafIndex,
      proofUrl: new URL(`/v1/receipts/${trackingCode}/proof`, c.req.url).toString(),
      checkpointUrl: new URL(`/v1/logs/${leaf.electionId}/checkpoint`, c.req.url).toString(),
    };
    // Never the stored status (superseded, cancelled): it would tell a coercer of a re-vote.
    return c.json(
      {
        trackingCode: receipt.trackingCode,
        electionId: receipt.electionId,
        status: "recorded" as const,
        commitment: receipt.commitment,
        recordedAt: receipt.recordedAt,
        ...(log ? { log } : {}),
      },
      200,
    );
  });

  app.openapi(myBallotRoute, async (c) => {
    const voter = c.get("voter");
    const { electionId } = c.req.valid("param");
    // A session names one election; another election's ballots are not this session's to read.
    if (electionId !== voter.electionId) fail("forbidden");
    const mine = await voterStanding(c.env, voter.electionId, voter);
    return c.json(
      {
        electionId: voter.electionId,
        state: mine.state,
        countedTrackingCode: mine.countedTrackingCode,
        checkedInOnPaper: mine.checkedInOnPaper,
        ballots: [...mine.ballots],
        linksKept: mine.linksKept,
      },
      200,
    );
  });

  app.openapi(qrSvgRoute, async (c) => {
    const { trackingCode } = c.req.valid("param");
    const svg = await qrSvg(checkUrlOf(c.req.url, trackingCode));
    return c.body(svg, 200, { "content-type": "image/svg+xml", "cache-control": "public, max-age=86400, immutable" });
  });

  app.openapi(qrPngRoute, async (c) => {
    const { trackingCode } = c.req.valid("param");
    const png = await qrPng(checkUrlOf(c.req.url, trackingCode));
    return c.body(png, 200, { "content-type": "image/png", "cache-control": "public, max-age=86400, immutable" });
  });

  app.openapi(keysRoute, async (c) => c.json(await receiptPublicKeys(c.env), 200));

  return app;
}
