/**
 * The security monitor's rule engine (DESIGN 3.7, docs/MONITORING.md), free of any runtime: the
 * Durable Object (durable-objects/security-monitor.ts) runs it over its SQLite tables, and a
 * simulated election day runs it over the in-memory store below with a simulated clock. Nothing
 * here reads the clock: every call takes `now` (epoch ms).
 *
 * Windows are counted in buckets: bucket = floor(atMs / (bucketSeconds * 1000)). A window of w
 * buckets ending at `now` covers the buckets nowBucket - w + 1 .. nowBucket. A signal dated after
 * `now` (a skewed clock) is counted in now's bucket, so nothing escapes every window.
 *
 * The engine returns firings; deduplication (one alert per rule and scope while it is open or
 * acknowledged) belongs to whoever keeps the alerts. A firing never holds a voter tag: a voter's
 * repeated attempts are scoped `voter:<n>`, a number the store gives the tag, and their evidence
 * names the district, networks, reasons and counts only.
 */
import type { SecurityEventName } from "../events.ts";
import type { AlertSeverity } from "../vocabulary.ts";
import type { Evidence } from "./alerts.ts";
import type { MonitoringSettings, RuleId } from "./rules.ts";
import type { MonitorSignal } from "./signals.ts";

/** What a rule says when its condition holds. */
export interface Firing {
  readonly rule: RuleId;
  readonly scope: string;
  readonly severity: AlertSeverity;
  readonly summary: string;
  readonly evidence: Evidence;
}

/**
 * Where the counts live. Bucket counts are per (metric, scope, bucket); totals are cumulative per
 * (metric, scope). Synchronous, so that the object can record and evaluate in one transaction.
 */
export interface MonitorStore {
  add(metric: string, scope: string, bucket: number, n: number): void;
  /** The sum of a metric's buckets fromBucket..toBucket (inclusive) for a scope. */
  count(metric: string, scope: string, fromBucket: number, toBucket: number): number;
  /** Every metric of a scope in the buckets, with its sum (a voter's reasons and networks). */
  breakdown(scope: string, prefix: string, fromBucket: number, toBucket: number): Map<string, number>;
  addTotal(metric: string, scope: string, n: number): void;
  total(metric: string, scope: string): number;
  /** The scopes that have a total of this metric (the timer's rules walk them). */
  scopesOf(metric: string): string[];
  /** The first bucket any signal of this scope was recorded in (rate-surge's warm-up). */
  firstBucket(scope: string): number | undefined;
  markFirst(scope: string, bucket: number): void;
  /** The number the store gives a voter tag while it is within the longest window (never the tag). */
  voterNumber(tag: string, bucket: number): number;
  /** Forgets buckets and voter numbers older than `beforeBucket`. */
  prune(beforeBucket: number): void;
}

/** What the rules know of the election beside the signals. */
export interface ElectionFacts {
  readonly settings: MonitoringSettings;
  /** Registered voters per district (the voter roll); undefined when not known. */
  registered(districtId: string): number | undefined;
  /** The districts a station serves (D1 station_districts), for its alerts' evidence. */
  districtsOf?(stationId: string): readonly string[] | undefined;
}

export function bucketOf(atMs: number, bucketSeconds: number): number {
  return Math.floor(atMs / (bucketSeconds * 1000));
}

function bucketStart(bucket: number, bucketSeconds: number): string {
  return new Date(Math.round(bucket * bucketSeconds * 1000)).toISOString();
}

/** Buckets a store must keep: the longest window any rule looks back over, and one more. */
export function retainedBuckets(settings: MonitoringSettings): number {
  const r = settings.rules;
  return (
    Math.max(
      r["station-rate"].windowBuckets,
      r["district-rate"].windowBuckets,
      r["rate-surge"].windowBuckets + r["rate-surge"].baselineBuckets,
      r["repeated-attempts"].windowBuckets,
      r["flagged-country"].windowBuckets,
      r["qr-replay"].windowBuckets,
      r["check-ins-without-ballots"].graceBuckets,
      r["online-ballots-cancelled"].windowBuckets,
      r["check-in-conflicts"].windowBuckets,
    ) + 1
  );
}

