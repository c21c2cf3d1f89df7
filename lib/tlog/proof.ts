/**
 * c2sp.org/tlog-proof: an offline-verifiable proof that an entry is in the audit log, as handed
 * to a voter with a receipt and checked by anyone holding the log's verifier key.
 *
 *   c2sp.org/tlog-proof@v1\n
 *   [extra <base64 extra data>\n]          optional, NOT authenticated
 *   index <leaf index, decimal, no leading zeroes>\n
 *   <base64 hash>\n ...                    inclusion proof, leaf's sibling first, 0 or more
 *   \n
 *   <checkpoint note, verbatim>            origin, size, root, blank line, signature lines
 *
 * No Workers or Node imports. The extra data is carried as the spec says but never trusted:
 * verifyInclusionBundle does not look at it, and nothing the log signs covers it.
 */
import { err, ok, type Result } from "../result.ts";
import { base64Decode, parseDecimal } from "./encoding.ts";
import { base64Encode } from "../bytes.ts";
import { openCheckpoint, type Checkpoint } from "./checkpoint.ts";
import { HASH_SIZE, leafHash, MAX_PROOF_LENGTH, verifyInclusion, type Hash } from "./merkle.ts";
import { MAX_NOTE_LENGTH } from "./note.ts";

export const PROOF_HEADER = "c2sp.org/tlog-proof@v1";

export interface InclusionProofBundle {
  readonly index: number;
  readonly proof: readonly Hash[];
  /** The checkpoint as a signed note, verbatim. */
  readonly checkpointNote: string;
  /** Opaque, unauthenticated extra data; absent when the bundle has no `extra` line. */
  readonly extraData?: Uint8Array;
}

/** The bundle's text. Throws RangeError for values no bundle can carry (caller's bugs). */
export function formatInclusionProof(bundle: InclusionProofBundle): string {
  const { index, proof, checkpointNote, extraData } = bundle;
  if (!Number.isSafeInteger(index) || index < 0)
    throw new RangeError(`leaf index ${index} is not a non-negative safe integer`);
  if (proof.length > MAX_PROOF_LENGTH)
    throw new RangeError(`proof has ${proof.length} hashes; at most ${MAX_PROOF_LENGTH} are possible`);
  for (const [i, h] of proof.entries())
    if (h.length !== HASH_SIZE) throw new RangeError(`proof hash ${i} is ${h.length} bytes, not ${HASH_SIZE}`);
  if (!checkpointNote.endsWith("\n")) throw new RangeError("checkpoint note must end with a newline");
  const lines = [PROOF_HEADER];
  if (extraData !== undefined) lines.push(`extra ${base64Encode(extraData)}`);
  lines.push(`index ${index}`, ...proof.map(base64Encode), "");
  return `${lines.join("\n")}\n${checkpointNote}`;
}

/** Parses a bundle's text; the checkpoint note is returned unverified (see verifyInclusionBundle). */
export function parseInclusionProof(text: string): Result<InclusionProofBundle, string> {
  // A proof is at most 64 lines of 45 bytes on top of its checkpoint note.
  if (text.length > MAX_NOTE_LENGTH + 4096) return err("proof bundle is too long");
  let rest = text;
  const nextLine = (): string | undefined => {
    const end = rest.indexOf("\n");
    if (end < 0) return undefined;
    const line = rest.slice(0, end);
    rest = rest.slice(end + 1);
    return line;
  };
  if (nextLine() !== PROOF_HEADER) return err(`proof bundle does not start with "${PROOF_HEADER}"`);
  let line = nextLine();
  let extraData: Uint8Array | undefined;
  if (line?.startsWith("extra ")) {
    const extra = base64Decode(line.slice("extra ".length));
    if (!extra.ok) return err(`proof bundle extra data is ${extra.error}`);
    extraData = extra.value;
    line = nextLine();
  }
  if (line === undefined || !line.startsWith("index ")) return err('proof bundle has no "index <n>" line');
  const index = parseDecimal(line.slice("index ".length));
  if (!index.ok) return err(`proof bundle index: ${index.error}`);
  const proof: Hash[] = [];
  for (line = nextLine(); line !== undefined && line !== ""; line = nextLine()) {
    if (proof.length === MAX_PROOF_LENGTH) return err(`proof bundle has more than ${MAX_PROOF_LENGTH} proof hashes`);
    const h = base64Decode(line);
    if (!h.ok) return err(`proof hash ${proof.length + 1} is ${h.error}`);
    if (h.value.length !== HASH_SIZE)
      return err(`proof hash ${proof.length + 1} is ${h.value.length} bytes, not ${HASH_SIZE}`);
    proof.push(h.value);
  }
  if (line === undefined) return err("proof bundle has no blank line before its checkpoint");
  if (rest.length === 0) return err("proof bundle has no checkpoint");
  return ok({ index: index.value, proof, checkpointNote: rest, ...(extraData === undefined ? {} : { extraData }) });
}

/**
 * Checks that `leafData` (the log entry's bytes) is in the log: the checkpoint is signed by one
 * of the log's `verifiers` and has origin `expectedOrigin`, and the proof leads from the entry's
 * leaf hash at the bundle's index to the checkpoint's root.
 */
export async function verifyInclusionBundle(
  bundle: string | InclusionProofBundle,
  leafData: Uint8Array,
  verifiers: readonly string[],
  expectedOrigin: string,
): Promise<Result<{ checkpoint: Checkpoint; index: number; verifiedBy: string[] }, string>> {
  const parsed = typeof bundle === "string" ? parseInclusionProof(bundle) : ok(bundle);
  if (!parsed.ok) return parsed;
  const { index, proof, checkpointNote } = parsed.value;
  const opened = await openCheckpoint(checkpointNote, verifiers, expectedOrigin);
  if (!opened.ok) return opened;
  const { checkpoint, verifiedBy } = opened.value;
  const included = verifyInclusion(index, checkpoint.size, leafHash(leafData), proof, checkpoint.root);
  if (!included.ok) return err(`entry is not proven in the log: ${included.error}`);
  return ok({ checkpoint, index, verifiedBy });
}
