/**
 * The benchmark's runtime: the production Worker (bundled from wrangler.toml exactly as
 * `wrangler deploy` would ship it) and the baseline Worker (bench/baseline-worker.ts) in one
 * Miniflare instance on one loopback port, with their state in a throw-away directory.
 *
 * Why Miniflare directly and not `wrangler dev` (scripts/system.ts): `wrangler dev` puts a proxy
 * process in front of the runtime that tops out near 1,500 requests/s on this kind of machine,
 * below what the bare route alone does, so every ratio would be the proxy's. Miniflare on a port
 * is workerd behind Miniflare's own entry worker, the same runtime `wrangler dev` uses, with only
 * that thin entry in front; both Workers pay it equally.
 *
 * Miniflare comes from wrangler's own dependency tree (the version wrangler pins and tests with),
 * not a second copy: wrangler's unstable_getMiniflareWorkerOptions turns wrangler.toml into that
 * version's options, so every binding (D1, Durable Objects, queues with their batch settings,
 * rate limits) is the one the config declares.
 *
 * What differs from the configuration, on purpose, and printed by the benchmark:
 *   - secrets are generated for the run (fresh keys, never written outside the state directory);
 *   - ENVIRONMENT is development and the EID_* URLs name the bench's own eID issuer on a
 *     loopback port (bench/eid-issuer.ts): the login run verifies its tokens against that JWKS,
 *     and the cast runs mint voter sessions themselves;
 *   - the cast rate limits (CAST_IP_LIMITER, CAST_VOTER_LIMITER) are raised to HIGH_LIMIT: the
 *     load comes from one address, which the per-address limit (600/min) would cap at 10 casts/s.
 *     This is a capacity measurement, not a policy test;
 *   - the voter login rate limits (RAISED_LOGIN_LIMITERS) are raised to HIGH_LIMIT for the same
 *     reason: every login comes from one address, for one election;
 *   - LEDGER_BUCKETS is the mapping under test;
 *   - request.cf.country is EE (inside the demo's geofence), as for a voter at home.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import type { JWK } from "jose";
import { z } from "zod";
import type * as MiniflareModule from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";
import { generateSigningKey } from "../lib/identity/keys.ts";
import type { EidVars } from "./eid-issuer.ts";

export const ROOT = join(import.meta.dirname, "..");
const WRANGLER_BIN = join(ROOT, "node_modules", ".bin", "wrangler");

/** High enough that no limiter ever says no during a run (requests per period, per key). */
export const HIGH_LIMIT = 1_000_000_000;
export const RAISED_LIMITERS = ["CAST_IP_LIMITER", "CAST_VOTER_LIMITER"] as const;
/**
 * The limiters a voter login passes (workers/gateway/routes/auth.ts voterLoginLimit, per address
 * and per address and election; auth/voter-login.ts, per voter): the login run sends every token
 * from one address for one election, and may log the same roll voter in more than 10 times a minute.
 */
export const RAISED_LOGIN_LIMITERS = ["VOTER_LOGIN_IP_LIMITER", "VOTER_LOGIN_LIMITER", "VOTER_LIMITER"] as const;

export const BASELINE_PREFIX = "/__baseline";
export const PRODUCTION_WORKER = "mixed-election";
export const BASELINE_WORKER = "bench-baseline";

export interface BenchSecrets {
  /** Every secret wrangler.toml requires, by name, as the Worker reads it. */
  readonly bindings: Record<string, string>;
  /** The bootstrap administrator's private key (its public half is BOOTSTRAP_ADMIN_JWK). */
  readonly adminPrivateJwk: JWK;
}

/**
 * Fresh secrets for one runtime instance, for every name in wrangler.toml's [secrets] required:
 * the bootstrap administrator's public key (the bench keeps the private half to call the admin
 * API), and for any other name a private Ed25519 JWK if it ends in _JWK (the signing keys:
 * receipts, audit-log checkpoints) or 32 random bytes otherwise (the HMAC keys). A secret added
 * to the configuration later is therefore generated without a change here.
 */
export async function generateSecrets(): Promise<BenchSecrets> {
  const required = requiredSecrets();
  const admin = await generateSigningKey("bench-admin");
  const bindings: Record<string, string> = {};
  for (const name of required) {
    if (name === "BOOTSTRAP_ADMIN_JWK") bindings[name] = JSON.stringify(admin.publicJwk);
    else if (name.endsWith("_JWK"))
      bindings[name] = JSON.stringify((await generateSigningKey(`bench-${name.toLowerCase()}`)).privateJwk);
    else bindings[name] = randomBytes(32).toString("base64url");
  }
  return { bindings, adminPrivateJwk: admin.privateJwk };
}

const Secrets = z.object({ required: z.array(z.string()) });

