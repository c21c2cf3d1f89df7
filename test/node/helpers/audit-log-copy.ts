/**
 * A local copy of an election's audit log, built in Node the way the sequencer builds it (same
 * libraries, same layout) but without the Worker: for the auditor CLI's tests. And a sample
 * election's entries with the results a correct tally publishes for them.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { PublicElection } from "../../../lib/audit/observer.ts";
import {
  castVoteRecordEntry,
  ballotEntry,
  encodeEntry,
  recordEntriesOf,
  retractionBlind,
  retractionBlindingKey,
  type LogEntry,
  type LogEntryOf,
} from "../../../lib/audit/entries.ts";
import { commitBallot, trackingCodeOf } from "../../../lib/ballot/commitment.ts";
import type { BallotAccepted } from "../../../lib/ballot/messages.ts";
import type { CastVoteRecordsMode } from "../../../lib/vocabulary.ts";
import { signCheckpoint } from "../../../lib/tlog/checkpoint.ts";
import { rootAt, treeHashAt, leafHash } from "../../../lib/tlog/merkle.ts";
import { verifierKey } from "../../../lib/tlog/note.ts";
import { entryBundlesForTree, tilesForTree } from "../../../lib/tlog/tiles.ts";

export const ORIGIN = "audit.test.example/audit-log/sample-2026";

export interface LogKey {
  readonly privateKey: CryptoKey;
  readonly publicKey: Uint8Array;
  readonly verifierKey: string;
}

export async function newLogKey(origin = ORIGIN): Promise<LogKey> {
  const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, true, ["sign", "verify"]);
  if (!("privateKey" in pair)) throw new Error("no key pair");
  const raw = await crypto.subtle.exportKey("raw", pair.publicKey);
  if (!(raw instanceof ArrayBuffer)) throw new Error("no raw public key");
  const publicKey = new Uint8Array(raw);
  return { privateKey: pair.privateKey, publicKey, verifierKey: verifierKey(origin, publicKey) };
}

export interface BuiltCopy {
  /** The signed checkpoint after each step, oldest first. */
  readonly checkpoints: { readonly size: number; readonly note: string }[];
}

/**
 * Writes `entries` as a log grown in `steps` (tree sizes, increasing, the last = entries.length):
 * every tile and bundle each step publishes, the last checkpoint, and the verifier key.
 */
export async function writeLogCopy(
  dir: string,
  entries: readonly LogEntry[],
  steps: readonly number[],
  key: LogKey,
  origin = ORIGIN,
): Promise<BuiltCopy> {
  const raw = entries.map(encodeEntry);
  const checkpoints: { size: number; note: string }[] = [];
  const save = async (path: string, data: Uint8Array | string): Promise<void> => {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), data);
  };
  let previous = 0;
  for (const size of steps) {
    const hashAt = treeHashAt(raw.slice(0, size).map(leafHash));
    for (const tile of [
      ...tilesForTree(previous, size, hashAt),
      ...entryBundlesForTree(previous, size, (i) => raw[i] ?? new Uint8Array()),
    ]) {
      await save(tile.path, tile.data);
    }
    const note = await signCheckpoint(
      { origin, size, root: rootAt(size, hashAt) },
      { name: origin, privateKey: key.privateKey, publicKey: key.publicKey },
    );
    checkpoints.push({ size, note });
    previous = size;
  }
  await save("checkpoint", checkpoints[checkpoints.length - 1]?.note ?? "");
  await save("verifier-key", `${key.verifierKey}\n`);
  return { checkpoints };
}

const CONTESTS = {
  north: {
    style: "style-north",
    contests: [
      ["contest-president", ["p-a", "p-b", "p-w"]],
      ["contest-north", ["n-a", "n-b"]],
    ],
  },
  east: {
    style: "style-east",
    contests: [
      ["contest-president", ["p-a", "p-b", "p-w"]],
      ["contest-east", ["e-a", "e-b", "e-c"]],
    ],
  },
} as const;

/** The sample election's retraction key (a sequencer draws its own at random). */
export const SAMPLE_RETRACTION_KEY = "42".repeat(32);

