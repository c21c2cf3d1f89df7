/**
 * A voter's browser on the Worker, enough for the portal's pages: one origin's cookie jar, an
 * address of its own, GETs as the page's own links and POSTs as its own forms (what Chromium sends
 * for them under Referrer-Policy: no-referrer).
 */
import { SELF } from "cloudflare:test";
import { BASE } from "./auth.ts";

/** Started at random: test files that share the runtime's rate limiters do not share addresses. */
let ipCounter = Math.floor(Math.random() * 60_000);
/** An address no other browser of this file has, so per-address limits do not couple tests. */
function freshIp(): string {
  ipCounter += 1;
  return `10.${61 + Math.floor(ipCounter / 62_500)}.${Math.floor(ipCounter / 250) % 250}.${ipCounter % 250}`;
}

/** A browser's cookie jar, enough for one origin. */
export class Jar {
  readonly cookies = new Map<string, string>();
  take(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ""] = line.split(";");
      const at = pair.indexOf("=");
      const name = pair.slice(0, at);
      const value = pair.slice(at + 1);
      if (value === "" || /max-age=0/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }
  header(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; ");
  }
}

export interface Browser {
  readonly jar: Jar;
  readonly ip: string;
  get(path: string): Promise<{ res: Response; html: string }>;
  post(
    path: string,
    form: [string, string][],
    headers?: Record<string, string>,
  ): Promise<{ res: Response; html: string }>;
}

export function browser(base = BASE): Browser {
  const jar = new Jar();
  const ip = freshIp();
  const go = async (path: string, init: RequestInit & { headers?: Record<string, string> }) => {
    const res = await SELF.fetch(`${base}${path}`, {
      ...init,
      redirect: "manual",
      headers: { "cf-connecting-ip": ip, cookie: jar.header(), ...init.headers },
      cf: { country: "EE" },
    });
    jar.take(res);
    return { res, html: await res.text() };
  };
  return {
    jar,
    ip,
    get: (path) => go(path, { method: "GET", headers: { "sec-fetch-site": "same-origin" } }),
    post: (path, form, headers = {}) =>
      go(path, {
        method: "POST",
        headers: {
          "content-type": "application/x-www-form-urlencoded",
          // What Chromium sends for a page's own form under Referrer-Policy: no-referrer.
          origin: "null",
          "sec-fetch-site": "same-origin",
          ...headers,
        },
        body: new URLSearchParams(form).toString(),
      }),
  };
}
