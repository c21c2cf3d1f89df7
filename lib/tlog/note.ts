/**
 * c2sp.org/signed-note with Ed25519 (signature type 0x01): verifier keys, signing and verifying.
 *
 * A note is its text (ending in a newline), a blank line, then one or more signature lines
 * "— <key name> <base64(4-byte key ID || signature)>\n". A verifier key is
 * "<name>+<8 lowercase hex digits of the key ID>+<base64(0x01 || 32-byte public key)>", where
 * key ID = SHA-256(name || "\n" || 0x01 || public key)[:4].
 *
 * No Workers or Node imports. Ed25519 is WebCrypto (crypto.subtle), present in workerd and
 * Node 22: the log's key can stay a non-extractable CryptoKey imported from a Worker secret, the
 * curve arithmetic is the runtime's audited native code (BoringSSL, OpenSSL), and the project
 * needs no second crypto library. Verification is async for the same reason.
 *
 * Rules kept here (the spec's MUSTs, plus the SHOULDs we adopt):
 * - Key names are compared literally, code unit for code unit: no normalisation, no case folding.
 * - A signature counts only if both its key name and its key ID match a configured verifier key.
 *   Signatures from unknown keys are ignored (witness cosignatures, rotated keys).
 * - A signature from a known key that fails to verify rejects the whole note (the spec's SHOULD):
 *   a log that signs garbage, or a forger who guessed the key ID, is news, not noise.
 * - A note with no valid signature from a known key is rejected.
 * - Malformed notes are rejected with a message naming what is wrong, before any signature check.
 */
import { sha256 } from "../digest.ts";
import { err, ok, type Result } from "../result.ts";
import { base64Decode, hasControlCharacter, isWellFormedText } from "./encoding.ts";
import { base64Encode, bytesEqual, concatBytes, utf8 } from "../bytes.ts";

/** Signature type byte for Ed25519 in signed notes. */
export const ED25519_TYPE = 0x01;
const ED25519_PUBLIC_KEY_SIZE = 32;
const ED25519_SIGNATURE_SIZE = 64;

/**
 * The spec asks verifiers to accept at least 16 signatures; 100 leaves room for every witness we
 * could plausibly configure and still bounds the work an attacker-supplied note can cause.
 */
export const MAX_SIGNATURES = 100;
/**
 * A checkpoint is about 100 bytes and a signature line about 120; 64 KiB holds the largest note we
 * would ever sign with room to spare, and stops a hostile note before any parsing.
 */
export const MAX_NOTE_LENGTH = 65_536;

const SIGNATURE_PREFIX = "— ";

export interface VerifierKey {
  readonly name: string;
  /** The 4-byte key ID as an unsigned integer. */
  readonly keyHash: number;
  readonly publicKey: Uint8Array;
}

export interface NoteSigner {
  /** The key name on the signature line: for a log, its checkpoint origin. */
  readonly name: string;
  /** A WebCrypto Ed25519 private key, or the 32-byte RFC 8032 seed. */
  readonly privateKey: CryptoKey | Uint8Array;
  /** The 32-byte public key; needed only when privateKey is a non-extractable CryptoKey. */
  readonly publicKey?: Uint8Array;
}

export interface NoteSignature {
  readonly name: string;
  readonly keyHash: number;
  /** The signature bytes after the key ID. */
  readonly signature: Uint8Array;
}

export interface ParsedNote {
  /** The signed text, including its final newline. */
  readonly text: string;
  readonly signatures: readonly NoteSignature[];
}

function checkKeyName(name: string): Result<string, string> {
  if (name.length === 0) return err("key name is empty");
  if (/[\s+]/u.test(name)) return err(`key name "${name}" contains a space or a plus sign`);
  if (hasControlCharacter(name) || !isWellFormedText(name))
    return err(`key name "${name}" contains a control character or invalid UTF-8`);
  return ok(name);
}

/** SHA-256(name || "\n" || 0x01 || publicKey)[:4] as a big-endian uint32. */
export function ed25519KeyHash(name: string, publicKey: Uint8Array): number {
  const digest = sha256(concatBytes(utf8(name), new Uint8Array([0x0a, ED25519_TYPE]), publicKey));
  return (((digest[0] ?? 0) << 24) | ((digest[1] ?? 0) << 16) | ((digest[2] ?? 0) << 8) | (digest[3] ?? 0)) >>> 0;
}

function keyHashHex(keyHash: number): string {
  return keyHash.toString(16).padStart(8, "0");
}

function keyHashBytes(keyHash: number): Uint8Array {
  return new Uint8Array([(keyHash >>> 24) & 0xff, (keyHash >>> 16) & 0xff, (keyHash >>> 8) & 0xff, keyHash & 0xff]);
}