/** The events repeated-attempts counts. */
const ATTEMPT_EVENTS: ReadonlySet<SecurityEventName> = new Set([
  "voter-login-failed",
  "cast-refused",
  "rate-limited",
  "station-signature-invalid",
]);
/** The events flagged-country counts (beside any security event from a country the settings flag). */
const COUNTRY_EVENTS: ReadonlySet<SecurityEventName> = new Set([
  "geofence-flagged-login",
  "flagged-country-ballot",
  "geofence-refused",
]);
const STATION_EVENTS: ReadonlySet<SecurityEventName> = new Set([
  "paper-serial-reused",
  "paper-foreign-serial",
  "scans-exceed-check-ins",
  "result-sheet-mismatch",
  "result-sheet-conflict",
  "check-in-cancelled-online-ballot",
  "check-in-conflict",
  "offline-check-in-conflict",
]);

/** Metrics: bucket counts and totals, named here once. */
const M = {
  checkIn: "check-in",
  paper: "paper-ballot",
  held: "held",
  spoiled: "spoiled",
  ballot: "ballot",
  net: "net-ballots",
  /** check-ins + paper ballots of a station, ballots of a district: what the rate rules count. */
  activity: "activity",
  attempt: "attempt",
  country: "country-event",
} as const;

/**
 * Records the signals (each in its bucket, clamped to now's) and evaluates the rules they touch.
 * Returns the firings, at most one per rule and scope.
 */
export function observe(
  store: MonitorStore,
  facts: ElectionFacts,
  signals: readonly MonitorSignal[],
  now: number,
): Firing[] {
  const s = facts.settings;
  const nowBucket = bucketOf(now, s.bucketSeconds);
  const touched = {
    stations: new Set<string>(),
    districts: new Set<string>(),
    voters: new Set<number>(),
    addresses: new Set<string>(),
    networks: new Set<string>(),
    countries: new Set<string>(),
    stationEvents: new Set<string>(),
  };
  const add = (metric: string, scope: string, bucket: number, n: number): void => {
    store.add(metric, scope, bucket, n);
    store.addTotal(metric, scope, n);
  };
  const activity = (scope: string, bucket: number, n: number): void => {
    if (store.firstBucket(scope) === undefined) store.markFirst(scope, bucket);
    store.add(M.activity, scope, bucket, n);
  };
  for (const signal of signals) {
    const bucket = Math.min(bucketOf(signal.at, s.bucketSeconds), nowBucket);
    switch (signal.kind) {
      case "ballot": {
        const district = `district:${signal.districtId}`;
        add(M.ballot, district, bucket, signal.count);
        store.addTotal(M.net, district, signal.count);
        activity(district, bucket, signal.count);
        touched.districts.add(signal.districtId);
        if (signal.channel === "paper" && signal.stationId !== undefined) {
          const station = `station:${signal.stationId}`;
          add(M.paper, station, bucket, signal.count);
          activity(station, bucket, signal.count);
          touched.stations.add(signal.stationId);
        }
        break;
      }
      case "retraction":
        store.addTotal(M.net, `district:${signal.districtId}`, -signal.count);
        break;
      case "check-in": {
        const station = `station:${signal.stationId}`;
        add(M.checkIn, station, bucket, signal.count);
        activity(station, bucket, signal.count);
        touched.stations.add(signal.stationId);
        break;
      }
      case "held":
        add(M.held, `station:${signal.stationId}`, bucket, signal.count);
        break;
      case "spoiled":
        add(M.spoiled, `station:${signal.stationId}`, bucket, signal.count);
        break;
      case "security": {
        const n = signal.count;
        if (STATION_EVENTS.has(signal.event) && signal.stationId !== undefined) {
          add(signal.event, `station:${signal.stationId}`, bucket, n);
          touched.stationEvents.add(signal.stationId);
        }
        if (ATTEMPT_EVENTS.has(signal.event)) {
          const parts = [`event:${signal.event}`, `reason:${signal.reason ?? signal.event}`];
          if (signal.network !== undefined) parts.push(`network:${signal.network}`);
          if (signal.districtId !== undefined) parts.push(`district:${signal.districtId}`);
          if (signal.voterTag !== undefined) {
            const number = store.voterNumber(signal.voterTag, bucket);
            const voter = `voter:${number}`;
            store.add(M.attempt, voter, bucket, n);
            for (const p of parts) store.add(`${M.attempt}/${p}`, voter, bucket, n);
            touched.voters.add(number);
          }
          if (signal.address !== undefined) {
            store.add(M.attempt, `address:${signal.address}`, bucket, n);
            for (const p of parts) store.add(`${M.attempt}/${p}`, `address:${signal.address}`, bucket, n);
            touched.addresses.add(signal.address);
          }
          if (signal.network !== undefined) {
            store.add(M.attempt, `network:${signal.network}`, bucket, n);
            for (const p of parts) store.add(`${M.attempt}/${p}`, `network:${signal.network}`, bucket, n);
            touched.networks.add(signal.network);
          }
        }
        if (
          signal.country !== undefined &&
          (COUNTRY_EVENTS.has(signal.event) || s.flaggedCountries.includes(signal.country))
        ) {
          const country = `country:${signal.country}`;
          store.add(M.country, country, bucket, n);
          store.add(`${M.country}/${signal.event}`, country, bucket, n);
          touched.countries.add(signal.country);
        }
        break;
      }
    }
  }

  const firings: Firing[] = [];
  const push = (f: Firing | undefined): void => {
    if (f) firings.push(f);
  };
  for (const id of touched.stations) {
    push(stationRate(store, s, id, nowBucket));
    push(rateSurge(store, s, `station:${id}`, `Station ${id}`, "checked in or scanned", nowBucket));
    push(checkInsWithoutBallots(store, s, id, nowBucket));
    push(onlineBallotsCancelled(store, s, id, nowBucket));
  }
  for (const id of touched.districts) {
    push(districtRate(store, facts, id, nowBucket));
    push(rateSurge(store, s, `district:${id}`, `District ${id}`, "cast", nowBucket));
    push(turnoutOver100(facts, id, store.total(M.net, `district:${id}`), "monitor"));
  }
  for (const n of touched.voters)
    push(repeatedAttempts(store, s, `voter:${n}`, s.rules["repeated-attempts"].perVoter, nowBucket));
  for (const a of touched.addresses)
    push(repeatedAttempts(store, s, `address:${a}`, s.rules["repeated-attempts"].perAddress, nowBucket));
  for (const n of touched.networks)
    push(repeatedAttempts(store, s, `network:${n}`, s.rules["repeated-attempts"].perNetwork, nowBucket));
  for (const c of touched.countries) push(flaggedCountry(store, s, c, nowBucket));
  for (const id of touched.stationEvents) {
    push(qrReplay(store, s, id, nowBucket));
    push(ballotsWithoutCheckIns(store, s, id));
    push(resultSheetMismatch(store, s, id));
    push(onlineBallotsCancelled(store, s, id, nowBucket));
    push(checkInConflicts(store, s, id, nowBucket));
    push(offlineConflicts(store, s, id));
  }
  return dedupe(firings, facts);
}

