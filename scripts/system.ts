/**
 * Starts the whole system on the local runtime: the dev national-eID issuer (Node) and the Worker
 * under `wrangler dev` with local D1/R2/Durable Object persistence, wired to each other. Used by
 * `npm start`, by the end-to-end tests and by the benchmark.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { randomBytes } from "node:crypto";
import { join, resolve } from "node:path";
import { z } from "zod";
import { exportJWK, generateKeyPair, type JWK } from "jose";
import { generateDevEidKey, startDevEidIssuer, type DevEidIssuer } from "../dev/eid-issuer/issuer.ts";
import { generateSigningKey } from "../lib/identity/keys.ts";

export const ROOT = resolve(import.meta.dirname, "..");
const WRANGLER = join(ROOT, "node_modules", ".bin", "wrangler");
/** The local runtime's ledger mapping; see SystemOptions.ledgerBuckets. */
export const LOCAL_LEDGER_BUCKETS = "16";

export interface SystemOptions {
  /** Where this instance keeps its state and dev secrets (D1, DOs, keys). */
  readonly stateDir: string;
  readonly port?: number;
  readonly issuerPort?: number;
  readonly demoVoters?: readonly { nationalId: string; label: string }[];
  /**
   * Voter ledger mapping (durable-objects/addresses.ts). Locally 16 hash buckets: on the one
   * runtime thread a per-voter object costs 2.2 times the CPU per cast and live objects are capped
   * (docs/PERFORMANCE.md); production keeps one object per voter (wrangler.toml).
   */
  readonly ledgerBuckets?: string;
  /** Print wrangler's output. */
  readonly verbose?: boolean;
}

export interface RunningSystem {
  readonly baseUrl: string;
  readonly issuer: DevEidIssuer;
  readonly adminKeyFile: string;
  readonly adminPrivateJwk: JWK;
  readonly stateDir: string;
  stop(): Promise<void>;
}

const DevSecrets = z.object({
  rollHashKey: z.string().min(32),
  sessionSigningKey: z.string().min(32),
  /** Absent in state made before ballot link keys: generated then (see devSecrets). */
  ballotLinkKey: z.string().min(32).optional(),
  eidPrivateJwk: z.looseObject({ kty: z.string(), kid: z.string() }),
  adminPrivateJwk: z.looseObject({ kty: z.string(), kid: z.string() }),
  adminPublicJwk: z.looseObject({ kty: z.string(), kid: z.string() }),
  receiptPrivateJwk: z.looseObject({ kty: z.string(), kid: z.string() }),
  /** Absent in state made before the audit log: generated then (see devSecrets). */
  logPrivateJwk: z.looseObject({ kty: z.string(), kid: z.string() }).optional(),
  /**
   * The offline P-256 key pair dead letters are encrypted to: the Worker gets the public half;
   * the private half is also written to dead-letter.private.jwk.json for `admin dead-letters
   * list --key`. Absent in older state: generated then (see devSecrets).
   */
  deadLetterPublicJwk: z.looseObject({ kty: z.string(), kid: z.string() }).optional(),
  deadLetterPrivateJwk: z.looseObject({ kty: z.string(), kid: z.string() }).optional(),
});
type DevSecrets = z.infer<typeof DevSecrets>;

/** Dev secrets are made on first start and kept with the state, never in the repository. */
async function devSecrets(stateDir: string): Promise<DevSecrets> {
  const file = join(stateDir, "dev-secrets.json");
  if (existsSync(file)) {
    const kept = DevSecrets.parse(JSON.parse(await readFile(file, "utf8")));
    if (kept.logPrivateJwk && kept.ballotLinkKey && kept.deadLetterPublicJwk && kept.deadLetterPrivateJwk) return kept;
    const withLogKey: DevSecrets = {
      ...kept,
      ...(kept.deadLetterPublicJwk && kept.deadLetterPrivateJwk ? {} : await generateDeadLetterKey()),
      logPrivateJwk:
        kept.logPrivateJwk ?? ((await generateSigningKey("log-dev-1")).privateJwk as DevSecrets["receiptPrivateJwk"]),
      ballotLinkKey: kept.ballotLinkKey ?? randomBytes(32).toString("base64url"),
    };
    await writeFile(file, JSON.stringify(withLogKey, null, 2), { mode: 0o600 });
    return withLogKey;
  }
  const admin = await generateSigningKey("bootstrap-admin-dev");
  const receipt = await generateSigningKey("receipt-dev-1");
  const secrets: DevSecrets = {
    rollHashKey: randomBytes(32).toString("base64url"),
    sessionSigningKey: randomBytes(32).toString("base64url"),
    ballotLinkKey: randomBytes(32).toString("base64url"),
    eidPrivateJwk: { ...(await generateDevEidKey()), kid: "dev-eid-1" } as DevSecrets["eidPrivateJwk"],
    adminPrivateJwk: admin.privateJwk as DevSecrets["adminPrivateJwk"],
    adminPublicJwk: admin.publicJwk as DevSecrets["adminPublicJwk"],
    receiptPrivateJwk: receipt.privateJwk as DevSecrets["receiptPrivateJwk"],
    logPrivateJwk: (await generateSigningKey("log-dev-1")).privateJwk as DevSecrets["receiptPrivateJwk"],
    ...(await generateDeadLetterKey()),
  };
  await writeFile(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  return secrets;
}

/** A P-256 key pair for encrypting dead letters (lib/ballot/dead-letter-seal.ts), as JWKs with a kid. */
async function generateDeadLetterKey(): Promise<Pick<DevSecrets, "deadLetterPublicJwk" | "deadLetterPrivateJwk">> {
  const { publicKey, privateKey } = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
  const kid = "dead-letter-dev-1";
  return {
    deadLetterPublicJwk: { ...(await exportJWK(publicKey)), kty: "EC", kid },
    deadLetterPrivateJwk: { ...(await exportJWK(privateKey)), kty: "EC", kid },
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolvePort(port));
    });
  });
}

