/**
 * The polling station's client (station/) against the running system: the admin CLI's setup file,
 * a station working online (check-in, scan from a photo, cancellation, its outbox), kills at
 * random instants of `npm run station -- sync`, and its pollbook's signatures checked again when
 * loaded from the disk. The network cut, which needs the server's offline check-ins, is in
 * station-offline.test.ts.
 */
import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { beforeAll, describe, expect, it } from "vitest";
import type { CompiledElection } from "../../lib/election/model.ts";
import { base64urlDecode, base64urlEncode } from "../../lib/bytes.ts";
import { readSignedQrPayload } from "../../lib/qr/payload.ts";
import { qrPng } from "../../lib/qr/render.ts";
import { seeded } from "../../lib/seeded.ts";
import { qrTextFromImage } from "../../station/qr-image.ts";
import { readSetupFile } from "../../station/setup.ts";
import { Station } from "../../station/station.ts";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { eventually } from "./helpers/run.ts";
import {
  NODE,
  NORTH,
  Proxy,
  printed as printedFor,
  reconciliation as reconciliationOf,
  northVoters,
  registerStations,
  storedElection,
  runNode,
  setupOf,
  storedRows,
  testStation,
  type Run,
  type TestStation,
} from "./helpers/station.ts";

const north = NORTH;
const cliStation = await testStation("stc-cli-1", 600_000);
/**
 * What the tests of this file had the server accept at cliStation, so that a test waiting for the
 * server's reconciliation waits for every one of them (the setup file's test checks a voter in and
 * scans a ballot there too), whichever tests ran.
 */
const cliAccepted = { checkIns: 0, scans: 0 };
const killStation = await testStation("stc-kill-1", 620_000);

let setupFile = "";
/** The kill test's store: 20 voters checked in and their ballots scanned, for the result sheet. */
let killDataDir = "";
let setupFileRun: Run | undefined;

const system = withRunningSystem({
  name: "station-client",
  demo: true,
  beforePollsOpen: async (admin) => {
    await registerStations(admin, [cliStation, killStation]);
    // The setup-file CLI, as an administrator runs it before the polls open.
    setupFile = join(system.stateDir, "stc-cli-1.setup.json");
    setupFileRun = await runNode(
      [
        join(ROOT, "cli", "admin.ts"),
        "station",
        "setup-file",
        cliStation.id,
        "--election",
        DEMO_ELECTION_ID,
        "--api",
        system.baseUrl,
        "--out",
        setupFile,
      ],
      system.cliEnv,
    );
  },
});

let election: CompiledElection;
const pool = await northVoters();
const voters = pool.all;
const takeVoters = pool.take;

beforeAll(async () => {
  election = await storedElection(system.admin, DEMO_ELECTION_ID);
});

const printed = (s: TestStation, serial: number): Promise<string> => printedFor(election, s, serial);
const reconciliation = (stationId: string): ReturnType<typeof reconciliationOf> =>
  reconciliationOf(system.admin, stationId);

