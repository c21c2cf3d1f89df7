/**
 * `npm run drill -- NAME` plays an attack against the running system (`npm start`) and shows the
 * security monitor's alert arriving: `npm run drill -- list` names them all, `all` plays each.
 * docs/MONITORING.md says what each rule means and what an official does when it fires.
 *
 *   npm run drill -- ballot-stuffing
 *   npm run drill -- all --api http://127.0.0.1:8787 --issuer http://127.0.0.1:8788
 *
 * The faults inside the system (a stalled log, a dead letter, a lagging aggregator) need the
 * deployment's DRILLS = "enabled", which `npm start` sets and production refuses.
 */
import { join } from "node:path";
import { Command } from "commander";
import { OfficialClient } from "../cli/lib/api.ts";
import { DRILLS, type DrillName } from "./drills/catalogue.ts";
import { playNormalDay } from "./drills/normal-day.ts";
import { runDrill } from "./drills/run.ts";
import { ROOT } from "./system.ts";

process.env["CLOUDFLARE_CF_FETCH_ENABLED"] ??= "false";

function isDrill(name: string): name is DrillName {
  return Object.hasOwn(DRILLS, name);
}

const program = new Command("drill")
  .description("Play an attack against the running system and watch the monitor's alert arrive.")
  .argument("<name>", `a drill, "list", "all", or "normal-day" (a compressed ordinary day: no alert is expected)`)
  .option("--seconds <n>", "how long the normal day's twelve hours take", "240")
  .option("--api <url>", "the Worker", `http://127.0.0.1:${process.env["PORT"] ?? 8787}`)
  .option("--issuer <url>", "the dev eID issuer", `http://127.0.0.1:${process.env["EID_PORT"] ?? 8788}`)
  .option("--official <id>", "the administrator who plays it", "bootstrap-admin")
  .option("--key <file>", "their private key", join(ROOT, ".dev", "bootstrap-admin.jwk.json"))
  .action(
    async (name: string, options: { api: string; issuer: string; official: string; key: string; seconds: string }) => {
      if (name === "list") {
        for (const [drill, spec] of Object.entries(DRILLS))
          console.log(`${drill.padEnd(24)} ${spec.rule.padEnd(26)} ${spec.title}`);
        return;
      }
      if (name === "normal-day") {
        const admin = new OfficialClient({ baseUrl: options.api, officialId: options.official, keyFile: options.key });
        const day = await playNormalDay(
          { api: options.api, issuer: options.issuer, admin },
          { seconds: Number(options.seconds), seed: Date.now() },
        );
        console.log(
          `election ${day.electionId}: ${day.online} online and ${day.paper} paper voters; noise ${JSON.stringify(day.noise)}`,
        );
        for (const failure of day.failures) console.log(`  FAILED: ${failure}`);
        console.log(`${day.alerts.length} alerts (false positives):`);
        for (const a of day.alerts) console.log(`  ${a.severity} ${a.rule} ${a.scope}: ${a.summary}`);
        if (day.alerts.length > 0 || day.failures.length > 0) process.exitCode = 1;
        return;
      }
      const names = name === "all" ? (Object.keys(DRILLS) as DrillName[]) : isDrill(name) ? [name] : undefined;
      if (!names) {
        console.error(`No drill "${name}". Drills: ${Object.keys(DRILLS).join(", ")}.`);
        process.exitCode = 2;
        return;
      }
      const admin = new OfficialClient({ baseUrl: options.api, officialId: options.official, keyFile: options.key });
      const ctx = { api: options.api, issuer: options.issuer, admin };
      for (const drill of names) {
        console.log(`\n${drill}: ${DRILLS[drill].title}`);
        const outcome = await runDrill(ctx, drill);
        console.log(`  election ${outcome.electionId}`);
        if (outcome.alert) {
          const a = outcome.alert;
          console.log(`  alert ${a.id} (${a.severity}, ${a.rule}, ${a.scope}) ${outcome.afterMs} ms after it was due:`);
          console.log(`    ${a.summary}`);
          console.log(`    evidence: ${JSON.stringify(a.evidence)}`);
        }
        const others = outcome.raised.filter((a) => a.rule !== outcome.rule).map((a) => a.rule);
        if (others.length > 0) console.log(`  also raised: ${[...new Set(others)].join(", ")}`);
        if (outcome.problem) {
          console.log(`  PROBLEM: ${outcome.problem}`);
          process.exitCode = 1;
        }
      }
    },
  );

await program.parseAsync();
