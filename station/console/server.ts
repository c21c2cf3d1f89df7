/**
 * The station console: web pages the station's client serves on the laptop's loopback address for
 * its official (`startConsole`), driving a station through StationOperations only, as the command
 * line does. Plain forms answered by POST-redirect-GET, so everything works without JavaScript;
 * the script (browser/station-console.ts, bundled into dist/station/) refreshes the connection
 * banner and the outbox and reads QR codes from the camera.
 *
 * Other web pages open in the official's browser must not drive it. So it listens on 127.0.0.1
 * only; refuses any request whose Host is not its own address (a DNS-rebinding page would send its
 * own name); refuses a POST whose Origin or Sec-Fetch-Site names another origin; and wants in every
 * form a CSRF token made fresh when the process starts, which no other page can read. Answers carry
 * the portal's security headers: a CSP that loads from this origin only, no framing, no sniffing,
 * no referrer, no caching.
 */
import { serve } from "@hono/node-server";
import { Hono, type Context } from "hono";
import { bodyLimit } from "hono/body-limit";
import { secureHeaders } from "hono/secure-headers";
import { randomBytes, timingSafeEqual } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { NationalId } from "../../lib/identity/national-id.ts";
import { EnvelopeCode } from "../../lib/station/pollbook.ts";
import type { CancelResult, CheckInResult, ResultSheet, ScanResult, StationOperations } from "../operations.ts";
import { qrTextFromImage } from "../qr-image.ts";
import { ConnectionBanner, type Html } from "./layout.ts";
import { messages as t } from "./messages.ts";
import {
  CancelPage,
  CheckInPage,
  HomePage,
  MessagePage,
  OutboxPage,
  OutboxTable,
  ResultSheetPage,
  ScanPage,
  type CancelForm,
  type CheckInForm,
  type ScanForm,
} from "./pages.ts";

/** dist/station/, built by scripts/build-assets.ts from browser/station-console.ts and its stylesheet. */
export const CONSOLE_ASSETS_DIR = join(import.meta.dirname, "..", "..", "dist", "station");

const ASSETS: Readonly<Record<string, string>> = {
  "station-console.js": "text/javascript; charset=utf-8",
  "station-console.css": "text/css; charset=utf-8",
};

/** A photo of a ballot from a phone is a few MB; nothing else the console takes is large. */
const MAX_IMAGE_BYTES = 8 * 1024 * 1024;
const MAX_FORM_BYTES = 64 * 1024;
const OUTBOX_ROWS = 100;

export interface ConsoleOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** The loopback address to listen on; 127.0.0.1 unless another loopback address is given. */
  readonly host?: string;
}

export interface RunningConsole {
  readonly url: string;
  close(): Promise<void>;
}

type Outcome =
  | { readonly kind: "check-in"; readonly result: CheckInResult }
  | { readonly kind: "scan"; readonly result: ScanResult }
  | { readonly kind: "cancel"; readonly result: CancelResult }
  | { readonly kind: "notice"; readonly message: string }
  | { readonly kind: "refusal"; readonly code: string; readonly message: string };

/**
 * What a POST did, kept in memory for the page it redirects to (`?r=<id>`): the answer never goes
 * into the URL, and a national id never into either. The newest 50 are kept.
 */
class Outcomes {
  private readonly items = new Map<string, Outcome>();
  put(outcome: Outcome): string {
    const id = randomBytes(12).toString("base64url");
    this.items.set(id, outcome);
    while (this.items.size > 50) {
      const oldest = this.items.keys().next().value;
      if (oldest === undefined) break;
      this.items.delete(oldest);
    }
    return id;
  }
  get(id: string | undefined): Outcome | undefined {
    return id === undefined ? undefined : this.items.get(id);
  }
}

const OutcomeId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{16}$/)
  .optional()
  .catch(undefined);

const CheckInBody = z.object({
  csrf: z.string(),
  nationalId: z.string().max(64).default(""),
  identity: z.string().max(32).default("id-card"),
  matched: z.string().max(8).optional(),
});

const ScanBody = z.object({
  csrf: z.string(),
  qr: z.string().max(4096).default(""),
  envelope: z.string().max(32).default(""),
  districtId: z.string().max(128).default(""),
  image: z.union([z.instanceof(File), z.string()]).optional(),
});

const CancelBody = z.object({
  csrf: z.string(),
  serial: z.string().max(32).default(""),
  qr: z.string().max(4096).default(""),
  reason: z.string().max(16).default(""),
});

const CsrfOnly = z.object({ csrf: z.string() });

function html(c: Context, page: Html, status: 200 | 400 | 403 | 404 | 409 = 200): Promise<Response> | Response {
  const render = (text: string): Response => c.html(text, status);
  return page instanceof Promise ? page.then((p) => render(p.toString())) : render(page.toString());
}