function dedupe(firings: Firing[], facts: ElectionFacts): Firing[] {
  const seen = new Map<string, Firing>();
  for (const f of firings) {
    // A station's alert names the districts it serves, so an official sees which roll it touches.
    const districts = f.scope.startsWith("station:") ? facts.districtsOf?.(f.scope.slice(8)) : undefined;
    seen.set(`${f.rule} ${f.scope}`, districts ? { ...f, evidence: { ...f.evidence, districts: [...districts] } } : f);
  }
  return [...seen.values()];
}

function windowOf(nowBucket: number, buckets: number): [number, number] {
  return [nowBucket - buckets + 1, nowBucket];
}

function windowEvidence(s: MonitoringSettings, from: number, to: number): Evidence {
  return {
    windowBuckets: to - from + 1,
    bucketSeconds: s.bucketSeconds,
    windowStart: bucketStart(from, s.bucketSeconds),
    windowEnd: bucketStart(to + 1, s.bucketSeconds),
  };
}

/** "5 minutes", "30 seconds": a window's length for a summary. */
function duration(seconds: number): string {
  if (seconds >= 3600 && seconds % 3600 === 0) return plural(seconds / 3600, "hour");
  if (seconds >= 60 && seconds % 60 === 0) return plural(seconds / 60, "minute");
  return plural(Math.round(seconds * 100) / 100, "second");
}

