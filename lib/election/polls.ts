/**
 * When voting actually ends, and what state an election's polls are in.
 *
 * `polls.closesAtMs` is the scheduled close, and everything that happens "after the close"
 * (exact public results, the retraction key, cast vote records, exports, forgetting the ledgers'
 * links, reconciliation) keeps using it: an administrator may reopen an early-closed election
 * until then, so nothing irreversible may happen at an early close. Only the paths that accept
 * ballots, check-ins and scans ask votingEndsAtMs, which is the early close when one is in force.
 */
import * as z from "zod";
import type { CompiledElection } from "./model.ts";

type Polls = CompiledElection["polls"];

/** The instant (ms) from which no ballot, check-in or scan is accepted. */
export function votingEndsAtMs(election: { readonly polls: Polls }): number {
  const early = election.polls.closedEarly;
  return early ? Math.min(early.atMs, election.polls.closesAtMs) : election.polls.closesAtMs;
}

/** The four states an administrator sees (GET /v1/admin/elections/{id}/polls). */
const PollsState = z.enum(["not-open", "open", "closed-early", "closed"]);
type PollsState = z.infer<typeof PollsState>;

/** What the polls routes answer and the admin CLI reads (workers/gateway/routes/polls.ts). */
export const PollsView = z.object({
  electionId: z.string(),
  state: PollsState,
  opensAt: z.string(),
  /** The scheduled close: results, records and exports wait for it even after an early close. */
  closesAt: z.string(),
  /** From this instant no ballot, check-in or scan is accepted. */
  votingEndsAt: z.string(),
  closedEarly: z.object({ effectiveAt: z.string(), reason: z.string() }).optional(),
  /** A change whose log entry was not yet confirmed; the next close or reopen completes it. */
  changePending: z.boolean(),
});
export type PollsView = z.infer<typeof PollsView>;

/** The polls' state at `nowMs`: after the scheduled close it is `closed`, early close or not. */
export function pollsState(election: { readonly polls: Polls }, nowMs: number): PollsState {
  const { opensAtMs, closesAtMs } = election.polls;
  if (nowMs >= closesAtMs) return "closed";
  if (nowMs < opensAtMs) return "not-open";
  return nowMs >= votingEndsAtMs(election) ? "closed-early" : "open";
}
