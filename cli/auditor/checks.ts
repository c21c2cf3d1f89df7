/**
 * The auditor's checks, shared by its commands. Each failure is an AuditFailure whose message
 * names what is wrong (which tile, which entry, which key, which sizes): the CLI prints it and
 * exits non-zero.
 *
 * Trust: the log's verifier key comes from the command line (--key), else from the state file
 * (pinned on first use), else from the log itself (trust on first use: printed, and pinned when
 * a state file is given; `verify` and `recount` then fail unless --trust-log-key says so). The state file also keeps the last checkpoint verified, so a later run
 * catches a log that went back (rollback) or forked.
 */
import { readFile, writeFile } from "node:fs/promises";
import { Presets, SingleBar } from "cli-progress";
import { z } from "zod";
import { decodeEntry, type LogEntry } from "../../lib/audit/entries.ts";
import { CHECKPOINT_PATH, VERIFIER_KEY_PATH } from "../../lib/audit/layout.ts";
import { LogAuditor, type AuditFindings } from "../../lib/audit/recount.ts";
import { ObserverChecks, type PublicElection } from "../../lib/audit/observer.ts";
import { openCheckpoint, type Checkpoint } from "../../lib/tlog/checkpoint.ts";
import { base64Decode } from "../../lib/tlog/encoding.ts";
import { base64Encode, bytesEqual } from "../../lib/bytes.ts";
import { HASH_SIZE, leafHash, rootAt, treeHashAt, type Hash } from "../../lib/tlog/merkle.ts";
import { parseVerifierKey } from "../../lib/tlog/note.ts";
import {
  decodeEntryBundle,
  encodeEntryBundle,
  entriesPath,
  parseTilePath,
  proveExtends,
  tileCoordinates,
  tilesForTree,
  TILE_WIDTH,
  verifyTiles,
} from "../../lib/tlog/tiles.ts";
import type { LogSource } from "./source.ts";

export class AuditFailure extends Error {}

const decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function text(bytes: Uint8Array, what: string): string {
  try {
    return decoder.decode(bytes);
  } catch {
    throw new AuditFailure(`${what} is not UTF-8 text`);
  }
}

// ---------------------------------------------------------------------------------------------
// State file

const State = z.object({
  verifierKey: z.string(),
  origin: z.string(),
  size: z.number().int().min(0),
  root: z.string(),
  checkpoint: z.string(),
});
export type State = z.infer<typeof State>;

export async function readState(path: string | undefined): Promise<State | undefined> {
  if (!path) return undefined;
  let raw: string;
  try {
    raw = await readFile(path, "utf8");
  } catch {
    return undefined;
  }
  return parseDocument(raw, State, `state file ${path}`, "an auditor state");
}

/**
 * `text` as JSON of `schema`, or an AuditFailure that names the document: "<name> is not JSON",
 * "<name> is not <kind>: <problems>" (`verb` "are" for a plural name).
 */
