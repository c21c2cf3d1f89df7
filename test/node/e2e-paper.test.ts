/**
 * The paper channel end to end over real HTTP against the running system (wrangler dev, local
 * queues, D1 and Durable Objects), with a scripted polling station using the station client
 * (lib/station-client, every call signed with its device key): the administrator registers the
 * station and the authority's sheet key; the station checks voters in, prints a BMD ballot and
 * scans it from a real QR image (signed by the ballot-marking device's own key), scans a
 * pre-printed sheet of its serial range with the scanner's marks; the results and the
 * reconciliation show it. Its signed result sheet is refused while the polls are open (the demo's
 * close is years away; workerd tests cover sheets after the close).
 */
import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { ApiCallError } from "../../cli/lib/api.ts";
import type { ContestMarks } from "../../lib/ballot/messages.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { qrSignerFromJwk, type QrSigner } from "../../lib/qr/keys.ts";
import { encodeBallotSheet, encodeMarkedBallot, encodeResultSheet } from "../../lib/qr/payload.ts";
import { qrPng } from "../../lib/qr/render.ts";
import { StationCallError, StationClient } from "../../lib/station-client/client.ts";
import { DEMO_ELECTION_ID, demoVoters } from "../../scripts/demo.ts";
import { ROOT } from "../../scripts/system.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { voterAuth } from "./helpers/voter.ts";
import { eventually, runAuditor } from "./helpers/run.ts";

// The administrator registers the station and the authority's sheet key before the polls open:
// after, signing keys can no longer be added (authority_locked).
const stationId = "e2e-north-1";
const device = await generateSigningKey(`${stationId}-k1`);
// The ballot-marking device has its own key, which signs marked ballots and nothing else.
const bmd = await generateSigningKey(`${stationId}-bmd1`);
const authority = await generateSigningKey("authority-sheets-e2e");
const system = withRunningSystem({
  name: "e2e-paper",
  demo: true,
  beforePollsOpen: async (admin) => {
    await admin.call("POST", "/v1/admin/stations", {
      json: {
        id: stationId,
        name: "North District, polling station 1",
        districtIds: ["district-north"],
        publicJwk: device.publicJwk,
        serialRanges: [{ first: 500_000, last: 500_999 }],
      },
    });
    await admin.call("POST", `/v1/admin/stations/${stationId}/keys`, {
      json: { publicJwk: bmd.publicJwk, role: "marking-device" },
    });
    await admin.call("POST", `/v1/admin/elections/${DEMO_ELECTION_ID}/sheet-keys`, {
      json: { publicJwk: authority.publicJwk },
    });
  },
});
const run = promisify(execFile);
let election: CompiledElection;

