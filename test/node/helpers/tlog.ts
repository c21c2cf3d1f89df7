/**
 * A naive RFC 6962 reference for the transparency-log tests, written straight from the RFC's
 * recursive definitions (MTH, PATH, SUBPROOF) and the tlog-tiles formula, sharing no code with
 * lib/tlog beyond the two hash functions.
 */
import { createHash, createPrivateKey, createPublicKey } from "node:crypto";
import { verifierKey } from "../../../lib/tlog/note.ts";

export type Bytes = Uint8Array;

export function sha256(...parts: Bytes[]): Bytes {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

export function refLeafHash(data: Bytes): Bytes {
  return sha256(new Uint8Array([0]), data);
}

export function refNodeHash(l: Bytes, r: Bytes): Bytes {
  return sha256(new Uint8Array([1]), l, r);
}

export function entry(i: number): Bytes {
  return new TextEncoder().encode(`ballot ${i}`);
}

/** The reference tree over entries 0..n-1 (entry(i)), memoised by range. */
export class RefTree {
  readonly leaves: Bytes[] = [];
  private readonly memo = new Map<string, Bytes>();

  constructor(size: number, entryAt: (i: number) => Bytes = entry) {
    for (let i = 0; i < size; i++) this.leaves.push(refLeafHash(entryAt(i)));
  }

  /** MTH(D[lo:hi]). */
  mth(lo: number, hi: number): Bytes {
    const n = hi - lo;
    if (n === 0) return sha256();
    if (n === 1) return this.leaves[lo] as Bytes;
    const key = `${lo},${hi}`;
    const known = this.memo.get(key);
    if (known) return known;
    let k = 1;
    while (k * 2 < n) k *= 2;
    const h = refNodeHash(this.mth(lo, lo + k), this.mth(lo + k, hi));
    this.memo.set(key, h);
    return h;
  }

  /** PATH(m, D[lo:hi]). */
  path(m: number, lo: number, hi: number): Bytes[] {
    const n = hi - lo;
    if (n <= 1) return [];
    let k = 1;
    while (k * 2 < n) k *= 2;
    if (m < k) return [...this.path(m, lo, lo + k), this.mth(lo + k, hi)];
    return [...this.path(m - k, lo + k, hi), this.mth(lo, lo + k)];
  }

  /** SUBPROOF(m, D[lo:hi], b). */
  subproof(m: number, lo: number, hi: number, b: boolean): Bytes[] {
    const n = hi - lo;
    if (m === n) return b ? [] : [this.mth(lo, hi)];
    let k = 1;
    while (k * 2 < n) k *= 2;
    if (m <= k) return [...this.subproof(m, lo, lo + k, b), this.mth(lo + k, hi)];
    return [...this.subproof(m - k, lo + k, hi, false), this.mth(lo, lo + k)];
  }

  /** Every tile of the tree of `size` leaves, per tlog-tiles, as path -> bytes. */
  tiles(size: number): Map<string, Bytes> {
    const out = new Map<string, Bytes>();
    for (let level = 0; Math.floor(size / 256 ** level) > 0; level++) {
      const count = Math.floor(size / 256 ** level);
      for (let n = 0; n * 256 < count; n++) {
        const width = Math.min(256, count - n * 256);
        const data = new Uint8Array(width * 32);
        for (let i = 0; i < width; i++) {
          const p = n * 256 + i;
          data.set(this.mth(p * 256 ** level, (p + 1) * 256 ** level), i * 32);
        }
        out.set(`tile/${level}/${refIndex(n)}${width === 256 ? "" : `.p/${width}`}`, data);
      }
    }
    return out;
  }
}

/** The tlog-tiles index encoding, written independently of lib/tlog/tiles.ts. */
export function refIndex(n: number): string {
  const digits = String(n);
  const padded = digits.padStart(Math.ceil(digits.length / 3) * 3, "0");
  const groups = padded.match(/.{3}/g) ?? [];
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

export function hex(b: Bytes): string {
  return Buffer.from(b).toString("hex");
}

/** Every single-byte corruption of `bytes` (XOR `mask` at each position), as fresh copies. */
export function* flips(bytes: Bytes, mask = 0x01): Generator<{ at: number; bytes: Bytes }> {
  for (let at = 0; at < bytes.length; at++) {
    const copy = bytes.slice();
    copy[at] = (copy[at] ?? 0) ^ mask;
    yield { at, bytes: copy };
  }
}

/** Every single-byte corruption of a text's UTF-8 bytes, decoded back leniently (bad UTF-8 becomes U+FFFD). */
export function* textFlips(text: string, mask = 0x01): Generator<{ at: number; text: string }> {
  const decoder = new TextDecoder("utf-8"); // not fatal: bad UTF-8 becomes U+FFFD
  for (const { at, bytes } of flips(new TextEncoder().encode(text), mask)) yield { at, text: decoder.decode(bytes) };
}

/** PKCS#8 wrapping of a raw Ed25519 private key (RFC 8410): this prefix, then the 32-byte seed. */
const ED25519_PKCS8_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

/** The signed-note verifier key for the Ed25519 key whose seed is `seed`, derived by node:crypto. */
export function verifierKeyOfSeed(origin: string, seed: Bytes): string {
  const privateKey = createPrivateKey({
    key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]),
    format: "der",
    type: "pkcs8",
  });
  const jwk = createPublicKey(privateKey).export({ format: "jwk" });
  return verifierKey(origin, new Uint8Array(Buffer.from(jwk.x ?? "", "base64url")));
}
