/**
 * The public audit logs, read-only, and the receipts' inclusion proofs.
 *
 *   GET /v1/logs/{electionId}                    where the log is and how to check it (JSON)
 *   GET /v1/logs/{electionId}/checkpoint         the latest signed checkpoint (never cached)
 *   GET /v1/logs/{electionId}/tile/...           tlog-tiles hash tiles and entry bundles (immutable)
 *   GET /v1/logs/{electionId}/verifier-key       the log's signed-note verifier key (text)
 *   GET /v1/logs/{electionId}/exports/{file}     the NIST results report and CVR export and their
 *                                                detached JWS signatures (immutable, once published)
 *   GET /v1/receipts/{trackingCode}/proof        a tlog-proof bundle for the receipt's ballot entry
 * and, for officials:
 *   GET  /v1/admin/elections/{electionId}/log                     the sequencer's status
 *   POST /v1/admin/elections/{electionId}/log/cast-vote-records   publish the cast vote records now
 *
 * The objects are R2's as the sequencer wrote them (lib/audit/layout.ts): a public bucket can
 * serve the same paths, these routes exist so the API alone is enough to audit.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  CHECKPOINT_CACHE_CONTROL,
  CVR_EXPORT_PATH,
  IMMUTABLE_CACHE_CONTROL,
  logObjectKey,
  RESULTS_EXPORT_PATH,
  signaturePath,
} from "../../../lib/audit/layout.ts";
import { TRACKING_CODE } from "../../../lib/ballot/commitment.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { parseTilePath } from "../../../lib/tlog/tiles.ts";
import { logVerifierKey, originOf } from "../../../durable-objects/log-key.ts";
import { logSequencerFor } from "../../../durable-objects/addresses.ts";
import { inclusionProofBundle, publishedCheckpoint } from "../../audit/proofs.ts";
import { drainEvidence } from "../../audit/log.ts";
import { findLogLeaf, findReceipt } from "../../../db/stores/receipts.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, respondError, validationHook, type AppEnv } from "../http.ts";

const ElectionIdParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const text = (description: string): { description: string; content: { "text/plain": { schema: z.ZodString } } } => ({
  description,
  content: { "text/plain": { schema: z.string() } },
});

const LogInfo = z
  .object({
    electionId: z.string(),
    origin: z.string().openapi({ description: "The checkpoint origin, also the signing key's name." }),
    verifierKey: z.string().openapi({ description: "The log's Ed25519 signed-note verifier key." }),
    checkpointUrl: z.string(),
    tileBaseUrl: z
      .string()
      .openapi({ description: "Append tlog-tiles paths (tile/0/000, tile/entries/000.p/12, ...)." }),
    size: z
      .number()
      .int()
      .min(0)
      .openapi({ description: "The latest public checkpoint's tree size (0 before the first)." }),
  })
  .openapi("AuditLog");

const infoRoute = createRoute({
  method: "get",
  path: "/v1/logs/{electionId}",
  tags: ["audit log"],
  summary: "Where an election's audit log is and how to check it",
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "The log", content: { "application/json": { schema: LogInfo } } },
    ...errorResponses(400, 404),
  },
});

const checkpointRoute = createRoute({
  method: "get",
  path: "/v1/logs/{electionId}/checkpoint",
  tags: ["audit log"],
  summary: "The log's latest checkpoint (c2sp.org/tlog-checkpoint, a signed note)",
  request: { params: ElectionIdParam },
  responses: { 200: text("The signed checkpoint"), ...errorResponses(400, 404) },
});

const verifierKeyRoute = createRoute({
  method: "get",
  path: "/v1/logs/{electionId}/verifier-key",
  tags: ["audit log"],
  summary: "The log's verifier key (c2sp.org/signed-note); pin it, or take it from the authority",
  request: { params: ElectionIdParam },
  responses: { 200: text("<origin>+<key id>+<base64 key>"), ...errorResponses(400, 404) },
});

/** The four export files, as served (and as an auditor's mirror names them under exports/). */
const EXPORT_FILES = [
  RESULTS_EXPORT_PATH,
  signaturePath(RESULTS_EXPORT_PATH),
  CVR_EXPORT_PATH,
  signaturePath(CVR_EXPORT_PATH),
].map((path) => path.slice("exports/".length)) as [string, ...string[]];