beforeAll(async () => {
  const stored = z
    .object({ definition: z.unknown() })
    .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}`));
  const parsed = parseDefinition(stored.definition);
  if (!parsed.ok) throw new Error("the demo definition does not parse");
  election = parsed.value.election;
});

const Results = z.object({
  turnout: z.object({ ballotsCounted: z.number() }),
  contests: z.array(z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), votes: z.number() })) })),
});

async function signer(privateJwk: unknown): Promise<QrSigner> {
  const result = await qrSignerFromJwk(privateJwk);
  if (!result.ok) throw new Error(result.error.message);
  return result.value;
}

/** What a scanner reads off a printed code: render the text as a PNG, decode the image. */
async function scanImage(text: string): Promise<string> {
  const png = PNG.sync.read(Buffer.from(await qrPng(text)));
  const decoded = jsQR(new Uint8ClampedArray(png.data), png.width, png.height);
  if (!decoded) throw new Error("the QR image does not decode");
  return decoded.data;
}

it("registers a station and its BMD key, checks voters in, scans their ballots; the result sheet waits for the close", async () => {
  // --- The station, its BMD key and the authority's sheet key were registered before the polls
  // opened; now the admin CLI's attempt to add another BMD key is refused (authority_locked).
  const lateBmd = await generateSigningKey(`${stationId}-bmd2`);
  const lateBmdFile = join(system.stateDir, "e2e-bmd2.pub.json");
  await writeFile(lateBmdFile, JSON.stringify(lateBmd.publicJwk));
  const late = await run(
    join(ROOT, "node_modules", ".bin", "node"),
    [
      join(ROOT, "cli", "admin.ts"),
      "station",
      "add-key",
      stationId,
      "--public-key",
      lateBmdFile,
      "--role",
      "marking-device",
    ],
    { env: system.cliEnv },
  ).then(
    () => "added",
    (error: { stderr?: string }) => error.stderr ?? "",
  );
  expect(late).toContain("authority_locked");

  const station = new StationClient({ baseUrl: system.baseUrl, stationId, privateJwk: device.privateJwk });
  const deviceSigner = await signer(device.privateJwk);
  const bmdSigner = await signer(bmd.privateJwk);
  const authoritySigner = await signer(authority.privateJwk);

  const before = Results.parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/results`));
  const north = (await demoVoters(50)).filter((v) => v.districtId === "district-north").slice(0, 3);
  const [first, second, third] = north;
  if (!first || !second || !third) throw new Error("the demo roll has too few north voters");

  // --- Check-in: two voters get a ballot; a voter of another district is sent elsewhere.
  const a = await station.checkIn({
    electionId: DEMO_ELECTION_ID,
    nationalId: first.nationalId,
    identity: { method: "id-card+biometric", biometric: { matched: true, score: 0.94 } },
  });
  expect(a).toMatchObject({ outcome: "issue-ballot", ballotStyleId: "bs-north", replayed: false });
  const b = await station.checkIn({
    electionId: DEMO_ELECTION_ID,
    nationalId: second.nationalId,
    identity: { method: "id-card" },
  });
  expect(b.ballotStyleId).toBe("bs-north");
  const again = await station
    .checkIn({ electionId: DEMO_ELECTION_ID, nationalId: first.nationalId, identity: { method: "id-card" } })
    .catch((e: unknown) => e);
  expect(again).toBeInstanceOf(StationCallError);
  expect(again instanceof StationCallError ? again.code : "").toBe("may_not_issue_ballot");
  const south = (await demoVoters(50)).find((v) => v.districtId === "district-south");
  const elsewhere = await station
    .checkIn({ electionId: DEMO_ELECTION_ID, nationalId: south?.nationalId ?? "", identity: { method: "id-card" } })
    .catch((e: unknown) => e);
  expect(elsewhere instanceof StationCallError ? elsewhere.code : "").toBe("station_wrong_district");

  // --- Voter one marks on the ballot-marking device; the station scans the printed code.
  const bmdMarks: ContestMarks[] = [
    { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
    { contestId: "contest-parliament-north", optionIds: ["sel-parliament-north-kadri-lepp"] },
    { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
  ];
  const printed = await encodeMarkedBallot(
    { electionId: DEMO_ELECTION_ID, ballotStyleId: a.ballotStyleId, serial: 500_001, contests: bmdMarks },
    election,
    bmdSigner,
  );
  if (!printed.ok) throw new Error(printed.error.message);
  const scannedBmd = await station.scan({ electionId: DEMO_ELECTION_ID, qr: await scanImage(printed.value.text) });
  expect(scannedBmd).toMatchObject({ serial: 500_001, source: "marked-ballot", channel: "paper", replayed: false });

  // --- Voter two marks a pre-printed sheet by hand; the scanner reads its code and the marks.
  const sheet = await encodeBallotSheet(
    { electionId: DEMO_ELECTION_ID, ballotStyleId: b.ballotStyleId, serial: 500_501 },
    authoritySigner,
  );
  if (!sheet.ok) throw new Error(sheet.error.message);
  const handMarks: ContestMarks[] = [
    { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
    { contestId: "contest-parliament-north", optionIds: [] },
    { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-yes"] },
  ];
  const sheetText = await scanImage(sheet.value.text);
  const scannedSheet = await station.scan({ electionId: DEMO_ELECTION_ID, qr: sheetText, contests: handMarks });
  expect(scannedSheet).toMatchObject({ serial: 500_501, source: "ballot-sheet" });
  // The same sheet again (a copy, or a replay) is refused.
  const copy = await station
    .scan({ electionId: DEMO_ELECTION_ID, qr: sheetText, contests: handMarks })
    .catch((e: unknown) => e);
  expect(copy instanceof StationCallError ? [copy.status, copy.code] : []).toEqual([409, "serial_already_used"]);

  // --- The results count both paper ballots.
  const after = await eventually(async () => {
    const now = Results.parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/results`));
    return now.turnout.ballotsCounted === before.turnout.ballotsCounted + 2 ? now : undefined;
  });
  const votes = (r: z.infer<typeof Results>, contestId: string, optionId: string): number =>
    r.contests.find((c) => c.id === contestId)?.options.find((o) => o.id === optionId)?.votes ?? 0;
  expect(votes(after, "contest-president", "sel-president-liis-kask")).toBe(
    votes(before, "contest-president", "sel-president-liis-kask") + 2,
  );

  // --- The system has the station's check-ins and ballots; its result sheet waits for the close.
  const Reconciliation = z.object({
    consistent: z.boolean(),
    system: z.object({ checkIns: z.number(), ballotsScanned: z.number() }),
    differences: z.array(z.object({ kind: z.string() })),
  });
  await eventually(async () => {
    const r = Reconciliation.parse(
      await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/reconciliation/${stationId}`),
    );
    return r.system.checkIns === 2 && r.system.ballotsScanned === 2 ? r : undefined;
  });
  const resultSheet = await encodeResultSheet(
    {
      electionId: DEMO_ELECTION_ID,
      stationId,
      sequence: 1,
      closedAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
      votersCheckedIn: 2,
      ballotsCast: 2,
      contests: [
        {
          contestId: "contest-president",
          options: [{ optionId: "sel-president-liis-kask", votes: 2 }],
          writeIns: 0,
          blanks: 0,
        },
        {
          contestId: "contest-parliament-north",
          options: [{ optionId: "sel-parliament-north-kadri-lepp", votes: 1 }],
          writeIns: 0,
          blanks: 1,
        },
        {
          contestId: "contest-referendum-voting-age",
          options: [
            { optionId: "sel-referendum-voting-age-no", votes: 1 },
            { optionId: "sel-referendum-voting-age-yes", votes: 1 },
          ],
          writeIns: 0,
          blanks: 0,
        },
      ],
    },
    election,
    deviceSigner,
  );
  if (!resultSheet.ok) throw new Error(resultSheet.error.message);
  const early = await station
    .submitResultSheet({ electionId: DEMO_ELECTION_ID, qr: await scanImage(resultSheet.value.text) })
    .catch((e: unknown) => e);
  expect(early instanceof StationCallError ? [early.status, early.code] : []).toEqual([409, "polls_not_closed"]);

  const report = z
    .object({
      stations: z.array(
        z.object({ stationId: z.string(), system: z.object({ checkIns: z.number(), ballotsScanned: z.number() }) }),
      ),
    })
    .parse(await system.admin.call("GET", `/v1/admin/elections/${DEMO_ELECTION_ID}/reconciliation`));
  expect(report.stations.find((s) => s.stationId === stationId)?.system).toEqual({ checkIns: 2, ballotsScanned: 2 });

  // --- A checked-in voter can no longer vote online (first-wins).
  const auth = await voterAuth(system, DEMO_ELECTION_ID, first.nationalId);
  const online = await fetch(`${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballots`, {
    method: "POST",
    headers: { ...auth, "content-type": "application/json" },
    body: JSON.stringify({ idempotencyKey: crypto.randomUUID(), contests: bmdMarks }),
  });
  expect(online.status).toBe(409);

  // The registry shows the station; an unknown one is a 404.
  await expect(system.admin.call("GET", `/v1/admin/stations/${stationId}`)).resolves.toMatchObject({
    id: stationId,
    districtIds: ["district-north"],
  });
  await expect(system.admin.call("GET", "/v1/admin/stations/none-such")).rejects.toBeInstanceOf(ApiCallError);

  // --- The public log holds the station's two keys (its client's and its BMD's, each with its
  // role) and the authority's sheet key; the auditor verifies the log with the key the authority
  // publishes (a sheet's signature check needs the close: test/node/auditor-observer.test.ts).
  const logUrl = `${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}/`;
  const vkey = (await (await fetch(`${logUrl}verifier-key`)).text()).trim();
  const verified = await eventually(async () => {
    const run = await runAuditor("verify", "--log", logUrl, "--key", vkey, "--no-progress");
    return run.code === 0 && /station-key-added 2/.test(run.stdout) ? run : undefined;
  }, 30_000);
  expect(verified.stderr).toBe("");
  expect(verified.stdout).toMatch(/sheet-key-added 1/);
});
