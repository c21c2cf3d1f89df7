/**
 * The bench's national-eID issuer: the development issuer (dev/eid-issuer/issuer.ts) on a free
 * loopback port in the bench's own process, serving the JWKS of a key generated for the bench, so
 * the login path verifies its ID tokens exactly as it would a real issuer's (signature against
 * the fetched JWKS, issuer, audience, expiry, age, level of assurance). The same issuer signs the
 * tokens, with the same claims it gives `npm start` and the tests: no second token format.
 *
 * It is started before the first runtime instance and its URLs are the Worker's EID_* variables
 * (eidVars): one source of truth for where the Worker looks. The bench process is idle while a
 * run's load goes, and the Worker fetches the JWKS once per isolate (workers/gateway/auth/eid.ts),
 * so serving it here costs the measurement nothing.
 *
 * Tokens are signed before a run and written to the work directory, one per line, so signing never
 * counts in the runtime's CPU or the load generator's.
 */
import { writeFile } from "node:fs/promises";
import { startDevEidIssuer, type DevEidIssuer } from "../dev/eid-issuer/issuer.ts";
import { configOf } from "../durable-objects/config.ts";

/** The relying party's client id in the bench: the `aud` of every ID token. */
const CLIENT_ID = "mixed-election-bench";
/** What the development issuer puts in its tokens (dev/eid-issuer/issuer.ts issueIdToken). */
const ISSUER_NATIONAL_ID_CLAIM = "sub";
const ISSUER_ACR = "eidas-high";
const ISSUER_ALGORITHM = "ES256";

export type EidVars = Readonly<Record<"EID_ISSUER" | "EID_JWKS_URL" | "EID_AUTHORIZE_URL" | "EID_CLIENT_ID", string>>;

export interface BenchEidIssuer {
  /** The Worker's EID_* variables for this issuer. */
  readonly vars: EidVars;
  /**
   * Signs one ID token for each national id (API flow: no nonce; a fresh jti each) and writes
   * them to `file` as lines `n<TAB>token`, n counting from 1. Answers how many were written.
   */
  writeIdTokens(file: string, nationalIds: readonly string[]): Promise<number>;
  close(): Promise<void>;
}

export async function startBenchEidIssuer(): Promise<BenchEidIssuer> {
  const issuer: DevEidIssuer = await startDevEidIssuer({ port: 0, host: "127.0.0.1", clientId: CLIENT_ID });
  return {
    vars: {
      EID_ISSUER: issuer.url,
      EID_JWKS_URL: issuer.jwksUrl,
      EID_AUTHORIZE_URL: issuer.authorizeUrl,
      EID_CLIENT_ID: CLIENT_ID,
    },
    writeIdTokens: async (file, nationalIds) => {
      const lines: string[] = [];
      for (const [i, id] of nationalIds.entries()) lines.push(`${i + 1}\t${await issuer.issueIdToken(id)}`);
      await writeFile(file, lines.join("\n") + "\n", { mode: 0o600 });
      return lines.length;
    },
    close: () => issuer.close(),
  };
}

/**
 * Throws unless the Worker, configured with `vars`, accepts this issuer's tokens: its national-id
 * claim, level of assurance and algorithm are the ones the development issuer uses. Otherwise
 * every login would be refused and the bench would measure refusals.
 */
export function checkIssuerFits(vars: Record<string, string>, eid: EidVars): void {
  const config = configOf(vars as unknown as Env);
  const problems: string[] = [];
  for (const [name, value] of Object.entries(eid))
    if (vars[name] !== value) problems.push(`${name} is ${vars[name]}, not the bench issuer's ${value}`);
  if (config.EID_NATIONAL_ID_CLAIM !== ISSUER_NATIONAL_ID_CLAIM)
    problems.push(`EID_NATIONAL_ID_CLAIM is ${config.EID_NATIONAL_ID_CLAIM}, not ${ISSUER_NATIONAL_ID_CLAIM}`);
  if (!config.EID_ACCEPTED_ACR.includes(ISSUER_ACR)) problems.push(`EID_ACCEPTED_ACR does not accept ${ISSUER_ACR}`);
  if (!config.EID_ALGORITHMS.includes(ISSUER_ALGORITHM))
    problems.push(`EID_ALGORITHMS does not allow ${ISSUER_ALGORITHM}`);
  if (problems.length > 0)
    throw new Error(`the Worker would refuse the bench issuer's ID tokens: ${problems.join("; ")}`);
}
