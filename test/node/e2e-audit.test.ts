/**
 * The audit log end to end over real HTTP against the running system (wrangler dev, the dev eID
 * issuer, local queues, D1, R2 and Durable Objects): voters cast (one re-votes under
 * paper-supersedes), every receipt resolves to an inclusion proof that checks against the log's
 * key, the polls close, the cast vote records are published, and the auditor CLI's `verify`,
 * `prove` and `recount` pass against the running system.
 */
import { join } from "node:path";
import { beforeAll, expect, it } from "vitest";
import { z } from "zod";
import { decodeEntry } from "../../lib/audit/entries.ts";
import { parseInclusionProof, verifyInclusionBundle } from "../../lib/tlog/proof.ts";
import { sampleLog, sequencingRate, startProofLatencyProbe } from "../../bench/audit-log-metrics.ts";
import { DEMO_ELECTION_ID } from "../../scripts/demo.ts";
import { withRunningSystem } from "./helpers/system.ts";
import { castChoice, voterAuth } from "./helpers/voter.ts";
import { loadOpenDemo } from "./helpers/election.ts";
import { runAuditor, eventually } from "./helpers/run.ts";

const ELECTION = "audit-e2e-2026";
const VOTERS = 10;
/** Long enough to start, load and cast everything with room to spare on a slow machine. */
const POLLS_OPEN_MS = 60_000;

const system = withRunningSystem({ name: "e2e-audit", demo: true });
let closesAt: number;

beforeAll(async () => {
  closesAt = Date.now() + POLLS_OPEN_MS;
  await loadOpenDemo(system.admin, ELECTION, closesAt, {
    crossChannelPolicy: "paper-supersedes",
    resultsVisibility: "after-close",
  });
});

const Checked = z.object({
  status: z.string(),
  log: z.object({ leafIndex: z.number(), proofUrl: z.string() }).optional(),
});
const LogStatus = z.object({
  size: z.number(),
  publishedSize: z.number(),
  pooled: z.number(),
  castVoteRecords: z.object({ published: z.number(), publishing: z.number() }),
});

async function session(nationalId: string): Promise<{ authorization: string }> {
  return voterAuth(system, ELECTION, nationalId);
}

async function castFor(
  auth: { authorization: string },
  choice: number,
): Promise<{ trackingCode: string; commitment: string }> {
  return castChoice(system, ELECTION, auth, choice);
}

