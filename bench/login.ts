/**
 * The login path under load: POST /v1/auth/voter-session (the API flow) with a national-eID ID
 * token, a different token every request, from the bench's issuer (bench/eid-issuer.ts). What a
 * login does in the Worker (workers/gateway/auth/voter-login.ts): the election, the geofence, the
 * ID token against the issuer's JWKS, the per-voter rate limit, the roll lookup in D1, the replay
 * guard (one write in one of its Durable Object shards), and a signed voter session.
 *
 * The tokens name voters of the synthetic roll in turn, from the first, round and round: a login
 * changes nothing a cast depends on (no ballot, no roll change), and the same voter may log in
 * again with a new token. Each run's tokens are signed before it starts, so signing is nobody's
 * CPU in the figures, and shortly before, since the Worker refuses a token older than
 * EID_MAX_TOKEN_AGE_SECONDS.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { syntheticNationalId } from "../lib/roll/generate.ts";
import { checkIssuerFits, type BenchEidIssuer } from "./eid-issuer.ts";
import { runLoad, type Measured } from "./measure.ts";
import type { RollSessionOptions } from "./voters.ts";

/** `vars` are checked against the issuer: the Worker must accept its tokens. */
export interface LoginSessionOptions extends RollSessionOptions {
  readonly issuer: BenchEidIssuer;
}

export interface ReplayCheck {
  /** The status a token already used in a run got when sent again (401 token_replayed expected). */
  readonly status: number;
  readonly code: string | undefined;
  readonly ok: boolean;
}

const LOGIN_PATH = "/v1/auth/voter-session";

export class LoginSession {
  private readonly options: LoginSessionOptions;
  /** Roll voters logged in so far (tokens signed); the next token names the next voter. */
  private signed = 0;
  private lastToken: string | undefined;

  constructor(options: LoginSessionOptions) {
    checkIssuerFits(options.vars, options.issuer.vars);
    this.options = options;
  }

  /** One run of `seconds` with `tokens` ID tokens signed for it beforehand. */
  async run(label: string, seconds: number, tokens: number): Promise<Measured> {
    const { options } = this;
    const ids: string[] = [];
    for (let k = 0; k < tokens; k++) {
      const i = ((this.signed + k) % options.rollSize) + 1;
      ids.push(syntheticNationalId(options.prefix, i, options.rollSize));
    }
    this.signed += tokens;
    const poolFile = join(options.workDir, `login-tokens-${label.replace(/[^A-Za-z0-9_-]/g, "-")}.tsv`);
    await options.issuer.writeIdTokens(poolFile, ids);
    const measured = await runLoad(
      label,
      {
        url: `${options.baseUrl}${LOGIN_PATH}`,
        method: "POST",
        connections: options.connections,
        durationSeconds: seconds,
        timeoutSeconds: options.timeoutSeconds,
        login: { poolFile, electionId: options.electionId },
      },
      options.workDir,
      options.runtimePids,
    );
    const first = measured.login?.accepted[0];
    if (first !== undefined) this.lastToken = await tokenOf(poolFile, first);
    return measured;
  }

  /**
   * Sends again a token that logged in during the last run: the replay guard must refuse it
   * (401 token_replayed), or the runs' logins were not each checked once.
   */
  async checkReplay(): Promise<ReplayCheck> {
    if (this.lastToken === undefined) return { status: 0, code: undefined, ok: false };
    const res = await fetch(`${this.options.baseUrl}${LOGIN_PATH}`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ electionId: this.options.electionId, idToken: this.lastToken }),
    });
    const body: unknown = await res.json().catch(() => undefined);
    const code =
      typeof body === "object" && body !== null && "error" in body
        ? String((body as { error: { code?: unknown } }).error.code)
        : undefined;
    return { status: res.status, code, ok: res.status === 401 && code === "token_replayed" };
  }
}

async function tokenOf(poolFile: string, n: number): Promise<string | undefined> {
  const line = (await readFile(poolFile, "utf8")).split("\n")[n - 1];
  return line?.split("\t")[1];
}

/** How a login run ended beyond its figures: the pool running short, refusal samples. */
export function loginExtra(run: Measured): string {
  const login = run.login;
  if (!login) return "";
  const refused = login.refused.length > 0 ? `; refused e.g. ${login.refusalSamples[0] ?? "?"}` : "";
  return `${run.stoppedEarly ? ", stopped early: tokens nearly used up" : ""}${login.poolExhausted > 0 ? `, ${login.poolExhausted} REPEATS (pool exhausted)` : ""}${refused}`;
}
