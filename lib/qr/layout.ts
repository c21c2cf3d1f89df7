/**
 * The layout digest: 4 bytes that pin which version of an election's definition a payload's
 * indexes refer to. Marked ballots and result sheets name contests and options by their position
 * (contest order of a ballot style, option order of a contest, the election's contest order), so a
 * device holding a definition that was replaced before polls opened would print indexes that mean
 * other candidates under the current one. The digest turns that into a `layout_mismatch` refusal.
 *
 *   digest = SHA-256("mixed-election/qr-layout/v1" 0x0A canonical)[0..4]
 *   canonical = JSON of { electionId, contests: [[id, votesAllowed, [[optionId, isWriteIn]...]]...],
 *                         ballotStyles: [[id, [contestId...]]...] }, each list in the compiled order
 *
 * It guards against accidents, not forgers: it sits under the signature, and a signer who wanted
 * to misstate votes could sign other indexes outright. 32 bits make an accidental match between
 * two definitions of one election a one-in-four-billion event.
 */
import type { CompiledElection } from "../election/model.ts";

export const LAYOUT_DIGEST_BYTES = 4;

const cache = new WeakMap<CompiledElection, Promise<Uint8Array>>();

export function canonicalLayout(election: CompiledElection): string {
  return JSON.stringify({
    electionId: election.id,
    contests: [...election.contests.values()].map((c) => [
      c.id,
      c.votesAllowed,
      c.options.map((o) => [o.id, o.isWriteIn]),
    ]),
    ballotStyles: [...election.ballotStyles.values()].map((s) => [s.id, s.contestIds]),
  });
}

/** Computed once per compiled election object (the Worker keeps those cached). */
export function layoutDigest(election: CompiledElection): Promise<Uint8Array> {
  let digest = cache.get(election);
  if (!digest) {
    const text = new TextEncoder().encode(`mixed-election/qr-layout/v1\n${canonicalLayout(election)}`);
    digest = crypto.subtle.digest("SHA-256", text).then((d) => new Uint8Array(d).slice(0, LAYOUT_DIGEST_BYTES));
    cache.set(election, digest);
  }
  return digest;
}

/** The election-wide contest order that result sheets index into. */
export function contestOrder(election: CompiledElection): readonly string[] {
  return [...election.contests.keys()];
}