function requiredSecrets(): string[] {
  const config = quietly(() => unstable_readConfig({ config: join(ROOT, "wrangler.toml") }));
  const secrets = Secrets.parse(config.secrets ?? { required: [] });
  for (const name of ["ROLL_HASH_KEY", "SESSION_SIGNING_KEY", "BOOTSTRAP_ADMIN_JWK"]) {
    if (!secrets.required.includes(name))
      throw new Error(
        `wrangler.toml no longer requires ${name}; the bench mints sessions and calls the admin API with it`,
      );
  }
  return secrets.required;
}

/**
 * The Worker's string bindings for a run: the secrets, the mapping under test, and the bench's
 * eID issuer (bench/eid-issuer.ts, started before the runtime). The other [vars] come from
 * wrangler.toml as they are.
 */
export function benchVars(secrets: BenchSecrets, ledgerBuckets: number, eid: EidVars): Record<string, string> {
  return {
    ENVIRONMENT: "development",
    ...eid,
    ...secrets.bindings,
    LEDGER_BUCKETS: String(ledgerBuckets),
  };
}

/** Runs `read` with wrangler's log quieted: reading the config warns that secrets are missing from .dev.vars (they are passed here). */
function quietly<T>(read: () => T): T {
  const previous = process.env["WRANGLER_LOG"];
  process.env["WRANGLER_LOG"] = "error";
  try {
    return read();
  } finally {
    if (previous === undefined) delete process.env["WRANGLER_LOG"];
    else process.env["WRANGLER_LOG"] = previous;
  }
}

// Wrangler types the converted options loosely (an index signature): the two that are changed
// here are parsed into the shape Miniflare takes.
const RateLimits = z.record(
  z.string(),
  z.object({
    namespace_id: z.string(),
    simple: z.object({ limit: z.number(), period: z.union([z.literal(10), z.literal(60)]).optional() }),
  }),
);
const Bindings = z.record(z.string(), z.json());

type MiniflareApi = typeof MiniflareModule;

/** Miniflare as wrangler resolves it (node_modules/wrangler/node_modules/miniflare today). */
async function loadMiniflare(): Promise<MiniflareApi> {
  const fromWrangler = createRequire(createRequire(import.meta.url).resolve("wrangler/package.json"));
  const module: unknown = await import(pathToFileURL(fromWrangler.resolve("miniflare")).href);
  return module as MiniflareApi;
}

