/**
 * Model-based test of the voter ledger: random sequences of online casts, retries of earlier
 * casts with their idempotency key (as sent, or with other content), re-votes, check-ins at
 * stations (online and decided offline), replays of check-ins (as sent, resent as decided offline,
 * or from another station), alarms, and crashes of the object between steps, checked
 * after every step against a small model of the cross-channel policy (DESIGN.md section 4).
 *
 * The model keeps, per voter: the channel they voted on (none, online, paper), their online
 * ballots in order with each one's standing, the counted one, the re-vote count, their check-ins
 * with the answer each got, and how many messages of each kind the ledger must have queued. After
 * each command the ledger's answer must be the model's, and what the ledger reports of the voter
 * (status, myBallot, its outbox counts) must be the model's state. Each run has its own election
 * id, so runs never share a voter; both policies run, with one object per voter (production's
 * layout) and with the run's voters sharing one bucket object.
 *
 * The ledger consumes no queue message itself (it only produces them; the consumers dedupe), so
 * "redelivery" here is its outbox being flushed again by the alarm after a crash: at the end of
 * every run the alarm leaves nothing unsent.
 */
import { env, runDurableObjectAlarm, runInDurableObject } from "cloudflare:test";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ledgerNameFor } from "../../durable-objects/addresses.ts";
import type {
  CastOnlineRequest,
  CheckInOutcome,
  CheckInRequest,
  LedgerBallotStatus,
  VoterLedger,
} from "../../durable-objects/voter-ledger.ts";
import { coarseTime } from "../../lib/ballot/messages.ts";
import { ledgerCastRequest } from "./helpers/ledger.ts";

type Policy = "first-wins" | "paper-supersedes";
type Layout = "per-voter" | "bucket";

const VOTERS = 2;
const STATIONS = ["station-1", "station-2"] as const;

interface ModelBallot {
  readonly trackingCode: string;
  readonly acceptedAt: string;
  status: LedgerBallotStatus;
}

interface ModelCast {
  readonly voter: number;
  readonly request: CastOnlineRequest;
}

interface ModelCheckIn {
  readonly voter: number;
  readonly request: CheckInRequest;
  /** The first answer's outcome: "accepted" or the refusal code the ledger recorded. */
  readonly outcome: string;
  readonly cancelledOnline: boolean;
}

interface ModelVoter {
  state: "none" | "online" | "paper";
  revotes: number;
  /** Online ballots, oldest first. */
  readonly ballots: ModelBallot[];
  /** The idempotency keys of accepted casts, with the ballot each one stored. */
  readonly byKey: Map<string, ModelBallot>;
  /** The accepted check-in: where and at which minute. */
  paper: { stationId: string; minute: string } | undefined;
  readonly enqueued: { ballot: number; retraction: number; "check-in": number };
}

interface Model {
  readonly voters: ModelVoter[];
  /** Every cast sent so far (accepted or refused): what a retry repeats. */
  readonly casts: ModelCast[];
  /** Every check-in the ledger recorded (a new id, accepted or refused). */
  readonly checkIns: ModelCheckIn[];
}

interface Real {
  readonly electionId: string;
  readonly policy: Policy;
  readonly layout: Layout;
}

function voterKey(voter: number): string {
  return `model-voter-${voter}`;
}

/** A fresh stub each time: one held across a crash would be broken. */
function ledger(real: Real, voter: number): DurableObjectStub<VoterLedger> {
  const name =
    real.layout === "bucket" ? `${real.electionId}/bucket/0` : ledgerNameFor(real.electionId, voterKey(voter), 0);
  return env.VOTER_LEDGER.get(env.VOTER_LEDGER.idFromName(name));
}

/** The voters whose messages one object's outbox counts. */
function sharing(real: Real, voter: number): number[] {
  return real.layout === "bucket" ? Array.from({ length: VOTERS }, (_, i) => i) : [voter];
}

let runs = 0;
let uniq = 0;

function castRequest(real: Real, voter: number): CastOnlineRequest {
  uniq += 1;
  return ledgerCastRequest(real.electionId, voterKey(voter), real.policy, `${real.electionId}-${uniq}`);
}

function checkInRequest(real: Real, voter: number, stationId: string, offline: boolean): CheckInRequest {
  uniq += 1;
  return {
    electionId: real.electionId,
    voterKey: voterKey(voter),
    ballotStyleId: "bs-north",
    districtId: "district-north",
    policy: real.policy,
    opensAtMs: 0,
    closesAtMs: Date.now() + 3_600_000,
    stationId,
    checkInId: `checkin-${real.electionId}-${uniq}`,
    identity: "id-card",
    // An offline decision made a little earlier, by the station's clock.
    ...(offline ? { decidedAtMs: Date.now() - 90_000 } : {}),
  };
}

