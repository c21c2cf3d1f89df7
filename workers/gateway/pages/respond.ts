/**
 * How every page leaves the Worker: the doctype, the rendered element, a status and the page's
 * own caching (a page chooses it: a voter's pages are never stored, public ones briefly).
 */
import type { Context } from "hono";
import type { HtmlEscapedString } from "hono/utils/html";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { AppEnv } from "../http.ts";

export async function htmlResponse(
  c: Context<AppEnv>,
  element: HtmlEscapedString | Promise<HtmlEscapedString>,
  cacheControl: string,
  status: ContentfulStatusCode = 200,
): Promise<Response> {
  c.header("cache-control", cacheControl);
  return c.html(`<!doctype html>${(await element).toString()}`, status);
}
