/**
 * The gateway's HTTP surface: one OpenAPIHono app, so every route's zod schemas are both its
 * validation and its OpenAPI description (served at /openapi.json). The Worker entry (index.ts)
 * only hands requests here.
 */
import { emitEvent } from "../../lib/events.ts";
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { ApiFailure, errorResponse, isTransient, respondError, validationHook, type AppEnv } from "./http.ts";
import { authRoutes } from "./routes/auth.ts";
import { ballotRoutes } from "./routes/ballots.ts";
import { electionRoutes, MAX_DEFINITION_BYTES } from "./routes/elections.ts";
import { logRoutes } from "./routes/logs.ts";
import { certificationRoutes } from "./routes/certification.ts";
import { officialRoutes } from "./routes/officials.ts";
import { resultsRoutes } from "./routes/results.ts";
import { liveResultsRoutes } from "./routes/live-results.ts";
import { rollRoutes } from "./routes/roll.ts";
import { paperRoutes } from "./routes/paper.ts";
import { pollbookRoutes } from "./routes/pollbook.ts";
import { cancellationRoutes } from "./routes/cancellations.ts";
import { reconciliationRoutes } from "./routes/reconciliation.ts";
import { securityRoutes } from "./routes/security.ts";
import { deadLetterRoutes } from "./routes/dead-letters.ts";
import { alertRoutes } from "./routes/alerts.ts";
import { boundedBodies, DEFAULT_MAX_BODY_BYTES } from "./body.ts";
import { admissionControl, AdmissionGate } from "./admission.ts";
import { configOf } from "../../durable-objects/config.ts";
import { stationRoutes } from "./routes/stations.ts";
import { pollsRoutes } from "./routes/polls.ts";
import { conflictRoutes } from "./routes/conflicts.ts";
import { drillRoutes } from "./routes/drills.ts";
import { edgeCached, publicReadLimit } from "./edge.ts";
import { notFoundPage, pageRoutes, wantsPage } from "./pages/routes.tsx";
import { overloadedPage } from "./pages/vote-routes.tsx";
import { consoleRoutes } from "./console/routes.tsx";

export const OPENAPI_PATH = "/openapi.json";

/** A receipt, its inclusion proof, its QR images: GET /v1/receipts/{code}[/proof|/qr.svg|/qr.png]. */
const PUBLIC_READ_PATH = /^\/v1\/receipts\/[^/]+(\/(proof|qr\.svg|qr\.png))?$/;
/**
 * Whether an answer will not change soon: a receipt not yet in a published checkpoint gets its
 * `log` within seconds and its voter is waiting for it, so only a receipt that has it is cached.
 */
async function settled(path: string, res: Response): Promise<boolean> {
  if (!/^\/v1\/receipts\/[^/]+$/.test(path)) return true;
  const body: unknown = await res.clone().json();
  return typeof body === "object" && body !== null && "log" in body;
}

/** How long the edge keeps a receipt or proof answer (QR images say their own, longer, time). */
export const PUBLIC_READ_CACHE_SECONDS = 5;

/**
 * The Worker makes one app per isolate, hence one admission gate per isolate; a test may pass a
 * gate of its own to hold places in it.
 */
