/**
 * Every attack drill (scripts/drills/catalogue.ts, `npm run drill`) against the running system:
 * its rule's alert is there within 2 s of being due, scoped to what the attack hit, with evidence
 * that names no voter. Issue 13's "each rule has a test": the drills cover every rule.
 */
import { describe, expect, it } from "vitest";
import { RuleId } from "../../lib/monitor/rules.ts";
import { DRILLS, type DrillName } from "../../scripts/drills/catalogue.ts";
import { runDrill } from "../../scripts/drills/run.ts";
import { withRunningSystem } from "./helpers/system.ts";

const system = withRunningSystem({ name: "drills" });

describe("attack drills", () => {
  it("cover every rule of the monitor", () => {
    const covered = new Set(Object.values(DRILLS).map((d) => d.rule));
    expect(RuleId.options.filter((rule) => !covered.has(rule))).toEqual([]);
  });

  for (const name of Object.keys(DRILLS) as DrillName[]) {
    it(`${name} raises ${DRILLS[name].rule} within 2 s`, async () => {
      const outcome = await runDrill({ api: system.baseUrl, issuer: system.issuer.url, admin: system.admin }, name);
      expect(outcome.problem).toBeUndefined();
      expect(outcome.alert?.state).toBe("open");
      expect(outcome.afterMs).toBeLessThanOrEqual(2000);
    }, 90_000);
  }
});
