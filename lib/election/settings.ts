/**
 * Our own settings that the NIST ElectionReport has no place for: the policies of DESIGN.md
 * section 4, the poll times and the geofence. They travel beside the report in one definition
 * document (see definition.ts).
 */
import * as z from "zod";
import {
  CastVoteRecordsMode,
  CountryCode,
  CrossChannelPolicy,
  GeofenceAction,
  ResultsVisibility,
} from "../vocabulary.ts";
import { MonitoringSettings } from "../monitor/rules.ts";

export const ElectionId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/, "an election id is 3-64 lowercase letters, digits and dashes");

export const ElectionSettings = z
  .object({
    electionId: ElectionId,
    /** DESIGN.md section 4: `first-wins` (CHVote) or `paper-supersedes` (IVXV). */
    crossChannelPolicy: CrossChannelPolicy,
    /** Whether the public sees results while polls are open; officials always do. */
    resultsVisibility: ResultsVisibility,
    polls: z
      .object({
        opensAt: z.iso.datetime({ offset: true }),
        closesAt: z.iso.datetime({ offset: true }),
      })
      .strict()
      .refine((p) => !(Date.parse(p.opensAt) >= Date.parse(p.closesAt)), {
        message: "polls must open before they close",
        path: ["closesAt"],
      }),
    geofence: z
      .object({
        /** Countries from which online voting is allowed; empty means everywhere. */
        allowedCountries: z.array(CountryCode).max(250),
        /** What happens to a request from elsewhere: refused, or accepted and flagged. */
        outside: GeofenceAction,
      })
      .strict(),
    /**
     * k, the fewest ballots any public release may add per district (H2 and M4 of the security
     * review): a public live-results snapshot appears only when every district that changed, and
     * the nation, gained at least k ballots since the last one (the first waits for k too), and
     * cast vote records published after the first round come only in rounds of at least k per
     * district. Officials always see the exact count.
     */
    minBallotsPerRelease: z.number().int().min(1).max(100_000).default(25),
    /**
     * How cast vote records are published after the close: one record per contest, each contest's
     * records shuffled on their own (the default, against pattern voting), or whole ballots.
     */
    castVoteRecords: CastVoteRecordsMode.default("per-contest"),
    /**
     * How long after the close a station may still sync paper ballots it scanned (by its own
     * device-signed time) before the close.
     */
    paperSyncGraceMinutes: z
      .number()
      .int()
      .min(0)
      .max(7 * 24 * 60)
      .default(12 * 60),
    /**
     * What a BallotMeasureContest without ContestSelections gets (NIST allows none): "refuse" (the
     * default) refuses the definition and says where; "yes-no" adds the conventional two, Yes and
     * No in the definition's languages, and reports each addition as a warning.
     */
    missingBallotMeasureSelections: z.enum(["refuse", "yes-no"]).optional(),
    /**
     * The security monitor's thresholds (lib/monitor/rules.ts, docs/MONITORING.md). Optional, and
     * kept as sent (the stored definition is what the administrator sent): read it through
     * `monitoringOf`, which fills in the defaults.
     */
    monitoring: MonitoringSettings.optional(),
  })
  .strict();

export type ElectionSettings = z.infer<typeof ElectionSettings>;

const monitoringCache = new WeakMap<ElectionSettings, MonitoringSettings>();

/**
 * An election's monitoring settings with every default filled in. Parsed once per settings object
 * (a compiled election is cached per isolate), since the cast path asks on every accepted ballot.
 */
export function monitoringOf(settings: ElectionSettings): MonitoringSettings {
  let monitoring = monitoringCache.get(settings);
  if (!monitoring) {
    monitoring = MonitoringSettings.parse(settings.monitoring ?? {});
    monitoringCache.set(settings, monitoring);
  }
  return monitoring;
}
