/**
 * Live results as the public sees them (security review H2): snapshots in which no district's
 * figures move by fewer than k ballots, at most four a second, while officials see the exact sums
 * at once; and the edge cache in front of the public route (M9).
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import type { DistrictTotals } from "../../lib/tally/totals.ts";
import { adminToken, BASE, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

interface ResultsBody {
  version: number;
  asOf: string | null;
  exact: boolean;
  generatedAt: string;
  shardsReporting: number;
  turnout: { ballotsCounted: number; districts: { districtId: string; ballotsCounted: number }[] };
  contests: {
    id: string;
    options: { id: string; votes: number }[];
    districts: { districtId: string; options: { id: string; votes: number }[]; blanks: number }[];
  }[];
}

let hosts = 0;
/** A host of its own for each public read, so the edge cache (keyed by URL) never answers it. */
function freshBase(): string {
  hosts += 1;
  return `https://h${hosts}.vote.example`;
}

async function publicResults(electionId: string, base = freshBase(), ip = "10.61.0.1"): Promise<Response> {
  return SELF.fetch(`${base}/v1/elections/${electionId}/results`, { headers: { "cf-connecting-ip": ip } });
}

async function publicBody(electionId: string, base?: string): Promise<ResultsBody> {
  const res = await publicResults(electionId, base);
  expect(res.status).toBe(200);
  return res.json();
}