function run(args: readonly string[], env: NodeJS.ProcessEnv, verbose: boolean): ChildProcess {
  return spawn(WRANGLER, args, { cwd: ROOT, env, stdio: verbose ? "inherit" : ["ignore", "pipe", "pipe"] });
}

async function runToEnd(args: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = run(args, env, false);
  let output = "";
  child.stdout?.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.on("exit", r));
  if (code !== 0) throw new Error(`wrangler ${args.join(" ")} failed (${code}):\n${output}`);
}

async function waitForHealth(
  baseUrl: string,
  child: ChildProcess,
  log: () => string,
  timeoutMs = 90_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited (${child.exitCode}):\n${log()}`);
    try {
      const res = await fetch(`${baseUrl}/healthz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`wrangler dev did not become healthy within ${timeoutMs} ms:\n${log()}`);
}

export async function startSystem(options: SystemOptions): Promise<RunningSystem> {
  const stateDir = resolve(options.stateDir);
  await mkdir(stateDir, { recursive: true });
  const secrets = await devSecrets(stateDir);
  const port = options.port ?? (await freePort());
  const issuer = await startDevEidIssuer({
    port: options.issuerPort ?? (await freePort()),
    clientId: "mixed-election-dev",
    privateJwk: secrets.eidPrivateJwk,
    ...(options.demoVoters ? { demoVoters: options.demoVoters } : {}),
  });

  const adminKeyFile = join(stateDir, "bootstrap-admin.jwk.json");
  await writeFile(adminKeyFile, JSON.stringify(secrets.adminPrivateJwk, null, 2), { mode: 0o600 });
  // The operator's offline key in development: what `admin dead-letters list --key` reads.
  await writeFile(
    join(stateDir, "dead-letter.private.jwk.json"),
    JSON.stringify(secrets.deadLetterPrivateJwk, null, 2),
    { mode: 0o600 },
  );
  const envFile = join(stateDir, "dev.env");
  const vars: Record<string, string> = {
    ENVIRONMENT: "development",
    EID_ISSUER: issuer.url,
    EID_JWKS_URL: issuer.jwksUrl,
    EID_AUTHORIZE_URL: issuer.authorizeUrl,
    EID_CLIENT_ID: "mixed-election-dev",
    ROLL_HASH_KEY: secrets.rollHashKey,
    SESSION_SIGNING_KEY: secrets.sessionSigningKey,
    BALLOT_LINK_KEY: secrets.ballotLinkKey ?? "",
    BOOTSTRAP_ADMIN_JWK: JSON.stringify(secrets.adminPublicJwk),
    RECEIPT_SIGNING_JWK: JSON.stringify(secrets.receiptPrivateJwk),
    LOG_SIGNING_JWK: JSON.stringify(secrets.logPrivateJwk),
    DEAD_LETTER_PUBLIC_JWK: JSON.stringify(secrets.deadLetterPublicJwk),
    LEDGER_BUCKETS: options.ledgerBuckets ?? LOCAL_LEDGER_BUCKETS,
    // The attack drills' faults (`npm run drill`, workers/gateway/routes/drills.ts): local runs only.
    DRILLS: "enabled",
  };
  await writeFile(
    envFile,
    Object.entries(vars)
      .map(([k, v]) => `${k}='${v}'`)
      .join("\n") + "\n",
    { mode: 0o600 },
  );

  const childEnv: NodeJS.ProcessEnv = {
    ...process.env,
    CLOUDFLARE_CF_FETCH_ENABLED: "false",
    WRANGLER_SEND_METRICS: "false",
    WRANGLER_LOG_PATH: join(stateDir, "logs"),
    CI: "true",
  };
  const persist = join(stateDir, "wrangler");
  await runToEnd(["d1", "migrations", "apply", "DB", "--local", "--persist-to", persist], childEnv);

  const child = run(
    [
      "dev",
      "--ip",
      "127.0.0.1",
      "--port",
      String(port),
      "--persist-to",
      persist,
      "--env-file",
      envFile,
      "--show-interactive-dev-session=false",
      "--inspector-port",
      String(await freePort()),
    ],
    childEnv,
    options.verbose ?? false,
  );
  let log = "";
  child.stdout?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  child.stderr?.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
  const baseUrl = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (child.exitCode === null) {
      child.kill("SIGTERM");
      await Promise.race([new Promise((r) => child.once("exit", r)), new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    }
    await issuer.close();
  };
  try {
    await waitForHealth(baseUrl, child, () => log);
  } catch (error) {
    await stop();
    throw error;
  }
  return { baseUrl, issuer, adminKeyFile, adminPrivateJwk: secrets.adminPrivateJwk, stateDir, stop };
}