function plural(n: number, unit: string): string {
  return `${n} ${unit}${n === 1 ? "" : "s"}`;
}

function stationRate(store: MonitorStore, s: MonitoringSettings, id: string, nowBucket: number): Firing | undefined {
  const r = s.rules["station-rate"];
  if (!r.enabled) return undefined;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count(M.activity, `station:${id}`, from, to);
  if (count <= r.maxPerWindow) return undefined;
  return {
    rule: "station-rate",
    scope: `station:${id}`,
    severity: r.severity,
    summary: `Station ${id} checked in or scanned ${plural(count, "voter")} in ${duration(r.windowBuckets * s.bucketSeconds)}; the threshold is ${r.maxPerWindow}.`,
    evidence: {
      stationId: id,
      count,
      checkIns: store.count(M.checkIn, `station:${id}`, from, to),
      paperBallots: store.count(M.paper, `station:${id}`, from, to),
      threshold: r.maxPerWindow,
      ...windowEvidence(s, from, to),
    },
  };
}

function districtRate(store: MonitorStore, facts: ElectionFacts, id: string, nowBucket: number): Firing | undefined {
  const s = facts.settings;
  const r = s.rules["district-rate"];
  const registered = facts.registered(id);
  if (!r.enabled || registered === undefined) return undefined;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count(M.ballot, `district:${id}`, from, to);
  const threshold = r.maxShareOfRegistered * registered;
  if (count <= threshold || count < r.minBallots) return undefined;
  return {
    rule: "district-rate",
    scope: `district:${id}`,
    severity: r.severity,
    summary: `District ${id} received ${plural(count, "ballot")} in ${duration(r.windowBuckets * s.bucketSeconds)}, more than ${Math.round(r.maxShareOfRegistered * 1000) / 10}% of its ${registered} registered voters.`,
    evidence: {
      districtId: id,
      count,
      registered,
      maxShareOfRegistered: r.maxShareOfRegistered,
      threshold,
      minBallots: r.minBallots,
      ...windowEvidence(s, from, to),
    },
  };
}

function rateSurge(
  store: MonitorStore,
  s: MonitoringSettings,
  scope: string,
  name: string,
  verb: string,
  nowBucket: number,
): Firing | undefined {
  const r = s.rules["rate-surge"];
  const first = store.firstBucket(scope);
  if (!r.enabled || first === undefined || nowBucket - first < r.warmupBuckets) return undefined;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count(M.activity, scope, from, to);
  if (count < r.minCount) return undefined;
  // The baseline: the buckets before the window, back to the scope's first signal at most.
  const baseTo = from - 1;
  const baseFrom = Math.max(baseTo - r.baselineBuckets + 1, first);
  const baseBuckets = baseTo - baseFrom + 1;
  if (baseBuckets <= 0) return undefined;
  const base = store.count(M.activity, scope, baseFrom, baseTo);
  const average = (base / baseBuckets) * r.windowBuckets;
  if (count <= r.factor * average) return undefined;
  const rounded = Math.round(average * 10) / 10;
  return {
    rule: "rate-surge",
    scope,
    severity: r.severity,
    summary: `${name} ${verb} ${count} in ${duration(r.windowBuckets * s.bucketSeconds)}, more than ${r.factor} times its average of ${rounded} per window.`,
    evidence: {
      ...(scope.startsWith("station:") ? { stationId: scope.slice(8) } : { districtId: scope.slice(9) }),
      count,
      average: rounded,
      factor: r.factor,
      minCount: r.minCount,
      baselineBuckets: baseBuckets,
      baselineStart: bucketStart(baseFrom, s.bucketSeconds),
      ...windowEvidence(s, from, to),
    },
  };
}

/**
 * A district's net ballots above its registered voters. `source` says whose figure: the
 * monitor's own counts (on arrival) or the aggregator's exact totals (the timer's, authoritative).
 */
function turnoutOver100(
  facts: ElectionFacts,
  districtId: string,
  ballots: number,
  source: "monitor" | "aggregator",
): Firing | undefined {
  const r = facts.settings.rules["turnout-over-100"];
  const registered = facts.registered(districtId);
  if (!r.enabled || registered === undefined || ballots <= registered) return undefined;
  return {
    rule: "turnout-over-100",
    scope: `district:${districtId}`,
    severity: r.severity,
    summary: `District ${districtId} has ${plural(ballots, "ballot")} for ${plural(registered, "registered voter")}.`,
    evidence: { districtId, ballots, registered, source },
  };
}

