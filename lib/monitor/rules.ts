/**
 * The security monitor's rules (DESIGN 3.7, docs/MONITORING.md): each has an id, a default
 * severity, the kind of scope its alerts name, and a sentence for officials. Their thresholds are
 * election configuration (`monitoring` in the election's settings, MonitoringSettings below); the
 * defaults are the figures docs/MONITORING.md argues for.
 *
 * No rule needs a voter's identity. Evidence names stations, districts, networks, countries and
 * times; a rule that counts one voter's attempts counts them under a keyed tag that never leaves
 * the monitor.
 */
import * as z from "zod";
import { AlertSeverity, CountryCode } from "../vocabulary.ts";

/** Every rule the monitor evaluates; ids are frozen (alerts, the log and operators' notes name them). */
export const RuleId = z.enum([
  "station-rate",
  "district-rate",
  "rate-surge",
  "turnout-over-100",
  "repeated-attempts",
  "flagged-country",
  "qr-replay",
  "check-ins-without-ballots",
  "ballots-without-check-ins",
  "result-sheet-mismatch",
  "online-ballots-cancelled",
  "check-in-conflicts",
  "offline-conflicts",
  "log-stalled",
  "dead-letters",
  "aggregator-lagging",
]);
export type RuleId = z.infer<typeof RuleId>;

const Enabled = z.boolean().default(true);
const Buckets = z
  .number()
  .int()
  .min(1)
  .max(24 * 60);
const Count = z.number().int().min(1).max(10_000_000);
const Share = z.number().min(0).max(10);
const Seconds = z
  .number()
  .int()
  .min(1)
  .max(24 * 3600);

/** A rule's settings: whether it runs, the severity of its alerts, and its own thresholds. */
function rule<T extends z.ZodRawShape>(severity: AlertSeverity, shape: T) {
  return z.object({ enabled: Enabled, severity: AlertSeverity.default(severity), ...shape }).strict();
}

export const MonitoringSettings = z
  .object({
    /**
     * The width of one rolling-window bucket, in seconds (a minute in an election; a drill or a
     * compressed test day may set less). Every rule's window is a number of buckets.
     */
    bucketSeconds: z.number().min(0.05).max(3600).default(60),
    /** Countries whose logins and ballots raise flagged-country (beside the geofence's own "flag"). */
    flaggedCountries: z.array(CountryCode).max(250).default([]),
    rules: z
      .object({
        "station-rate": rule("high", {
          windowBuckets: Buckets.default(5),
          maxPerWindow: Count.default(50),
        }).prefault({}),
        "district-rate": rule("high", {
          windowBuckets: Buckets.default(10),
          maxShareOfRegistered: Share.default(0.1),
          minBallots: Count.default(20),
        }).prefault({}),
        "rate-surge": rule("medium", {
          windowBuckets: Buckets.default(5),
          baselineBuckets: Buckets.default(60),
          warmupBuckets: Buckets.default(30),
          factor: z.number().min(1).max(1000).default(5),
          minCount: Count.default(30),
        }).prefault({}),
        "turnout-over-100": rule("high", {}).prefault({}),
        "repeated-attempts": rule("medium", {
          windowBuckets: Buckets.default(10),
          perVoter: Count.default(5),
          perAddress: Count.default(30),
          perNetwork: Count.default(200),
        }).prefault({}),
        "flagged-country": rule("medium", {
          windowBuckets: Buckets.default(60),
          minCount: Count.default(1),
        }).prefault({}),
        "qr-replay": rule("high", { windowBuckets: Buckets.default(60), minCount: Count.default(1) }).prefault({}),
        "check-ins-without-ballots": rule("medium", {
          graceBuckets: Buckets.default(10),
          minGap: Count.default(10),
          maxShare: Share.default(0.1),
        }).prefault({}),
        "ballots-without-check-ins": rule("high", { minCount: Count.default(1) }).prefault({}),
        "result-sheet-mismatch": rule("high", {}).prefault({}),
        "online-ballots-cancelled": rule("high", {
          windowBuckets: Buckets.default(60),
          minCount: Count.default(5),
          maxShare: Share.default(0.2),
        }).prefault({}),
        "check-in-conflicts": rule("medium", {
          windowBuckets: Buckets.default(60),
          minCount: Count.default(3),
        }).prefault({}),
        "offline-conflicts": rule("medium", { minCount: Count.default(1) }).prefault({}),
        "log-stalled": rule("high", { stallSeconds: Seconds.default(30) }).prefault({}),
        "dead-letters": rule("high", { minCount: Count.default(1) }).prefault({}),
        "aggregator-lagging": rule("medium", { lagSeconds: Seconds.default(15) }).prefault({}),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type MonitoringSettings = z.infer<typeof MonitoringSettings>;