/** The model's decision on a cast that is not a repeat of an accepted one; applies it. */
async function decideCast(model: Model, real: Real, cast: ModelCast): Promise<void> {
  const v = model.voters[cast.voter]!;
  const before = Date.now();
  const answer = await ledger(real, cast.voter).castOnline(cast.request);
  const after = Date.now();
  if (v.state === "paper") {
    expect(answer).toEqual({ ok: false, error: "already_voted_on_paper" });
    return;
  }
  if (v.state === "online" && real.policy === "first-wins") {
    expect(answer).toEqual({ ok: false, error: "already_voted" });
    return;
  }
  if (!answer.ok) throw new Error(`cast refused with ${answer.error}; the model accepts it`);
  const revotes = v.state === "online" ? v.revotes + 1 : 0;
  expect(answer.value).toEqual({
    trackingCode: cast.request.trackingCode,
    commitment: cast.request.commitment,
    nonce: cast.request.nonce,
    acceptedAt: answer.value.acceptedAt,
    status: "counted",
    revotes,
    replayed: false,
  });
  // The stored minute is the minute of the decision.
  expect([coarseTime(new Date(before)), coarseTime(new Date(after))]).toContain(answer.value.acceptedAt);
  const previous = v.ballots.find((b) => b.status === "counted");
  if (previous) {
    previous.status = "superseded";
    v.enqueued.retraction += 1;
  }
  const ballot: ModelBallot = {
    trackingCode: cast.request.trackingCode,
    acceptedAt: answer.value.acceptedAt,
    status: "counted",
  };
  v.ballots.push(ballot);
  v.byKey.set(cast.request.idempotencyKey, ballot);
  v.state = "online";
  v.revotes = revotes;
  v.enqueued.ballot += 1;
}

/** What a refusal of an offline check-in says of the voter's other channel, by the model. */
function otherChannel(v: ModelVoter, code: string): Record<string, unknown> {
  if (code === "already_voted_online") {
    const counted = v.ballots.find((b) => b.status === "counted");
    return { other: { channel: "online", minute: counted?.acceptedAt ?? null } };
  }
  if (code === "already_checked_in" && v.paper) {
    return { other: { channel: "paper", stationId: v.paper.stationId, minute: v.paper.minute } };
  }
  return {};
}

function expectRefusal(answer: CheckInOutcome, request: CheckInRequest, v: ModelVoter, code: string): void {
  expect(answer).toEqual({
    ok: false,
    error: code,
    ...(request.decidedAtMs === undefined ? {} : otherChannel(v, code)),
  });
}

/** After every command: what the ledger reports of every voter of the run is the model's. */
async function compare(model: Model, real: Real): Promise<void> {
  for (let voter = 0; voter < VOTERS; voter += 1) {
    const v = model.voters[voter]!;
    const stub = ledger(real, voter);
    expect(await stub.status(real.electionId, voterKey(voter))).toEqual({
      state: v.state,
      revotes: v.revotes,
      counted: v.ballots.filter((b) => b.status === "counted").length,
    });
    // At most one counted ballot per voter, and none once they voted on paper.
    expect(v.ballots.filter((b) => b.status === "counted").length).toBeLessThanOrEqual(v.state === "online" ? 1 : 0);
    expect(await stub.myBallot(real.electionId, voterKey(voter))).toEqual({
      state: v.state,
      checkedInOnPaper: v.paper !== undefined,
      ballots: v.ballots.map((b) => ({ trackingCode: b.trackingCode, acceptedAt: b.acceptedAt, status: b.status })),
      linksKept: true,
    });
    const counts = await stub.outboxCounts(real.electionId);
    const expected = { ballot: 0, retraction: 0, "check-in": 0 };
    for (const other of sharing(real, voter)) {
      const e = model.voters[other]!.enqueued;
      expected.ballot += e.ballot;
      expected.retraction += e.retraction;
      expected["check-in"] += e["check-in"];
    }
    expect(counts.enqueued).toEqual(expected);
  }
}

type LedgerCommand = fc.AsyncCommand<Model, Real>;

/** A cast with a new idempotency key: a first vote, or a re-vote. */
class Cast implements LedgerCommand {
  readonly voter: number;
  constructor(voter: number) {
    this.voter = voter;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const cast: ModelCast = { voter: this.voter, request: castRequest(real, this.voter) };
    model.casts.push(cast);
    await decideCast(model, real, cast);
    await compare(model, real);
  }
  toString = (): string => `cast(voter ${this.voter})`;
}