/** The sample election's public summary (GET /v1/elections/{id}), as the auditor reads it. */
export function sampleSummary(): PublicElection {
  const contests = new Map<string, string[]>();
  for (const spec of Object.values(CONTESTS))
    for (const [contestId, options] of spec.contests) contests.set(contestId, [...options]);
  return {
    electionId: "sample-2026",
    policies: { crossChannelPolicy: "paper-supersedes", castVoteRecords: "whole-ballot", paperSyncGraceMinutes: 0 },
    districts: [{ id: "north" }, { id: "east" }],
    contests: [...contests].map(([id, options]) => ({
      id,
      votesAllowed: 1,
      options: options.map((o) => ({ id: o, isWriteIn: o.endsWith("-w") })),
    })),
    ballotStyles: Object.entries(CONTESTS).map(([district, spec]) => ({
      id: spec.style,
      districtIds: [district],
      contestIds: spec.contests.map(([c]) => c),
    })),
    definition: { version: 1, sha256: "ab".repeat(32) },
  };
}

export interface SampleElection {
  readonly entries: LogEntry[];
  /** What GET /v1/elections/{id}/results would say after close, computed here independently. */
  readonly results: unknown;
  readonly ballots: BallotAccepted[];
  /** Tracking codes of the ballots that still count. */
  readonly counted: string[];
}

/**
 * A paper-supersedes election: `n` ballots in two districts, the first two re-voted (so two
 * retractions and two more ballots), then the polls close and the counted ballots' records are
 * published in random order with their round's closing entry.
 */
export async function sampleElection(n: number, mode: CastVoteRecordsMode = "whole-ballot"): Promise<SampleElection> {
  const blindingKey = await retractionBlindingKey(SAMPLE_RETRACTION_KEY);
  const entries: LogEntry[] = [
    {
      type: "definition-loaded",
      at: "2026-03-01T08:00:00.000Z",
      version: 1,
      definitionSha256: "ab".repeat(32),
      opensAt: "2026-03-01T09:00:00.000Z",
      closesAt: "2026-03-01T20:00:00.000Z",
      crossChannelPolicy: "paper-supersedes",
      resultsVisibility: "after-close",
      castVoteRecords: mode,
      minBallotsPerRelease: 25,
    },
    { type: "polls-opened", at: "2026-03-01T09:00:00.000Z" },
  ];
  const ballots: BallotAccepted[] = [];
  const makeBallot = async (i: number): Promise<BallotAccepted> => {
    const district = i % 3 === 0 ? "east" : "north";
    const spec = CONTESTS[district];
    const contests = spec.contests.map(([contestId, options], c) => {
      const pick = (i + c) % (options.length + 1);
      if (pick === options.length) return { contestId, optionIds: [] };
      const optionId = options[pick] ?? "";
      return optionId.endsWith("-w")
        ? { contestId, optionIds: [optionId], writeIns: { [optionId]: `Name ${i}` } }
        : { contestId, optionIds: [optionId] };
    });
    const commitment = await commitBallot(`sample ${i}`, `nonce ${i}`);
    return {
      kind: "ballot",
      ballotId: crypto.randomUUID(),
      electionId: "sample-2026",
      ballotStyleId: spec.style,
      districtId: district,
      channel: i % 5 === 0 ? "paper" : "online",
      ...(i % 5 === 0 ? { stationId: "station-1" } : {}),
      contests,
      trackingCode: await trackingCodeOf(commitment),
      commitment,
      acceptedAt: `2026-03-01T1${i % 10}:${String(i % 60).padStart(2, "0")}:00.000Z`,
    };
  };
  for (let i = 0; i < n; i++) {
    const b = await makeBallot(i);
    ballots.push(b);
    entries.push(ballotEntry(b));
  }
  const retracted = new Set<string>();
  // Two online ballots are superseded (a paper ballot is never retracted: lib/audit/observer.ts).
  for (const [k, previous] of ballots.slice(1, 3).entries()) {
    entries.push({
      type: "retraction",
      reason: "superseded-by-online",
      districtId: previous.districtId,
      blindedCode: await retractionBlind(blindingKey, previous.trackingCode),
    });
    retracted.add(previous.trackingCode);
    const again = await makeBallot(n + k);
    const revote = {
      ...again,
      districtId: previous.districtId,
      ballotStyleId: previous.ballotStyleId,
      contests: previous.districtId === again.districtId ? again.contests : previous.contests,
    };
    ballots.push(revote);
    entries.push(ballotEntry(revote));
  }
  // Every paper ballot had its voter checked in at the station.
  for (const b of ballots)
    if (b.channel === "paper")
      entries.push({
        type: "check-in",
        stationId: "station-1",
        districtId: b.districtId,
        at: "2026-03-01T12:00:00.000Z",
      });
  entries.push({ type: "polls-closed", at: "2026-03-01T20:00:00.000Z" });
  entries.push({ type: "retraction-key", at: "2026-03-01T20:00:00.000Z", key: SAMPLE_RETRACTION_KEY });

  const counted = ballots.filter((b) => !retracted.has(b.trackingCode));
  const records = counted.map(castVoteRecordEntry);
  // A fixed shuffle (the order is the sequencer's random one; any order must recount the same).
  const shuffled = records
    .flatMap((r) => recordEntriesOf(r, mode))
    .map((r, i) => ({ r, k: (i * 7919) % 104729 }))
    .sort((a, b) => a.k - b.k)
    .map((x) => x.r);
  entries.push(...shuffled);
  const perDistrict = new Map<string, number>();
  for (const r of shuffled) perDistrict.set(r.districtId, (perDistrict.get(r.districtId) ?? 0) + 1);
  entries.push({
    type: "cast-vote-records-published",
    at: "2026-03-01T20:10:00.000Z",
    round: 1,
    districts: [...perDistrict].map(([districtId, count]) => ({ districtId, records: count, withheld: 0 })),
  });

  return { entries, results: resultsFor(records), ballots, counted: counted.map((b) => b.trackingCode) };
}

