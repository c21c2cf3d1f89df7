/**
 * Closing voting early (an emergency, with a reason) and reopening it, for administrators only.
 *
 * The schedule stays in the definition: `closesAt` is the scheduled close, and everything that
 * happens after the close (exact results, the retraction key, records, exports, forgetting the
 * ledgers' links) keeps waiting for it, so a reopen stays possible until then. An early close only
 * moves the instant from which ballots, check-ins and scans are refused (lib/election/polls.ts).
 *
 * Order of writes, so that no close is ever in force that the log does not show:
 * 1. claim the change in D1 (`election_polls.pending`, conditional on the row's generation and
 *    nothing else in flight: two administrators at once cannot both change the state);
 * 2. append its entry to the election's log, keyed `polls/<generation>` (a repeat logs nothing
 *    twice);
 * 3. only then put it in force in D1 (getElection ignores `pending`).
 * A failure after 1 or 2 leaves the change pending and not in force; the administrator's repeat
 * (any administrator's next close or reopen) completes it with the same entry and key. The log may
 * thus show a change a few moments before D1 has it in force, never the reverse. The early close's
 * instant lies CACHE_MS and a second after it was decided (pollChangeEffectiveAtMs), so every
 * isolate has reloaded the election by then and every path refuses from the same instant; if step
 * 3 is delayed past that instant by a failure, isolates may accept for up to CACHE_MS more, and
 * the auditor's observer reports whatever was accepted after the logged instant.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import {
  applyPollChange,
  claimPollChange,
  getElection,
  getStoredPolls,
  pollChangeEffectiveAtMs,
  type StoredPolls,
} from "../../../db/stores/elections.ts";
import { LogEntry, loggableEntry, type LogEntryOf } from "../../../lib/audit/entries.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { PollsView, pollsState, votingEndsAtMs } from "../../../lib/election/polls.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import type { ErrorCode } from "../../../lib/errors.ts";
import { ok, type Result } from "../../../lib/result.ts";
import { appendToLog, logTime } from "../../audit/log.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { errorResponses, fail, orFail, validationHook, type AppEnv } from "../http.ts";

const encoder = new TextEncoder();

/** One paragraph of plain text: no control characters, and within one log entry's text. */
export const Reason = z
  .string()
  .trim()
  .min(1)
  .max(500)
  .refine((s) => !/[\p{Cc}\p{Cf}\p{Cs}\p{Co}]/u.test(s), "plain text only: no control or formatting characters")
  .refine((s) => encoder.encode(s).length <= 1024, "at most 1024 bytes of UTF-8")
  .openapi({ example: "Flooding at the central counting centre; power is out in two districts." });

const ReasonBody = z.object({ reason: Reason }).strict();

const PollsSchema = PollsView.openapi("Polls");

/** What the D1 row holds while a change awaits its log entry. */
const PendingChange = z.object({
  key: z.string(),
  entry: LogEntry,
});

type PollsEntry = LogEntryOf<"polls-closed-early"> | LogEntryOf<"polls-reopened">;

function pendingOf(stored: StoredPolls): { key: string; entry: PollsEntry } | undefined {
  if (stored.pending === undefined) return undefined;
  const parsed = PendingChange.parse(JSON.parse(stored.pending));
  const { entry } = parsed;
  // Only this file writes the column, with these two types: anything else is a bug.
  if (entry.type !== "polls-closed-early" && entry.type !== "polls-reopened")
    throw new Error(`a pending poll change of type ${entry.type}`);
  return { key: parsed.key, entry };
}

/** Steps 2 and 3 of the header: log the claimed change, then put it in force. */
async function complete(
  env: Env,
  electionId: string,
  stored: StoredPolls,
  change: { key: string; entry: PollsEntry },
  pendingJson: string,
): Promise<Result<undefined, "log_pool_full">> {
  const logged = await appendToLog(env, electionId, [change]);
  if (!logged.ok) return logged;
  const { entry } = change;
  await applyPollChange(
    env.DB,
    electionId,
    stored.generation,
    pendingJson,
    entry.type === "polls-closed-early" ? { atMs: Date.parse(entry.effectiveAt), reason: entry.reason } : undefined,
  );
  return ok(undefined);
}

function viewOf(election: CompiledElection, stored: StoredPolls, nowMs: number): PollsView {
  const merged: CompiledElection = stored.closedEarly
    ? { ...election, polls: { ...election.polls, closedEarly: stored.closedEarly } }
    : { ...election, polls: { opensAtMs: election.polls.opensAtMs, closesAtMs: election.polls.closesAtMs } };
  const iso = (ms: number): string => new Date(ms).toISOString();
  return {
    electionId: election.id,
    state: pollsState(merged, nowMs),
    opensAt: iso(election.polls.opensAtMs),
    closesAt: iso(election.polls.closesAtMs),
    votingEndsAt: iso(votingEndsAtMs(merged)),
    ...(stored.closedEarly
      ? { closedEarly: { effectiveAt: iso(stored.closedEarly.atMs), reason: stored.closedEarly.reason } }
      : {}),
    changePending: stored.pending !== undefined,
  };
}

