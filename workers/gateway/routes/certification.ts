/**
 * The results exports and their certification, for officials.
 *
 *   GET  /v1/admin/elections/{electionId}/results/exports   whether the exports are published, their
 *                                                           digests and paths, and the certification
 *   POST /v1/admin/elections/{electionId}/results/certify   an administrator certifies the published
 *                                                           results report: a results-certified entry
 *
 * The exports are made by the log sequencer on its own (durable-objects/log-exports.ts); nothing
 * here writes them. Certification names the report by the SHA-256 the log's results-published
 * entry gives, so what was certified is exactly the signed file beside the log. It happens once:
 * the entry's key ("results-certified") is unique in the log, so two administrators certifying
 * at the same moment log one certification and the second is told it is already certified.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { CVR_EXPORT_PATH, RESULTS_EXPORT_PATH, signaturePath } from "../../../lib/audit/layout.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { logSequencerFor } from "../../../durable-objects/addresses.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { logEvent, logTime } from "../../audit/log.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, fail, validationHook, type AppEnv } from "../http.ts";

const ElectionIdParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const Digest = z
  .string()
  .nullable()
  .openapi({ description: "SHA-256 in hex, as the results-published entry gives it" });

const ExportsStatus = z
  .object({
    electionId: z.string(),
    published: z.boolean(),
    state: z.enum(["not-due", "waiting", "published"]).openapi({
      description:
        "not-due: the last round of cast vote records is not complete; waiting: they cannot be made yet (see reason); published: signed and beside the log",
    }),
    reason: z.string().nullable(),
    resultsSha256: Digest,
    cvrSha256: Digest,
    paths: z.object({
      results: z.string(),
      resultsSignature: z.string(),
      cvr: z.string(),
      cvrSignature: z.string(),
    }),
    certified: z.object({ at: z.string(), officialId: z.string() }).nullable(),
  })
  .openapi("ResultsExports");

const exportsRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/results/exports",
  tags: ["results"],
  summary: "The results exports: published?, their digests and where they are, and the certification",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Status", content: { "application/json": { schema: ExportsStatus } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const certifyRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/results/certify",
  tags: ["results"],
  summary: "Certify the published results report (logged as results-certified, once)",
  description:
    "Refused with results_not_published (409) until the exports are published, and results_already_certified (409) after the first certification. The optional statement is logged with the certification, publicly: it must name no voter.",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: {
    params: ElectionIdParam,
    body: {
      required: false,
      content: {
        "application/json": {
          schema: z
            .object({
              statement: z
                .string()
                .trim()
                .max(1000)
                .refine(
                  (t) => new TextEncoder().encode(t).length <= 1024 && !/\p{Surrogate}/u.test(t),
                  "at most 1024 bytes of well-formed UTF-8 (what a log entry holds)",
                )
                .optional()
                .openapi({ description: "A statement logged with the certification (public)" }),
            })
            .strict(),
        },
      },
    },
  },
  responses: {
    201: {
      description: "Certified",
      content: {
        "application/json": {
          schema: z.object({ certifiedAt: z.string(), officialId: z.string(), resultsSha256: z.string() }),
        },
      },
    },
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

export function certificationRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(exportsRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    const { exports } = await logSequencerFor(c.env, electionId).status();
    const base = new URL(`/v1/logs/${electionId}/`, c.req.url).toString();
    c.header("cache-control", "no-store");
    return c.json(
      {
        electionId,
        published: exports.state === "published",
        state: exports.state,
        reason: exports.reason,
        resultsSha256: exports.resultsSha256,
        cvrSha256: exports.cvrSha256,
        paths: {
          results: `${base}${RESULTS_EXPORT_PATH}`,
          resultsSignature: `${base}${signaturePath(RESULTS_EXPORT_PATH)}`,
          cvr: `${base}${CVR_EXPORT_PATH}`,
          cvrSignature: `${base}${signaturePath(CVR_EXPORT_PATH)}`,
        },
        certified: exports.certified,
      },
      200,
    );
  });

  app.openapi(certifyRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    // The body is optional: no body (or no JSON content type) is a certification without a statement.
    const statement = c.req.header("content-type")?.startsWith("application/json")
      ? (c.req.valid("json").statement ?? "")
      : "";
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    const { exports } = await logSequencerFor(c.env, electionId).status();
    if (exports.state !== "published" || !exports.resultsSha256) fail("results_not_published");
    if (exports.certified) fail("results_already_certified");
    const officialId = c.get("official").officialId;
    const at = logTime();
    const logged = await logEvent(c.env, electionId, "results-certified", {
      type: "results-certified",
      at,
      officialId,
      resultsSha256: exports.resultsSha256,
      statement,
    });
    if (!logged.ok) fail(logged.error);
    // Another administrator's certification got there first (the key is logged once).
    if (logged.value.pooled === 0) fail("results_already_certified");
    return c.json({ certifiedAt: at, officialId, resultsSha256: exports.resultsSha256 }, 201);
  });

  return app;
}
