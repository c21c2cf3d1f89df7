/**
 * When voting actually ends, and what state an election's polls are in.
 *
 * `polls.closesAtMs` is the scheduled close, and everything that happens "after the close"
 * (exact public results, the retraction key, cast vote records, exports, forgetting the ledgers'
 * links, reconciliation) keeps using it: an administrator may reopen an early-closed election
 * until then, so nothing irreversible may happen at an early close. Only the paths that accept
 * ballots, check-ins and scans ask votingEndsAtMs, which is the early close when one is in force.
 */
import type { CompiledElection } from "./model.ts";

type Polls = CompiledElection["polls"];

/** The instant (ms) from which no ballot, check-in or scan is accepted. */
export function votingEndsAtMs(election: { readonly polls: Polls }): number {
  const early = election.polls.closedEarly;
  return early ? Math.min(early.atMs, election.polls.closesAtMs) : election.polls.closesAtMs;
}

/** The four states an administrator sees (GET /v1/admin/elections/{id}/polls). */
type PollsState = "not-open" | "open" | "closed-early" | "closed";

/** The polls' state at `nowMs`: after the scheduled close it is `closed`, early close or not. */
export function pollsState(election: { readonly polls: Polls }, nowMs: number): PollsState {
  const { opensAtMs, closesAtMs } = election.polls;
  if (nowMs >= closesAtMs) return "closed";
  if (nowMs < opensAtMs) return "not-open";
  return nowMs >= votingEndsAtMs(election) ? "closed-early" : "open";
}
