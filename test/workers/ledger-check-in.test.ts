/**
 * The voter ledger's cross-channel rule at the ledger itself: check-ins and online casts for the
 * same voter, one after the other and racing, under both policies.
 */
import { env, runDurableObjectAlarm } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { ledgerFor, ledgerNameFor } from "../../durable-objects/addresses.ts";
import type { CastOnlineRequest, CheckInRequest } from "../../durable-objects/voter-ledger.ts";
import { ledgerCastRequest, ledgerCheckInRequest } from "./helpers/ledger.ts";

type Policy = "first-wins" | "paper-supersedes";

const castRequest = (electionId: string, voterKey: string, policy: Policy): CastOnlineRequest =>
  ledgerCastRequest(electionId, voterKey, policy);

const checkInRequest = (electionId: string, voterKey: string, policy: Policy, stationId?: string): CheckInRequest =>
  ledgerCheckInRequest(electionId, voterKey, policy, stationId);

describe("check-in under first-wins", () => {
  it("an online ballot refuses the check-in; a check-in refuses a later online ballot", async () => {
    const e = "ledger-fw-1";
    const ledger = ledgerFor(env, e, "voter-a");
    expect((await ledger.castOnline(castRequest(e, "voter-a", "first-wins"))).ok).toBe(true);
    expect(await ledger.checkIn(checkInRequest(e, "voter-a", "first-wins"))).toEqual({
      ok: false,
      error: "already_voted_online",
    });

    const other = ledgerFor(env, e, "voter-b");
    const checkIn = await other.checkIn(checkInRequest(e, "voter-b", "first-wins"));
    expect(checkIn).toEqual({
      ok: true,
      value: { issueBallotStyleId: "bs-north", cancelledOnlineBallot: false, replayed: false },
    });
    expect(await other.castOnline(castRequest(e, "voter-b", "first-wins"))).toEqual({
      ok: false,
      error: "already_voted_on_paper",
    });
  });

  it("a second check-in, at any station, is refused; a replay of the first answers the same", async () => {
    const e = "ledger-fw-2";
    const ledger = ledgerFor(env, e, "voter-c");
    const first = checkInRequest(e, "voter-c", "first-wins", "station-1");
    expect((await ledger.checkIn(first)).ok).toBe(true);
    expect(await ledger.checkIn(first)).toEqual({
      ok: true,
      value: { issueBallotStyleId: "bs-north", cancelledOnlineBallot: false, replayed: true },
    });
    expect(await ledger.checkIn(checkInRequest(e, "voter-c", "first-wins", "station-2"))).toEqual({
      ok: false,
      error: "already_checked_in",
    });
    expect(await ledger.checkIn({ ...first, stationId: "station-9" })).toEqual({
      ok: false,
      error: "idempotency_conflict",
    });
  });

  it("racing an online cast against a check-in 50 times leaves exactly one of them accepted each time", async () => {
    const e = "ledger-fw-race";
    for (let i = 0; i < 50; i += 1) {
      const voter = `race-${i}`;
      const ledger = ledgerFor(env, e, voter);
      const [cast, checkIn] = await Promise.all([
        ledger.castOnline(castRequest(e, voter, "first-wins")),
        ledger.checkIn(checkInRequest(e, voter, "first-wins")),
      ]);
      expect([cast.ok, checkIn.ok].filter(Boolean)).toHaveLength(1);
      const status = await ledger.status(e, voter);
      expect(status.state).toBe(cast.ok ? "online" : "paper");
      expect(status.counted).toBe(cast.ok ? 1 : 0);
    }
  });
});