export async function startConsole(station: StationOperations, options: ConsoleOptions): Promise<RunningConsole> {
  const host = options.host ?? "127.0.0.1";
  if (!/^127\.\d+\.\d+\.\d+$/.test(host) && host !== "::1") {
    throw new Error(`the console listens on a loopback address only, not ${host}`);
  }
  const csrfToken = randomBytes(32).toString("base64url");
  const outcomes = new Outcomes();
  let sheet: ResultSheet | undefined;
  // Filled once the server listens (the port may have been 0).
  let ownHosts = new Set<string>();
  let ownOrigins = new Set<string>();

  const csrfValid = (token: string): boolean => {
    const a = Buffer.from(token);
    const b = Buffer.from(csrfToken);
    return a.length === b.length && timingSafeEqual(a, b);
  };

  const app = new Hono();

  app.use(
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'none'"],
        styleSrc: ["'self'"],
        scriptSrc: ["'self'"],
        imgSrc: ["'self'"],
        // The script polls /live on this origin; the camera's frames never leave the page.
        connectSrc: ["'self'"],
        mediaSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
      xFrameOptions: "DENY",
      referrerPolicy: "no-referrer",
      permissionsPolicy: { camera: ["self"], microphone: [], geolocation: [] },
    }),
  );
  app.use(async (c, next) => {
    await next();
    if (!c.res.headers.has("cache-control")) c.res.headers.set("cache-control", "no-store");
  });

  // DNS rebinding: a page at evil.example whose name now points at 127.0.0.1 sends Host:
  // evil.example. Only the console's own address is answered.
  app.use(async (c, next) => {
    const hostHeader = c.req.header("host") ?? "";
    if (!ownHosts.has(hostHeader.toLowerCase())) {
      return c.text("This console answers only at its own address on this laptop.", 421);
    }
    await next();
  });

  // Cross-site POSTs: browsers send Sec-Fetch-Site on every request and Origin on every POST.
  // Under Referrer-Policy no-referrer a page's own form may send `Origin: null`, which says
  // nothing; then Sec-Fetch-Site and the CSRF token decide (as the portal's fromElsewhere).
  app.use(async (c, next) => {
    if (c.req.method !== "GET" && c.req.method !== "HEAD") {
      const site = c.req.header("sec-fetch-site");
      const origin = c.req.header("origin");
      const elsewhere =
        (site !== undefined && site !== "same-origin") ||
        (origin !== undefined && origin !== "null" && !ownOrigins.has(origin.toLowerCase()));
      if (elsewhere) return c.text("Refused: this request did not come from the console's own page.", 403);
    }
    await next();
  });

  app.use(
    "/scan",
    bodyLimit({
      maxSize: MAX_IMAGE_BYTES + MAX_FORM_BYTES,
      onError: async (c) =>
        html(
          c,
          ScanPage({ t, status: await station.status(), csrf: csrfToken, errors: { image: t.imageTooLarge } }),
          400,
        ),
    }),
  );
  app.use("*", async (c, next) => {
    if (c.req.path === "/scan") return next();
    return bodyLimit({ maxSize: MAX_FORM_BYTES })(c, next);
  });

  /** The form's token, or a refusal page. */
  const refuseWithoutToken = async (c: Context, token: string | undefined): Promise<Response | null> => {
    if (token !== undefined && csrfValid(token)) return null;
    return html(c, MessagePage(t, await station.status(), t.forbiddenTitle, t.forbiddenText, "csrf_invalid"), 403);
  };

  const formBody = async (c: Context): Promise<Record<string, unknown>> => {
    try {
      return (await c.req.parseBody()) as Record<string, unknown>;
    } catch {
      return {};
    }
  };

  const redirectTo = (c: Context, path: string, outcome: Outcome): Response =>
    c.redirect(`${path}?r=${outcomes.put(outcome)}`, 303);

  // ---- Assets ----------------------------------------------------------------------------------

  app.get("/assets/:name", async (c) => {
    const name = c.req.param("name");
    const type = ASSETS[name];
    if (!type) return c.text("Not found", 404);
    try {
      const body = await readFile(join(CONSOLE_ASSETS_DIR, name));
      c.header("content-type", type);
      c.header("cache-control", "no-cache");
      return c.body(body);
    } catch {
      return c.text("The console's assets are not built: run npm run build.", 404);
    }
  });

  // ---- Pages -------------------------------------------------------------------------------------

  app.get("/", async (c) => {
    const outcome = outcomes.get(OutcomeId.parse(c.req.query("r")));
    const notice = outcome?.kind === "notice" ? outcome.message : undefined;
    return html(c, HomePage(t, await station.status(), csrfToken, notice));
  });

  app.post("/pollbook", async (c) => {
    const body = CsrfOnly.safeParse(await formBody(c));
    const refused = await refuseWithoutToken(c, body.success ? body.data.csrf : undefined);
    if (refused) return refused;
    const answer = await station.refreshPollbook();
    const message = "outcome" in answer ? answer.message : t.pollbookRefreshed(answer.entries);
    return redirectTo(c, "/", { kind: "notice", message });
  });

  app.get("/check-in", async (c) => {
    const outcome = outcomes.get(OutcomeId.parse(c.req.query("r")));
    const result = outcome?.kind === "check-in" ? outcome.result : undefined;
    return html(c, CheckInPage({ t, status: await station.status(), csrf: csrfToken, ...(result ? { result } : {}) }));
  });

  app.post("/check-in", async (c) => {
    const parsed = CheckInBody.safeParse(await formBody(c));
    const refused = await refuseWithoutToken(c, parsed.success ? parsed.data.csrf : undefined);
    if (refused || !parsed.success) return refused ?? c.text("Bad request", 400);
    const { nationalId, identity, matched } = parsed.data;
    const form: CheckInForm = {
      nationalId,
      identity: identity === "id-card+biometric" ? "id-card+biometric" : "id-card",
      matched: matched === "yes",
    };
    const errors: Record<string, string> = {};
    const id = NationalId.safeParse(nationalId);
    if (nationalId.trim() === "") errors["nationalId"] = t.nationalIdEmpty;
    else if (!id.success) errors["nationalId"] = t.nationalIdInvalid;
    if (identity !== "id-card" && identity !== "id-card+biometric") errors["identity"] = t.identityInvalid;
    if (Object.keys(errors).length > 0 || !id.success) {
      return html(c, CheckInPage({ t, status: await station.status(), csrf: csrfToken, form, errors }), 400);
    }
    const result = await station.checkIn({
      nationalId: id.data,
      identity:
        form.identity === "id-card"
          ? { method: "id-card" }
          : { method: "id-card+biometric", biometric: { matched: form.matched } },
    });
    return redirectTo(c, "/check-in", { kind: "check-in", result });
  });

  app.get("/scan", async (c) => {
    const outcome = outcomes.get(OutcomeId.parse(c.req.query("r")));
    const result = outcome?.kind === "scan" ? outcome.result : undefined;
    return html(c, ScanPage({ t, status: await station.status(), csrf: csrfToken, ...(result ? { result } : {}) }));
  });

  app.post("/scan", async (c) => {
    const parsed = ScanBody.safeParse(await formBody(c));
    const refused = await refuseWithoutToken(c, parsed.success ? parsed.data.csrf : undefined);
    if (refused || !parsed.success) return refused ?? c.text("Bad request", 400);
    const status = await station.status();
    const { image, districtId } = parsed.data;
    let qr = parsed.data.qr.trim();
    const envelopeText = parsed.data.envelope.trim().toUpperCase();
    const form: ScanForm = { qr, envelope: envelopeText, districtId };
    const errors: Record<string, string> = {};
    if (qr === "" && image instanceof File && image.size > 0) {
      const decoded = qrTextFromImage(new Uint8Array(await image.arrayBuffer()));
      if (decoded.ok) qr = decoded.value;
      else errors["image"] = t.imageUnreadable;
    } else if (qr === "") {
      errors["qr"] = t.scanEmpty;
    }
    const envelope = envelopeText === "" ? undefined : EnvelopeCode.safeParse(envelopeText);
    if (envelope && !envelope.success) errors["envelope"] = t.envelopeInvalid;
    if (districtId !== "" && !status.districtIds.includes(districtId)) errors["districtId"] = t.districtHint;
    if (Object.keys(errors).length > 0) {
      return html(c, ScanPage({ t, status, csrf: csrfToken, form: { ...form, qr }, errors }), 400);
    }
    const result = await station.scan({
      qr,
      ...(envelope?.success ? { envelope: envelope.data } : {}),
      ...(districtId !== "" ? { districtId } : {}),
    });
    return redirectTo(c, "/scan", { kind: "scan", result });
  });

  app.get("/cancel", async (c) => {
    const outcome = outcomes.get(OutcomeId.parse(c.req.query("r")));
    const result = outcome?.kind === "cancel" ? outcome.result : undefined;
    return html(c, CancelPage({ t, status: await station.status(), csrf: csrfToken, ...(result ? { result } : {}) }));
  });

  app.post("/cancel", async (c) => {
    const parsed = CancelBody.safeParse(await formBody(c));
    const refused = await refuseWithoutToken(c, parsed.success ? parsed.data.csrf : undefined);
    if (refused || !parsed.success) return refused ?? c.text("Bad request", 400);
    const serialText = parsed.data.serial.trim();
    const qr = parsed.data.qr.trim();
    const reasonText = parsed.data.reason;
    const reason = reasonText === "void" ? "void" : "spoiled";
    const form: CancelForm = { serial: serialText, qr, reason };
    const errors: Record<string, string> = {};
    const serial = z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER).safeParse(serialText);
    if (serialText === "" && qr === "") errors["cancelQr"] = t.cancelEmpty;
    else if (serialText !== "" && (!/^\d+$/.test(serialText) || !serial.success)) errors["serial"] = t.serialInvalid;
    if (reasonText !== "spoiled" && reasonText !== "void") errors["reason"] = t.reasonInvalid;
    if (Object.keys(errors).length > 0) {
      return html(c, CancelPage({ t, status: await station.status(), csrf: csrfToken, form, errors }), 400);
    }
    const result = await station.cancel({
      reason,
      ...(qr !== "" ? { qr } : serial.success ? { serial: serial.data } : {}),
    });
    return redirectTo(c, "/cancel", { kind: "cancel", result });
  });

  app.get("/outbox", async (c) => {
    const outcome = outcomes.get(OutcomeId.parse(c.req.query("r")));
    const notice = outcome?.kind === "notice" ? outcome.message : undefined;
    const [status, items] = await Promise.all([station.status(), station.outbox(OUTBOX_ROWS)]);
    return html(c, OutboxPage({ t, status, csrf: csrfToken, items, ...(notice ? { notice } : {}) }));
  });

  app.post("/outbox/sync", async (c) => {
    const body = CsrfOnly.safeParse(await formBody(c));
    const refused = await refuseWithoutToken(c, body.success ? body.data.csrf : undefined);
    if (refused) return refused;
    await station.syncNow();
    return redirectTo(c, "/outbox", { kind: "notice", message: t.syncDone });
  });

  const currentSheet = async (): Promise<ResultSheet | undefined> => {
    if (sheet) return sheet;
    const status = await station.status();
    if (!status.resultSheet) return undefined;
    const answer = await station.resultSheet();
    if ("outcome" in answer) return undefined;
    sheet = answer;
    return sheet;
  };

  app.get("/result-sheet", async (c) => {
    const found = await currentSheet();
    const outcome = outcomes.get(OutcomeId.parse(c.req.query("r")));
    const refusal = outcome?.kind === "refusal" ? { code: outcome.code, message: outcome.message } : undefined;
    return html(
      c,
      ResultSheetPage({
        t,
        status: await station.status(),
        csrf: csrfToken,
        ...(found ? { sheet: found } : {}),
        ...(refusal && !found ? { refusal } : {}),
      }),
    );
  });

  app.post("/result-sheet", async (c) => {
    const body = CsrfOnly.safeParse(await formBody(c));
    const refused = await refuseWithoutToken(c, body.success ? body.data.csrf : undefined);
    if (refused) return refused;
    const answer = await station.resultSheet();
    if ("outcome" in answer) {
      return redirectTo(c, "/result-sheet", { kind: "refusal", code: answer.code, message: answer.message });
    }
    sheet = answer;
    return c.redirect("/result-sheet", 303);
  });

  app.get("/result-sheet.svg", async (c) => {
    const found = await currentSheet();
    if (!found) return c.text("No result sheet yet.", 404);
    c.header("content-type", "image/svg+xml");
    return c.body(found.svg);
  });

  // What the script polls every two seconds: the banner and, on the outbox page, its table,
  // rendered here so every word stays in the catalogue.
  app.get("/live", async (c) => {
    const withOutbox = c.req.query("outbox") === "1";
    const status = await station.status();
    const banner = (await ConnectionBanner(t, status)).toString();
    const outbox = withOutbox ? (await OutboxTable(t, await station.outbox(OUTBOX_ROWS))).toString() : undefined;
    return c.json({ online: status.online, pending: status.pending, failed: status.failed, banner, outbox });
  });

  // Browsers ask for it on their own; an empty answer keeps the console's log quiet.
  app.get("/favicon.ico", (c) => c.body(null, 204));

  app.notFound(async (c) => html(c, MessagePage(t, await station.status(), t.notFoundTitle, t.notFoundText), 404));

  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve({ fetch: app.fetch, port: options.port, hostname: host }, () => resolve(s));
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : options.port;
  const hostPart = host.includes(":") ? `[${host}]` : host;
  ownHosts = new Set([`${hostPart}:${port}`, `localhost:${port}`]);
  ownOrigins = new Set([...ownHosts].map((h) => `http://${h}`));
  return {
    url: `http://${hostPart}:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((e) => (e ? reject(e) : resolve()));
        if ("closeAllConnections" in server) server.closeAllConnections();
      }),
  };
}