function repeatedAttempts(
  store: MonitorStore,
  s: MonitoringSettings,
  scope: string,
  threshold: number,
  nowBucket: number,
): Firing | undefined {
  const r = s.rules["repeated-attempts"];
  if (!r.enabled) return undefined;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count(M.attempt, scope, from, to);
  if (count < threshold) return undefined;
  const parts = store.breakdown(scope, `${M.attempt}/`, from, to);
  const pick = (kind: string): Record<string, number> =>
    Object.fromEntries(
      [...parts]
        .filter(([k]) => k.startsWith(`${M.attempt}/${kind}:`))
        .map(([k, v]) => [k.slice(M.attempt.length + kind.length + 2), v]),
    );
  const kind = scope.slice(0, scope.indexOf(":"));
  const what =
    kind === "voter" ? "One voter" : kind === "address" ? `Address ${scope.slice(8)}` : `Network ${scope.slice(8)}`;
  const districts = Object.keys(pick("district"));
  return {
    rule: "repeated-attempts",
    scope,
    severity: r.severity,
    summary: `${what} made ${count} refused or limited attempts in ${duration(r.windowBuckets * s.bucketSeconds)}; the threshold is ${threshold}.`,
    evidence: {
      ...(kind === "address" ? { address: scope.slice(8) } : {}),
      ...(kind === "network" ? { network: scope.slice(8) } : {}),
      count,
      threshold,
      events: pick("event"),
      reasons: pick("reason"),
      networks: Object.keys(pick("network")),
      districts,
      ...windowEvidence(s, from, to),
    },
  };
}

function flaggedCountry(
  store: MonitorStore,
  s: MonitoringSettings,
  country: string,
  nowBucket: number,
): Firing | undefined {
  const r = s.rules["flagged-country"];
  if (!r.enabled) return undefined;
  const scope = `country:${country}`;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count(M.country, scope, from, to);
  if (count < r.minCount) return undefined;
  const events = Object.fromEntries(
    [...store.breakdown(scope, `${M.country}/`, from, to)].map(([k, v]) => [k.slice(M.country.length + 1), v]),
  );
  return {
    rule: "flagged-country",
    scope,
    severity: r.severity,
    summary: `${count === 1 ? "1 login or ballot" : `${count} logins or ballots`} came from flagged country ${country} in ${duration(r.windowBuckets * s.bucketSeconds)}; the threshold is ${r.minCount}.`,
    evidence: { country, count, threshold: r.minCount, events, ...windowEvidence(s, from, to) },
  };
}

function qrReplay(store: MonitorStore, s: MonitoringSettings, id: string, nowBucket: number): Firing | undefined {
  const r = s.rules["qr-replay"];
  if (!r.enabled) return undefined;
  const scope = `station:${id}`;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const reused = store.count("paper-serial-reused", scope, from, to);
  const foreign = store.count("paper-foreign-serial", scope, from, to);
  const count = reused + foreign;
  if (count < r.minCount) return undefined;
  return {
    rule: "qr-replay",
    scope,
    severity: r.severity,
    summary: `Station ${id} scanned ${count === 1 ? "1 ballot serial that was used before or belongs" : `${count} ballot serials that were used before or belong`} elsewhere in ${duration(r.windowBuckets * s.bucketSeconds)}; the threshold is ${r.minCount}.`,
    evidence: { stationId: id, count, reused, foreign, threshold: r.minCount, ...windowEvidence(s, from, to) },
  };
}

/**
 * Check-ins that should have become a ballot by now: those older than the grace, less the
 * station's paper ballots, held ones and spoiled ones (cumulative). Also run by the timer, since
 * the gap grows while nothing arrives.
 */