const exportRoute = createRoute({
  method: "get",
  path: "/v1/logs/{electionId}/exports/{file}",
  tags: ["audit log"],
  summary: "The NIST results report or cast vote record export, or its detached JWS signature",
  description:
    "Published once, after the last cast vote records: results.json (NIST SP 1500-100 rev.2 ElectionReport), cvr.json (NIST SP 1500-103 CastVoteRecordReport), each with `.jws`, a detached compact JWS (RFC 7515 appendix F, EdDSA) by the log's key. Their SHA-256 are in the log's results-published entry. 404 exports_not_published before.",
  request: {
    params: ElectionIdParam.extend({
      file: z.enum(EXPORT_FILES).openapi({ param: { name: "file", in: "path" }, example: "results.json" }),
    }),
  },
  responses: {
    200: {
      description: "The file (immutable)",
      content: {
        "application/json": { schema: z.looseObject({}) },
        "application/jose": { schema: z.string() },
      },
    },
    ...errorResponses(400, 404),
  },
});

const TrackingCodeParam = z.object({
  trackingCode: z.string().regex(TRACKING_CODE, "a tracking code like 7K3M-Q9TX-2D4F-H8JA"),
});

const proofRoute = createRoute({
  method: "get",
  path: "/v1/receipts/{trackingCode}/proof",
  tags: ["audit log"],
  summary: "The inclusion proof of a receipt's ballot entry (c2sp.org/tlog-proof)",
  description:
    "Against the latest checkpoint. The `extra` line carries the ballot entry (lib/audit/entries.ts): its commitment is the receipt's. 404 receipt_not_sequenced for a few seconds after casting.",
  request: { params: TrackingCodeParam },
  responses: { 200: text("The tlog-proof bundle"), ...errorResponses(400, 404) },
});

const LogStatusSchema = z
  .object({
    electionId: z.string().nullable(),
    origin: z.string().nullable(),
    size: z.number().int(),
    publishedSize: z.number().int(),
    acknowledgedSize: z.number().int(),
    pooled: z.number().int(),
    castVoteRecords: z.object({
      pending: z.number().int(),
      publishing: z.number().int(),
      published: z.number().int(),
      retracted: z.number().int(),
      awaitingBallot: z.number().int(),
      rounds: z.number().int(),
    }),
    pollsOpened: z.boolean(),
    pollsClosed: z.boolean(),
    halted: z.string().nullable(),
    exports: z.object({
      state: z.enum(["not-due", "waiting", "published"]),
      reason: z.string().nullable(),
      resultsSha256: z.string().nullable(),
      cvrSha256: z.string().nullable(),
      certified: z.object({ at: z.string(), officialId: z.string() }).nullable(),
    }),
    sequencing: z.object({ entries: z.number().int(), steps: z.number().int(), busyMs: z.number() }),
  })
  .openapi("AuditLogStatus");

const statusRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/log",
  tags: ["audit log"],
  summary: "The audit log sequencer's state: sizes, pool, cast vote records, halt reason",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Status", content: { "application/json": { schema: LogStatusSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const publishRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/log/cast-vote-records",
  tags: ["audit log"],
  summary: "Publish the cast vote records now (after the polls closed and the channels drained)",
  description:
    "Without this call the log publishes them by itself ten minutes after the polls close. Refused with records_not_drained (409) until every accepted ballot and retraction has reached the log: with ledger buckets, every ledger bucket and paper box reports no unsent message and as many ballots and retractions enqueued as the log received; with one ledger per voter (which cannot be enumerated), ten minutes after the close, no ballot for ten minutes and no dead letter of the election. Records are published in random order (per contest by default); each round ends with a cast-vote-records-published entry counting them per district, and a round after the first holds back districts with fewer than k (minBallotsPerRelease) records. `records`: the ballots whose records the round publishes.",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: {
      description: "The round started (or already running)",
      content: { "application/json": { schema: z.object({ round: z.number().int(), records: z.number().int() }) } },
    },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