async function electionOr404(db: D1Database, electionId: string): Promise<CompiledElection> {
  const election = await getElection(db, electionId);
  if (!election) fail("election_not_found");
  return election;
}

/**
 * A close or reopen: completes a change left pending (and answers it when it is this request's
 * repeat: same kind, administrator and reason), then decides, claims, logs and applies. Another
 * administrator's change completed this way is then decided against like any earlier one.
 */
async function change(
  env: Env,
  election: CompiledElection,
  kind: PollsEntry["type"],
  officialId: string,
  reason: string,
): Promise<PollsView> {
  const now = Date.now();
  if (now < election.polls.opensAtMs) fail("polls_control_not_open");
  if (now >= election.polls.closesAtMs) fail("polls_control_after_close");

  let stored = await getStoredPolls(env.DB, election.id);
  const pending = pendingOf(stored);
  if (pending && stored.pending !== undefined) {
    orFail(await complete(env, election.id, stored, pending, stored.pending));
    stored = await getStoredPolls(env.DB, election.id);
    const { entry } = pending;
    if (entry.type === kind && entry.officialId === officialId && entry.reason === reason)
      return viewOf(election, stored, Date.now());
  }

  // Decided now, after any pending change was completed: the instant is counted from as close to
  // the claim and the log's answer as it can be, since isolates reload CACHE_MS after the apply.
  const decidedAt = Date.now();
  const refusal = refusalOf(kind, stored, decidedAt, election);
  if (refusal) fail(refusal);
  const at = logTime(new Date(decidedAt));
  const value: PollsEntry =
    kind === "polls-closed-early"
      ? {
          type: kind,
          at,
          effectiveAt: new Date(pollChangeEffectiveAtMs(decidedAt)).toISOString(),
          officialId,
          reason,
        }
      : { type: kind, at, officialId, reason };
  const entry = loggableEntry(value);
  if (!entry.ok) fail("invalid_request", entry.error);
  const claimed = { key: `polls/${stored.generation + 1}`, entry: value };
  const pendingJson = JSON.stringify(claimed);
  if (!(await claimPollChange(env.DB, election.id, stored.generation, pendingJson))) fail("polls_change_in_progress");
  orFail(await complete(env, election.id, stored, claimed, pendingJson));
  return viewOf(election, await getStoredPolls(env.DB, election.id), Date.now());
}

function refusalOf(
  kind: PollsEntry["type"],
  stored: StoredPolls,
  now: number,
  election: CompiledElection,
): ErrorCode | undefined {
  if (kind === "polls-reopened") return stored.closedEarly ? undefined : "polls_not_closed_early";
  if (stored.closedEarly) return "polls_already_closed_early";
  if (pollChangeEffectiveAtMs(now) >= election.polls.closesAtMs) return "polls_close_too_late";
  return undefined;
}

const params = z.object({ electionId: ElectionId });

const getRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/polls",
  tags: ["polls"],
  summary: "The polls' schedule, when voting ends, and any early close in force",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: { params },
  responses: {
    200: { description: "The polls", content: { "application/json": { schema: PollsSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const closeRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/polls/close",
  tags: ["polls"],
  summary: "Close voting early (an emergency), with a reason",
  description:
    "Takes effect at `votingEndsAt` in the answer: about 11 seconds from now, once every server has reloaded the election, so that all of them refuse ballots, check-ins and scans from the same instant. The scheduled close stays the close for results, records and exports, and voting may be reopened until then. Logged as `polls-closed-early`. Refusals: polls_control_not_open, polls_control_after_close, polls_close_too_late, polls_already_closed_early, polls_change_in_progress (409), log_pool_full (429: repeat; the change completes).",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: { params, body: { required: true, content: { "application/json": { schema: ReasonBody } } } },
  responses: {
    200: { description: "The polls after the close", content: { "application/json": { schema: PollsSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

const reopenRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/polls/reopen",
  tags: ["polls"],
  summary: "Reopen voting closed early, before the scheduled close, with a reason",
  description:
    "Voting is accepted again until the scheduled close (each server sees it within 10 seconds; until then it still refuses). Logged as `polls-reopened`. Refusals: polls_control_not_open, polls_control_after_close, polls_not_closed_early, polls_change_in_progress (409), log_pool_full (429).",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: { params, body: { required: true, content: { "application/json": { schema: ReasonBody } } } },
  responses: {
    200: { description: "The polls after the reopening", content: { "application/json": { schema: PollsSchema } } },
    ...errorResponses(400, 401, 403, 404, 409, 429),
  },
});

export function pollsRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(getRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await electionOr404(c.env.DB, electionId);
    return c.json(viewOf(election, await getStoredPolls(c.env.DB, electionId), Date.now()), 200);
  });

  app.openapi(closeRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const election = await electionOr404(c.env.DB, electionId);
    return c.json(await change(c.env, election, "polls-closed-early", c.get("official").officialId, reason), 200);
  });

  app.openapi(reopenRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const election = await electionOr404(c.env.DB, electionId);
    return c.json(await change(c.env, election, "polls-reopened", c.get("official").officialId, reason), 200);
  });

  return app;
}