function checkInsWithoutBallots(
  store: MonitorStore,
  s: MonitoringSettings,
  id: string,
  nowBucket: number,
): Firing | undefined {
  const r = s.rules["check-ins-without-ballots"];
  if (!r.enabled) return undefined;
  const scope = `station:${id}`;
  const checkIns = store.total(M.checkIn, scope);
  const recent = store.count(M.checkIn, scope, nowBucket - r.graceBuckets + 1, nowBucket);
  const older = checkIns - recent;
  const paper = store.total(M.paper, scope);
  const held = store.total(M.held, scope);
  const spoiled = store.total(M.spoiled, scope);
  const gap = older - (paper + held + spoiled);
  const threshold = Math.max(r.minGap, r.maxShare * older);
  if (gap <= threshold) return undefined;
  return {
    rule: "check-ins-without-ballots",
    scope,
    severity: r.severity,
    summary: `Station ${id} has ${plural(gap, "check-in")} older than ${duration(r.graceBuckets * s.bucketSeconds)} without a ballot; the threshold is ${Math.round(threshold * 10) / 10}.`,
    evidence: {
      stationId: id,
      gap,
      checkInsPastGrace: older,
      paperBallots: paper,
      held,
      spoiled,
      threshold,
      minGap: r.minGap,
      maxShare: r.maxShare,
      graceBuckets: r.graceBuckets,
      bucketSeconds: s.bucketSeconds,
    },
  };
}

function ballotsWithoutCheckIns(store: MonitorStore, s: MonitoringSettings, id: string): Firing | undefined {
  const r = s.rules["ballots-without-check-ins"];
  if (!r.enabled) return undefined;
  const count = store.total("scans-exceed-check-ins", `station:${id}`);
  if (count < r.minCount) return undefined;
  return {
    rule: "ballots-without-check-ins",
    scope: `station:${id}`,
    severity: r.severity,
    summary: `Station ${id} scanned more ballots than it checked in voters ${count} ${count === 1 ? "time" : "times"}; the threshold is ${r.minCount}.`,
    evidence: { stationId: id, count, threshold: r.minCount },
  };
}

function resultSheetMismatch(store: MonitorStore, s: MonitoringSettings, id: string): Firing | undefined {
  const r = s.rules["result-sheet-mismatch"];
  if (!r.enabled) return undefined;
  const mismatches = store.total("result-sheet-mismatch", `station:${id}`);
  const conflicts = store.total("result-sheet-conflict", `station:${id}`);
  if (mismatches + conflicts === 0) return undefined;
  return {
    rule: "result-sheet-mismatch",
    scope: `station:${id}`,
    severity: r.severity,
    summary: `Station ${id}'s result sheet disagrees with the count (${mismatches} ${mismatches === 1 ? "mismatch" : "mismatches"}, ${conflicts} conflicting ${conflicts === 1 ? "sheet" : "sheets"}).`,
    evidence: { stationId: id, mismatches, conflicts },
  };
}

function onlineBallotsCancelled(
  store: MonitorStore,
  s: MonitoringSettings,
  id: string,
  nowBucket: number,
): Firing | undefined {
  const r = s.rules["online-ballots-cancelled"];
  if (!r.enabled) return undefined;
  const scope = `station:${id}`;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count("check-in-cancelled-online-ballot", scope, from, to);
  const checkIns = store.count(M.checkIn, scope, from, to);
  if (count < r.minCount || count < r.maxShare * checkIns) return undefined;
  return {
    rule: "online-ballots-cancelled",
    scope,
    severity: r.severity,
    summary: `Station ${id} cancelled ${plural(count, "online ballot")} by check-in among ${plural(checkIns, "check-in")} in ${duration(r.windowBuckets * s.bucketSeconds)}; the threshold is ${r.minCount} and ${Math.round(r.maxShare * 1000) / 10}%.`,
    evidence: {
      stationId: id,
      count,
      checkIns,
      minCount: r.minCount,
      maxShare: r.maxShare,
      ...windowEvidence(s, from, to),
    },
  };
}

function checkInConflicts(
  store: MonitorStore,
  s: MonitoringSettings,
  id: string,
  nowBucket: number,
): Firing | undefined {
  const r = s.rules["check-in-conflicts"];
  if (!r.enabled) return undefined;
  const [from, to] = windowOf(nowBucket, r.windowBuckets);
  const count = store.count("check-in-conflict", `station:${id}`, from, to);
  if (count < r.minCount) return undefined;
  return {
    rule: "check-in-conflicts",
    scope: `station:${id}`,
    severity: r.severity,
    summary: `Station ${id} had ${plural(count, "check-in conflict")} in ${duration(r.windowBuckets * s.bucketSeconds)}; the threshold is ${r.minCount}.`,
    evidence: { stationId: id, count, threshold: r.minCount, ...windowEvidence(s, from, to) },
  };
}