async function officialBody(electionId: string): Promise<ResultsBody> {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/results`, {
    headers: { authorization: `Bearer ${await adminToken()}` },
  });
  expect(res.status).toBe(200);
  return res.json();
}

/** What a poller compares between two reads: everything but the time of the answer. */
function figures(body: ResultsBody): unknown {
  const { generatedAt: _generatedAt, ...rest } = body;
  return rest;
}

function districtTurnout(body: ResultsBody, districtId: string): number {
  return body.turnout.districts.find((d) => d.districtId === districtId)?.ballotsCounted ?? -1;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function aggregator(electionId: string) {
  return env.RESULTS.get(env.RESULTS.idFromName(electionId));
}

function north(ballots: number, aino: number): DistrictTotals {
  return {
    districtId: "district-north",
    ballots,
    contests: [
      {
        contestId: "contest-president",
        options: [{ optionId: "sel-president-aino-tamm", votes: aino }],
        writeIns: 0,
        blanks: ballots - aino,
      },
    ],
  };
}

function south(ballots: number): DistrictTotals {
  return { ...north(ballots, ballots), districtId: "district-south" };
}

describe("live results: the quiet-district delta", () => {
  const E = "live-quiet";
  const K = 3;

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: K });
    for (let i = 0; i < K; i += 1) await enrol(E, `EE-QUIET-${i}`, "district-north");
  });

  it("shows officials each ballot at once, and the public nothing until k ballots of the district", async () => {
    const before = await publicBody(E);
    expect(before).toMatchObject({ version: 0, asOf: null, exact: false });
    expect(before.turnout.ballotsCounted).toBe(0);

    for (let i = 1; i < K; i += 1) {
      const session = await voterSession(E, `EE-QUIET-${i - 1}`);
      expect((await cast(E, session, NORTH_BALLOT)).status).toBe(201);
      // Officials: the exact sums, as soon as the tally reports.
      const exact = await waitFor(async () => {
        const b = await officialBody(E);
        return b.turnout.ballotsCounted === i ? b : undefined;
      });
      expect(exact.exact).toBe(true);
      expect(districtTurnout(exact, "district-north")).toBe(i);
      // The public, polling more than a second later: the very same snapshot, nothing moved, so
      // no delta holds this ballot's marks.
      await pause(1_100);
      const after = await publicBody(E);
      expect(figures(after)).toEqual(figures(before));
    }

    const session = await voterSession(E, `EE-QUIET-${K - 1}`);
    expect((await cast(E, session, NORTH_BALLOT)).status).toBe(201);
    const released = await waitFor(async () => {
      const b = await publicBody(E);
      return b.version > before.version ? b : undefined;
    });
    // The one delta the public ever saw covers k ballots together.
    expect(released.version).toBe(1);
    expect(released.asOf).not.toBeNull();
    expect(districtTurnout(released, "district-north")).toBe(K);
    expect(released.turnout.ballotsCounted).toBe(K);
    const president = released.contests.find((c) => c.id === "contest-president");
    expect(president?.options.find((o) => o.id === "sel-president-aino-tamm")?.votes).toBe(K);
    // And then it stays put.
    expect(figures(await publicBody(E))).toEqual(figures(released));
  });
});

describe("the results aggregator's public snapshots", () => {
  it("releases a district only when it moved by k, at most once per SNAPSHOT_INTERVAL_MS, with national totals of released districts only", async () => {
    const e = "live-snapshots";
    const agg = aggregator(e);
    expect(await agg.report(`${e}/district-north/0`, 1, north(24, 10))).toBe(true);
    // The first snapshot waits for k too.
    let snap = await agg.publicSnapshot(25, false);
    expect(snap).toMatchObject({ version: 0, asOf: null });
    expect(snap.totals.ballots).toBe(0);

    await agg.report(`${e}/district-north/0`, 2, north(25, 10));
    snap = await agg.publicSnapshot(25, false);
    expect(snap.version).toBe(1);
    expect(snap.totals.ballots).toBe(25);
    expect(snap.totals.shards).toBe(1);

    // Within the interval (two calls, milliseconds apart): no new snapshot, even for a
    // release-worthy change.
    await agg.report(`${e}/district-north/0`, 3, north(50, 20));
    expect((await agg.publicSnapshot(25, false)).version).toBe(1);

    // A quiet district's single ballot (on a new shard) is held back while the busy one moves,
    // and the national totals are the released districts' alone.
    await agg.report(`${e}/district-south/1`, 1, south(1));
    await pause(1_100);
    snap = await agg.publicSnapshot(25, false);
    expect(snap.version).toBe(2);
    expect(snap.totals.ballots).toBe(50);
    expect(snap.totals.districts.map((d) => [d.districtId, d.ballots])).toEqual([["district-north", 50]]);
    expect(snap.totals.shards).toBe(1);

    // A retraction is a change too: a re-vote that keeps the count but moves a mark is held.
    await agg.report(`${e}/district-north/0`, 4, north(50, 21));
    await pause(1_100);
    snap = await agg.publicSnapshot(25, false);
    expect(snap.version).toBe(2);
    expect(snap.totals.contests[0]?.options[0]?.votes).toBe(20);

    // The snapshot is a stored object (for the displays of a later issue too): version, time,
    // per district and national, as handed out.
    const stored = await runInDurableObject(agg, (_instance, state) =>
      state.storage.sql
        .exec<{ version: number; as_of: number; totals_json: string }>(
          `SELECT version, as_of, totals_json FROM public_snapshot WHERE id = 1`,
        )
        .one(),
    );
    expect(stored.version).toBe(snap.version);
    expect(JSON.parse(stored.totals_json)).toEqual(snap.totals);
    expect(stored.as_of).toBe(snap.asOf);

    // The exact sums stay for officials.
    const exact = await agg.exact();
    expect(exact.totals.ballots).toBe(51);
    expect(exact.version).toBe(4 + 1);

    // After the close everything is exact, at once.
    snap = await agg.publicSnapshot(25, true);
    expect(snap.version).toBe(3);
    expect(snap.totals).toEqual(exact.totals);
  });
});

describe("the public results route's edge cache", () => {
  const E = "live-cached";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
  });

  it("answers a repeated request within a few seconds from the cache, whatever the query string, without reaching the aggregator", async () => {
    const base = freshBase();
    await aggregator(E).report(`${E}/district-north/0`, 1, north(1, 1));
    const first = await publicResults(E, base);
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("public, max-age=5");
    const firstBody: ResultsBody = await first.json();
    expect(firstBody.turnout.ballotsCounted).toBe(1);

    // The underlying results change, and a new snapshot is due.
    await aggregator(E).report(`${E}/district-north/0`, 2, north(2, 2));
    await pause(1_100);
    for (const query of ["", "?nocache=1", "?electionId=x"]) {
      const again = await SELF.fetch(`${base}/v1/elections/${E}/results${query}`, {
        headers: { "cf-connecting-ip": "10.61.0.2" },
      });
      expect(again.status).toBe(200);
      expect(figures(await again.json())).toEqual(figures(firstBody));
    }
    // Past the cache (another URL), the new snapshot shows: the cache, not the rule, held it.
    expect((await publicBody(E)).turnout.ballotsCounted).toBe(2);

    // Officials are never served from a cache.
    const official = await SELF.fetch(`${BASE}/v1/admin/elections/${E}/results`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(official.headers.get("cache-control")).toBe("no-store");
  });
});