/**
 * The same request again, same key and nonce: a client that lost the answer. Or, `altered`, the
 * same key with other content (another nonce, commitment and tracking code): the ledger answers
 * the stored ballot's fields, nonce included, which is how the gateway finds the difference.
 */
class RetryCast implements LedgerCommand {
  readonly pick: number;
  readonly altered: boolean;
  constructor(pick: number, altered: boolean) {
    this.pick = pick;
    this.altered = altered;
  }
  check = (model: Readonly<Model>): boolean => model.casts.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const cast = model.casts[this.pick % model.casts.length]!;
    const v = model.voters[cast.voter]!;
    const stored = v.byKey.get(cast.request.idempotencyKey);
    if (!stored) {
      // Never accepted: decided as a new request (the ledger stores no refused key).
      await decideCast(model, real, cast);
    } else {
      const other = castRequest(real, cast.voter);
      const request: CastOnlineRequest = this.altered
        ? { ...other, idempotencyKey: cast.request.idempotencyKey }
        : cast.request;
      const answer = await ledger(real, cast.voter).castOnline(request);
      expect(answer).toEqual({
        ok: true,
        value: {
          trackingCode: stored.trackingCode,
          commitment: cast.request.commitment,
          nonce: cast.request.nonce,
          acceptedAt: stored.acceptedAt,
          status: stored.status,
          revotes: v.revotes,
          replayed: true,
        },
      });
    }
    await compare(model, real);
  }
  toString = (): string => `retryCast(#${this.pick}${this.altered ? ", other content" : ""})`;
}

/** A station checks the voter in: online, or decided offline and sent later with its time. */
class CheckIn implements LedgerCommand {
  readonly voter: number;
  readonly station: number;
  readonly offline: boolean;
  constructor(voter: number, station: number, offline: boolean) {
    this.voter = voter;
    this.station = station;
    this.offline = offline;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const stationId = STATIONS[this.station % STATIONS.length]!;
    const request = checkInRequest(real, this.voter, stationId, this.offline);
    const v = model.voters[this.voter]!;
    const before = Date.now();
    const answer = await ledger(real, this.voter).checkIn(request);
    const after = Date.now();
    const record = (outcome: string, cancelledOnline: boolean): void => {
      model.checkIns.push({ voter: this.voter, request, outcome, cancelledOnline });
    };
    if (v.state === "paper") {
      expectRefusal(answer, request, v, "already_checked_in");
      record("already_checked_in", false);
    } else if (v.state === "online" && real.policy === "first-wins") {
      expectRefusal(answer, request, v, "already_voted_online");
      record("already_voted_online", false);
    } else {
      const counted = v.ballots.find((b) => b.status === "counted");
      expect(answer).toEqual({
        ok: true,
        value: { issueBallotStyleId: "bs-north", cancelledOnlineBallot: counted !== undefined, replayed: false },
      });
      if (counted) {
        counted.status = "cancelled";
        v.enqueued.retraction += 1;
      }
      v.state = "paper";
      // An offline check-in is stored at the station's minute, an online one at the ledger's.
      const minute = await paperMinute(real, this.voter);
      const expected =
        request.decidedAtMs === undefined
          ? [coarseTime(new Date(before)), coarseTime(new Date(after))]
          : [coarseTime(new Date(request.decidedAtMs))];
      expect(expected).toContain(minute);
      v.paper = { stationId, minute };
      v.enqueued["check-in"] += 1;
      record("accepted", counted !== undefined);
    }
    await compare(model, real);
  }
  toString = (): string => `checkIn(voter ${this.voter}, station ${this.station}${this.offline ? ", offline" : ""})`;
}

/** The minute the ledger stored with the voter's accepted check-in (it has exactly one). */
async function paperMinute(real: Real, voter: number): Promise<string> {
  const at = await runInDurableObject(ledger(real, voter), (_instance, state) =>
    state.storage.sql
      .exec<{ at: string }>(
        `SELECT at FROM check_ins WHERE election_id = ? AND voter_key = ? AND outcome = 'accepted'`,
        real.electionId,
        voterKey(voter),
      )
      .toArray()
      .map((r) => r.at),
  );
  expect(at).toHaveLength(1);
  return at[0]!;
}

/**
 * The same check-in id again: resent as it was (the station resending after a timeout), resent as
 * decided offline with the station's time (its online try reached the ledger but the answer did
 * not reach the station, which then decided from its pollbook: answered as the first try), or
 * with another station (a conflict on the id).
 */
type Replay = "same" | "offline" | "other-station";

