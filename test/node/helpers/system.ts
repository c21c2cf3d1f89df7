/**
 * The running system for one end-to-end test file: `withRunningSystem()` registers a `beforeAll`
 * that starts the dev eID issuer and `wrangler dev` (scripts/system.ts) on free ports with a fresh
 * state directory and, if asked, loads the demo election and roll, and an `afterAll` that stops
 * both and removes the directory. Call it once at the top level of the file; the handle's fields
 * are there from the file's own hooks and tests on (the file's `beforeAll`s run after this one).
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { OfficialClient } from "../../../cli/lib/api.ts";
import { demoVoters, loadDemo } from "../../../scripts/demo.ts";
import { startSystem, type RunningSystem, type SystemOptions } from "../../../scripts/system.ts";

export interface SystemSetup {
  /** Names the state directory: `election-<name>-XXXXXX` in the OS temp dir. */
  readonly name: string;
  /** Load the demo election and its 1,000 voters (scripts/demo.ts) once the system is up. */
  readonly demo?: boolean;
  /** With `demo`: what to register before the demo's polls open (stations, sheet keys). */
  readonly beforePollsOpen?: (admin: OfficialClient) => Promise<void>;
  /** List the first n demo voters on the dev issuer's login page (as `npm start` does). */
  readonly issuerVoters?: number;
  /** Anything else startSystem takes: ports, ledger buckets, verbose. */
  readonly options?: Omit<SystemOptions, "stateDir" | "demoVoters">;
}

export interface SystemHandle {
  /** The Worker under `wrangler dev`, e.g. http://127.0.0.1:41234. */
  readonly baseUrl: string;
  /** The dev eID issuer (its url, jwksUrl, authorizeUrl). */
  readonly issuer: RunningSystem["issuer"];
  /** This run's state: D1, R2 and Durable Objects, dev secrets, and room for the test's own files. */
  readonly stateDir: string;
  /** The bootstrap administrator's private key file. */
  readonly adminKeyFile: string;
  /** The API client of the bootstrap administrator. */
  readonly admin: OfficialClient;
  /** Environment for running the admin CLI as the bootstrap administrator against this system. */
  readonly cliEnv: NodeJS.ProcessEnv;
}

export function withRunningSystem(setup: SystemSetup): SystemHandle {
  let stateDir: string | undefined;
  let running: { system: RunningSystem; admin: OfficialClient } | undefined;

  beforeAll(async () => {
    stateDir = await mkdtemp(join(tmpdir(), `election-${setup.name}-`));
    const voters = setup.issuerVoters === undefined ? undefined : await demoVoters(setup.issuerVoters);
    const system = await startSystem({
      ...setup.options,
      stateDir,
      ...(voters ? { demoVoters: voters.map((v) => ({ nationalId: v.nationalId, label: v.nationalId })) } : {}),
    });
    const admin = new OfficialClient({
      baseUrl: system.baseUrl,
      officialId: "bootstrap-admin",
      keyFile: system.adminKeyFile,
    });
    running = { system, admin };
    if (setup.demo) {
      // A fresh state directory: the demo is loaded now, never found open from an earlier run.
      expect((await loadDemo(admin, new Date(), setup.beforePollsOpen)).election).toBe("loaded");
    }
  });

  afterAll(async () => {
    await running?.system.stop();
    if (stateDir) await rm(stateDir, { recursive: true, force: true });
  });

  const started = (): { system: RunningSystem; admin: OfficialClient } => {
    if (!running) throw new Error("the system is not running: use the handle in hooks and tests, after its beforeAll");
    return running;
  };
  return {
    get baseUrl() {
      return started().system.baseUrl;
    },
    get issuer() {
      return started().system.issuer;
    },
    get stateDir() {
      return started().system.stateDir;
    },
    get adminKeyFile() {
      return started().system.adminKeyFile;
    },
    get admin() {
      return started().admin;
    },
    get cliEnv() {
      const { system } = started();
      return { ...process.env, ELECTION_API: system.baseUrl, ELECTION_OFFICIAL_KEY: system.adminKeyFile };
    },
  };
}