export function parseDocument<T>(text: string, schema: z.ZodType<T>, name: string, kind: string, verb = "is"): T {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AuditFailure(`${name} ${verb} not JSON`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) throw new AuditFailure(`${name} ${verb} not ${kind}: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

export async function writeState(
  path: string | undefined,
  key: TrustedKey,
  note: string,
  checkpoint: Checkpoint,
): Promise<void> {
  if (!path) return;
  const state: State = {
    verifierKey: key.verifierKey,
    origin: key.origin,
    size: checkpoint.size,
    root: base64Encode(checkpoint.root),
    checkpoint: note,
  };
  await writeFile(path, `${JSON.stringify(state, null, 2)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Key and checkpoint

export interface TrustedKey {
  readonly verifierKey: string;
  /** The key name, which is the log's checkpoint origin. */
  readonly origin: string;
  readonly from: "command line" | "state file" | "the log itself (not pinned)";
}

export async function trustedKey(
  source: LogSource,
  option: string | undefined,
  state: State | undefined,
): Promise<TrustedKey> {
  const fetched = option === undefined && state === undefined ? await source.read(VERIFIER_KEY_PATH) : undefined;
  const vkey = option ?? state?.verifierKey ?? (fetched ? text(fetched, "the verifier key").trim() : undefined);
  if (vkey === undefined)
    throw new AuditFailure(`no verifier key: give --key, or the log must publish ${VERIFIER_KEY_PATH}`);
  const parsed = parseVerifierKey(vkey);
  if (!parsed.ok) throw new AuditFailure(`verifier key ${JSON.stringify(vkey)}: ${parsed.error}`);
  if (option !== undefined && state !== undefined && state.verifierKey !== option) {
    throw new AuditFailure(
      `the verifier key given (${option}) is not the one pinned in the state file (${state.verifierKey})`,
    );
  }
  return {
    verifierKey: vkey,
    origin: parsed.value.name,
    from: option !== undefined ? "command line" : state ? "state file" : "the log itself (not pinned)",
  };
}

export interface SignedCheckpoint {
  readonly note: string;
  readonly checkpoint: Checkpoint;
}

/** Opens a checkpoint note: signed by the key, origin the key's name. `what` names it in messages. */
export async function openSigned(
  noteBytes: Uint8Array | undefined,
  key: TrustedKey,
  what: string,
): Promise<SignedCheckpoint> {
  if (!noteBytes) throw new AuditFailure(`${what} is missing`);
  const note = text(noteBytes, what);
  const opened = await openCheckpoint(note, [key.verifierKey], key.origin);
  if (!opened.ok) throw new AuditFailure(`${what} does not verify: ${opened.error}`);
  return { note, checkpoint: opened.value.checkpoint };
}

export async function latestCheckpoint(source: LogSource, key: TrustedKey): Promise<SignedCheckpoint> {
  return openSigned(await source.read(CHECKPOINT_PATH), key, `the checkpoint at ${source.where}`);
}

/**
 * Proves that `newer` extends `older` with a consistency proof built from the source's tiles of
 * the newer tree (untrusted: the proof is checked against both signed roots).
 */
export async function proveConsistent(
  source: LogSource,
  older: Checkpoint,
  newer: Checkpoint,
  names: { older: string; newer: string },
): Promise<void> {
  const proved = await proveExtends(older, newer, (path) => source.read(path), { ...names, source: source.where });
  if (!proved.ok) throw new AuditFailure(proved.error);
}

/** The state's checkpoint, when it is of this log. */
export function stateCheckpoint(state: State | undefined, key: TrustedKey): Checkpoint | undefined {
  if (!state) return undefined;
  if (state.origin !== key.origin)
    throw new AuditFailure(`the state file is for log ${state.origin}, not ${key.origin}`);
  const root = base64Decode(state.root);
  if (!root.ok) throw new AuditFailure(`the state file's root is ${root.error}`);
  return { origin: state.origin, size: state.size, root: root.value, extensions: [] };
}

// ---------------------------------------------------------------------------------------------
// The whole log

export interface Progress {
  start(total: number, label: string): void;
  tick(): void;
  stop(): void;
}

export function progressBar(enabled: boolean): Progress {
  if (!enabled) return { start: () => undefined, tick: () => undefined, stop: () => undefined };
  let bar: SingleBar | undefined;
  return {
    start(total, label) {
      bar?.stop();
      bar = new SingleBar(
        {
          format: `${label.padEnd(16)} [{bar}] {value}/{total} ({eta_formatted} left)`,
          stream: process.stderr,
          hideCursor: true,
        },
        Presets.shades_classic,
      );
      bar.start(total, 0);
    },
    tick() {
      bar?.increment();
    },
    stop() {
      bar?.stop();
      bar = undefined;
    },
  };
}

export interface VerifiedLog {
  readonly checkpoint: Checkpoint;
  readonly findings: AuditFindings;
  /** The decoded entry at each index, for commands that look entries up (prove). */
  readonly entries: readonly LogEntry[];
  readonly rawEntries: readonly Uint8Array[];
}

/**
 * Re-derives the log under `checkpoint` from its entry bundles: every leaf hash, every hash tile
 * and the root, which must be the signed root; every served tile must be byte for byte the
 * derived one; every entry is decoded and fed to the LogAuditor. When something differs, the
 * message says which object was altered (an entry bundle, a hash tile, or the checkpoint). For a
 * local copy, tiles that need a larger tree than the checkpoint's are refused (a stale checkpoint).
 */
export async function verifyWholeLog(
  source: LogSource,
  checkpoint: Checkpoint,
  progress: Progress,
  election?: PublicElection,
): Promise<VerifiedLog> {
  const { size, root } = checkpoint;
  const listed = await source.listTiles();
  if (listed) {
    for (const path of listed) {
      const tile = parseTilePath(path);
      if (!tile.ok) continue;
      const count = tile.value.n * TILE_WIDTH + tile.value.width;
      const needs = tile.value.kind === "entries" ? count : count * TILE_WIDTH ** tile.value.level;
      if (needs > size) {
        throw new AuditFailure(
          `the copy holds ${path}, which only a tree of at least ${needs} entries has, but the checkpoint says ${size}: the checkpoint is older than the log (stale or rolled back)`,
        );
      }
    }
  }

  // 1. The entry bundles, and the tree they make.
  const rawEntries: Uint8Array[] = [];
  const bundlePaths: string[] = [];
  const bundles = Math.ceil(size / TILE_WIDTH);
  progress.start(bundles, "entry bundles");
  for (let n = 0; n < bundles; n++) {
    const width = Math.min(TILE_WIDTH, size - n * TILE_WIDTH);
    const path = entriesPath(n, width);
    const bundle = await source.read(path);
    if (!bundle) throw new AuditFailure(`${path} is missing from ${source.where}`);
    const entries = decodeEntryBundle(bundle, width);
    if (!entries.ok) throw new AuditFailure(`${path}: ${entries.error} (entries dropped or added)`);
    rawEntries.push(...entries.value);
    bundlePaths.push(path);
    progress.tick();
  }
  progress.stop();
  const leaves = rawEntries.map(leafHash);
  const hashAt = treeHashAt(leaves);
  const derivedRoot = rootAt(size, hashAt);

  // 2. The served hash tiles.
  const coordinates = tileCoordinates(size);
  const served = new Map<string, Uint8Array>();
  progress.start(coordinates.length, "hash tiles");
  for (const { path } of coordinates) {
    const data = await source.read(path);
    if (!data) throw new AuditFailure(`${path} is missing from ${source.where}`);
    served.set(path, data);
    progress.tick();
  }
  progress.stop();

  if (!bytesEqual(derivedRoot, root)) {
    if (verifyTiles(size, root, (p) => served.get(p)).ok) {
      // The tiles are the signed tree, so the bundles that disagree with them were altered.
      for (const [n, path] of bundlePaths.entries()) {
        const levelZero = served.get(path.replace("tile/entries/", "tile/0/")) ?? new Uint8Array();
        for (let i = 0; i < Math.min(TILE_WIDTH, size - n * TILE_WIDTH); i++) {
          const leaf = leaves[n * TILE_WIDTH + i] ?? new Uint8Array();
          if (!bytesEqual(leaf, levelZero.subarray(i * HASH_SIZE, (i + 1) * HASH_SIZE))) {
            throw new AuditFailure(
              `${path} was altered: its entry ${i} (log index ${n * TILE_WIDTH + i}) is not the one the signed tree holds (entries changed, reordered or replaced)`,
            );
          }
        }
      }
    }
    throw new AuditFailure(
      `neither the entry bundles nor the hash tiles lead to the checkpoint's root (size ${size}): the checkpoint or the whole copy was altered`,
    );
  }
  const derivedTiles = tilesForTree(0, size, hashAt);
  for (const derived of derivedTiles) {
    const tile = served.get(derived.path) ?? new Uint8Array();
    if (!bytesEqual(tile, derived.data)) {
      let at = 0;
      while (at < Math.min(tile.length, derived.data.length) && tile[at] === derived.data[at]) at++;
      throw new AuditFailure(
        `${derived.path} was altered: it differs at byte ${at} from the tile the entry bundles and the signed root give`,
      );
    }
  }
  // A local copy also holds the partial tiles of older checkpoints: each must be a prefix of
  // today's tile at its place (tiles only ever grow), or someone altered history.
  if (listed) {
    const current = new Map<string, Uint8Array>();
    for (const t of derivedTiles) {
      const parsed = parseTilePath(t.path);
      if (parsed.ok && parsed.value.kind === "hash") current.set(`${parsed.value.level}/${parsed.value.n}`, t.data);
    }
    const checked = new Set([...coordinates.map((c) => c.path), ...bundlePaths]);
    for (const path of listed) {
      const tile = parseTilePath(path);
      if (!tile.ok || checked.has(path)) continue;
      const data = await source.read(path);
      if (!data) continue;
      const { n, width } = tile.value;
      const expected =
        tile.value.kind === "entries"
          ? encodeEntryBundle(rawEntries.slice(n * TILE_WIDTH, n * TILE_WIDTH + width))
          : (current.get(`${tile.value.level}/${n}`) ?? new Uint8Array()).subarray(0, width * HASH_SIZE);
      if (!bytesEqual(data, expected)) {
        throw new AuditFailure(
          `${path} was altered: an older checkpoint's partial ${tile.value.kind === "entries" ? "entry bundle" : "tile"} must be the start of today's, and it is not`,
        );
      }
    }
  }

  // 3. The entries themselves.
  const auditor = new LogAuditor();
  // What a public observer checks besides (definition, poll times, policy, stations' sheets).
  const observer = new ObserverChecks(election);
  const entries: LogEntry[] = [];
  for (const [index, raw] of rawEntries.entries()) {
    const decoded = decodeEntry(raw);
    if (!decoded.ok)
      throw new AuditFailure(
        `entry ${index} (${bundlePaths[Math.floor(index / TILE_WIDTH)]}, #${index % TILE_WIDTH}) does not decode: ${decoded.error}`,
      );
    await auditor.add(index, decoded.value);
    await observer.add(index, decoded.value);
    entries.push(decoded.value);
  }
  const findings = auditor.finish();
  return {
    checkpoint,
    findings: { ...findings, problems: [...findings.problems, ...observer.finish()] },
    entries,
    rawEntries,
  };
}

export function rootText(root: Hash): string {
  return base64Encode(root);
}
