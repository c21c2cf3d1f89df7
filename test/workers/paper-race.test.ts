/**
 * The cross-channel race through the real routes: a voter casts online and is checked in at a
 * station at the same moment, many times over, under both policies. Once the paper ballots are
 * scanned and the queue has drained, the results count exactly one ballot per voter: online votes
 * go to one candidate and paper votes to another, so the totals show which channel won each race.
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { adminToken, BASE, voterSession } from "./helpers/auth.ts";
import { cast, waitFor, type CastContest } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";
import { compiledElection, markedBallotQr, registerStation } from "./helpers/station.ts";

const VOTERS = 25;
const ONLINE = "sel-president-aino-tamm";
const PAPER = "sel-president-juhan-mets";

function ballot(president: string): CastContest[] {
  return [
    { contestId: "contest-president", optionIds: [president] },
    { contestId: "contest-parliament-north", optionIds: [] },
    { contestId: "contest-referendum-voting-age", optionIds: [] },
  ];
}

const Results = z.object({
  turnout: z.object({ ballotsCounted: z.number() }),
  contests: z.array(z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), votes: z.number() })) })),
});

async function presidentVotes(electionId: string): Promise<{ ballots: number; online: number; paper: number }> {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/results`, {
    headers: { authorization: `Bearer ${await adminToken()}` },
  });
  const results = Results.parse(await res.json());
  const president = results.contests.find((c) => c.id === "contest-president");
  const votes = (id: string): number => president?.options.find((o) => o.id === id)?.votes ?? 0;
  return { ballots: results.turnout.ballotsCounted, online: votes(ONLINE), paper: votes(PAPER) };
}

async function race(policy: "first-wins" | "paper-supersedes"): Promise<void> {
  const electionId = `race-${policy}`;
  await loadDemoElection({ electionId, crossChannelPolicy: policy });
  const election = await compiledElection(electionId);
  // Serial ranges never overlap between stations, whatever the election.
  const base = policy === "first-wins" ? 1 : 1_001;
  const station = await registerStation(["district-north"], { serialRanges: [{ first: base, last: base + 999 }] });

  let onlineCounted = 0;
  let paperCounted = 0;
  let onlineAcceptedTotal = 0;
  for (let i = 0; i < VOTERS; i += 1) {
    const nationalId = `EE-RACE-${policy === "first-wins" ? "F" : "S"}${String(i).padStart(3, "0")}`;
    await enrol(electionId, nationalId, "district-north");
    const session = await voterSession(electionId, nationalId);
    // The station's path is longer (signature, replay guard, roll) than the online one, so the
    // online side starts after a varying number of round trips, for both orders to happen.
    // (Timers do not advance inside workerd without I/O, so the delay is made of I/O.)
    const online = async (): Promise<number> => {
      for (let k = 0; k < i % 5; k += 1) await SELF.fetch(`${BASE}/healthz`);
      return (await cast(electionId, session, ballot(ONLINE))).status;
    };
    const checkIn = station.client.checkIn({ electionId, nationalId, identity: { method: "id-card" } }).then(
      (answer) => answer,
      () => undefined,
    );
    // Under paper-supersedes a second online cast joins the race (a re-vote is allowed there).
    const [first, answer, second] = await Promise.all([
      online(),
      checkIn,
      policy === "paper-supersedes" ? online() : Promise.resolve(409),
    ]);
    const onlineAccepted = [first, second].filter((s) => s === 201).length;
    onlineAcceptedTotal += onlineAccepted;

    if (policy === "first-wins") {
      // Exactly one channel wins.
      expect(onlineAccepted + (answer ? 1 : 0)).toBe(1);
    } else {
      // The check-in always wins; any online ballot before it is cancelled (counted below), which
      // the station's answer does not tell.
      expect(answer).toBeDefined();
    }
    if (answer) {
      const qr = await markedBallotQr(station.bmd, election, answer.ballotStyleId, base + i, ballot(PAPER));
      expect((await station.client.scan({ electionId, qr })).replayed).toBe(false);
      paperCounted += 1;
    } else {
      onlineCounted += 1;
    }
  }
  expect(onlineCounted + paperCounted).toBe(VOTERS);
  if (policy === "paper-supersedes") expect(paperCounted).toBe(VOTERS);

  // Every message has been consumed once every accepted ballot has its anonymous record (each
  // online ballot has one, retracted or not); then exactly one ballot per voter still counts,
  // the paper ones with their station.
  const Count = z.object({
    channel: z.string(),
    station_id: z.string().nullable(),
    retracted: z.number(),
    n: z.number(),
  });
  const rows = await waitFor(async () => {
    const result = await env.DB.prepare(
      `SELECT channel, station_id, retracted, COUNT(*) AS n FROM cast_vote_records WHERE election_id = ?
       GROUP BY channel, station_id, retracted ORDER BY channel, retracted`,
    )
      .bind(electionId)
      .all();
    const counts = z.array(Count).parse(result.results);
    const total = counts.reduce((sum, r) => sum + r.n, 0);
    const counted = counts.filter((r) => r.retracted === 0).reduce((sum, r) => sum + r.n, 0);
    return total === paperCounted + onlineAcceptedTotal && counted === VOTERS
      ? counts.filter((r) => r.retracted === 0)
      : undefined;
  }, 30_000);
  expect(rows).toEqual([
    ...(onlineCounted > 0 ? [{ channel: "online", station_id: null, retracted: 0, n: onlineCounted }] : []),
    ...(paperCounted > 0 ? [{ channel: "paper", station_id: station.stationId, retracted: 0, n: paperCounted }] : []),
  ]);

  // And the results the officials see say the same.
  const expected = { ballots: VOTERS, online: onlineCounted, paper: paperCounted };
  const seen = await waitFor(async () => {
    const now = await presidentVotes(electionId);
    return now.ballots === expected.ballots && now.online === expected.online && now.paper === expected.paper
      ? now
      : undefined;
  }, 30_000);
  expect(seen).toEqual(expected);
}

describe("one voter, online and at a station at the same moment", () => {
  it("under first-wins: one channel wins each race; exactly one ballot per voter is counted", async () => {
    await race("first-wins");
  });

  it("under paper-supersedes: the paper ballot is counted, every online ballot is cancelled", async () => {
    await race("paper-supersedes");
  });
});