it("receipts prove inclusion, and after the close the auditor verifies the log and recounts it to the results", async () => {
  const logUrl = `${system.baseUrl}/v1/logs/${ELECTION}/`;
  const vkey = (await (await fetch(`${logUrl}verifier-key`)).text()).trim();
  const origin = z
    .object({ origin: z.string() })
    .parse(await (await fetch(`${system.baseUrl}/v1/logs/${ELECTION}`)).json()).origin;

  const receipts: { trackingCode: string; commitment: string }[] = [];
  // The bench's measurements (bench/audit-log-metrics.ts) run here too, so they keep working.
  const before = await sampleLog(system.admin, ELECTION);
  const probe = startProofLatencyProbe(system.baseUrl);
  const castTimed = async (auth: { authorization: string }, choice: number): Promise<void> => {
    const receipt = await castFor(auth, choice);
    probe.add({ trackingCode: receipt.trackingCode, acceptedAtMs: Date.now() });
    receipts.push(receipt);
  };
  for (let i = 1; i <= VOTERS; i++) {
    const auth = await session(`DEMO-${String(i).padStart(4, "0")}`);
    await castTimed(auth, i);
    // The first voter changes their mind: the first ballot is superseded (and never published).
    if (i === 1) await castTimed(auth, i + 1);
  }
  expect(Date.now()).toBeLessThan(closesAt);
  const latency = await probe.finish();
  expect(latency).toEqual(expect.objectContaining({ samples: VOTERS + 1, missing: 0 }));
  expect(latency.p99Ms).toBeLessThan(20_000);
  const rate = sequencingRate(before, await sampleLog(system.admin, ELECTION));
  expect(rate.entries).toBeGreaterThanOrEqual(VOTERS + 1);
  console.log(JSON.stringify({ proofLatency: latency, sequencing: rate }));

  // Every receipt resolves to a leaf and an inclusion proof against a signed checkpoint.
  for (const receipt of receipts) {
    const checked = await eventually(
      async () => {
        const res = await fetch(`${system.baseUrl}/v1/receipts/${receipt.trackingCode}`);
        if (res.status === 404) return undefined; // not recorded by the tally consumer yet
        const body = Checked.parse(await res.json());
        return body.log ? body : undefined;
      },
      30_000,
      250,
    );
    const text = await (await fetch(checked.log?.proofUrl ?? "")).text();
    const bundle = parseInclusionProof(text);
    if (!bundle.ok || !bundle.value.extraData) throw new Error(`no proof for ${receipt.trackingCode}`);
    expect(await verifyInclusionBundle(text, bundle.value.extraData, [vkey], origin)).toEqual(
      expect.objectContaining({ ok: true }),
    );
    const entry = decodeEntry(bundle.value.extraData);
    expect(entry.ok && entry.value.type === "ballot" ? entry.value.commitment : undefined).toBe(receipt.commitment);
  }
  // The public check never says that a ballot was replaced (H1): a coercer may hold this receipt.
  const superseded = receipts[0];
  expect(
    Checked.parse(await (await fetch(`${system.baseUrl}/v1/receipts/${superseded?.trackingCode}`)).json()).status,
  ).toBe("recorded");

  // The CLI checks a receipt too, fetching its proof from the API.
  const proved = await runAuditor(
    "prove",
    receipts[3]?.trackingCode ?? "",
    "--log",
    logUrl,
    "--key",
    vkey,
    "--commitment",
    receipts[3]?.commitment ?? "",
    "--no-progress",
  );
  expect(proved.stderr).toBe("");
  expect(proved.stdout).toContain(`OK       ${receipts[3]?.trackingCode} is entry`);

  // While the polls are open the log verifies, but there is nothing to recount yet.
  const state = join(system.stateDir, "auditor-state.json");
  const during = await runAuditor("verify", "--log", logUrl, "--key", vkey, "--state", state, "--no-progress");
  expect(during.stderr).toBe("");
  expect(during.code).toBe(0);
  const early = await runAuditor("recount", "--log", logUrl, "--key", vkey, "--no-progress");
  expect(early.code).toBe(1);
  expect(early.stderr).toContain("no cast vote records are published yet");

  // Close, publish the records, wait for the log to hold them.
  await new Promise((r) => setTimeout(r, Math.max(0, closesAt - Date.now() + 500)));
  expect(await system.admin.call("POST", `/v1/admin/elections/${ELECTION}/log/cast-vote-records`)).toEqual({
    round: 1,
    records: VOTERS,
  });
  await eventually(
    async () => {
      const s = LogStatus.parse(await system.admin.call("GET", `/v1/admin/elections/${ELECTION}/log`));
      return s.castVoteRecords.published === VOTERS &&
        s.castVoteRecords.publishing === 0 &&
        s.pooled === 0 &&
        s.publishedSize === s.size
        ? s
        : undefined;
    },
    30_000,
    250,
  );

  const verified = await runAuditor("verify", "--log", logUrl, "--state", state, "--no-progress");
  expect(verified.stderr).toBe("");
  expect(verified.stdout).toMatch(/extends {2}the checkpoint of size \d+ verified before/);
  // Per-contest records (the demo's setting): one entry per contest of each counted ballot.
  expect(verified.stdout).toMatch(/contest-vote-record \d+/);
  expect(verified.stdout).toContain("retraction-key 1");

  const recount = await runAuditor("recount", "--log", logUrl, "--key", vkey, "--no-progress");
  expect(recount.stderr).toBe("");
  expect(recount.stdout).toContain(`recount  ${VOTERS} cast vote records`);
  expect(recount.stdout).toContain("OK       the recount matches the published results to the vote");

  // The live demo election's log verifies too (events only, nothing cast there), but only with a
  // key from outside the log, or when the auditor says to trust the key the log publishes.
  const demoLog = `${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}/`;
  const unpinned = await runAuditor("verify", "--log", demoLog, "--no-progress");
  expect(unpinned.code).toBe(1);
  expect(unpinned.stderr).toContain("the log's key came from the log itself");
  const demo = await runAuditor("verify", "--log", demoLog, "--trust-log-key", "--no-progress");
  expect(demo.stderr).toBe("");
  expect(demo.code).toBe(0);
}, 240_000);
