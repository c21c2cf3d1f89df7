/**
 * Request bodies are read once, bounded, before anything parses them (security review M9): a body
 * over its route's limit is refused as soon as it passes the limit (or at once, by its declared
 * length), and a body whose transport breaks (a malformed chunked encoding, a dropped connection)
 * is a 400, never a 500. Routes then parse the buffered bytes.
 */
import type { MiddlewareHandler } from "hono";
import { readAtMost } from "../../lib/bounded-read.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import { respondError, type AppEnv } from "./http.ts";

/** Every JSON or form body the gateway takes (a ballot, a login, a station call) is far smaller. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;

/** Reads the body but stops at `maxBytes`; a broken stream is invalid_body. */
export async function readBodyWithin(
  request: Request,
  maxBytes: number,
): Promise<Result<Uint8Array, "payload_too_large" | "invalid_body">> {
  const declared = Number(request.headers.get("content-length") ?? Number.NaN);
  if (declared > maxBytes) return err("payload_too_large");
  if (!request.body) return ok(new Uint8Array());
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readAtMost(request.body, maxBytes);
  } catch {
    return err("invalid_body");
  }
  return bytes ? ok(bytes) : err("payload_too_large");
}

/**
 * Buffers every request body within `limitFor(path)` bytes before the route sees it; a path
 * whose limit is undefined reads its own body (the roll import streams CSV with its own limit).
 */
export function boundedBodies(limitFor: (path: string) => number | undefined): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const limit = limitFor(c.req.path);
    if (c.req.raw.body === null || limit === undefined) return next();
    const body = await readBodyWithin(c.req.raw, limit);
    if (!body.ok) return respondError(c, body.error);
    c.req.raw = new Request(c.req.raw, { body: body.value });
    await next();
    return undefined;
  };
}
