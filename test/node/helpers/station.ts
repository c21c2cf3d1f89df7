/**
 * What the station client's tests share (test/node/station-*.test.ts): test stations with their
 * client and BMD keys, ballots their BMD prints, the station CLI run as a child process, the
 * outbox rows as stored on disk, the server's reconciliation, and a TCP proxy that a test cuts
 * and restores to take the station offline.
 */
import { execFile } from "node:child_process";
import { createConnection, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { z } from "zod";
import type { OfficialClient } from "../../../cli/lib/api.ts";
import type { ContestMarks } from "../../../lib/ballot/messages.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { generateSigningKey } from "../../../lib/identity/keys.ts";
import { qrSignerFromJwk } from "../../../lib/qr/keys.ts";
import { encodeMarkedBallot } from "../../../lib/qr/payload.ts";
import { parseDefinition } from "../../../lib/election/definition.ts";
import { DEMO_ELECTION_ID, demoVoters } from "../../../scripts/demo.ts";
import { ROOT, type RunningSystem } from "../../../scripts/system.ts";
import { StationSetup } from "../../../station/setup.ts";
import { voterAuth } from "./voter.ts";

export const NODE = join(ROOT, "node_modules", ".bin", "node");

/** An election as the server stored and compiled it (what encodes a marked ballot for it). */
export async function storedElection(admin: OfficialClient, electionId: string): Promise<CompiledElection> {
  const stored = z
    .object({ definition: z.unknown() })
    .parse(await admin.call("GET", `/v1/admin/elections/${electionId}`));
  const parsed = parseDefinition(stored.definition);
  if (!parsed.ok) throw new Error(`the definition of ${electionId} does not parse`);
  return parsed.value.election;
}

/** The demo roll's north voters (of its first `count`), each handed out once by `take(n)`. */
export async function northVoters(count = 1000): Promise<{
  readonly all: readonly { nationalId: string }[];
  take(n: number): { nationalId: string }[];
}> {
  const all = (await demoVoters(count)).filter((v) => v.districtId === "district-north");
  let next = 0;
  return {
    all,
    take(n) {
      const taken = all.slice(next, next + n);
      next += n;
      if (taken.length < n) throw new Error("the demo roll has too few north voters");
      return taken;
    },
  };
}
export const NORTH = ["district-north"];

/** A station with its client key (registered before the polls open), its BMD key and serials. */
export interface TestStation {
  readonly id: string;
  readonly client: Awaited<ReturnType<typeof generateSigningKey>>;
  readonly bmd: Awaited<ReturnType<typeof generateSigningKey>>;
  readonly firstSerial: number;
}

export async function testStation(id: string, firstSerial: number): Promise<TestStation> {
  return { id, client: await generateSigningKey(`${id}-k1`), bmd: await generateSigningKey(`${id}-bmd1`), firstSerial };
}

/** Registers the stations (north, 1,000 serials each) and their BMD keys: before the polls open. */
export async function registerStations(admin: OfficialClient, stations: readonly TestStation[]): Promise<void> {
  for (const s of stations) {
    await admin.call("POST", "/v1/admin/stations", {
      json: {
        id: s.id,
        name: `Test station ${s.id}`,
        districtIds: NORTH,
        publicJwk: s.client.publicJwk,
        serialRanges: [{ first: s.firstSerial, last: s.firstSerial + 999 }],
      },
    });
    await admin.call("POST", `/v1/admin/stations/${s.id}/keys`, {
      json: { publicJwk: s.bmd.publicJwk, role: "marking-device" },
    });
  }
}

export function setupOf(s: TestStation, apiOrigin: string): StationSetup {
  return StationSetup.parse({
    v: 1,
    stationId: s.id,
    apiOrigin,
    electionId: DEMO_ELECTION_ID,
    districtIds: NORTH,
    deviceKey: s.client.privateJwk,
  });
}

const MARKS: ContestMarks[] = [
  { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
  { contestId: "contest-parliament-north", optionIds: [] },
  { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
];

/**
 * A demo north voter's ballot cast online through the API: the first half of a conflict, whose
 * second half is a check-in of the same voter at a station that cannot know (it is offline).
 */
export async function voteOnline(system: Pick<RunningSystem, "baseUrl" | "issuer">, nationalId: string): Promise<void> {
  const auth = await voterAuth(system, DEMO_ELECTION_ID, nationalId);
  const online = await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballots`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({
      idempotencyKey: crypto.randomUUID(),
      contests: [
        { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
        { contestId: "contest-parliament-north", optionIds: [] },
        { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-yes"] },
      ],
    }),
  });
  if (online.status >= 300) throw new Error(`online cast failed: ${online.status} ${await online.text()}`);
}

/** A ballot its station's BMD printed, as the QR text a scanner types. */
export async function printed(election: CompiledElection, s: TestStation, serial: number): Promise<string> {
  const signer = await qrSignerFromJwk(s.bmd.privateJwk);
  if (!signer.ok) throw new Error(signer.error.message);
  const encoded = await encodeMarkedBallot(
    { electionId: DEMO_ELECTION_ID, ballotStyleId: "bs-north", serial, contests: MARKS },
    election,
    signer.value,
  );
  if (!encoded.ok) throw new Error(encoded.error.message);
  return encoded.value.text;
}

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a Node script (the admin or station CLI) with the pinned Node, never rejecting. */
export function runNode(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      NODE,
      ["--disable-warning=ExperimentalWarning", ...args],
      { cwd: ROOT, env, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

const Reconciliation = z.object({ system: z.object({ checkIns: z.number(), ballotsScanned: z.number() }) }).loose();

export async function reconciliation(
  admin: OfficialClient,
  stationId: string,
): Promise<z.infer<typeof Reconciliation>> {
  return Reconciliation.parse(
    await admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/reconciliation/${stationId}`),
  );
}

/** The outbox rows as stored in the station's SQLite file. */
export function storedRows(dataDir: string): { kind: string; state: string; body: string | null }[] {
  const db = new DatabaseSync(join(dataDir, "station.sqlite"), { readOnly: true });
  try {
    return db.prepare("SELECT kind, state, body FROM outbox ORDER BY seq").all() as {
      kind: string;
      state: string;
      body: string | null;
    }[];
  } finally {
    db.close();
  }
}

/** A TCP proxy in front of the system: `cut()` drops every connection and refuses new ones. */
export class Proxy {
  private server: Server | undefined;
  private sockets = new Set<Socket>();
  private cutOff = false;
  port = 0;
  private readonly target: URL;
  constructor(target: URL) {
    this.target = target;
  }
  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.cutOff) return void client.destroy();
      const upstream = createConnection({ host: this.target.hostname, port: Number(this.target.port) });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    this.port = typeof address === "object" && address ? address.port : 0;
  }
  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  cut(): void {
    this.cutOff = true;
    for (const s of this.sockets) s.destroy();
  }
  restore(): void {
    this.cutOff = false;
  }
  async stop(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}
