/**
 * Live results on the wire: what a display receives, over a WebSocket from a results relay or
 * over HTTP as a versioned snapshot (docs/ARCHITECTURE.md, "Live results"). Runtime-free: the
 * relays, the gateway, the results page's script, the bench and the tests all speak it through
 * this file.
 *
 * A display first gets a `snapshot` (the whole release at one version), then `update`s, each the
 * change from the version before it: the national figures in full (they are small) and only the
 * districts whose figures changed. Versions only grow. A display that reconnects says the version
 * it holds (`since`) and gets an `update` from that version when the relay still holds it, a
 * `current` when it is already up to date, and a `snapshot` otherwise.
 *
 * Channels:
 * - `public`: the aggregator's public snapshots: no district moves by fewer than the election's
 *   minBallotsPerRelease ballots, at most four a second; with resultsVisibility `after-close`,
 *   turnout only (`choices` false, no contest figures) until the polls close.
 * - `official`: the exact sums, for administrators and auditors, at most four a second.
 *
 * Counts are the tally's (lib/tally/totals.ts): ids, not names; the page that shows them knows
 * the election's contests, options and districts.
 */
import * as z from "zod";
import { compareIds, ContestTotals, DistrictTotals } from "../tally/totals.ts";

/** The WebSocket subprotocol a display may ask for; the relay answers with it when asked. */
export const LIVE_PROTOCOL = "results.v1";

/** Text a display sends to keep its socket alive, and the relay's answer (no wake-up needed). */
export const HEARTBEAT_PING = "ping";
export const HEARTBEAT_PONG = "pong";
/** A display pings this often; a relay drops a socket silent for HEARTBEAT_TIMEOUT_MS. */
export const HEARTBEAT_INTERVAL_MS = 20_000;
export const HEARTBEAT_TIMEOUT_MS = 65_000;

export const LiveChannel = z.enum(["public", "official"]);
export type LiveChannel = z.infer<typeof LiveChannel>;

const Count = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);
const Version = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
const ElectionIdText = z.string().min(1).max(128);

/** What every message says about the release it carries. */
const ReleaseFields = {
  electionId: ElectionIdText,
  channel: LiveChannel,
  version: Version,
  /** When the numbers were taken, ms since the epoch. */
  asOf: z.number().int().min(0),
  /** True for exact sums (officials, or everyone once the polls have closed). */
  exact: z.boolean(),
  /** False while only turnout may be shown (resultsVisibility `after-close`, polls still open). */
  choices: z.boolean(),
  /** True once the polls have closed (the scheduled close). */
  closed: z.boolean(),
};

export const LiveTotals = z.object({
  shards: Count,
  ballots: Count,
  contests: z.array(ContestTotals),
  districts: z.array(DistrictTotals),
});

export const LiveSnapshot = z.object({ type: z.literal("snapshot"), ...ReleaseFields, totals: LiveTotals });
export type LiveSnapshot = z.infer<typeof LiveSnapshot>;

export const LiveUpdate = z.object({
  type: z.literal("update"),
  ...ReleaseFields,
  /** The version this update applies to. */
  from: z.number().int().min(0),
  shards: Count,
  ballots: Count,
  /** National figures, in full. */
  contests: z.array(ContestTotals),
  /** Only the districts whose figures changed since `from`. */
  districts: z.array(DistrictTotals),
});
export type LiveUpdate = z.infer<typeof LiveUpdate>;

export const LiveCurrent = z.object({
  type: z.literal("current"),
  electionId: ElectionIdText,
  channel: LiveChannel,
  version: z.number().int().min(0),
});
export type LiveCurrent = z.infer<typeof LiveCurrent>;

export const LiveMessage = z.discriminatedUnion("type", [LiveSnapshot, LiveUpdate, LiveCurrent]);
export type LiveMessage = z.infer<typeof LiveMessage>;

/** The small "latest version" pointer served over HTTP for clients that cannot hold a socket. */
export const LatestPointer = z.object({
  electionId: ElectionIdText,
  /** 0 before anything was released. */
  version: z.number().int().min(0),
  asOf: z.number().int().min(0).nullable(),
  /** Path of the immutable snapshot at `version`; null before anything was released. */
  snapshot: z.string().nullable(),
});
export type LatestPointer = z.infer<typeof LatestPointer>;

/**
 * The update that turns `older` into `newer`: national figures in full, and every district of
 * `newer` whose figures differ from `older`'s. Districts never disappear from a release.
 */
export function diffSnapshots(older: LiveSnapshot, newer: LiveSnapshot): LiveUpdate {
  const before = new Map(older.totals.districts.map((d) => [d.districtId, JSON.stringify(d)]));
  const { type: _type, totals, ...release } = newer;
  return {
    type: "update",
    ...release,
    from: older.version,
    shards: totals.shards,
    ballots: totals.ballots,
    contests: totals.contests,
    districts: totals.districts.filter((d) => before.get(d.districtId) !== JSON.stringify(d)),
  };
}

/**
 * Applies an update to the snapshot it was made from. Undefined when it does not apply (another
 * election or channel, or `from` is not the snapshot's version): the display then asks again
 * with the version it holds.
 */
export function applyUpdate(snapshot: LiveSnapshot, update: LiveUpdate): LiveSnapshot | undefined {
  if (update.electionId !== snapshot.electionId || update.channel !== snapshot.channel) return undefined;
  if (update.from !== snapshot.version || update.version <= snapshot.version) return undefined;
  const districts = new Map(snapshot.totals.districts.map((d) => [d.districtId, d]));
  for (const d of update.districts) districts.set(d.districtId, d);
  const { type: _type, from: _from, shards, ballots, contests, districts: _changed, ...release } = update;
  return {
    type: "snapshot",
    ...release,
    totals: {
      shards,
      ballots,
      contests,
      districts: [...districts.values()].sort((a, b) => compareIds(a.districtId, b.districtId)),
    },
  };
}
