/**
 * A normal election day raises no alert (issue 13): the demo roll votes over a compressed twelve
 * hours through the running system (scripts/drills/normal-day.ts), with the day's bursts and its
 * ordinary noise, and the monitor, at its default thresholds with its buckets compressed by the
 * same factor, stays quiet. The figures are printed for the record (docs/MONITORING.md).
 */
import { describe, expect, it } from "vitest";
import { playNormalDay } from "../../scripts/drills/normal-day.ts";
import { withRunningSystem } from "./helpers/system.ts";

const system = withRunningSystem({ name: "normal-day" });

describe("a normal election day", () => {
  it("raises no alert", async () => {
    const day = await playNormalDay(
      { api: system.baseUrl, issuer: system.issuer.url, admin: system.admin },
      { seconds: 240, seed: 13 },
    );
    console.log(
      `normal day: ${day.online} online, ${day.paper} paper; noise ${JSON.stringify(day.noise)}; ` +
        `${day.alerts.length} alerts${day.alerts.map((a) => `\n  ${a.rule} ${a.scope}: ${a.summary}`).join("")}`,
    );
    expect(day.failures).toEqual([]);
    expect(day.noise).toEqual({ forgedLogins: 6, refusedCheckIns: 2, refusedCasts: 1 });
    expect(day.alerts).toEqual([]);
    // The monitor was watching: its timer ran within the last seconds and the live results kept up
    // with every ballot it heard of.
    expect(Date.now() - Date.parse(day.status.evaluatedAt ?? "1970-01-01T00:00:00Z")).toBeLessThan(5000);
    expect(day.status.aggregator?.behind).toBe(0);
  }, 420_000);
});
