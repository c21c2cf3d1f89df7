/**
 * Admission control for the write paths that take an election's peak load: the online cast (the
 * API's and the portal's form), the station's check-ins and scans, and the voter login. Each isolate counts the requests it has in
 * flight on those routes; one that would take the count past the configured cap
 * (ADMISSION_MAX_IN_FLIGHT, durable-objects/config.ts) is answered at once with 503
 * service_overloaded and its Retry-After, before its body is read, before any storage or Durable
 * Object call. Without it, twice the saturating rate queues inside the runtime: latency grows
 * without bound, clients time out without being told when to come back, and the runtime keeps
 * working through requests their clients gave up on long after the load has dropped.
 *
 * A refused request changed nothing, so its client retries it as it was (a cast or a scan with the
 * same idempotency key); an idempotent retry of a request that was admitted before is an ordinary
 * request here and is counted like any other.
 *
 * Shedding by age was considered and not built: refusing new requests while the oldest one in
 * flight has waited more than a few seconds. The count already bounds the wait of an admitted
 * request (about the cap over the path's throughput), and one slow request (a Durable Object being
 * reset, an eID key fetch) would by its age alone shut every path for everyone; a Durable Object
 * that is itself overloaded says so (`.overloaded`), which app.ts answers with the same 503.
 *
 * Refusals are counted in the `requests_shed` event (lib/events.ts), at most one line a second
 * per isolate, with how many were shed since the last line: under overload one line per refusal
 * would cost the CPU the refusals are there to save. The line names no voter, station or path.
 */
import type { Context, MiddlewareHandler } from "hono";
import { emitEvent } from "../../lib/events.ts";
import { respondError, type AppEnv } from "./http.ts";

/**
 * The POST routes admission control counts: those that take the peak load of polling day. The
 * portal's cast form is the browser's way to the same cast as the API's.
 */
const GUARDED_PATHS: readonly RegExp[] = [
  /^\/v1\/elections\/[^/]+\/ballots$/,
  /^\/v1\/stations\/[^/]+\/check-ins$/,
  /^\/v1\/stations\/[^/]+\/ballots$/,
  /^\/v1\/auth\/voter-session$/,
  /^\/elections\/[^/]+\/cast$/,
];

export function isGuarded(method: string, path: string): boolean {
  return method === "POST" && GUARDED_PATHS.some((p) => p.test(path));
}

/** At most one `requests_shed` line per this many milliseconds. */
const REPORT_EVERY_MS = 1_000;

/**
 * The places of one isolate (the Worker makes one app, hence one gate, per isolate). `now` is a
 * seam for tests of the event's pacing.
 */
export class AdmissionGate {
  private inFlight = 0;
  private shedUnreported = 0;
  private lastReportMs = Number.NEGATIVE_INFINITY;
  private readonly now: () => number;

  constructor(now: () => number = () => Date.now()) {
    this.now = now;
  }

  /** Requests holding a place now. */
  get active(): number {
    return this.inFlight;
  }

  /** Takes a place if fewer than `cap` are taken; otherwise counts a refusal and says false. */
  tryEnter(cap: number): boolean {
    if (this.inFlight >= cap) {
      this.shedUnreported += 1;
      this.report(cap);
      return false;
    }
    this.inFlight += 1;
    return true;
  }

  /** Gives a place back; refusals not yet reported are, once a second has passed. */
  leave(cap: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (this.shedUnreported > 0) this.report(cap);
  }

  private report(cap: number): void {
    const now = this.now();
    if (now - this.lastReportMs < REPORT_EVERY_MS) return;
    emitEvent("requests_shed", { shed: this.shedUnreported, inFlight: this.inFlight, cap });
    this.shedUnreported = 0;
    this.lastReportMs = now;
  }
}

/**
 * The middleware: registered before the body limits and every route, so a refused request costs
 * a path match and a short answer. `capOf` reads the cap from the configuration; a page route
 * (outside /v1/) is refused with `page`, the voter's "busy, try again" page with the same status
 * and Retry-After, an API route with the registered JSON error.
 */
export function admissionControl(
  gate: AdmissionGate,
  capOf: (env: Env) => number,
  page: (c: Context<AppEnv>) => Response | Promise<Response>,
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!isGuarded(c.req.method, c.req.path)) return next();
    const cap = capOf(c.env);
    if (!gate.tryEnter(cap)) return c.req.path.startsWith("/v1/") ? respondError(c, "service_overloaded") : page(c);
    try {
      await next();
    } finally {
      gate.leave(cap);
    }
    return undefined;
  };
}
