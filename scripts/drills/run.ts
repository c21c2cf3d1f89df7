/** Runs one attack drill and waits for its alert (scripts/drill.ts and test/node/drills.test.ts). */
import type { Alert } from "../../lib/monitor/alerts.ts";
import type { RuleId } from "../../lib/monitor/rules.ts";
import { DRILLS, type DrillName } from "./catalogue.ts";
import { alertsOf, waitForAlert, type DrillContext } from "./setup.ts";

export interface DrillOutcome {
  readonly name: DrillName;
  readonly rule: RuleId;
  readonly electionId: string;
  /** The alert, when it came within the wait. */
  readonly alert: Alert | undefined;
  /** How long after it was due the alert was there (0 when it was there before). */
  readonly afterMs: number | undefined;
  /** What is wrong with the alert, or that none came. */
  readonly problem: string | undefined;
  /** Every alert the drill's election raised (a drill may set off other rules too). */
  readonly raised: readonly Alert[];
}

export async function runDrill(ctx: DrillContext, name: DrillName, timeoutMs = 15_000): Promise<DrillOutcome> {
  const drill = DRILLS[name];
  const run = await drill.run(ctx);
  try {
    const found = await waitForAlert(ctx, run.election.id, drill.rule, run.dueAtMs, timeoutMs);
    const raised = await alertsOf(ctx, run.election.id);
    const privacy = found
      ? leaks(
          found.alert,
          run.election.voters.map((v) => v.nationalId),
        )
      : undefined;
    return {
      name,
      rule: drill.rule,
      electionId: run.election.id,
      alert: found?.alert,
      afterMs: found ? Math.max(0, found.afterMs) : undefined,
      problem: found ? (drill.check(found.alert, run) ?? privacy) : `no ${drill.rule} alert within ${timeoutMs} ms`,
      raised,
    };
  } finally {
    await run.cleanUp?.();
  }
}

/** Whether an alert names a voter of the drill's roll (it never may). */
function leaks(alert: Alert, nationalIds: readonly string[]): string | undefined {
  const text = JSON.stringify(alert);
  const named = nationalIds.find((id) => text.includes(id));
  return named ? `the alert names the voter ${named}` : undefined;
}