function offlineConflicts(store: MonitorStore, s: MonitoringSettings, id: string): Firing | undefined {
  const r = s.rules["offline-conflicts"];
  if (!r.enabled) return undefined;
  const count = store.total("offline-check-in-conflict", `station:${id}`);
  if (count < r.minCount) return undefined;
  return {
    rule: "offline-conflicts",
    scope: `station:${id}`,
    severity: r.severity,
    summary: `Station ${id} uploaded ${count === 1 ? "1 offline check-in that conflicted" : `${count} offline check-ins that conflicted`} with others; the threshold is ${r.minCount}.`,
    evidence: { stationId: id, count, threshold: r.minCount },
  };
}

/** What the timer reads of the machinery (the log, the dead letters, the aggregator). */
export interface TimerFacts {
  readonly log?: {
    readonly size: number;
    readonly publishedSize: number;
    readonly pooled: number;
    readonly halted: string | null;
    /** Seconds since publishedSize last changed (as the caller tracks it). */
    readonly unchangedSeconds: number;
  };
  readonly deadLetters?: number;
  readonly aggregator?: {
    /** Net ballots the monitor heard of, less the aggregator's exact total. */
    readonly behind: number;
    /** Seconds it has been behind without a break. */
    readonly laggingSeconds: number;
    /** The exact totals per district (turnout-over-100's authoritative figure). */
    readonly districts: readonly { readonly districtId: string; readonly ballots: number }[];
  };
}

/**
 * The timer's rules: log-stalled, dead-letters, aggregator-lagging, turnout-over-100 from the
 * aggregator's totals, and check-ins-without-ballots for every station (its gap grows in silence).
 */
export function evaluateTimer(store: MonitorStore, facts: ElectionFacts, timer: TimerFacts, now: number): Firing[] {
  const s = facts.settings;
  const nowBucket = bucketOf(now, s.bucketSeconds);
  const firings: Firing[] = [];
  const log = timer.log;
  const stalled = s.rules["log-stalled"];
  if (stalled.enabled && log) {
    const backlog = log.size - log.publishedSize + log.pooled;
    if (log.halted !== null) {
      firings.push({
        rule: "log-stalled",
        scope: "election",
        severity: stalled.severity,
        summary: `The audit log halted: ${log.halted}.`,
        evidence: { halted: log.halted, size: log.size, publishedSize: log.publishedSize, pooled: log.pooled, backlog },
      });
    } else if (backlog > 0 && log.unchangedSeconds >= stalled.stallSeconds) {
      firings.push({
        rule: "log-stalled",
        scope: "election",
        severity: stalled.severity,
        summary: `The audit log has ${backlog === 1 ? "1 entry" : `${backlog} entries`} waiting and published nothing for ${Math.floor(log.unchangedSeconds)} seconds; the threshold is ${stalled.stallSeconds}.`,
        evidence: {
          size: log.size,
          publishedSize: log.publishedSize,
          pooled: log.pooled,
          backlog,
          unchangedSeconds: Math.floor(log.unchangedSeconds),
          threshold: stalled.stallSeconds,
        },
      });
    }
  }
  const dead = s.rules["dead-letters"];
  if (dead.enabled && timer.deadLetters !== undefined && timer.deadLetters >= dead.minCount) {
    firings.push({
      rule: "dead-letters",
      scope: "election",
      severity: dead.severity,
      summary: `${timer.deadLetters} ${timer.deadLetters === 1 ? "message" : "messages"} of this election went to the dead-letter queue; the threshold is ${dead.minCount}.`,
      evidence: { deadLetters: timer.deadLetters, threshold: dead.minCount },
    });
  }
  const lag = s.rules["aggregator-lagging"];
  const agg = timer.aggregator;
  if (lag.enabled && agg && agg.behind > 0 && agg.laggingSeconds >= lag.lagSeconds) {
    firings.push({
      rule: "aggregator-lagging",
      scope: "election",
      severity: lag.severity,
      summary: `The results aggregator is ${plural(agg.behind, "ballot")} behind and has been for ${Math.floor(agg.laggingSeconds)} seconds; the threshold is ${lag.lagSeconds}.`,
      evidence: { behind: agg.behind, laggingSeconds: Math.floor(agg.laggingSeconds), threshold: lag.lagSeconds },
    });
  }
  for (const d of agg?.districts ?? []) {
    const f = turnoutOver100(facts, d.districtId, d.ballots, "aggregator");
    if (f) firings.push(f);
  }
  for (const scope of store.scopesOf(M.checkIn)) {
    const f = checkInsWithoutBallots(store, s, scope.slice(8), nowBucket);
    if (f) firings.push(f);
  }
  return dedupe(firings, facts);
}