export function logRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(infoRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    const base = new URL(`/v1/logs/${electionId}/`, c.req.url).toString();
    const published = await publishedCheckpoint(c.env, electionId);
    return c.json(
      {
        electionId,
        origin: originOf(c.env, electionId),
        verifierKey: await logVerifierKey(c.env, electionId),
        checkpointUrl: `${base}checkpoint`,
        tileBaseUrl: base,
        size: published?.checkpoint.size ?? 0,
      },
      200,
    );
  });

  app.openapi(checkpointRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const object = await c.env.AUDIT_LOG.get(logObjectKey(electionId, "checkpoint"));
    if (!object) fail("log_not_found");
    return c.text(await object.text(), 200, { "cache-control": CHECKPOINT_CACHE_CONTROL });
  });

  app.openapi(verifierKeyRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    return c.text(`${await logVerifierKey(c.env, electionId)}\n`, 200, { "cache-control": "public, max-age=300" });
  });

  app.openapi(exportRoute, async (c) => {
    const { electionId, file } = c.req.valid("param");
    const object = await c.env.AUDIT_LOG.get(logObjectKey(electionId, `exports/${file}`));
    if (!object) fail("exports_not_published");
    return c.body(await object.arrayBuffer(), 200, {
      "content-type": object.httpMetadata?.contentType ?? "application/octet-stream",
      "cache-control": IMMUTABLE_CACHE_CONTROL,
    });
  });

  app.openapi(proofRoute, async (c) => {
    const { trackingCode } = c.req.valid("param");
    const leaf = await findLogLeaf(c.env.DB, trackingCode);
    if (!leaf) fail((await findReceipt(c.env.DB, trackingCode)) ? "receipt_not_sequenced" : "receipt_not_found");
    const bundle = await inclusionProofBundle(c.env, leaf.electionId, leaf.leafIndex);
    if (!bundle.ok) fail("receipt_not_sequenced");
    return c.text(bundle.value, 200, { "cache-control": "no-store" });
  });

  app.openapi(statusRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    c.header("cache-control", "no-store");
    return c.json(await logSequencerFor(c.env, electionId).status(), 200);
  });

  app.openapi(publishRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    const result = await logSequencerFor(c.env, electionId).publishCastVoteRecords(
      electionId,
      election.settings.polls.closesAt,
      await drainEvidence(c.env, electionId),
    );
    if (!result.ok) fail(result.error);
    return c.json(result.value, 200);
  });

  // Tiles and entry bundles: the path after tile/ has slashes, which an OpenAPI path parameter
  // cannot hold, so this route is plain Hono, documented by hand below.
  app.get("/v1/logs/:electionId/tile/*", async (c) => {
    const electionId = ElectionId.safeParse(c.req.param("electionId"));
    const prefix = `/v1/logs/${electionId.success ? electionId.data : ""}/`;
    const relative = c.req.path.startsWith(prefix) ? c.req.path.slice(prefix.length) : "";
    const tile = parseTilePath(relative);
    if (!electionId.success || !tile.ok) {
      return respondError(c, "invalid_request", undefined, [
        { path: "/path", message: tile.ok ? "not an election id" : tile.error },
      ]);
    }
    const object = await c.env.AUDIT_LOG.get(logObjectKey(electionId.data, relative));
    if (!object) return respondError(c, "not_found");
    return c.body(await object.arrayBuffer(), 200, {
      "content-type": "application/octet-stream",
      "cache-control": IMMUTABLE_CACHE_CONTROL,
    });
  });
  app.openAPIRegistry.registerPath({
    method: "get",
    path: "/v1/logs/{electionId}/tile/{tilePath}",
    tags: ["audit log"],
    summary: "A hash tile (tile/<L>/<N>[.p/<W>]) or entry bundle (tile/entries/<N>[.p/<W>]), c2sp.org/tlog-tiles",
    description:
      "`tilePath` stands for the rest of the path, slashes included, e.g. `0/x001/234.p/17` or `entries/000`.",
    request: { params: ElectionIdParam.extend({ tilePath: z.string() }) },
    responses: {
      200: {
        description: "The tile's bytes (immutable)",
        content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
      },
      ...errorResponses(400, 404),
    },
  });

  return app;
}
