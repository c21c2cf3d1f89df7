/**
 * The officials' HTTP client, shared by the CLI commands: it signs an assertion with the
 * official's private key, exchanges it for an access token, and calls the API with it. Errors
 * come back as the API's `{ error: { code, message, problems } }`.
 */
import { readFile } from "node:fs/promises";
import { z } from "zod";
import { signOfficialAssertion } from "../../lib/identity/assertion.ts";

export interface Credentials {
  readonly baseUrl: string;
  readonly officialId: string;
  /** Path to the official's private JWK file. */
  readonly keyFile: string;
}

export const ApiErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export class ApiCallError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problems: readonly { path: string; message: string }[];
  constructor(
    status: number,
    code: string,
    message: string,
    problems: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
}

const TokenResponse = z.object({ accessToken: z.string(), expiresIn: z.number() });
const Jwk = z.looseObject({ kty: z.string(), kid: z.string() });

export class OfficialClient {
  private token: { value: string; renewAt: number } | undefined;
  readonly credentials: Credentials;

  constructor(credentials: Credentials) {
    this.credentials = credentials;
  }

  static fromEnv(overrides: Partial<Credentials> = {}): OfficialClient {
    const baseUrl = overrides.baseUrl ?? process.env["ELECTION_API"] ?? "http://127.0.0.1:8787";
    const officialId = overrides.officialId ?? process.env["ELECTION_OFFICIAL_ID"] ?? "bootstrap-admin";
    const keyFile = overrides.keyFile ?? process.env["ELECTION_OFFICIAL_KEY"] ?? ".dev/bootstrap-admin.jwk.json";
    return new OfficialClient({ baseUrl: baseUrl.replace(/\/$/, ""), officialId, keyFile });
  }

  /** A fresh assertion signed with the official's key file, for the gateway's token exchange. */
  async assertion(): Promise<string> {
    const jwk = Jwk.parse(JSON.parse(await readFile(this.credentials.keyFile, "utf8")));
    return signOfficialAssertion(jwk, this.credentials.officialId, this.credentials.baseUrl);
  }

  /** A current access token (renewed a minute before it expires). */
  async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.renewAt) return this.token.value;
    const assertion = await this.assertion();
    const res = await fetch(`${this.credentials.baseUrl}/v1/auth/token`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ assertion }),
    });
    const body = await readJson(res);
    const parsed = TokenResponse.parse(body);
    // Renew a minute early so a long import never sends an expired token.
    this.token = { value: parsed.accessToken, renewAt: Date.now() + (parsed.expiresIn - 60) * 1000 };
    return parsed.accessToken;
  }

  /** Calls the API as this official; throws ApiCallError on any non-2xx answer. */
  async call(
    method: string,
    path: string,
    body?: { json: unknown } | { text: string; contentType: string },
  ): Promise<unknown> {
    const headers: Record<string, string> = { authorization: `Bearer ${await this.accessToken()}` };
    let payload: string | undefined;
    if (body && "json" in body) {
      headers["content-type"] = "application/json";
      payload = JSON.stringify(body.json);
    } else if (body) {
      headers["content-type"] = body.contentType;
      payload = body.text;
    }
    const res = await fetch(`${this.credentials.baseUrl}${path}`, {
      method,
      headers,
      ...(payload !== undefined ? { body: payload } : {}),
    });
    return readJson(res);
  }
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    throw new ApiCallError(res.status, "invalid_response", `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  if (!res.ok) {
    const error = ApiErrorBody.safeParse(body);
    if (error.success) {
      throw new ApiCallError(res.status, error.data.error.code, error.data.error.message, error.data.error.problems);
    }
    throw new ApiCallError(res.status, "invalid_response", `HTTP ${res.status}: ${text.slice(0, 200)}`);
  }
  return body;
}
