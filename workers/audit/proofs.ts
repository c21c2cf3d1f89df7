/**
 * Reading an election's published audit log back from R2: the current checkpoint, tiles, and a
 * receipt's inclusion proof (c2sp.org/tlog-proof) against that checkpoint.
 *
 * Only published objects are read (never the sequencer's state), so a proof served here is
 * exactly what an auditor could compute from the public bucket. Each proof is checked before it
 * is served: R2 data that does not lead to the signed root is a 500, never a bad proof.
 */
import { decodeEntry } from "../../lib/audit/entries.ts";
import { CHECKPOINT_PATH, logObjectKey } from "../../lib/audit/layout.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import { parseCheckpoint, type Checkpoint } from "../../lib/tlog/checkpoint.ts";
import { inclusionProof, leafHash, verifyInclusion } from "../../lib/tlog/merkle.ts";
import { parseNote } from "../../lib/tlog/note.ts";
import { formatInclusionProof } from "../../lib/tlog/proof.ts";
import { decodeEntryBundle, entriesPath, readTileHashes, TILE_WIDTH } from "../../lib/tlog/tiles.ts";

export interface PublishedCheckpoint {
  readonly note: string;
  readonly checkpoint: Checkpoint;
}

/** The log's latest public checkpoint, or undefined before its first publication. */
export async function publishedCheckpoint(env: Env, electionId: string): Promise<PublishedCheckpoint | undefined> {
  const object = await env.AUDIT_LOG.get(logObjectKey(electionId, CHECKPOINT_PATH));
  if (!object) return undefined;
  const note = await object.text();
  // The sequencer wrote it; a checkpoint that does not parse is corruption, not an outcome.
  const parsed = parseNote(note);
  const checkpoint = parsed.ok ? parseCheckpoint(parsed.value.text) : parsed;
  if (!checkpoint.ok) throw new Error(`public checkpoint of ${electionId} does not parse: ${checkpoint.error}`);
  return { note, checkpoint: checkpoint.value };
}

async function readObject(env: Env, key: string): Promise<Uint8Array | undefined> {
  const object = await env.AUDIT_LOG.get(key);
  return object ? new Uint8Array(await object.arrayBuffer()) : undefined;
}

/**
 * The tlog-proof bundle for leaf `index`, against the latest checkpoint. Its `extra` line holds
 * the entry itself (the ballot entry: commitment, channel, district, minute), so the voter can
 * check it names their commitment without fetching anything else.
 */
export async function inclusionProofBundle(
  env: Env,
  electionId: string,
  index: number,
): Promise<Result<string, "not_published">> {
  const published = await publishedCheckpoint(env, electionId);
  if (!published || index >= published.checkpoint.size) return err("not_published");
  const { size, root } = published.checkpoint;
  const tile = (path: string): Promise<Uint8Array | undefined> => readObject(env, logObjectKey(electionId, path));
  const proof = await readTileHashes(size, tile, (hashAt) => inclusionProof(index, size, hashAt));
  if (!proof.ok) throw new Error(`inclusion proof of ${electionId}#${index}: ${proof.error}`);

  const bundleIndex = Math.floor(index / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, size - bundleIndex * TILE_WIDTH);
  const bundleBytes = await tile(entriesPath(bundleIndex, width));
  if (!bundleBytes) throw new Error(`entry bundle ${entriesPath(bundleIndex, width)} of ${electionId} is missing`);
  const entries = decodeEntryBundle(bundleBytes, width);
  if (!entries.ok) throw new Error(`entry bundle of ${electionId}#${index}: ${entries.error}`);
  const entry = entries.value[index % TILE_WIDTH];
  if (!entry || !decodeEntry(entry).ok) throw new Error(`entry ${electionId}#${index} does not decode`);

  const checked = verifyInclusion(index, size, leafHash(entry), proof.value, root);
  if (!checked.ok) throw new Error(`inclusion proof of ${electionId}#${index} does not verify: ${checked.error}`);
  return ok(formatInclusionProof({ index, proof: proof.value, checkpointNote: published.note, extraData: entry }));
}
