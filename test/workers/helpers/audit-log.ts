/**
 * Reading an election's audit log back out of R2 inside workerd, checked the way an auditor
 * would: the checkpoint's signature against the log's verifier key, every tile against the root,
 * every entry bundle against its level-0 tile, every entry decoded.
 */
import { env } from "cloudflare:test";
import { decodeEntry, type LogEntry } from "../../../lib/audit/entries.ts";
import { CHECKPOINT_PATH, logObjectKey } from "../../../lib/audit/layout.ts";
import { commitBallot, trackingCodeOf } from "../../../lib/ballot/commitment.ts";
import type { BallotAccepted } from "../../../lib/ballot/messages.ts";
import { openCheckpoint, type Checkpoint } from "../../../lib/tlog/checkpoint.ts";
import { consistencyProof, verifyConsistency } from "../../../lib/tlog/merkle.ts";
import {
  entriesPath,
  tileCoordinates,
  tileHashAt,
  verifyEntryBundle,
  verifyTiles,
  TILE_WIDTH,
} from "../../../lib/tlog/tiles.ts";
import { logVerifierKey, originOf } from "../../../durable-objects/log-key.ts";
import type { LogSequencer } from "../../../durable-objects/log-sequencer.ts";

export function sequencer(electionId: string): DurableObjectStub<LogSequencer> {
  return env.LOG_SEQUENCER.get(env.LOG_SEQUENCER.idFromName(electionId));
}

async function object(key: string): Promise<Uint8Array | undefined> {
  const o = await env.AUDIT_LOG.get(key);
  return o ? new Uint8Array(await o.arrayBuffer()) : undefined;
}

export interface VerifiedLog {
  readonly checkpoint: Checkpoint;
  readonly note: string;
  readonly entries: Uint8Array[];
  readonly decoded: LogEntry[];
  readonly tiles: Map<string, Uint8Array>;
}

/** The published log, fully checked; throws naming the first thing that is wrong. */
export async function readPublishedLog(electionId: string): Promise<VerifiedLog> {
  const noteBytes = await object(logObjectKey(electionId, CHECKPOINT_PATH));
  if (!noteBytes) throw new Error("no public checkpoint");
  const note = new TextDecoder().decode(noteBytes);
  const opened = await openCheckpoint(note, [await logVerifierKey(env, electionId)], originOf(env, electionId));
  if (!opened.ok) throw new Error(`checkpoint: ${opened.error}`);
  const { checkpoint } = opened.value;
  const tiles = new Map<string, Uint8Array>();
  for (const { path } of tileCoordinates(checkpoint.size)) {
    const data = await object(logObjectKey(electionId, path));
    if (data) tiles.set(path, data);
  }
  const checked = verifyTiles(checkpoint.size, checkpoint.root, (p) => tiles.get(p));
  if (!checked.ok) throw new Error(`tiles: ${checked.error}`);
  const entries: Uint8Array[] = [];
  for (let n = 0; n * TILE_WIDTH < checkpoint.size; n++) {
    const width = Math.min(TILE_WIDTH, checkpoint.size - n * TILE_WIDTH);
    const path = entriesPath(n, width);
    const bundle = await object(logObjectKey(electionId, path));
    const levelZero = tiles.get(path.replace("tile/entries/", "tile/0/"));
    if (!bundle || !levelZero) throw new Error(`${path} or its level-0 tile is missing`);
    const verified = verifyEntryBundle(bundle, levelZero);
    if (!verified.ok) throw new Error(`${path}: ${verified.error}`);
    entries.push(...verified.value);
  }
  const decoded = entries.map((e, i) => {
    const d = decodeEntry(e);
    if (!d.ok) throw new Error(`entry ${i}: ${d.error}`);
    return d.value;
  });
  return { checkpoint, note, entries, decoded, tiles };
}

/** Checks that `older` is a prefix of the published tree `log` (a consistency proof from its tiles). */
export function assertConsistent(older: Checkpoint, log: VerifiedLog): void {
  if (older.size === 0) return;
  const hashAt = tileHashAt(log.checkpoint.size, (p) => log.tiles.get(p));
  const proof = consistencyProof(older.size, log.checkpoint.size, hashAt);
  const ok = verifyConsistency(older.size, log.checkpoint.size, proof, older.root, log.checkpoint.root);
  if (!ok.ok) throw new Error(`checkpoint ${older.size} is not consistent with ${log.checkpoint.size}: ${ok.error}`);
}

/**
 * An accepted-ballot message as a ledger would queue it, with a real commitment and tracking code;
 * by default a vote for president, a write-in for every odd `n`.
 */
export async function ballotMessage(
  electionId: string,
  n: number,
  districtId = "district-north",
  contests: BallotAccepted["contests"] = presidentVote(n),
  ballotStyleId = "style-north",
): Promise<BallotAccepted> {
  const commitment = await commitBallot(`ballot ${electionId} ${n}`, `nonce-${n}`);
  return {
    kind: "ballot",
    ballotId: crypto.randomUUID(),
    electionId,
    ballotStyleId,
    districtId,
    channel: "online",
    contests,
    trackingCode: await trackingCodeOf(commitment),
    commitment,
    acceptedAt: "2026-03-01T10:15:00.000Z",
  };
}

function presidentVote(n: number): BallotAccepted["contests"] {
  return [
    {
      contestId: "contest-president",
      optionIds: [n % 2 === 0 ? "sel-president-aino-tamm" : "sel-president-write-in"],
      ...(n % 2 === 0 ? {} : { writeIns: { "sel-president-write-in": "Someone" } }),
    },
  ];
}
