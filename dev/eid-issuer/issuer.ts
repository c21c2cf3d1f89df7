/**
 * A local development national-eID issuer: an OpenID Connect provider just big enough for
 * `npm start` and the tests. It publishes a JWKS, shows a login page listing the demo voters
 * (implicit flow, `response_mode=form_post`) and, for scripts, issues ID tokens on request.
 *
 * It is never deployed: the Worker only knows an issuer URL, a JWKS URL and an audience, so a
 * real national eID is configuration only.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { randomUUID } from "node:crypto";
import { z } from "zod";
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from "jose";

export interface DevEidIssuerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  readonly host?: string;
  /** The relying party's client id: the `aud` of every ID token. */
  readonly clientId: string;
  /** The private signing key (ES256 JWK with kid); a fresh one when absent. */
  readonly privateJwk?: JWK;
  /** National ids offered on the login page. */
  readonly demoVoters?: readonly { nationalId: string; label: string }[];
}

export interface DevEidIssuer {
  readonly url: string;
  readonly jwksUrl: string;
  readonly authorizeUrl: string;
  readonly privateJwk: JWK;
  readonly publicJwk: JWK;
  issueIdToken(nationalId: string, extra?: { nonce?: string; expiresInSeconds?: number }): Promise<string>;
  close(): Promise<void>;
}

export async function generateDevEidKey(): Promise<JWK> {
  const { privateKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = await exportJWK(privateKey);
  return { ...jwk, alg: "ES256", use: "sig", kid: `dev-eid-${randomUUID().slice(0, 8)}` };
}

function publicPart(jwk: JWK): JWK {
  const { d: _d, ...pub } = jwk;
  return pub;
}

export async function startDevEidIssuer(options: DevEidIssuerOptions): Promise<DevEidIssuer> {
  const privateJwk = options.privateJwk ?? (await generateDevEidKey());
  const publicJwk = publicPart(privateJwk);
  const signingKey = await importJWK(privateJwk, "ES256");
  const host = options.host ?? "127.0.0.1";
  let issuerUrl = "";

  async function issueIdToken(
    nationalId: string,
    extra: { nonce?: string; expiresInSeconds?: number } = {},
  ): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ ...(extra.nonce ? { nonce: extra.nonce } : {}), acr: "eidas-high" })
      .setProtectedHeader({ alg: "ES256", kid: String(privateJwk.kid), typ: "JWT" })
      .setIssuer(issuerUrl)
      .setAudience(options.clientId)
      .setSubject(nationalId)
      .setIssuedAt(now)
      .setNotBefore(now - 5)
      .setExpirationTime(now + (extra.expiresInSeconds ?? 300))
      .setJti(randomUUID())
      .sign(signingKey);
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.writeHead(500, { "content-type": "text/plain" }).end(String(error));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", issuerUrl);
    if (req.method === "GET" && url.pathname === "/.well-known/openid-configuration") {
      return json(res, 200, {
        issuer: issuerUrl,
        authorization_endpoint: `${issuerUrl}/authorize`,
        jwks_uri: `${issuerUrl}/jwks.json`,
        response_types_supported: ["id_token"],
        response_modes_supported: ["form_post"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["ES256"],
      });
    }
    if (req.method === "GET" && url.pathname === "/jwks.json") {
      return json(res, 200, { keys: [publicJwk] });
    }
    if (req.method === "GET" && url.pathname === "/authorize") {
      return html(res, 200, loginPage(url.searchParams, options.demoVoters ?? []));
    }
    if (req.method === "POST" && url.pathname === "/authorize") {
      const form = new URLSearchParams(await readBody(req));
      const redirectUri = form.get("redirect_uri") ?? "";
      const nationalId = (form.get("national_id") ?? "").trim();
      if (!/^https?:\/\//.test(redirectUri) || nationalId === "") {
        return html(res, 400, "<p>redirect_uri and national_id are required</p>");
      }
      const nonce = form.get("nonce") ?? undefined;
      const idToken = await issueIdToken(nationalId, nonce ? { nonce } : {});
      return html(res, 200, formPost(redirectUri, { id_token: idToken, state: form.get("state") ?? "" }));
    }
    if (req.method === "POST" && url.pathname === "/dev/id-token") {
      // For scripts and demos only: what a person does on the login page, in one call.
      const parsed = IdTokenRequest.safeParse(parseJson(await readBody(req)));
      if (!parsed.success) {
        return json(res, 400, { error: { code: "invalid_request", message: "nationalId is required" } });
      }
      return json(res, 200, { id_token: await issueIdToken(parsed.data.nationalId) });
    }
    return json(res, 404, { error: { code: "not_found", message: "no such route" } });
  }

  await new Promise<void>((resolve) => server.listen(options.port, host, resolve));
  const address = server.address() as AddressInfo;
  issuerUrl = `http://${host}:${address.port}`;

  return {
    url: issuerUrl,
    jwksUrl: `${issuerUrl}/jwks.json`,
    authorizeUrl: `${issuerUrl}/authorize`,
    privateJwk,
    publicJwk,
    issueIdToken,
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

const IdTokenRequest = z.object({ nationalId: z.string().trim().min(1).max(64) });

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > 64 * 1024) {
        reject(new Error("body too large"));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json", "access-control-allow-origin": "*" });
  res.end(JSON.stringify(body));
}

function html(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "content-type": "text/html; charset=utf-8" });
  res.end(
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Dev national eID</title></head><body>${body}</body></html>`,
  );
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(params: URLSearchParams, voters: readonly { nationalId: string; label: string }[]): string {
  const hidden = ["redirect_uri", "nonce", "state", "client_id"]
    .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(params.get(k) ?? "")}">`)
    .join("");
  const options = voters
    .map((v) => `<option value="${escapeHtml(v.nationalId)}">${escapeHtml(v.label)}</option>`)
    .join("");
  const first = voters[0]?.nationalId ?? "";
  return `<h1>Development national eID</h1>
<p>Not a real identity provider. Choose a demo voter or type a national id.</p>
<form method="post" action="/authorize">${hidden}
<label>National id <input name="national_id" list="demo-voters" value="${escapeHtml(first)}" required autocomplete="off"></label>
<datalist id="demo-voters">${options}</datalist>
<button type="submit">Log in</button></form>`;
}

function formPost(action: string, fields: Record<string, string>): string {
  const inputs = Object.entries(fields)
    .map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v)}">`)
    .join("");
  return `<form method="post" action="${escapeHtml(action)}" id="f">${inputs}<noscript><button>Continue</button></noscript></form>
<script>document.getElementById("f").submit()</script>`;
}