export function createApp({
  admission = new AdmissionGate(),
}: { admission?: AdmissionGate } = {}): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  // Every response: no framing, no sniffing, no referrer, a CSP that lets a page load nothing it
  // did not name (hono's secureHeaders): the portal's pages (pages/) load their one stylesheet,
  // their script and images from this origin's static assets and nothing else, no inline code.
  // And no-store unless the route chose its caching (the log's tiles are immutable, for example).
  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        imgSrc: ["'self'"],
        // The receipt check verifies its proof in the browser: it fetches the proof, checkpoint,
        // key and tiles from this origin's API.
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
    }),
  );
  app.use(async (c, next) => {
    await next();
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });

  // The peak write paths (casts, check-ins, scans, voter logins) refuse at once with a 503 and
  // Retry-After when this isolate already has as many of them in flight as it admits
  // (admission.ts): before the body is read, so a refusal costs next to nothing.
  app.use(admissionControl(admission, (env) => configOf(env).ADMISSION_MAX_IN_FLIGHT, overloadedPage));

  // Bodies are read once, bounded, before any route parses them; the definition upload and the
  // roll import set their own, larger limits.
  app.use(
    boundedBodies((path) => {
      if (path === "/v1/admin/elections") return MAX_DEFINITION_BYTES;
      if (/^\/v1\/admin\/elections\/[^/]+\/roll$/.test(path)) return undefined;
      return DEFAULT_MAX_BODY_BYTES;
    }),
  );

  // Public reads by tracking code (receipt, inclusion proof, QR images): rate limited per client
  // address before anything is read, then served from the edge cache for a few seconds, so a
  // flood of them reaches neither D1 nor R2 (security review M9). The answers are public records
  // (the log holds the same), the same for everyone who asks, so a shared cache may keep them.
  // Results do the same on their route (routes/results.ts).
  app.use(async (c, next) => {
    if (c.req.method !== "GET" || !PUBLIC_READ_PATH.test(c.req.path)) return next();
    return publicReadLimit(c, async () => {
      await edgeCached(c, async () => {
        await next();
        const chosen = c.res.headers.get("cache-control");
        if (c.res.status === 200 && (chosen === null || chosen === "no-store") && (await settled(c.req.path, c.res))) {
          c.res.headers.set("cache-control", `public, max-age=${PUBLIC_READ_CACHE_SECONDS}`);
        }
      });
    });
  });

  app.get("/healthz", (c) => c.json({ status: "ok" }));

  app.route("/", pageRoutes());
  // The officials' console: pages whose every read and action is a request to this same app's
  // API routes, made in-process with the official's bearer token (console/api.ts).
  app.route(
    "/console",
    consoleRoutes(async (request, env, executionCtx) => app.fetch(request, env, executionCtx)),
  );

  app.route("/", authRoutes());
  app.route("/", officialRoutes());
  app.route("/", electionRoutes());
  app.route("/", pollsRoutes());
  app.route("/", rollRoutes());
  app.route("/", ballotRoutes());
  app.route("/", resultsRoutes());
  app.route("/", liveResultsRoutes());
  app.route("/", logRoutes());
  app.route("/", certificationRoutes());
  app.route("/", stationRoutes());
  app.route("/", paperRoutes());
  // The offline pollbook, spoiled-ballot cancellations and offline conflicts' adjudication.
  app.route("/", pollbookRoutes());
  app.route("/", cancellationRoutes());
  app.route("/", conflictRoutes());
  app.route("/", reconciliationRoutes());
  app.route("/", securityRoutes());
  app.route("/", deadLetterRoutes());
  app.route("/", alertRoutes());
  app.route("/", drillRoutes());

  app.openAPIRegistry.registerComponent("securitySchemes", "voterSession", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "A voter session token from POST /v1/auth/voter-session.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "officialAccess", {
    type: "http",
    scheme: "bearer",
    bearerFormat: "JWT",
    description: "An official's access token from POST /v1/auth/token.",
  });
  app.openAPIRegistry.registerComponent("securitySchemes", "stationSignature", {
    type: "apiKey",
    in: "header",
    name: "Station-Signature",
    description:
      "A compact EdDSA JWS by the station device's key over method, path, time, nonce and body hash (lib/station/signed-request.ts).",
  });
  app.doc31(OPENAPI_PATH, {
    openapi: "3.1.0",
    info: {
      title: "Mixed election system API",
      version: "1",
      description: "Online and paper voting, one voter ledger, a public audit log.",
    },
  });

  // A person's browser asking for a path that is no page gets a page that says so; the API's
  // clients keep its JSON error with the registered code.
  app.notFound((c) => (wantsPage(c) ? notFoundPage(c) : respondError(c, "not_found")));
  app.onError((error, c) => {
    if (error instanceof ApiFailure) return errorResponse(c, error.apiError);
    if (error instanceof HTTPException) {
      // Hono raises these for bodies it cannot parse (malformed JSON, bad form data) and limits,
      // and zod-openapi a 415 for a body sent without a content type its route declares. Each
      // answers with the registered code of its status, and anything else with a 400
      // invalid_request: a code never comes with a status other than the one it declares.
      if (error.status === 413) return respondError(c, "payload_too_large");
      if (error.status === 400) return respondError(c, "invalid_json", error.message || undefined);
      if (error.status === 415) return respondError(c, "unsupported_media_type");
      return respondError(c, "invalid_request", error.message || undefined);
    }
    if (isTransient(error)) {
      // The runtime says this may succeed if tried again (a Durable Object overloaded, reset or
      // unreachable): a 503 with Retry-After, which clients retry with the same idempotency key.
      emitEvent("transient_error", { message: String(error) });
      return respondError(c, "service_overloaded");
    }
    emitEvent("unhandled_error", { message: String(error), stack: error instanceof Error ? error.stack : undefined });
    return c.json({ error: { code: "internal_error", message: "Something went wrong on our side." } }, 500);
  });
  return app;
}
