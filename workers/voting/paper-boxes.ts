/**
 * Which PaperBallotBox owns a ballot serial: `${electionId}/box/${fnv1a(serial) % PAPER_BOX_BUCKETS}`.
 * A serial maps to one object forever, which is what makes "each serial counts once" hold.
 */
import type { PaperBallotBox } from "../../durable-objects/paper-ballot-box.ts";
import { fnv1a } from "./queues.ts";

/**
 * Buckets per election. Paper scans are bounded by the stations' scanners, a ballot every few
 * seconds each: even 5,000 stations scanning flat out is about 1,500 scans/s nationally, so 16
 * objects take about 100 scans/s each, an order of magnitude below what one Durable Object serves
 * (about 1,000 small transactions/s; see tally/shards.ts). More buckets would buy nothing and
 * cost object creations. Changing it moves serials to other objects: never during an election.
 */
export const PAPER_BOX_BUCKETS = 16;

export function paperBoxName(electionId: string, serial: number): string {
  return `${electionId}/box/${fnv1a(String(serial)) % PAPER_BOX_BUCKETS}`;
}

export function paperBoxFor(env: Env, electionId: string, serial: number): DurableObjectStub<PaperBallotBox> {
  return env.PAPER_BALLOT_BOX.get(env.PAPER_BALLOT_BOX.idFromName(paperBoxName(electionId, serial)));
}