describe("check-in under paper-supersedes", () => {
  it("the check-in cancels the online ballot and queues its retraction", async () => {
    const e = "ledger-ps-1";
    const ledger = ledgerFor(env, e, "voter-d");
    expect((await ledger.castOnline(castRequest(e, "voter-d", "paper-supersedes"))).ok).toBe(true);
    const checkIn = await ledger.checkIn(checkInRequest(e, "voter-d", "paper-supersedes"));
    expect(checkIn).toEqual({
      ok: true,
      value: { issueBallotStyleId: "bs-north", cancelledOnlineBallot: true, replayed: false },
    });
    expect(await ledger.status(e, "voter-d")).toMatchObject({ state: "paper", counted: 0 });
    expect(await ledger.castOnline(castRequest(e, "voter-d", "paper-supersedes"))).toEqual({
      ok: false,
      error: "already_voted_on_paper",
    });
  });

  it("racing online casts against a check-in 50 times always ends on paper with no online ballot counted", async () => {
    const e = "ledger-ps-race";
    for (let i = 0; i < 50; i += 1) {
      const voter = `race-${i}`;
      const ledger = ledgerFor(env, e, voter);
      const outcomes = await Promise.all([
        ledger.castOnline(castRequest(e, voter, "paper-supersedes")),
        ledger.checkIn(checkInRequest(e, voter, "paper-supersedes")),
        ledger.castOnline(castRequest(e, voter, "paper-supersedes")),
      ]);
      expect(outcomes[1]?.ok).toBe(true);
      expect(await ledger.status(e, voter)).toMatchObject({ state: "paper", counted: 0 });
    }
  });
});

describe("the bucket mapping keeps the same guarantee", () => {
  it("voters sharing one bucket object are decided independently, once each", async () => {
    const e = "ledger-buckets";
    const buckets = 2;
    // Find voters that land in the same bucket.
    const byBucket = new Map<string, string[]>();
    for (let i = 0; byBucket.size < buckets || [...byBucket.values()].every((v) => v.length < 5); i += 1) {
      const voter = `bucket-voter-${i}`;
      const name = ledgerNameFor(e, voter, buckets);
      byBucket.set(name, [...(byBucket.get(name) ?? []), voter]);
    }
    const [name, voters] = [...byBucket.entries()].find(([, v]) => v.length >= 5) ?? ["", []];
    const ledger = env.VOTER_LEDGER.get(env.VOTER_LEDGER.idFromName(name));
    const outcomes = await Promise.all(
      voters
        .slice(0, 5)
        .flatMap((voter) => [
          ...Array.from({ length: 20 }, () => ledger.castOnline(castRequest(e, voter, "first-wins"))),
          ledger.checkIn(checkInRequest(e, voter, "first-wins")),
        ]),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(5);
    for (const voter of voters.slice(0, 5)) {
      const status = await ledger.status(e, voter);
      expect(status.state === "online" ? status.counted : status.state === "paper" ? 1 : 0).toBe(1);
    }
  });
});

describe("after the polls close", () => {
  it("the ledger forgets which ballot was whose, once the outbox is delivered, and keeps that the voter voted", async () => {
    const e = "ledger-forget";
    const voter = "forgetful-voter";
    const ledger = ledgerFor(env, e, voter);
    const closesAtMs = Date.now() + 400;
    const cast = await ledger.castOnline({
      ...castRequest(e, voter, "paper-supersedes"),
      closesAtMs,
      forgetLinksAtMs: closesAtMs + 200,
    });
    expect(cast.ok).toBe(true);
    expect(await ledger.linksRemain(e)).toBe(true);
    // The alarm fires at forgetLinksAtMs (or retries until the outbox is empty).
    const deadline = Date.now() + 15_000;
    while ((await ledger.linksRemain(e)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      await runDurableObjectAlarm(ledger);
    }
    expect(await ledger.linksRemain(e)).toBe(false);
    expect(await ledger.pendingOutbox()).toBe(0);
    expect(await ledger.status(e, voter)).toMatchObject({ state: "online", counted: 0 });
    // Still one ballot per voter: the voter remains recorded as having voted online.
    expect(await ledger.castOnline(castRequest(e, voter, "first-wins"))).toMatchObject({ ok: false });
  });
});