describe("the setup file", () => {
  it("is written by the admin CLI before the polls open (0600, a registered key), and refused after", async () => {
    expect(setupFileRun?.stderr).toBe("");
    expect(setupFileRun?.code).toBe(0);
    expect((await stat(setupFile)).mode & 0o777).toBe(0o600);
    const setup = await readSetupFile(setupFile);
    if (!setup.ok) throw new Error(setup.error);
    expect(setup.value).toMatchObject({ stationId: cliStation.id, electionId: DEMO_ELECTION_ID, districtIds: north });
    expect(setup.value.deviceKey.d).toMatch(/^[A-Za-z0-9_-]{43}$/);

    // It does not overwrite a file unless told to; after the polls opened, no key can be added.
    const args = [
      join(ROOT, "cli", "admin.ts"),
      "station",
      "setup-file",
      cliStation.id,
      "--election",
      DEMO_ELECTION_ID,
      "--api",
      system.baseUrl,
      "--out",
      setupFile,
    ];
    const again = await runNode(args, system.cliEnv);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toContain("--force");
    const late = await runNode([...args, "--force"], system.cliEnv);
    expect(late.code).toBe(1);
    expect(late.stderr).toContain("authority_locked");
    expect(await readFile(setupFile, "utf8")).toContain(setup.value.deviceKey.kid);

    // The station client starts from it: its CLI answers with the station's status.
    const dataDir = await mkdtemp(join(system.stateDir, "stc-cli-data-"));
    const status = await runNode([
      join(ROOT, "station", "cli.ts"),
      "--setup",
      setupFile,
      "--data",
      dataDir,
      "--json",
      "status",
    ]);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ stationId: cliStation.id, pending: 0, checkIns: 0 });

    // A voter checked in, their ballot scanned from a photo file, in plain sentences; a refusal exits 1.
    const station = (...args: string[]): Promise<Run> =>
      runNode([join(ROOT, "station", "cli.ts"), "--setup", setupFile, "--data", dataDir, ...args]);
    const [voter] = takeVoters(1);
    const checkIn = await station("check-in", voter!.nationalId, "--biometric-score", "0.91");
    expect([checkIn.code, checkIn.stdout.trim()]).toEqual([0, "Issue ballot style bs-north."]);
    const twice = await station("check-in", voter!.nationalId);
    expect(twice.code).toBe(1);
    expect(twice.stderr).toContain("Refused (may_not_issue_ballot)");
    const photo = join(dataDir, "ballot.png");
    await writeFile(photo, await qrPng(await printed(cliStation, cliStation.firstSerial + 20)));
    const scan = await station("scan", "--image", photo);
    expect([scan.code, scan.stdout.trim()]).toEqual([0, `Ballot ${cliStation.firstSerial + 20} accepted.`]);
    cliAccepted.checkIns += 1;
    cliAccepted.scans += 1;
    const outbox = await station("--json", "outbox");
    expect(JSON.parse(outbox.stdout)).toMatchObject([
      { kind: "scan", state: "done" },
      { kind: "check-in", state: "failed", error: { code: "may_not_issue_ballot" } },
      { kind: "check-in", state: "done" },
    ]);

    // `serve` puts the console on a loopback port, shows what the station did, and stops cleanly.
    const serving = spawn(NODE, [
      "--disable-warning=ExperimentalWarning",
      join(ROOT, "station", "cli.ts"),
      "--setup",
      setupFile,
      "--data",
      dataDir,
      "serve",
      "--port",
      "0",
    ]);
    const exited = new Promise<number | null>((resolve) => serving.on("exit", resolve));
    const url = await new Promise<string>((resolve, reject) => {
      let out = "";
      serving.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        const m = /Station console: (http:\/\/127\.0\.0\.1:\d+\/?)/.exec(out);
        if (m?.[1]) resolve(m[1]);
      });
      void exited.then((code) => reject(new Error(`serve exited (${code}) before it listened: ${out}`)));
    });
    const page = await fetch(url);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain(cliStation.id);
    serving.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});

