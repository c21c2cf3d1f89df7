/**
 * The server's side of the offline pollbook's keys (lib/station/pollbook.ts, docs/PAPER.md
 * "Offline"): the per-district pollbook key, the sealed voter reference an entry carries, and the
 * keyed digest under which an offline check-in's envelope is remembered.
 *
 * The pollbook key comes from the roll's secret (ROLL_HASH_KEY) through its own purpose, per
 * election and district: the roll import computes each voter's pollbook id with it (the one time
 * the server sees national ids), and a station's laptop holds only its districts' keys. The voter
 * reference is the voter
 * key sealed (AES-256-GCM) under a key of the same secret, with the election and station as
 * associated data, so a ref works only for the station whose pollbook carried it. Envelope codes
 * are digested under BALLOT_LINK_KEY, which the ballot path already holds, per election.
 */
import { configOf } from "../../durable-objects/config.ts";
import { base64urlEncode, utf8 } from "../../lib/bytes.ts";
import { keyedDigestHex, openBytes, purposeKey, purposeSealingKey, sealBytes } from "../../lib/keys.ts";

/** A district's 32-byte pollbook key, base64url (what pollbook pages carry, per district). */
export async function districtPollbookKey(env: Env, electionId: string, districtId: string): Promise<string> {
  const key = await purposeKey(configOf(env).ROLL_HASH_KEY, "pollbook", electionId);
  return base64urlEncode(new Uint8Array(await crypto.subtle.sign("HMAC", key, utf8(districtId))));
}

function refContext(electionId: string, stationId: string): Uint8Array<ArrayBuffer> {
  return utf8(`${electionId}\u0000${stationId}`);
}

/** A pollbook entry's ref: the voter key sealed for this election and station. */
export async function sealVoterRef(env: Env, electionId: string, stationId: string, voterKey: string): Promise<string> {
  const key = await purposeSealingKey(configOf(env).ROLL_HASH_KEY, "pollbook-ref", electionId);
  return sealBytes(key, refContext(electionId, stationId), utf8(voterKey));
}

/** The voter key a ref sealed for this election and station, or undefined for any other text. */
export async function openVoterRef(
  env: Env,
  electionId: string,
  stationId: string,
  ref: string,
): Promise<string | undefined> {
  const key = await purposeSealingKey(configOf(env).ROLL_HASH_KEY, "pollbook-ref", electionId);
  const plain = await openBytes(key, refContext(electionId, stationId), ref);
  return plain && new TextDecoder().decode(plain);
}

/** The keyed digest an offline envelope is remembered by (station-scoped: codes are per station). */
export async function envelopeDigest(
  env: Env,
  electionId: string,
  stationId: string,
  envelope: string,
): Promise<string> {
  const key = await purposeKey(configOf(env).BALLOT_LINK_KEY, "offline-envelope", electionId);
  return keyedDigestHex(key, `${stationId}\u0000${envelope}`);
}
