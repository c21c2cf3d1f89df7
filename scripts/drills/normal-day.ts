/**
 * A normal election day, compressed, against the running system: the demo roll (1,000 voters)
 * votes over twelve hours played in a few minutes, online and at one station per district, with
 * the day's shape (a burst at opening, a lunchtime bump, the after-work peak) and its ordinary
 * noise (a few mistyped logins, voters who voted online and come to a station anyway, a
 * double-clicked cast). The election's monitor runs with its default thresholds, its buckets
 * compressed by the same factor as the day, so every window sees what it would see in a real day.
 * A monitor that raises any alert on this day raises false positives (`npm run drill -- normal-day`,
 * test/node/normal-day.test.ts).
 */
import { MonitorStatus, type Alert } from "../../lib/monitor/alerts.ts";
import { seeded } from "../../lib/seeded.ts";
import { StationCallError } from "../../lib/station-client/client.ts";
import {
  alertsOf,
  cast,
  drillElection,
  forgedIdToken,
  forgedLogin,
  vote,
  voterAuth,
  type DistrictName,
  type DrillContext,
  type DrillVoter,
} from "./setup.ts";

/** Twelve hours' share of the day's voters, hour by hour: opening burst, lunch, after work. */
const HOURLY_SHARE = [12, 7, 6, 6, 9, 7, 6, 7, 9, 13, 11, 7];
const DAY_MS = 12 * 3600_000;

export interface NormalDayOptions {
  /** How long the twelve hours take, in seconds. */
  readonly seconds: number;
  readonly seed: number;
  /** Share of the roll that votes, and of those the share that votes online. */
  readonly turnout?: number;
  readonly online?: number;
}

export interface NormalDay {
  readonly electionId: string;
  readonly online: number;
  readonly paper: number;
  /** The noise played: refused logins, refused check-ins, refused casts. */
  readonly noise: { readonly forgedLogins: number; readonly refusedCheckIns: number; readonly refusedCasts: number };
  /** What went wrong that should not have (a refused ballot of an ordinary voter). */
  readonly failures: readonly string[];
  /** Every alert the monitor raised: on a normal day, none. */
  readonly alerts: readonly Alert[];
  /** The monitor's status at the end: it was watching (its timer ran, the aggregator kept up). */
  readonly status: MonitorStatus;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i -= 1) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** A moment of the day (0..DAY_MS) drawn from the hourly shares. */
function timeOfDay(random: () => number): number {
  const total = HOURLY_SHARE.reduce((a, b) => a + b, 0);
  let pick = random() * total;
  for (const [hour, share] of HOURLY_SHARE.entries()) {
    if (pick < share) return (hour + random()) * 3600_000;
    pick -= share;
  }
  return DAY_MS - 1;
}

export async function playNormalDay(ctx: DrillContext, options: NormalDayOptions): Promise<NormalDay> {
  const random = seeded(options.seed);
  const scale = (options.seconds * 1000) / DAY_MS;
  const e = await drillElection(ctx, {
    name: "normal-day",
    demoRoll: true,
    stations: [["north"], ["south"], ["east"]],
    // One minute of the day is one bucket, as in a real election.
    monitoring: { bucketSeconds: 60 * scale },
  });
  const stationOf = (d: DistrictName) => e.stations[["north", "south", "east"].indexOf(d)];
  const serials = new Map(e.stations.map((s) => [s.id, s.firstSerial]));

  const voting = shuffle(e.voters, random).slice(0, Math.round(e.voters.length * (options.turnout ?? 0.75)));
  const onlineShare = options.online ?? 0.6;
  const failures: string[] = [];
  const noise = { forgedLogins: 0, refusedCheckIns: 0, refusedCasts: 0 };
  const started = Date.now();
  const at = (dayMs: number): Promise<void> =>
    new Promise((r) => setTimeout(r, Math.max(0, started + dayMs * scale - Date.now())));

  const paperVote = async (voter: DrillVoter, dayMs: number): Promise<void> => {
    const station = stationOf(voter.district);
    if (!station) throw new Error(`no station for ${voter.district}`);
    await at(dayMs);
    await station.client.checkIn({ electionId: e.id, nationalId: voter.nationalId, identity: { method: "id-card" } });
    // One to four minutes in the booth.
    await at(dayMs + (1 + random() * 3) * 60_000);
    const serial = serials.get(station.id) ?? 0;
    serials.set(station.id, serial + 1);
    await station.client.scan({ electionId: e.id, qr: await station.print(voter.district, serial) });
  };

  const plays: Promise<void>[] = [];
  const onlineVoters: DrillVoter[] = [];
  /** Online voters who voted before 11:00 of the day: the late noise may play them again. */
  const earlyOnline: DrillVoter[] = [];
  for (const voter of voting) {
    const dayMs = timeOfDay(random);
    const online = random() < onlineShare;
    if (online) onlineVoters.push(voter);
    if (online && dayMs < 11 * 3600_000) earlyOnline.push(voter);
    plays.push(
      (online ? at(dayMs).then(() => vote(ctx, e.id, voter.nationalId)) : paperVote(voter, dayMs)).catch(
        (error: unknown) => void failures.push(`${voter.nationalId}: ${String(error)}`),
      ),
    );
  }

  // The noise of an ordinary day, spread over it.
  for (let i = 0; i < 6; i += 1) {
    const voter = e.voters[Math.floor(random() * e.voters.length)];
    plays.push(
      at(timeOfDay(random)).then(async () => {
        // A login whose ID token was spoilt on the way (a mistyped code, an expired token).
        await forgedLogin(ctx, e.id, await forgedIdToken(ctx, voter?.nationalId ?? ""));
        noise.forgedLogins += 1;
      }),
    );
  }
  // Two voters who voted online come to their station anyway, late in the day, at two stations.
  for (const voter of onlineVoters
    .filter((v, i, all) => all.findIndex((w) => w.district === v.district) === i)
    .slice(0, 2)) {
    plays.push(
      at(11.5 * 3600_000 + random() * 1800_000).then(async () => {
        try {
          await stationOf(voter.district)?.client.checkIn({
            electionId: e.id,
            nationalId: voter.nationalId,
            identity: { method: "id-card" },
          });
          failures.push(`${voter.nationalId}: checked in after voting online`);
        } catch (error) {
          if (!(error instanceof StationCallError && error.code === "may_not_issue_ballot")) throw error;
          noise.refusedCheckIns += 1;
        }
      }),
    );
  }
  // A double-clicked cast: the second, with a fresh key, is refused.
  const clicker = earlyOnline[earlyOnline.length - 1];
  if (clicker) {
    plays.push(
      at(11.9 * 3600_000).then(async () => {
        const res = await cast(ctx, e.id, await voterAuth(ctx, e.id, clicker.nationalId));
        await res.body?.cancel();
        if (res.status === 201) failures.push(`${clicker.nationalId}: voted twice`);
        else noise.refusedCasts += 1;
      }),
    );
  }

  await Promise.all(plays);
  // The last ballots through the queues, and two of the monitor's timer ticks.
  await new Promise((r) => setTimeout(r, 4000));
  return {
    electionId: e.id,
    online: onlineVoters.length,
    paper: voting.length - onlineVoters.length,
    noise,
    failures,
    alerts: await alertsOf(ctx, e.id),
    status: MonitorStatus.parse(await ctx.admin.call("GET", `/v1/admin/elections/${e.id}/monitor`)),
  };
}