/** The monitor's net ballots of the election (all districts), for aggregator-lagging. */
export function heardBallots(store: MonitorStore): number {
  return store.scopesOf(M.net).reduce((n, scope) => n + store.total(M.net, scope), 0);
}

/**
 * A store in memory, for tests and the simulated election day. Counts are indexed by scope, then
 * metric, then bucket, so a scope's breakdown never walks other scopes; the caller prunes (as
 * the object does after each observe) to keep it to the longest window.
 */
export class MemoryStore implements MonitorStore {
  private readonly buckets = new Map<string, Map<string, Map<number, number>>>();
  private readonly totals = new Map<string, Map<string, number>>();
  private readonly firsts = new Map<string, number>();
  private readonly voters = new Map<string, { n: number; last: number }>();
  private nextVoter = 1;

  add(metric: string, scope: string, bucket: number, n: number): void {
    let metrics = this.buckets.get(scope);
    if (!metrics) this.buckets.set(scope, (metrics = new Map()));
    let m = metrics.get(metric);
    if (!m) metrics.set(metric, (m = new Map()));
    m.set(bucket, (m.get(bucket) ?? 0) + n);
  }
  count(metric: string, scope: string, fromBucket: number, toBucket: number): number {
    const m = this.buckets.get(scope)?.get(metric);
    if (!m) return 0;
    let sum = 0;
    if (toBucket - fromBucket + 1 < m.size) {
      for (let b = fromBucket; b <= toBucket; b++) sum += m.get(b) ?? 0;
    } else {
      for (const [b, n] of m) if (b >= fromBucket && b <= toBucket) sum += n;
    }
    return sum;
  }
  breakdown(scope: string, prefix: string, fromBucket: number, toBucket: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const metric of this.buckets.get(scope)?.keys() ?? []) {
      if (!metric.startsWith(prefix)) continue;
      const n = this.count(metric, scope, fromBucket, toBucket);
      if (n > 0) out.set(metric, n);
    }
    return out;
  }
  addTotal(metric: string, scope: string, n: number): void {
    let metrics = this.totals.get(metric);
    if (!metrics) this.totals.set(metric, (metrics = new Map()));
    metrics.set(scope, (metrics.get(scope) ?? 0) + n);
  }
  total(metric: string, scope: string): number {
    return this.totals.get(metric)?.get(scope) ?? 0;
  }
  scopesOf(metric: string): string[] {
    return [...(this.totals.get(metric)?.keys() ?? [])];
  }
  firstBucket(scope: string): number | undefined {
    return this.firsts.get(scope);
  }
  markFirst(scope: string, bucket: number): void {
    if (!this.firsts.has(scope)) this.firsts.set(scope, bucket);
  }
  voterNumber(tag: string, bucket: number): number {
    const held = this.voters.get(tag);
    if (held) {
      held.last = Math.max(held.last, bucket);
      return held.n;
    }
    const n = this.nextVoter++;
    this.voters.set(tag, { n, last: bucket });
    return n;
  }
  prune(beforeBucket: number): void {
    for (const [scope, metrics] of this.buckets) {
      for (const [metric, m] of metrics) {
        for (const b of [...m.keys()]) if (b < beforeBucket) m.delete(b);
        if (m.size === 0) metrics.delete(metric);
      }
      if (metrics.size === 0) this.buckets.delete(scope);
    }
    for (const [tag, v] of [...this.voters]) if (v.last < beforeBucket) this.voters.delete(tag);
  }
}