describe("online", () => {
  it("checks a voter in and scans a ballot from an image file; the outbox keeps no voter data", async () => {
    const setup = await readSetupFile(setupFile);
    if (!setup.ok) throw new Error(setup.error);
    const dataDir = await mkdtemp(join(system.stateDir, "stc-online-"));
    const station = await Station.open(setup.value, dataDir);
    try {
      const [voter] = takeVoters(1);
      const checkIn = await station.checkIn({
        nationalId: voter!.nationalId.toLowerCase(),
        identity: { method: "id-card+biometric", biometric: { matched: true, score: 0.93 } },
      });
      expect(checkIn).toEqual({
        outcome: "issue-ballot",
        ballotStyleId: "bs-north",
        districtId: "district-north",
        decidedOffline: false,
      });
      // Asked again: the server refuses, with its code.
      expect(await station.checkIn({ nationalId: voter!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "refused",
        code: "may_not_issue_ballot",
      });

      // The BMD's printout, photographed: read from the PNG, then scanned.
      const text = await printed(cliStation, cliStation.firstSerial + 1);
      const read = qrTextFromImage(await qrPng(text));
      if (!read.ok) throw new Error(read.error.message);
      expect(await station.scan({ qr: read.value })).toEqual({
        outcome: "accepted",
        serial: cliStation.firstSerial + 1,
        held: false,
      });
      // The same ballot again: refused by the server, and not in the station's totals.
      expect(await station.scan({ qr: read.value })).toMatchObject({ outcome: "refused", code: "serial_already_used" });
      // Not a ballot: refused locally.
      expect(await station.scan({ qr: "ME1:NOT-A-BALLOT" })).toMatchObject({ outcome: "refused" });

      const status = await station.status();
      expect(status).toMatchObject({ online: true, pending: 0, checkIns: 1, scans: 1 });
      cliAccepted.checkIns += 1;
      cliAccepted.scans += 1;
      const outbox = await station.outbox();
      expect(outbox.map((i) => [i.kind, i.state])).toEqual([
        ["scan", "failed"],
        ["scan", "done"],
        ["check-in", "failed"],
        ["check-in", "done"],
      ]);
      expect(outbox[0]?.error?.code).toBe("serial_already_used");
      // Answered entries keep no body: no national id, no voter ref, no marks.
      for (const row of storedRows(dataDir)) expect(row.body).toBeNull();
      // Nor any file of the store, the WAL included, while the station runs.
      for (const name of await readdir(dataDir)) {
        const file = await readFile(join(dataDir, name));
        expect(file.includes(Buffer.from(voter!.nationalId)), name).toBe(false);
      }

      // Polls open: no result sheet yet.
      expect(await station.resultSheet()).toMatchObject({ outcome: "refused", code: "polls_not_closed" });
    } finally {
      await station.close();
    }
    await eventually(async () => {
      const r = await reconciliation(cliStation.id);
      return r.system.checkIns === cliAccepted.checkIns && r.system.ballotsScanned === cliAccepted.scans
        ? r
        : undefined;
    });
  });
});

describe("cancellation", () => {
  it("cancels a spoiled ballot by its QR text, once", async () => {
    const setup = await readSetupFile(setupFile);
    if (!setup.ok) throw new Error(setup.error);
    const station = await Station.open(setup.value, await mkdtemp(join(system.stateDir, "stc-cancel-")));
    try {
      const serial = cliStation.firstSerial + 2;
      expect(await station.cancel({ qr: await printed(cliStation, serial), reason: "spoiled" })).toEqual({
        outcome: "accepted",
        serial,
        reason: "spoiled",
      });
      expect(await station.status()).toMatchObject({ pending: 0, failed: 0, cancellations: 1 });
      // The cancelled serial can no longer be scanned.
      expect(await station.scan({ qr: await printed(cliStation, serial) })).toMatchObject({ outcome: "refused" });
    } finally {
      await station.close();
    }
  });
});

describe("the sync loop", () => {
  it("queues scans through a network cut and sends them by itself once the network is back", async () => {
    const setup = await readSetupFile(setupFile);
    if (!setup.ok) throw new Error(setup.error);
    const proxy = new Proxy(new URL(system.baseUrl));
    await proxy.start();
    const dataDir = await mkdtemp(join(system.stateDir, "stc-loop-"));
    const station = await Station.open({ ...setup.value, apiOrigin: proxy.origin }, dataDir);
    try {
      const [voter] = takeVoters(1);
      expect(await station.checkIn({ nationalId: voter!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "issue-ballot",
        decidedOffline: false,
      });
      proxy.cut();
      const serial = cliStation.firstSerial + 10;
      expect(await station.scan({ qr: await printed(cliStation, serial) })).toEqual({
        outcome: "queued",
        serial,
        held: false,
      });
      // Offline and without a pollbook, a check-in cannot be decided: refused, and no national id kept.
      const [other] = takeVoters(1);
      expect(await station.checkIn({ nationalId: other!.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "refused",
        code: "not_in_pollbook",
      });
      expect(await station.status()).toMatchObject({ online: false, pending: 1, failed: 1 });
      for (const name of await readdir(dataDir)) {
        expect((await readFile(join(dataDir, name))).includes(Buffer.from(other!.nationalId)), name).toBe(false);
      }
      station.startSync();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      expect((await station.status()).pending).toBe(1);
      proxy.restore();
      await eventually(async () => ((await station.status()).pending === 0 ? true : undefined), 90_000);
      expect(await station.status()).toMatchObject({ online: true, pending: 0, failed: 1, checkIns: 1, scans: 1 });
      expect((await station.outbox(3)).map((i) => [i.kind, i.state, i.error?.code])).toEqual([
        ["check-in", "failed", "not_in_pollbook"],
        ["scan", "done", undefined],
        ["check-in", "done", undefined],
      ]);
    } finally {
      await station.close();
      await proxy.stop();
    }
  });
});

describe("kills at random instants", () => {
  it("loses nothing and applies each entry once when `station sync` is SIGKILLed again and again", async () => {
    const dataDir = await mkdtemp(join(system.stateDir, "stc-kill-"));
    killDataDir = dataDir;
    const setup = setupOf(killStation, system.baseUrl);
    const file = join(system.stateDir, "stc-kill.setup.json");
    await writeFile(file, JSON.stringify(setup), { mode: 0o600 });
    const n = 20;
    const checkedIn = takeVoters(n);

    // The voters are checked in online; then the network goes and their ballots are scanned.
    let station = await Station.open(setup, dataDir);
    for (const voter of checkedIn) {
      expect(await station.checkIn({ nationalId: voter.nationalId, identity: { method: "id-card" } })).toMatchObject({
        outcome: "issue-ballot",
        decidedOffline: false,
      });
    }
    await station.close();
    station = await Station.open(setup, dataDir, { fetch: () => Promise.reject(new TypeError("network down")) });
    for (let i = 0; i < n; i++) {
      expect(await station.scan({ qr: await printed(killStation, killStation.firstSerial + i) })).toMatchObject({
        outcome: "queued",
      });
    }
    await station.close();

    const random = seeded(12);
    const kills: number[] = [];
    const pendingAfterKill: number[] = [];
    for (let round = 0; round < 15; round++) {
      const child = spawn(NODE, [
        "--disable-warning=ExperimentalWarning",
        join(ROOT, "station", "cli.ts"),
        "--setup",
        file,
        "--data",
        dataDir,
        "sync",
      ]);
      const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
      const delay = 150 + Math.floor(random() * 1200);
      kills.push(delay);
      await new Promise((resolve) => setTimeout(resolve, delay));
      child.kill("SIGKILL");
      await exited;
      pendingAfterKill.push(storedRows(dataDir).filter((r) => r.state === "pending").length);
    }
    // The first kills cut a pass short: entries were still pending when the process died.
    expect(pendingAfterKill[0]).toBeGreaterThan(0);
    const final = await runNode([
      join(ROOT, "station", "cli.ts"),
      "--setup",
      file,
      "--data",
      dataDir,
      "--json",
      "sync",
    ]);
    expect(
      final.code,
      `after kills at ${kills.join(", ")} ms (pending ${pendingAfterKill.join(", ")}): ${final.stdout}${final.stderr}`,
    ).toBe(0);
    const rows = storedRows(dataDir);
    expect(rows.filter((r) => r.kind === "scan").map((r) => r.state)).toEqual(Array<string>(n).fill("done"));
    await eventually(async () => {
      const r = await reconciliation(killStation.id);
      return r.system.checkIns === n && r.system.ballotsScanned === n ? r : undefined;
    });
  });
});

describe("the pollbook", () => {
  it("is downloaded and verified, and refused on load when a page on the disk was altered", async () => {
    const setup = setupOf(killStation, system.baseUrl);
    const dataDir = await mkdtemp(join(system.stateDir, "stc-pollbook-"));
    let station = await Station.open(setup, dataDir);
    const downloaded = await station.refreshPollbook();
    expect(downloaded).toMatchObject({ entries: voters.length });
    expect((await station.status()).pollbook).toMatchObject({ entries: voters.length });
    await station.close();

    // Reopened: verified again, still there.
    station = await Station.open(setup, dataDir);
    expect((await station.status()).pollbook).toMatchObject({ entries: voters.length });
    await station.close();

    // One entry's ballot style changed on the disk, the signature left as it was.
    const db = new DatabaseSync(join(dataDir, "station.sqlite"));
    const row = db.prepare("SELECT page, jws FROM pollbook_pages ORDER BY page LIMIT 1").get() as {
      page: number;
      jws: string;
    };
    const [header, payload, signature] = row.jws.split(".");
    const page = JSON.parse(new TextDecoder().decode(base64urlDecode(payload!))) as {
      entries: { ballotStyleId: string }[];
    };
    page.entries[0]!.ballotStyleId = "bs-south";
    const forged = `${header}.${base64urlEncode(new TextEncoder().encode(JSON.stringify(page)))}.${signature}`;
    db.prepare("UPDATE pollbook_pages SET jws = ? WHERE page = ?").run(forged, row.page);
    db.close();

    station = await Station.open(setup, dataDir);
    try {
      const status = await station.status();
      expect(status.pollbook).toBeNull();
      expect(status.lastError?.code).toBe("pollbook_invalid");
      // Downloaded again, it is whole.
      expect(await station.refreshPollbook()).toMatchObject({ entries: voters.length });
      expect((await station.status()).pollbook).toMatchObject({ entries: voters.length });
    } finally {
      await station.close();
    }
  });
});

describe("the result sheet", () => {
  it("is made once the polls have closed, from the station's own records, signed with its key, and kept", async () => {
    expect(killDataDir).not.toBe("");
    const setup = setupOf(killStation, system.baseUrl);
    let station = await Station.open(setup, killDataDir);
    expect(await station.resultSheet()).toMatchObject({ outcome: "refused", code: "polls_not_closed" });
    await station.close();

    // The demo's polls close in a week: the laptop's copy of the election is told they closed.
    const db = new DatabaseSync(join(killDataDir, "station.sqlite"));
    const row = db.prepare("SELECT summary FROM election").get() as { summary: string };
    const summary = JSON.parse(row.summary) as { polls: { closesAt: string } };
    summary.polls.closesAt = new Date(Date.now() - 60_000).toISOString();
    db.prepare("UPDATE election SET summary = ?").run(JSON.stringify(summary));
    db.close();

    station = await Station.open(setup, killDataDir);
    try {
      const sheet = await station.resultSheet();
      if (!("qr" in sheet)) throw new Error(`${sheet.code}: ${sheet.message}`);
      expect(sheet).toMatchObject({ sequence: 1, votersCheckedIn: 20, ballotsCast: 20 });
      const totals = Object.fromEntries(sheet.contests.map((c) => [c.contestId, c]));
      expect(totals["contest-president"]).toMatchObject({ name: "President of the Republic" });
      expect(totals["contest-president"]?.options).toContainEqual({
        optionId: "sel-president-liis-kask",
        label: "Liis Kask",
        votes: 20,
      });
      expect(totals["contest-parliament-north"]).toMatchObject({ blanks: 20, writeIns: 0 });
      expect(totals["contest-referendum-voting-age"]?.options).toContainEqual(
        expect.objectContaining({ optionId: "sel-referendum-voting-age-no", votes: 20 }),
      );
      expect(sheet.svg).toContain("<svg");
      // Signed with the station's key, in the layout of the server's own election definition.
      const publicKey = base64urlDecode(String(killStation.client.publicJwk.x))!;
      const read = await readSignedQrPayload(sheet.qr, election, () => Promise.resolve(publicKey));
      expect(read.ok && read.value.type === "result-sheet" ? read.value.fields.votersCheckedIn : -1).toBe(20);

      // The server, whose polls are still open, refuses it: the entry fails with its code.
      const outbox = await station.outbox(1);
      expect(outbox[0]).toMatchObject({ kind: "result-sheet", state: "failed", error: { code: "polls_not_closed" } });
      // Written once: asked again, the same sheet.
      expect(await station.resultSheet()).toMatchObject({ sequence: 1, qr: sheet.qr });
      expect((await station.status()).resultSheet).toEqual({ sequence: 1, state: "failed" });
    } finally {
      await station.close();
    }
  });
});