async function wrangler(args: readonly string[]): Promise<void> {
  const child = spawn(WRANGLER_BIN, args, {
    cwd: ROOT,
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, CLOUDFLARE_CF_FETCH_ENABLED: "false", WRANGLER_SEND_METRICS: "false", CI: "true" },
  });
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output += d.toString()));
  child.stderr.on("data", (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  if (code !== 0) throw new Error(`wrangler ${args.join(" ")} failed (${code}):\n${output}`);
}

export interface Bundles {
  readonly production: string;
  readonly baseline: string;
}

/** Bundles both Workers the way `wrangler deploy` would, without deploying (once per bench). */
export async function buildBundles(dir: string): Promise<Bundles> {
  const production = join(dir, "production");
  const baseline = join(dir, "baseline");
  await wrangler(["deploy", "--dry-run", "--outdir", production, "--config", join(ROOT, "wrangler.toml")]);
  await wrangler([
    "deploy",
    "--dry-run",
    "--outdir",
    baseline,
    "--config",
    join(ROOT, "bench", "wrangler.baseline.toml"),
  ]);
  return { production: join(production, "index.js"), baseline: join(baseline, "baseline-worker.js") };
}

/**
 * The production Worker with faults injected on command (bench/chaos-worker.ts) in place of its
 * entry, bundled with the production configuration: the chaos campaign's Worker. Its path.
 */
export async function buildChaosBundle(dir: string): Promise<string> {
  const out = join(dir, "chaos");
  await wrangler([
    "deploy",
    "--dry-run",
    "--outdir",
    out,
    "--config",
    join(ROOT, "wrangler.toml"),
    join(ROOT, "bench", "chaos-worker.ts"),
  ]);
  return join(out, "chaos-worker.js");
}

/** Workerd's log lines, kept for the report: counts per level and the last warnings and errors. */
export class RuntimeLog {
  readonly counts = new Map<string, number>();
  readonly recent: string[] = [];
  /** The first errors the Worker answered with a 500 (its `unhandled_error` events): each is a bug. */
  readonly unhandled: string[] = [];

  record(level: string, message: string): void {
    this.counts.set(level, (this.counts.get(level) ?? 0) + 1);
    if (message.includes('"unhandled_error"') && this.unhandled.length < 10) this.unhandled.push(message.slice(0, 600));
    if (level === "warn" || level === "error") {
      this.recent.push(`${level}: ${message.slice(0, 300)}`);
      if (this.recent.length > 20) this.recent.shift();
    }
  }
}

export interface RuntimeOptions {
  readonly bundles: Bundles;
  readonly stateDir: string;
  readonly port: number;
  readonly vars: Record<string, string>;
  /** A loopback port for workerd's inspector (the DevTools protocol), to take CPU profiles; none by default. */
  readonly inspectorPort?: number;
  /** String bindings for the baseline Worker (the floor's FLOOR_TOKEN_KEY, bench/floor.ts). */
  readonly baselineVars?: Record<string, string>;
}

export interface Runtime {
  readonly baseUrl: string;
  /** The production Worker's string bindings as it sees them ([vars] with the run's overrides). */
  readonly vars: Record<string, string>;
  readonly log: RuntimeLog;
  /** workerd's inspector, when the runtime was started with an inspector port. */
  readonly inspectorUrl: URL | undefined;
  dispose(): Promise<void>;
}

/** A config's Miniflare options without its source (the bundle replaces it). */
function workerOptionsOf(
  configPath: string,
): Omit<ReturnType<typeof unstable_getMiniflareWorkerOptions>["workerOptions"], "modulesRules"> {
  const { modulesRules: _rules, ...options } = quietly(() =>
    unstable_getMiniflareWorkerOptions(configPath),
  ).workerOptions;
  return options;
}

export async function startRuntime(options: RuntimeOptions): Promise<Runtime> {
  const { Miniflare, Log, LogLevel, convertV4MiniflareOptions } = await loadMiniflare();
  const production = workerOptionsOf(join(ROOT, "wrangler.toml"));
  const baseline = workerOptionsOf(join(ROOT, "bench", "wrangler.baseline.toml"));

  const ratelimits = RateLimits.parse(production["ratelimits"] ?? {});
  const bindings = Bindings.parse(production["bindings"] ?? {});
  for (const name of [...RAISED_LIMITERS, ...RAISED_LOGIN_LIMITERS]) {
    const limiter = ratelimits[name];
    if (!limiter) throw new Error(`wrangler.toml no longer declares the rate limiter ${name}`);
    ratelimits[name] = { ...limiter, simple: { ...limiter.simple, limit: HIGH_LIMIT } };
  }

  const log = new RuntimeLog();
  const mf = new Miniflare(
    convertV4MiniflareOptions({
      rootPath: ROOT,
      host: "127.0.0.1",
      port: options.port,
      resourcePersistencePath: join(options.stateDir, "v3"),
      resourceTmpPath: join(options.stateDir, "tmp"),
      cf: { country: "EE", colo: "LCL", asn: 64512 },
      log: new Log(LogLevel.WARN),
      logRequests: false,
      handleStructuredLogs: ({ level, message }) => log.record(level, message),
      telemetry: { enabled: false },
      ...(options.inspectorPort === undefined ? {} : { inspectorPort: options.inspectorPort }),
      workers: [
        {
          ...production,
          name: PRODUCTION_WORKER,
          modules: true,
          scriptPath: options.bundles.production,
          modulesRoot: dirname(options.bundles.production),
          bindings: { ...bindings, ...options.vars },
          ratelimits,
        },
        {
          ...baseline,
          name: BASELINE_WORKER,
          modules: true,
          scriptPath: options.bundles.baseline,
          modulesRoot: dirname(options.bundles.baseline),
          bindings: { ...Bindings.parse(baseline["bindings"] ?? {}), ...options.baselineVars },
          routes: [`*${BASELINE_PREFIX}/*`],
        },
      ],
    }),
  );
  try {
    const url = await mf.ready;
    await applyMigrations(await mf.getD1Database("DB", PRODUCTION_WORKER));
    const vars: Record<string, string> = {};
    for (const [name, value] of Object.entries({ ...bindings, ...options.vars }))
      if (typeof value === "string") vars[name] = value;
    return {
      baseUrl: url.origin,
      vars,
      log,
      inspectorUrl: options.inspectorPort === undefined ? undefined : await mf.getInspectorURL(),
      dispose: () => mf.dispose(),
    };
  } catch (error) {
    await mf.dispose();
    throw error;
  }
}

/** migrations/*.sql in order, split the way `wrangler d1 migrations apply` splits them. */
async function applyMigrations(db: D1Database): Promise<void> {
  const dir = join(ROOT, "migrations");
  const files = (await readdir(dir)).filter((f) => f.endsWith(".sql")).sort();
  for (const file of files) {
    const statements = unstable_splitSqlQuery(await readFile(join(dir, file), "utf8"));
    await db.batch(statements.map((s) => db.prepare(s)));
  }
}

export async function writePrivateJson(file: string, value: unknown): Promise<void> {
  await writeFile(file, JSON.stringify(value, null, 2), { mode: 0o600 });
}
