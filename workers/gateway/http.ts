/**
 * What every route shares: the Hono environment type, the JSON error shape, and the hook that
 * turns a failed zod validation into a 400 with every problem listed.
 */
import type { Result } from "../../lib/result.ts";
import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { z } from "@hono/zod-openapi";
import { apiError, retryAfterOf, statusOf, type ApiError, type ErrorCode, type Problem } from "../../lib/errors.ts";
import type { OfficialPrincipal, VoterSession } from "./auth/tokens.ts";

export type AppEnv = {
  Bindings: Env;
  Variables: {
    official: OfficialPrincipal;
    voter: VoterSession;
  };
};

export function problemsOf(error: z.ZodError): Problem[] {
  return error.issues.map((issue) => ({
    path: issue.path.length === 0 ? "/" : `/${issue.path.map(String).join("/")}`,
    message: issue.message,
  }));
}

export function errorBody(error: ApiError): { error: ApiError } {
  return { error };
}

export function respondError(c: Context, code: ErrorCode, message?: string, problems?: readonly Problem[]): Response {
  return errorResponse(c, apiError(code, message, problems));
}

/** An API error as the response: its code's status, and Retry-After when the code says "not now". */
export function errorResponse(c: Context, error: ApiError): Response {
  const retryAfter = retryAfterOf(error.code);
  if (retryAfter !== undefined) c.header("retry-after", String(retryAfter));
  return c.json(errorBody(error), statusOf(error.code) as ContentfulStatusCode);
}

/**
 * Thrown by a route handler to answer with an API error. Typed OpenAPI handlers may only return
 * their declared success bodies, so expected failures leave them this way; app.onError renders
 * it with respondError. Domain code below the routes returns Result values instead.
 */
export class ApiFailure extends Error {
  readonly apiError: ApiError;
  constructor(apiError: ApiError) {
    super(apiError.message);
    this.apiError = apiError;
  }
}

export function fail(code: ErrorCode, message?: string, problems?: readonly Problem[]): never {
  throw new ApiFailure(apiError(code, message, problems));
}

/** The zod-openapi hook: a request that fails its schema is refused with every problem. */
/** A domain outcome in a route: its value, or the request fails with the refusal's code. */
export function orFail<T>(result: Result<T, ErrorCode>): T {
  if (!result.ok) fail(result.error);
  return result.value;
}

export function validationHook(
  result: { success: true } | { success: false; error: z.ZodError },
  c: Context,
): Response | undefined {
  if (!result.success) {
    return respondError(c, "invalid_request", undefined, problemsOf(result.error));
  }
  return undefined;
}

/** The OpenAPI description of our error body, shared by every route's responses. */
export const ErrorResponseSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "invalid_request" }),
      message: z.string(),
      problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
    }),
  })
  .openapi("Error");

export function errorResponses(
  ...statuses: number[]
): Record<number, { description: string; content: { "application/json": { schema: typeof ErrorResponseSchema } } }> {
  const out: Record<
    number,
    { description: string; content: { "application/json": { schema: typeof ErrorResponseSchema } } }
  > = {};
  for (const status of statuses) {
    out[status] = { description: "Error", content: { "application/json": { schema: ErrorResponseSchema } } };
  }
  return out;
}

/**
 * D1's errors that say "not now" rather than "wrong": the ones its documentation tells clients to
 * retry (developers.cloudflare.com/d1/best-practices/retry-queries/) and its overload refusal. D1
 * marks them only in the message, which starts with D1_ERROR.
 */
const D1_TRANSIENT = [
  "Network connection lost",
  "storage caused object to be reset",
  "reset because its code was updated",
  "D1 DB is overloaded",
];

/**
 * An error the runtime marks as worth trying again later: a Durable Object overloaded
 * (`.overloaded`), or reset, moving or unreachable (`.retryable`), or D1 refusing for a while
 * (D1_TRANSIENT). Not one our own code threw (`.remote` without either flag): that is a bug, and
 * stays a 500.
 */
export function isTransient(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const flags = error as { overloaded?: unknown; retryable?: unknown };
  if (flags.overloaded === true || flags.retryable === true) return true;
  const message = error instanceof Error ? `${error.message} ${String(error.cause ?? "")}` : "";
  return message.includes("D1_ERROR") && D1_TRANSIENT.some((m) => message.includes(m));
}