/** The verifier key string for an Ed25519 public key. Throws RangeError for a bad name or key size (configuration bugs). */
export function verifierKey(name: string, publicKey: Uint8Array): string {
  const n = checkKeyName(name);
  if (!n.ok) throw new RangeError(n.error);
  if (publicKey.length !== ED25519_PUBLIC_KEY_SIZE)
    throw new RangeError(`Ed25519 public key is ${publicKey.length} bytes, not ${ED25519_PUBLIC_KEY_SIZE}`);
  const encoded = base64Encode(concatBytes(new Uint8Array([ED25519_TYPE]), publicKey));
  return `${name}+${keyHashHex(ed25519KeyHash(name, publicKey))}+${encoded}`;
}

/** Parses an Ed25519 verifier key; the key ID must be the one the name and key imply. */
export function parseVerifierKey(vkey: string): Result<VerifierKey, string> {
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) return err("verifier key is not <name>+<key ID>+<key>");
  const name = vkey.slice(0, first);
  const idText = vkey.slice(first + 1, second);
  const keyText = vkey.slice(second + 1);
  const n = checkKeyName(name);
  if (!n.ok) return err(`verifier key: ${n.error}`);
  if (!/^[0-9a-f]{8}$/.test(idText)) return err(`verifier key ID "${idText}" is not 8 lowercase hex digits`);
  const key = base64Decode(keyText);
  if (!key.ok) return err(`verifier key material: ${key.error}`);
  if (key.value[0] !== ED25519_TYPE) return err(`verifier key type is not Ed25519 (0x01)`);
  if (key.value.length !== 1 + ED25519_PUBLIC_KEY_SIZE)
    return err(`Ed25519 verifier key is ${key.value.length - 1} bytes, not ${ED25519_PUBLIC_KEY_SIZE}`);
  const publicKey = key.value.slice(1);
  const keyHash = Number.parseInt(idText, 16);
  if (keyHash !== ed25519KeyHash(name, publicKey))
    return err(`verifier key ID ${idText} does not match the key name and key`);
  return ok({ name, keyHash, publicKey });
}

function checkNoteText(text: string, what: string): Result<void, string> {
  if (!isWellFormedText(text)) return err(`${what} is not valid UTF-8`);
  if (hasControlCharacter(text)) return err(`${what} contains a control character other than newline`);
  return ok(undefined);
}

/** Splits a note into its text and signature lines, checking the format but no signature. */
export function parseNote(note: string): Result<ParsedNote, string> {
  if (note.length > MAX_NOTE_LENGTH) return err(`note is longer than ${MAX_NOTE_LENGTH} characters`);
  const shape = checkNoteText(note, "note");
  if (!shape.ok) return shape;
  if (!note.endsWith("\n")) return err("note does not end with a newline");
  // The text ends at the last blank line; everything after it must be signature lines.
  const split = note.lastIndexOf("\n\n");
  if (split < 0) return err("note has no blank line before its signatures");
  const text = note.slice(0, split + 1);
  const lines = note.slice(split + 2, -1).split("\n");
  if (lines.length === 1 && lines[0] === "") return err("note has no signature lines");
  if (lines.length > MAX_SIGNATURES) return err(`note has more than ${MAX_SIGNATURES} signatures`);
  const signatures: NoteSignature[] = [];
  for (const [i, line] of lines.entries()) {
    if (!line.startsWith(SIGNATURE_PREFIX)) return err(`signature line ${i + 1} does not start with "— "`);
    const rest = line.slice(SIGNATURE_PREFIX.length);
    const space = rest.indexOf(" ");
    if (space < 0) return err(`signature line ${i + 1} is not "— <key name> <signature>"`);
    const name = checkKeyName(rest.slice(0, space));
    if (!name.ok) return err(`signature line ${i + 1}: ${name.error}`);
    const blob = base64Decode(rest.slice(space + 1));
    if (!blob.ok) return err(`signature line ${i + 1}: signature is ${blob.error}`);
    if (blob.value.length < 5) return err(`signature line ${i + 1}: signature is shorter than a key ID and one byte`);
    const b = blob.value;
    const keyHash = (((b[0] ?? 0) << 24) | ((b[1] ?? 0) << 16) | ((b[2] ?? 0) << 8) | (b[3] ?? 0)) >>> 0;
    signatures.push({ name: name.value, keyHash, signature: b.slice(4) });
  }
  return ok({ text, signatures });
}

/** Copies into a fresh ArrayBuffer-backed array, the BufferSource WebCrypto's types accept. */
function buffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(new ArrayBuffer(bytes.length));
  out.set(bytes);
  return out;
}

/** RFC 8410 PKCS #8 wrapping of a raw Ed25519 seed: WebCrypto imports private keys only this way or as JWK. */
const PKCS8_ED25519_PREFIX = new Uint8Array([
  0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
]);

