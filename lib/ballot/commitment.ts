/**
 * A ballot's commitment and tracking code. The commitment binds the ballot's content under a
 * random 32-byte nonce made for each cast (newNonce), so it reveals nothing about the choices even
 * to whoever holds every server secret: online, the nonce is kept only in the voter's ledger row
 * (to answer a retry with the same receipt) and is deleted with it at the forget time; on paper it
 * is kept nowhere. The tracking code is derived from the commitment alone, never from the choices
 * or the voter.
 *
 *   commitment    = base64url(SHA-256("mixed-election/ballot-commitment/v1" 0x0A canonical 0x0A nonce))
 *   tracking code = Crockford base32 of the first 80 bits of SHA-256("mixed-election/tracking-code/v1" 0x0A commitment),
 *                   in four groups of four ("7K3M-Q9TX-...")
 *
 * `canonical` is the JSON of { electionId, ballotStyleId, contests } with contests in ballot
 * order and option ids sorted (validateBallot produces exactly that).
 */
import { base64urlEncode as base64url } from "../bytes.ts";
import type { ContestMarks } from "./messages.ts";

const encoder = new TextEncoder();
const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

async function sha256(text: string): Promise<Uint8Array> {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", encoder.encode(text)));
}

export function canonicalBallot(electionId: string, ballotStyleId: string, contests: readonly ContestMarks[]): string {
  return JSON.stringify({
    electionId,
    ballotStyleId,
    contests: contests.map((c) => ({
      contestId: c.contestId,
      optionIds: [...c.optionIds].sort(),
      ...(c.writeIns
        ? { writeIns: Object.fromEntries(Object.entries(c.writeIns).sort(([a], [b]) => (a < b ? -1 : 1))) }
        : {}),
    })),
  });
}

/** A fresh nonce: 32 random bytes, base64url. */
export function newNonce(): string {
  return base64url(crypto.getRandomValues(new Uint8Array(32)));
}

export async function commitBallot(canonical: string, nonce: string): Promise<string> {
  return base64url(await sha256(`mixed-election/ballot-commitment/v1\n${canonical}\n${nonce}`));
}

export async function trackingCodeOf(commitment: string): Promise<string> {
  const digest = await sha256(`mixed-election/tracking-code/v1\n${commitment}`);
  let bits = 0;
  let value = 0;
  let out = "";
  for (const byte of digest.subarray(0, 10)) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out.match(/.{4}/g)?.join("-") ?? out;
}

export const TRACKING_CODE = /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/;
