/**
 * The console's way to the API: every read and action is a request to the gateway's own API
 * routes, made in-process (the app's `fetch`) with `Authorization: Bearer <the official's token>`,
 * so role checks, validation, logging and audit entries are exactly the API's, and the console
 * never holds a second copy of any of them. What comes back is parsed with the schemas below
 * (the API's shapes, only the fields the pages show) before a page renders it.
 */
import type { ExecutionContext as HonoExecutionContext } from "hono";
import { z } from "zod";
import { PollsView } from "../../../lib/election/polls.ts";
import { Alert, MonitorStatus } from "../../../lib/monitor/alerts.ts";

/** The app's own fetch, as createApp hands it to the console's routes. */
export type ApiFetch = (request: Request, env: Env, executionCtx: HonoExecutionContext) => Promise<Response>;

/** An API refusal as the console shows it: the API's status, code and message, and any problems. */
export interface ApiRefusal {
  readonly status: number;
  readonly code: string;
  readonly message: string;
  readonly problems: readonly { path: string; message: string }[];
}

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

export type ApiAnswer<T> = { ok: true; value: T } | { ok: false; refusal: ApiRefusal };

export async function refusalOf(res: Response): Promise<ApiRefusal> {
  const parsed = ErrorBody.safeParse(await res.json().catch(() => undefined));
  return parsed.success
    ? { status: res.status, ...parsed.data.error, problems: parsed.data.error.problems ?? [] }
    : { status: res.status, code: "unexpected", message: `The API answered ${res.status}.`, problems: [] };
}

export async function answerOf<T>(res: Response, schema: z.ZodType<T>): Promise<ApiAnswer<T>> {
  if (!res.ok) return { ok: false, refusal: await refusalOf(res) };
  const parsed = schema.safeParse(await res.json().catch(() => undefined));
  if (!parsed.success) {
    return {
      ok: false,
      refusal: { status: 502, code: "unexpected", message: "The API's answer had an unexpected form.", problems: [] },
    };
  }
  return { ok: true, value: parsed.data };
}

export const LogStatus = z.object({
  size: z.number(),
  publishedSize: z.number(),
  pooled: z.number(),
  halted: z.string().nullable(),
});
export type LogStatus = z.infer<typeof LogStatus>;

const Count = z.number().int().min(0);
const TurnoutRow = z.object({ ballotsCounted: Count, registeredVoters: Count, ratio: z.number().nullable() });
export const Results = z.object({
  electionId: z.string(),
  name: z.string(),
  asOf: z.string().nullable(),
  exact: z.boolean(),
  version: Count,
  turnout: TurnoutRow.extend({ districts: z.array(TurnoutRow.extend({ districtId: z.string(), name: z.string() })) }),
  contests: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      options: z.array(z.object({ id: z.string(), label: z.string(), votes: Count })),
      writeIns: Count,
      blanks: Count,
    }),
  ),
});
export type Results = z.infer<typeof Results>;

export const Reconciliation = z.object({
  stations: z.array(
    z.object({
      stationId: z.string(),
      consistent: z.boolean(),
      sheet: z.object({ votersCheckedIn: Count, ballotsCast: Count }).nullable(),
      system: z.object({ checkIns: Count, ballotsScanned: Count }),
      differences: z.array(z.object({ kind: z.string(), message: z.string() })),
    }),
  ),
});
export type Reconciliation = z.infer<typeof Reconciliation>;

export const Conflict = z.object({
  conflictId: z.string(),
  stationId: z.string(),
  districtId: z.string(),
  kind: z.string(),
  checkInMinute: z.string(),
  syncedMinute: z.string(),
  other: z
    .union([
      z.object({ channel: z.literal("online"), minute: z.string().nullable() }),
      z.object({ channel: z.literal("paper"), stationId: z.string(), minute: z.string() }),
    ])
    .nullable(),
  state: z.string(),
  decision: z.object({ officialId: z.string(), minute: z.string(), reason: z.string() }).nullable(),
});
export type Conflict = z.infer<typeof Conflict>;
export const Conflicts = z.object({ conflicts: z.array(Conflict) });

export const DeadLetters = z.object({
  deadLetters: z.array(
    z.object({
      letterId: z.string(),
      electionId: z.string().nullable(),
      kind: z.string().nullable(),
      queue: z.string(),
      attempts: z.number(),
      firstSeen: z.string(),
      lastSeen: z.string(),
    }),
  ),
});
export type DeadLetters = z.infer<typeof DeadLetters>;

/** GET /v1/admin/elections/{id}: the stored definition's version and what the loader decided on its own. */
export const StoredDefinition = z.object({
  version: z.number().int(),
  updatedAt: z.string(),
  warnings: z.array(z.object({ path: z.string(), code: z.string(), message: z.string() })).default([]),
});
export type StoredDefinition = z.infer<typeof StoredDefinition>;

export const Alerts = z.object({ alerts: z.array(Alert) });
export { Alert, MonitorStatus, PollsView };

export const TokenAnswer = z.object({ accessToken: z.string(), expiresAt: z.number().optional() });