function base64UrlDecode(text: string): Uint8Array | undefined {
  const std = text.replaceAll("-", "+").replaceAll("_", "/");
  const padded = std + "=".repeat((4 - (std.length % 4)) % 4);
  const decoded = base64Decode(padded);
  return decoded.ok ? decoded.value : undefined;
}

async function signingKey(signer: NoteSigner): Promise<{ key: CryptoKey; publicKey: Uint8Array }> {
  let key: CryptoKey;
  if (signer.privateKey instanceof Uint8Array) {
    if (signer.privateKey.length !== 32)
      throw new RangeError(`Ed25519 seed is ${signer.privateKey.length} bytes, not 32`);
    // Extractable so that the public key can be read back; the key object never leaves here.
    key = await crypto.subtle.importKey(
      "pkcs8",
      buffer(concatBytes(PKCS8_ED25519_PREFIX, signer.privateKey)),
      { name: "Ed25519" },
      true,
      ["sign"],
    );
  } else {
    key = signer.privateKey;
  }
  if (signer.publicKey !== undefined) return { key, publicKey: signer.publicKey };
  if (!key.extractable) throw new RangeError("signer needs publicKey: its private key is not extractable");
  const jwk = await crypto.subtle.exportKey("jwk", key);
  // Workers' types allow an ArrayBuffer here; a "jwk" export is always an object.
  const x = jwk instanceof ArrayBuffer ? undefined : jwk.x;
  const publicKey = x === undefined ? undefined : base64UrlDecode(x);
  if (publicKey === undefined) throw new RangeError("signer's private key does not export an Ed25519 public key");
  return { key, publicKey };
}

/**
 * Signs `text` (which must end in a newline) and returns the note with one signature line.
 * Throws for a malformed text or signer: both are the caller's bugs, not outcomes.
 */
export async function signNote(text: string, signer: NoteSigner): Promise<string> {
  const shape = checkNoteText(text, "note text");
  if (!shape.ok) throw new RangeError(shape.error);
  if (!text.endsWith("\n")) throw new RangeError("note text must end with a newline");
  const { key, publicKey } = await signingKey(signer);
  // verifierKey throws for a bad key name or public key size.
  verifierKey(signer.name, publicKey);
  const keyHash = ed25519KeyHash(signer.name, publicKey);
  const signature = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, key, buffer(utf8(text))));
  return `${text}\n${SIGNATURE_PREFIX}${signer.name} ${base64Encode(concatBytes(keyHashBytes(keyHash), signature))}\n`;
}

/** False for a bad signature, and for a public key the runtime refuses to import (not a curve point). */
async function ed25519Verify(
  publicKey: Uint8Array,
  signature: Uint8Array,
  message: Uint8Array<ArrayBuffer>,
): Promise<boolean> {
  let key: CryptoKey;
  try {
    key = await crypto.subtle.importKey("raw", buffer(publicKey), { name: "Ed25519" }, false, ["verify"]);
  } catch {
    return false;
  }
  return crypto.subtle.verify({ name: "Ed25519" }, key, buffer(signature), message);
}

/**
 * Verifies `note` against the trusted `verifiers` (verifier key strings). Returns the text and
 * the names of the keys whose signatures verified, in signature order, each once.
 */
export async function verifyNote(
  note: string,
  verifiers: readonly string[],
): Promise<Result<{ text: string; verifiedBy: string[] }, string>> {
  const keys: VerifierKey[] = [];
  for (const vkey of verifiers) {
    const parsed = parseVerifierKey(vkey);
    if (!parsed.ok) return err(`verifier key "${vkey}": ${parsed.error}`);
    if (
      keys.some(
        (k) =>
          k.name === parsed.value.name &&
          k.keyHash === parsed.value.keyHash &&
          !bytesEqual(k.publicKey, parsed.value.publicKey),
      )
    ) {
      return err(`two verifier keys share name ${parsed.value.name} and key ID ${keyHashHex(parsed.value.keyHash)}`);
    }
    keys.push(parsed.value);
  }
  const parsed = parseNote(note);
  if (!parsed.ok) return parsed;
  const { text, signatures } = parsed.value;
  const message = buffer(utf8(text));
  const verifiedBy: string[] = [];
  for (const sig of signatures) {
    const key = keys.find((k) => k.name === sig.name && k.keyHash === sig.keyHash);
    if (key === undefined) continue;
    if (sig.signature.length !== ED25519_SIGNATURE_SIZE)
      return err(`signature by ${sig.name} is ${sig.signature.length} bytes, not ${ED25519_SIGNATURE_SIZE}`);
    if (!(await ed25519Verify(key.publicKey, sig.signature, message)))
      return err(`signature by ${sig.name} does not verify`);
    if (!verifiedBy.includes(sig.name)) verifiedBy.push(sig.name);
  }
  if (verifiedBy.length === 0) return err("note has no signature from a known key");
  return ok({ text, verifiedBy });
}
