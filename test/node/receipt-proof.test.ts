/**
 * verifyReceiptProof (lib/audit/receipt-proof.ts), the one check of a receipt's inclusion proof
 * that the auditor CLI and the portal's /check page in the browser share: a real signed log of
 * ballot entries, a proof of each that verifies for its own tracking code only, and a refusal,
 * naming the step, for every way the served proof can be wrong. Also that the shared code stays
 * free of zod, so the browser's bundle of it stays small.
 */
import { build } from "esbuild";
import { describe, expect, it } from "vitest";
import { encodeEntry, type LogEntryOf } from "../../lib/audit/entries.ts";
import { verifyReceiptProof } from "../../lib/audit/receipt-proof.ts";
import { commitBallot, newNonce, trackingCodeOf } from "../../lib/ballot/commitment.ts";
import { signCheckpoint } from "../../lib/tlog/checkpoint.ts";
import { inclusionProof, leafHash, rootAt, treeHashAt } from "../../lib/tlog/merkle.ts";
import { formatInclusionProof } from "../../lib/tlog/proof.ts";
import { sha256, verifierKeyOfSeed } from "./helpers/tlog.ts";

const ORIGIN = "vote.example.gov/audit-log/receipt-proof-test";
const SEED = sha256(new TextEncoder().encode("receipt proof test seed"));
const VKEY = verifierKeyOfSeed(ORIGIN, SEED);

async function ballot(i: number): Promise<LogEntryOf<"ballot">> {
  return {
    type: "ballot",
    channel: "online",
    districtId: "district-north",
    stationId: "",
    acceptedAt: "2026-05-01T10:00:00.000Z",
    commitment: await commitBallot(`ballot ${i}`, newNonce()),
  };
}

/** A signed log of five ballots and the proof bundle of entry `index`. */
async function logWithProof(index: number, extra?: Uint8Array) {
  const entries = await Promise.all([0, 1, 2, 3, 4].map(ballot));
  const raw = entries.map(encodeEntry);
  const hashAt = treeHashAt(raw.map(leafHash));
  const size = raw.length;
  const note = await signCheckpoint(
    { origin: ORIGIN, size, root: rootAt(size, hashAt) },
    { name: ORIGIN, privateKey: SEED },
  );
  const proof = inclusionProof(index, size, hashAt);
  const bundle = formatInclusionProof({
    index,
    proof,
    checkpointNote: note,
    extraData: extra ?? raw[index],
  });
  const entry = entries[index];
  if (!entry) throw new Error("no entry");
  return { bundle, entry, code: await trackingCodeOf(entry.commitment), entries };
}

describe("verifyReceiptProof", () => {
  it("proves each receipt's ballot in the signed log, for its own tracking code only", async () => {
    const { bundle, entry, code, entries } = await logWithProof(3);
    const proven = await verifyReceiptProof(code, bundle, VKEY);
    expect(proven).toMatchObject({ ok: true, value: { entry, index: 3, origin: ORIGIN, checkpoint: { size: 5 } } });
    const other = await trackingCodeOf(entries[2]?.commitment ?? "");
    const refused = await verifyReceiptProof(other, bundle, VKEY);
    expect(refused).toEqual({
      ok: false,
      error: `the proven entry is the ballot with tracking code ${code}, not ${other}`,
    });
  });

  it("refuses a changed proof hash, a changed entry, a changed signature, another key and a bad key", async () => {
    const { bundle, code } = await logWithProof(1);
    const lines = bundle.split("\n");
    const hashLine = lines.findIndex((l) => l.startsWith("index ")) + 1;
    const flip = (text: string): string => `${text.slice(0, 4)}${text[4] === "A" ? "B" : "A"}${text.slice(5)}`;
    const changedHash = lines.map((l, i) => (i === hashLine ? flip(l) : l)).join("\n");
    expect(await verifyReceiptProof(code, changedHash, VKEY)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the inclusion proof does not verify: entry is not proven in the log/),
    });
    const sigLine = lines.findIndex((l) => l.startsWith("— "));
    const changedSig = lines.map((l, i) => (i === sigLine ? `${l.slice(0, -8)}${flip(l.slice(-8))}` : l)).join("\n");
    expect(await verifyReceiptProof(code, changedSig, VKEY)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the inclusion proof does not verify: /),
    });
    const otherKey = verifierKeyOfSeed(ORIGIN, sha256(new TextEncoder().encode("another seed")));
    expect(await verifyReceiptProof(code, bundle, otherKey)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the inclusion proof does not verify: /),
    });
    expect(await verifyReceiptProof(code, bundle, "not a key")).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the verifier key does not parse: /),
    });
    // Another ballot's bytes in the extra line: its leaf is not the one the proof leads from.
    const swapped = await logWithProof(1, encodeEntry(await ballot(9)));
    expect(await verifyReceiptProof(code, swapped.bundle, VKEY)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the inclusion proof does not verify: /),
    });
  });

  it("refuses a bundle without an entry, with an entry that is no ballot, or that does not parse", async () => {
    const { bundle, code } = await logWithProof(0);
    const noExtra = bundle.replace(/^extra .*\n/m, "");
    expect(await verifyReceiptProof(code, noExtra, VKEY)).toEqual({
      ok: false,
      error: "the proof bundle carries no entry (its extra line)",
    });
    const checkIn = encodeEntry({
      type: "check-in",
      stationId: "s-1",
      districtId: "d-1",
      at: "2026-05-01T10:00:00.000Z",
    });
    expect(await verifyReceiptProof(code, (await logWithProof(0, checkIn)).bundle, VKEY)).toEqual({
      ok: false,
      error: "the proof's entry is not a ballot entry (it is check-in)",
    });
    expect(await verifyReceiptProof(code, "not a proof", VKEY)).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^the proof bundle does not parse: /),
    });
  });

  it("bundles for the browser without zod", async () => {
    const out = await build({
      entryPoints: ["lib/audit/receipt-proof.ts"],
      bundle: true,
      write: false,
      format: "esm",
      minify: true,
      metafile: true,
      tsconfig: "browser/tsconfig.json",
      logLevel: "silent",
    });
    expect(Object.keys(out.metafile.inputs).filter((path) => path.includes("zod"))).toEqual([]);
    expect(out.outputFiles[0]?.contents.length).toBeLessThan(40_000);
  });
});