/** The results document a correct tally publishes for these records (GET .../results shape). */
export function resultsFor(records: readonly LogEntryOf<"cast-vote-record">[]): unknown {
  type Fig = { options: Map<string, number>; writeIns: number; blanks: number };
  const fig = (): Fig => ({ options: new Map(), writeIns: 0, blanks: 0 });
  const overall = new Map<string, Fig>();
  const byDistrict = new Map<string, Map<string, Fig>>();
  const ballots = new Map<string, number>();
  for (const r of records) {
    ballots.set(r.districtId, (ballots.get(r.districtId) ?? 0) + 1);
    for (const c of r.contests) {
      const targets = [overall, byDistrict.get(r.districtId) ?? new Map<string, Fig>()];
      byDistrict.set(r.districtId, targets[1] as Map<string, Fig>);
      for (const t of targets) {
        const f = t.get(c.contestId) ?? fig();
        t.set(c.contestId, f);
        if (c.marks.length === 0) f.blanks += 1;
        for (const m of c.marks) {
          if (m.writeIn) f.writeIns += 1;
          else f.options.set(m.optionId, (f.options.get(m.optionId) ?? 0) + 1);
        }
      }
    }
  }
  const options = (f: Fig): { id: string; votes: number }[] => [...f.options].map(([id, votes]) => ({ id, votes }));
  return {
    electionId: "sample-2026",
    name: "Sample",
    pollsClosed: true,
    turnout: {
      ballotsCounted: records.length,
      registeredVoters: 1000,
      districts: [...ballots].map(([districtId, n]) => ({
        districtId,
        name: districtId,
        ballotsCounted: n,
        registeredVoters: 500,
      })),
    },
    contests: [...overall].map(([id, f]) => ({
      id,
      name: id,
      votesAllowed: 1,
      options: options(f),
      writeIns: f.writeIns,
      blanks: f.blanks,
      districts: [...byDistrict].flatMap(([districtId, m]) => {
        const d = m.get(id);
        return d ? [{ districtId, name: districtId, options: options(d), writeIns: d.writeIns, blanks: d.blanks }] : [];
      }),
    })),
  };
}
