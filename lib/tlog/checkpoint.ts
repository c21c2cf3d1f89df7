/**
 * c2sp.org/tlog-checkpoint: the signed tree head of the audit log, as the text of a signed note.
 *
 *   <origin>\n
 *   <tree size, decimal, no leading zeroes>\n
 *   <root hash, base64>\n
 *   [<extension line>\n ...]
 *
 * e.g. "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n".
 *
 * No Workers or Node imports. The origin is compared literally (no normalisation). Sizes above
 * 2^53 - 1 are refused rather than rounded: a checkpoint is attacker-controlled input for an
 * auditor, and a rounded size would make a proof verify against the wrong tree.
 */
import { err, ok, type Result } from "../result.ts";
import { base64Decode, hasControlCharacter, isWellFormedText, parseDecimal } from "./encoding.ts";
import { base64Encode } from "../bytes.ts";
import { checkTreeSize, HASH_SIZE, type Hash } from "./merkle.ts";
import { signNote, verifyNote, type NoteSigner } from "./note.ts";

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  readonly root: Hash;
  /** Opaque extension lines, without their newlines. The spec does not recommend them. */
  readonly extensions: readonly string[];
}

function checkLine(what: string, line: string): void {
  if (line.length === 0) throw new RangeError(`checkpoint ${what} is empty`);
  // hasControlCharacter covers every control character but newline, checked here too.
  if (line.includes("\n") || hasControlCharacter(line) || !isWellFormedText(line)) {
    throw new RangeError(`checkpoint ${what} contains a newline, a control character or invalid UTF-8`);
  }
}

/** The checkpoint's note text. Throws RangeError for values no checkpoint can carry (caller's bugs). */
export function formatCheckpoint(checkpoint: {
  origin: string;
  size: number;
  root: Hash;
  extensions?: readonly string[];
}): string {
  const { origin, size, root, extensions = [] } = checkpoint;
  checkLine("origin", origin);
  extensions.forEach((line, i) => checkLine(`extension line ${i + 1}`, line));
  const s = checkTreeSize(size);
  if (!s.ok) throw new RangeError(s.error);
  if (root.length !== HASH_SIZE) throw new RangeError(`checkpoint root is ${root.length} bytes, not ${HASH_SIZE}`);
  return [origin, String(size), base64Encode(root), ...extensions].map((line) => `${line}\n`).join("");
}

/** Parses a checkpoint's note text (the text of a verified note: see openCheckpoint). */
export function parseCheckpoint(text: string): Result<Checkpoint, string> {
  if (!isWellFormedText(text) || hasControlCharacter(text))
    return err("checkpoint contains a control character or invalid UTF-8");
  if (!text.endsWith("\n")) return err("checkpoint does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  const [origin, sizeText, rootText, ...extensions] = lines;
  if (origin === undefined || sizeText === undefined || rootText === undefined)
    return err("checkpoint has fewer than three lines");
  if (origin.length === 0) return err("checkpoint origin is empty");
  const size = parseDecimal(sizeText);
  if (!size.ok) return err(`checkpoint tree size: ${size.error}`);
  const root = base64Decode(rootText);
  if (!root.ok) return err(`checkpoint root hash is ${root.error}`);
  if (root.value.length !== HASH_SIZE)
    return err(`checkpoint root hash is ${root.value.length} bytes, not ${HASH_SIZE}`);
  const empty = extensions.findIndex((line) => line.length === 0);
  if (empty >= 0) return err(`checkpoint extension line ${empty + 1} is empty`);
  return ok({ origin, size: size.value, root: root.value, extensions });
}

/** Formats and signs a checkpoint: the note the log publishes at <prefix>/checkpoint. */
export async function signCheckpoint(
  checkpoint: { origin: string; size: number; root: Hash; extensions?: readonly string[] },
  signer: NoteSigner,
): Promise<string> {
  return signNote(formatCheckpoint(checkpoint), signer);
}

/**
 * Verifies a checkpoint note against the log's verifier keys and parses it; its origin must be
 * `expectedOrigin` exactly. `verifiers` are the log's keys (several during a key rotation): a
 * signature by any of them is required, others are ignored.
 */
export async function openCheckpoint(
  note: string,
  verifiers: readonly string[],
  expectedOrigin: string,
): Promise<Result<{ checkpoint: Checkpoint; verifiedBy: string[] }, string>> {
  const verified = await verifyNote(note, verifiers);
  if (!verified.ok) return verified;
  const checkpoint = parseCheckpoint(verified.value.text);
  if (!checkpoint.ok) return checkpoint;
  if (checkpoint.value.origin !== expectedOrigin)
    return err(`checkpoint origin "${checkpoint.value.origin}" is not "${expectedOrigin}"`);
  return ok({ checkpoint: checkpoint.value, verifiedBy: verified.value.verifiedBy });
}