class ReplayCheckIn implements LedgerCommand {
  readonly pick: number;
  readonly replay: Replay;
  constructor(pick: number, replay: Replay) {
    this.pick = pick;
    this.replay = replay;
  }
  check = (model: Readonly<Model>): boolean => model.checkIns.length > 0;
  async run(model: Model, real: Real): Promise<void> {
    const first = model.checkIns[this.pick % model.checkIns.length]!;
    const v = model.voters[first.voter]!;
    const request: CheckInRequest =
      this.replay === "other-station"
        ? { ...first.request, stationId: "station-other" }
        : this.replay === "offline"
          ? { ...first.request, decidedAtMs: Date.now() - 30_000 }
          : first.request;
    const answer = await ledger(real, first.voter).checkIn(request);
    if (this.replay === "other-station") expect(answer).toEqual({ ok: false, error: "idempotency_conflict" });
    else if (first.outcome === "accepted") {
      expect(answer).toEqual({
        ok: true,
        value: { issueBallotStyleId: "bs-north", cancelledOnlineBallot: first.cancelledOnline, replayed: true },
      });
    } else expectRefusal(answer, request, v, first.outcome);
    await compare(model, real);
  }
  toString = (): string => `replayCheckIn(#${this.pick}${this.replay === "same" ? "" : `, ${this.replay}`})`;
}

/** The object is reset between two requests (a crash, a deploy, an eviction). */
class Crash implements LedgerCommand {
  readonly voter: number;
  constructor(voter: number) {
    this.voter = voter;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    await runInDurableObject(ledger(real, this.voter), (_instance, state) => state.abort("crash")).catch(
      () => undefined,
    );
    await compare(model, real);
  }
  toString = (): string => `crash(voter ${this.voter}'s object)`;
}

/** The alarm runs: the outbox is flushed again (whatever a crash left unsent). */
class Alarm implements LedgerCommand {
  readonly voter: number;
  constructor(voter: number) {
    this.voter = voter;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    await runDurableObjectAlarm(ledger(real, this.voter));
    await compare(model, real);
  }
  toString = (): string => `alarm(voter ${this.voter}'s object)`;
}

const voterArb = fc.integer({ min: 0, max: VOTERS - 1 });
const commands = fc.commands(
  [
    voterArb.map((v) => new Cast(v)),
    fc.tuple(fc.nat(), fc.boolean()).map(([i, altered]) => new RetryCast(i, altered)),
    fc.tuple(voterArb, fc.nat(), fc.boolean()).map(([v, s, offline]) => new CheckIn(v, s, offline)),
    fc
      .tuple(fc.nat(), fc.constantFrom<Replay>("same", "offline", "other-station"))
      .map(([i, replay]) => new ReplayCheckIn(i, replay)),
    voterArb.map((v) => new Crash(v)),
    voterArb.map((v) => new Alarm(v)),
  ],
  { maxCommands: 12 },
);

function emptyModel(): Model {
  return {
    voters: Array.from({ length: VOTERS }, () => ({
      state: "none" as const,
      revotes: 0,
      ballots: [],
      byKey: new Map(),
      paper: undefined,
      enqueued: { ballot: 0, retraction: 0, "check-in": 0 },
    })),
    casts: [],
    checkIns: [],
  };
}

/** Once the run is over: the alarm leaves nothing unsent, whatever crashed on the way. */
async function drained(real: Real): Promise<void> {
  for (let voter = 0; voter < VOTERS; voter += 1) {
    const deadline = Date.now() + 10_000;
    while ((await ledger(real, voter).pendingOutbox()) > 0 && Date.now() < deadline) {
      await runDurableObjectAlarm(ledger(real, voter));
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(await ledger(real, voter).pendingOutbox()).toBe(0);
  }
}

const SEEDS: Record<`${Policy} ${Layout}`, number> = {
  "first-wins per-voter": 1601,
  "first-wins bucket": 1602,
  "paper-supersedes per-voter": 1603,
  "paper-supersedes bucket": 1604,
};

describe("the voter ledger against a model of the cross-channel policy", () => {
  for (const policy of ["first-wins", "paper-supersedes"] as const) {
    for (const layout of ["per-voter", "bucket"] as const) {
      it(`${policy}, ${layout === "bucket" ? "voters sharing one bucket object" : "one object per voter"}`, async () => {
        await fc.assert(
          fc.asyncProperty(commands, async (cmds) => {
            runs += 1;
            const real: Real = { electionId: `model-${policy}-${layout}-${runs}`, policy, layout };
            await fc.asyncModelRun(() => ({ model: emptyModel(), real }), cmds);
            await drained(real);
          }),
          { seed: SEEDS[`${policy} ${layout}`], numRuns: 60 },
        );
      }, 120_000);
    }
  }
});
