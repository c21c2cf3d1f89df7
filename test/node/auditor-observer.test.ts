/**
 * What a public observer checks in a log (lib/audit/observer.ts, security review M6): records
 * against the election's public definition, ballots inside the polls, the definition unchanged
 * once they opened, no retraction under first-wins nor of a paper ballot, and per station paper
 * ballots <= check-ins, both equal to its result sheet, whose signature verifies with the station
 * key the log published. An honest log has no problem; each broken rule is one, and the log's own
 * bookkeeping (LogAuditor) does not see any of them.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { calculateJwkThumbprint } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import {
  castVoteRecordEntry,
  ballotEntry,
  retractionBlind,
  retractionBlindingKey,
  type LogEntry,
  type LogEntryOf,
} from "../../lib/audit/entries.ts";
import { ObserverChecks, type PublicElection } from "../../lib/audit/observer.ts";
import { LogAuditor } from "../../lib/audit/recount.ts";
import { commitBallot, trackingCodeOf } from "../../lib/ballot/commitment.ts";
import type { BallotAccepted } from "../../lib/ballot/messages.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection, Contest } from "../../lib/election/model.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { qrSignerFromJwk, type QrSigner } from "../../lib/qr/keys.ts";
import { encodeResultSheet } from "../../lib/qr/payload.ts";
import { ROOT } from "../../scripts/system.ts";

const OPENS = "2026-03-01T09:00:00.000Z";
const CLOSES = "2026-03-01T20:00:00.000Z";
const SHA = "ab".repeat(32);
const STATION = "st-north-1";

let election: CompiledElection;
let summary: PublicElection;
let stationKey: { signer: QrSigner; x: string; thumbprint: string };
let otherKey: { signer: QrSigner; x: string; thumbprint: string };
let style: string;
/** A contest of the north style where one mark is allowed, with at least three options. */
let chooseOne: Contest;

async function key(kid: string): Promise<{ signer: QrSigner; x: string; thumbprint: string }> {
  const { privateJwk, publicJwk } = await generateSigningKey(kid);
  const signer = await qrSignerFromJwk(privateJwk);
  if (!signer.ok) throw new Error(signer.error.message);
  // jose's RFC 7638 thumbprint, independently of the auditor's own computation.
  const thumbprint = Buffer.from(await calculateJwkThumbprint(publicJwk, "sha256"), "base64url").toString("hex");
  return { signer: signer.value, x: String(publicJwk.x), thumbprint };
}

beforeAll(async () => {
  const parsed = parseDefinition(JSON.parse(await readFile(join(ROOT, "elections", "demo", "election.json"), "utf8")));
  if (!parsed.ok) throw new Error("the demo definition does not parse");
  election = parsed.value.election;
  // As GET /v1/elections/{id} answers (workers/gateway/routes/elections.ts).
  summary = {
    electionId: election.id,
    policies: { crossChannelPolicy: "paper-supersedes", castVoteRecords: "whole-ballot", paperSyncGraceMinutes: 60 },
    districts: [...election.districts.values()].map((d) => ({ id: d.id })),
    contests: [...election.contests.values()].map((c) => ({
      id: c.id,
      votesAllowed: c.votesAllowed,
      options: c.options.map((o) => ({ id: o.id, isWriteIn: o.isWriteIn })),
    })),
    ballotStyles: [...election.ballotStyles.values()].map((s) => ({
      id: s.id,
      districtIds: [...s.districtIds],
      contestIds: [...s.contestIds],
    })),
    definition: { version: 1, sha256: SHA },
  };
  style = election.ballotStyleByDistrict.get("district-north") ?? "";
  const contests = election.ballotStyles.get(style)?.contestIds.map((id) => election.contests.get(id)) ?? [];
  const found = contests.find((c) => c !== undefined && c.votesAllowed === 1 && c.options.length >= 3);
  if (!found) throw new Error("the demo's north style has no choose-one contest of three options");
  chooseOne = found;
  stationKey = await key(`${STATION}-k1`);
  otherKey = await key("someone-else");
});

let serial = 0;

/** A north ballot marking the first named option of every contest. */
async function ballot(channel: "online" | "paper", acceptedAt = "2026-03-01T10:00:00.000Z"): Promise<BallotAccepted> {
  serial += 1;
  const commitment = await commitBallot(`observer ${serial}`, `nonce ${serial}`);
  const contests = (election.ballotStyles.get(style)?.contestIds ?? []).map((contestId) => {
    const first = election.contests.get(contestId)?.options.find((o) => !o.isWriteIn);
    return { contestId, optionIds: first ? [first.id] : [] };
  });
  return {
    kind: "ballot",
    ballotId: crypto.randomUUID(),
    electionId: election.id,
    ballotStyleId: style,
    districtId: "district-north",
    channel,
    ...(channel === "paper" ? { stationId: STATION } : {}),
    contests,
    trackingCode: await trackingCodeOf(commitment),
    commitment,
    acceptedAt,
  };
}

async function sheet(
  signer: QrSigner,
  figures: { votersCheckedIn: number; ballotsCast: number },
): Promise<LogEntryOf<"station-results">> {
  const closedAt = "2026-03-01T20:05:00Z";
  const encoded = await encodeResultSheet(
    { electionId: election.id, stationId: STATION, sequence: 1, closedAt, ...figures, contests: [] },
    election,
    signer,
  );
  if (!encoded.ok) throw new Error(encoded.error.message);
  return {
    type: "station-results",
    stationId: STATION,
    sequence: 1,
    closedAt: "2026-03-01T20:05:00.000Z",
    ...figures,
    contests: [],
    sheet: encoded.value.text,
  };
}

interface Options {
  policy?: "first-wins" | "paper-supersedes";
  /** Entries between polls-opened and polls-closed (ballots, check-ins, retractions). */
  during: LogEntry[];
  /** Ballots whose records are published. */
  counted: BallotAccepted[];
  /** Entries after polls-closed, before the records (a station's sheet). */
  after?: LogEntry[];
  closedAt?: string;
  /** The role the log publishes the station's key with (client unless said). */
  stationKeyRole?: "client" | "marking-device";
}

/** The sample election's retraction key (a sequencer draws its own at random). */
const RETRACTION_KEY = "42".repeat(32);

async function blinded(trackingCode: string): Promise<string> {
  return retractionBlind(await retractionBlindingKey(RETRACTION_KEY), trackingCode);
}

function log(o: Options): LogEntry[] {
  const records = o.counted.map(castVoteRecordEntry);
  return [
    {
      type: "definition-loaded",
      at: "2026-03-01T08:00:00.000Z",
      version: 1,
      definitionSha256: SHA,
      opensAt: OPENS,
      closesAt: CLOSES,
      crossChannelPolicy: o.policy ?? "paper-supersedes",
      resultsVisibility: "after-close",
      castVoteRecords: "whole-ballot",
      minBallotsPerRelease: 1,
    },
    {
      type: "station-key-added",
      at: "2026-03-01T08:00:00.000Z",
      stationId: STATION,
      kid: `${STATION}-k1`,
      role: o.stationKeyRole ?? "client",
      thumbprint: stationKey.thumbprint,
      publicKey: stationKey.x,
    },
    { type: "polls-opened", at: OPENS },
    ...o.during,
    { type: "polls-closed", at: o.closedAt ?? CLOSES },
    { type: "retraction-key", at: o.closedAt ?? CLOSES, key: RETRACTION_KEY },
    ...(o.after ?? []),
    ...records,
    {
      type: "cast-vote-records-published",
      at: "2026-03-01T20:10:00.000Z",
      round: 1,
      districts: records.length > 0 ? [{ districtId: "district-north", records: records.length, withheld: 0 }] : [],
    },
  ];
}

const checkIn: LogEntry = {
  type: "check-in",
  stationId: STATION,
  districtId: "district-north",
  at: "2026-03-01T10:00:00.000Z",
};

async function problems(
  entries: readonly LogEntry[],
  withSummary: PublicElection | undefined = summary,
): Promise<string[]> {
  const observer = new ObserverChecks(withSummary);
  for (const [i, e] of entries.entries()) await observer.add(i, e);
  return observer.finish();
}

/** What the log's own bookkeeping says: none of the rules here are its. */
async function bookkeeping(entries: readonly LogEntry[]): Promise<readonly string[]> {
  const auditor = new LogAuditor();
  for (const [i, e] of entries.entries()) await auditor.add(i, e);
  return auditor.finish().problems;
}

/** The log is a problem for the observer, and only for the observer. */
async function expectCaught(entries: readonly LogEntry[], message: RegExp): Promise<void> {
  expect(await bookkeeping(entries)).toEqual([]);
  const found = await problems(entries);
  expect(
    found.some((p) => message.test(p)),
    found.join("\n"),
  ).toBe(true);
}

describe("an honest log", () => {
  it("has no problem: online and paper ballots, a retraction under paper-supersedes, a signed sheet that adds up", async () => {
    const online = await ballot("online");
    const superseded = await ballot("online");
    const paper = [await ballot("paper"), await ballot("paper")];
    const entries = log({
      during: [
        ballotEntry(online),
        ballotEntry(superseded),
        {
          type: "retraction",
          reason: "cancelled-by-paper",
          districtId: "district-north",
          blindedCode: await blinded(superseded.trackingCode),
        },
        checkIn,
        checkIn,
        checkIn,
        ...paper.map(ballotEntry),
      ],
      after: [await sheet(stationKey.signer, { votersCheckedIn: 3, ballotsCast: 2 })],
      counted: [online, ...paper],
    });
    expect(await bookkeeping(entries)).toEqual([]);
    expect(await problems(entries)).toEqual([]);
  });
});

describe("records against the definition", () => {
  it("three marks in a choose-one contest", async () => {
    const b = await ballot("online");
    const options = chooseOne.options.slice(0, 3).map((o) => o.id);
    const overvoted = {
      ...b,
      contests: b.contests.map((c) =>
        c.contestId === chooseOne.id ? { contestId: c.contestId, optionIds: options } : c,
      ),
    };
    await expectCaught(
      log({ during: [ballotEntry(overvoted)], counted: [overvoted] }),
      new RegExp(`contest ${chooseOne.id} has 3 marks, 1 allowed`),
    );
  });

  it("an option that is not the contest's, a style of another district, a contest missing", async () => {
    const b = await ballot("online");
    const foreign = {
      ...b,
      contests: b.contests.map((c) =>
        c.contestId === chooseOne.id ? { contestId: c.contestId, optionIds: ["no-such-option"] } : c,
      ),
    };
    await expectCaught(
      log({ during: [ballotEntry(foreign)], counted: [foreign] }),
      /option no-such-option is not one of contest/,
    );
    const east = election.ballotStyleByDistrict.get("district-east") ?? "";
    const wrongStyle = { ...(await ballot("online")), ballotStyleId: east };
    await expectCaught(
      log({ during: [ballotEntry(wrongStyle)], counted: [wrongStyle] }),
      /is not the style of district district-north/,
    );
    const partial = await ballot("online");
    const short = { ...partial, contests: partial.contests.slice(0, 2) };
    if ((election.ballotStyles.get(style)?.contestIds.length ?? 0) > 2)
      await expectCaught(log({ during: [ballotEntry(short)], counted: [short] }), /lists contests/);
  });

  it("a record with one contest where the summary says records are whole ballots", async () => {
    const b = await ballot("online");
    const one = { ...b, contests: b.contests.slice(0, 1) };
    const entries = log({ during: [ballotEntry(one)], counted: [one] });
    expect(await problems(entries)).toEqual([expect.stringMatching(/lists contests/)]);
    // One contest is the shape of a contest-vote-record, never of a cast-vote-record.
    const perContest = { ...summary, policies: { ...summary.policies, castVoteRecords: "per-contest" as const } };
    const contestRecords = entries.map((e): LogEntry => {
      const contest = e.type === "cast-vote-record" ? e.contests[0] : undefined;
      return e.type === "cast-vote-record" && contest
        ? {
            type: "contest-vote-record",
            districtId: e.districtId,
            ballotStyleId: e.ballotStyleId,
            contestId: contest.contestId,
            marks: contest.marks,
          }
        : e;
    });
    expect(await problems(contestRecords, perContest)).toEqual([]);
  });

  it("a published definition that is not the logged one", async () => {
    const b = await ballot("online");
    const entries = log({ during: [ballotEntry(b)], counted: [b] });
    const found = await problems(entries, { ...summary, definition: { version: 2, sha256: "00".repeat(32) } });
    expect(found).toEqual([expect.stringMatching(/the published definition is version 2/)]);
    // Without a summary nothing is checked against the definition.
    expect(await problems(entries, undefined)).toEqual([]);
  });
});

describe("poll times", () => {
  it("a ballot accepted after the polls closed, and one before they opened", async () => {
    const late = await ballot("online", "2026-03-01T20:05:00.000Z");
    await expectCaught(
      log({ during: [ballotEntry(late)], counted: [late] }),
      /accepted at 2026-03-01T20:05:00.000Z, outside the polls/,
    );
    const early = await ballot("online", "2026-03-01T08:59:00.000Z");
    await expectCaught(log({ during: [ballotEntry(early)], counted: [early] }), /outside the polls/);
  });

  it("a paper ballot synced after the close: within the paper sync grace it is fine, past it a problem", async () => {
    const synced = await ballot("paper", "2026-03-01T20:30:00.000Z");
    expect(await problems(log({ during: [checkIn, ballotEntry(synced)], counted: [synced] }))).toEqual([]);
    const tooLate = await ballot("paper", "2026-03-01T21:05:00.000Z");
    await expectCaught(
      log({ during: [checkIn, ballotEntry(tooLate)], counted: [tooLate] }),
      /paper ballot accepted at 2026-03-01T21:05:00.000Z, outside the polls/,
    );
  });

  it("polls-closed at another time than the definition's, and a definition loaded after the polls opened", async () => {
    const b = await ballot("online");
    await expectCaught(
      log({ during: [ballotEntry(b)], counted: [b], closedAt: "2026-03-01T19:00:00.000Z" }),
      /the polls closed at 2026-03-01T19:00:00.000Z, the definition says 2026-03-01T20:00:00.000Z/,
    );
    const reload: LogEntry = {
      type: "definition-loaded",
      at: "2026-03-01T12:00:00.000Z",
      version: 2,
      definitionSha256: SHA,
      opensAt: OPENS,
      closesAt: CLOSES,
      crossChannelPolicy: "paper-supersedes",
      resultsVisibility: "after-close",
      castVoteRecords: "whole-ballot",
      minBallotsPerRelease: 1,
    };
    await expectCaught(
      log({ during: [ballotEntry(b), reload], counted: [b] }),
      /definition version 2 is loaded after the polls opened/,
    );
  });
});

describe("authorities", () => {
  it("a key entry whose thumbprint is not its public key's", async () => {
    const b = await ballot("online");
    const forged: LogEntry = {
      type: "sheet-key-added",
      at: "2026-03-01T08:30:00.000Z",
      kid: "forged",
      thumbprint: stationKey.thumbprint,
      publicKey: otherKey.x,
    };
    const entries = log({ during: [ballotEntry(b)], counted: [b] });
    entries.splice(1, 0, forged);
    await expectCaught(entries, /key forged's thumbprint is not the thumbprint of the public key/);
    const honest: LogEntry = { ...forged, thumbprint: otherKey.thumbprint };
    const fine = log({ during: [ballotEntry(b)], counted: [b] });
    fine.splice(1, 0, honest);
    expect(await problems(fine)).toEqual([]);
  });

  it("a sheet key, a device key, a serial range or a roll chunk added after the polls opened; a revocation is fine", async () => {
    const b = await ballot("online");
    const at = "2026-03-01T12:00:00.000Z";
    const late: [LogEntry, RegExp][] = [
      [
        { type: "sheet-key-added", at, kid: "late", thumbprint: SHA, publicKey: otherKey.x },
        /sheet key late is added after the polls opened/,
      ],
      [
        {
          type: "station-key-added",
          at,
          stationId: STATION,
          kid: "late-k",
          role: "client",
          thumbprint: SHA,
          publicKey: otherKey.x,
        },
        /device key late-k is added after the polls opened/,
      ],
      [
        { type: "serial-range-issued", at, stationId: STATION, first: 1, count: 10 },
        /serials 1 \(10\) are issued to station .* after the polls opened/,
      ],
      [
        {
          type: "roll-imported",
          at,
          firstLine: 2,
          rows: 1,
          accepted: 1,
          written: 1,
          unchanged: 0,
          rejected: 0,
          chunkDigest: SHA,
        },
        /a roll chunk \(line 2\) is imported after the polls opened/,
      ],
    ];
    for (const [entry, message] of late)
      await expectCaught(log({ during: [ballotEntry(b), entry], counted: [b] }), message);
    const revoked: LogEntry = { type: "sheet-key-revoked", at, kid: "any" };
    expect(await problems(log({ during: [ballotEntry(b), revoked], counted: [b] }))).toEqual([]);
  });
});

describe("retractions", () => {
  it("a retraction under first-wins", async () => {
    const first = await ballot("online");
    const second = await ballot("online");
    const retraction: LogEntry = {
      type: "retraction",
      reason: "superseded-by-online",
      districtId: "district-north",
      blindedCode: await blinded(first.trackingCode),
    };
    await expectCaught(
      log({ policy: "first-wins", during: [ballotEntry(first), ballotEntry(second), retraction], counted: [second] }),
      /retracted under first-wins/,
    );
  });

  it("a retraction of a paper ballot", async () => {
    const paper = await ballot("paper");
    const retraction: LogEntry = {
      type: "retraction",
      reason: "superseded-by-online",
      districtId: "district-north",
      blindedCode: await blinded(paper.trackingCode),
    };
    await expectCaught(
      log({ during: [checkIn, ballotEntry(paper), retraction], counted: [] }),
      /a paper ballot is never retracted/,
    );
  });
});

describe("stations", () => {
  it("a station with more paper ballots than check-ins", async () => {
    const paper = [await ballot("paper"), await ballot("paper")];
    await expectCaught(
      log({ during: [checkIn, ...paper.map(ballotEntry)], counted: paper }),
      new RegExp(`station ${STATION}: 2 paper ballots but only 1 check-ins`),
    );
  });

  it("a result sheet whose signature does not verify with the station's published key", async () => {
    const paper = await ballot("paper");
    await expectCaught(
      log({
        during: [checkIn, ballotEntry(paper)],
        after: [await sheet(otherKey.signer, { votersCheckedIn: 1, ballotsCast: 1 })],
        counted: [paper],
      }),
      /result sheet 1 does not verify with a station key the log published/,
    );
    // The same sheet with a byte of its signed figures changed in the entry: the entry says otherwise.
    const honest = await sheet(stationKey.signer, { votersCheckedIn: 1, ballotsCast: 1 });
    await expectCaught(
      log({ during: [checkIn, ballotEntry(paper)], after: [{ ...honest, ballotsCast: 2 }], counted: [paper] }),
      /says ballots cast 1, the entry 2/,
    );
  });

  it("a result sheet signed by the station's ballot-marking device key", async () => {
    const paper = await ballot("paper");
    await expectCaught(
      log({
        during: [checkIn, ballotEntry(paper)],
        after: [await sheet(stationKey.signer, { votersCheckedIn: 1, ballotsCast: 1 })],
        counted: [paper],
        stationKeyRole: "marking-device",
      }),
      /signed by a ballot-marking device's key, which signs marked ballots only/,
    );
  });

  it("a result sheet signed by a key revoked before it, and one that does not add up", async () => {
    const paper = await ballot("paper");
    const revoked: LogEntry = {
      type: "station-key-revoked",
      at: "2026-03-01T12:00:00.000Z",
      stationId: STATION,
      kid: `${STATION}-k1`,
    };
    await expectCaught(
      log({
        during: [checkIn, ballotEntry(paper), revoked],
        after: [await sheet(stationKey.signer, { votersCheckedIn: 1, ballotsCast: 1 })],
        counted: [paper],
      }),
      /signed by a key revoked before it was logged/,
    );
    await expectCaught(
      log({
        during: [checkIn, checkIn, ballotEntry(paper)],
        after: [await sheet(stationKey.signer, { votersCheckedIn: 1, ballotsCast: 1 })],
        counted: [paper],
      }),
      /says 1 voters checked in, the log has 2 check-ins/,
    );
  });
});

// An administrator's early close of the polls and its reopening (issue 11).
describe("early closes", () => {
  const CLOSE_AT = "2026-03-01T12:00:00.000Z";
  const EFFECTIVE = "2026-03-01T12:00:11.000Z";
  const REOPEN_AT = "2026-03-01T14:00:00.000Z";
  const closed: LogEntryOf<"polls-closed-early"> = {
    type: "polls-closed-early",
    at: CLOSE_AT,
    effectiveAt: EFFECTIVE,
    officialId: "admin-1",
    reason: "Flooding at the counting centre.",
  };
  const reopened: LogEntryOf<"polls-reopened"> = {
    type: "polls-reopened",
    at: REOPEN_AT,
    officialId: "admin-1",
    reason: "The water is gone.",
  };
  const checkInAt = (at: string): LogEntry => ({ ...checkIn, at }) as LogEntry;

  it("an honest close and reopening: accepted before the close, in the minute it falls inside, and after the reopening", async () => {
    const before = await ballot("online", "2026-03-01T11:59:00.000Z");
    const inTheMinute = await ballot("online", "2026-03-01T12:00:00.000Z");
    const after = await ballot("online", "2026-03-01T14:00:00.000Z");
    // A paper ballot's time is its sync: one scanned before the close may be synced during it.
    const synced = await ballot("paper", "2026-03-01T13:00:00.000Z");
    const entries = log({
      during: [
        ballotEntry(before),
        closed,
        ballotEntry(inTheMinute),
        checkInAt("2026-03-01T12:00:00.000Z"),
        checkInAt("2026-03-01T12:00:00.000Z"),
        ballotEntry(synced),
        reopened,
        ballotEntry(after),
      ],
      after: [await sheet(stationKey.signer, { votersCheckedIn: 2, ballotsCast: 1 })],
      counted: [before, inTheMinute, synced, after],
    });
    expect(await bookkeeping(entries)).toEqual([]);
    expect(await problems(entries)).toEqual([]);
  });

  it("an online ballot accepted while voting was closed early", async () => {
    const late = await ballot("online", "2026-03-01T12:01:00.000Z");
    await expectCaught(
      log({ during: [closed, ballotEntry(late), reopened], counted: [late] }),
      /an online ballot accepted at 2026-03-01T12:01:00.000Z, after voting was closed early from 2026-03-01T12:00:11.000Z/,
    );
  });

  it("a check-in accepted while voting was closed early, reopened or never", async () => {
    const during = checkInAt("2026-03-01T13:59:00.000Z");
    await expectCaught(
      log({ during: [closed, during, reopened], counted: [] }),
      /a check-in at station st-north-1 accepted at 2026-03-01T13:59:00.000Z, after voting was closed early/,
    );
    await expectCaught(
      log({ during: [closed, checkInAt("2026-03-01T19:00:00.000Z")], counted: [] }),
      /a check-in at station st-north-1 accepted at 2026-03-01T19:00:00.000Z/,
    );
    // The minute of the reopening: accepted after it, as far as anyone can tell.
    expect(
      await problems(
        log({
          during: [closed, checkInAt("2026-03-01T14:00:00.000Z"), { ...reopened, at: "2026-03-01T14:00:30.000Z" }],
          counted: [],
        }),
      ),
    ).toEqual([]);
  });

  it("a close after the scheduled close, a second close without a reopening, a reopening without a close", async () => {
    await expectCaught(
      log({ during: [{ ...closed, effectiveAt: "2026-03-01T20:00:00.000Z" }], counted: [] }),
      /is not before the scheduled close/,
    );
    await expectCaught(
      log({ during: [closed, closed], counted: [] }),
      /closed early again .* without having been reopened/,
    );
    await expectCaught(log({ during: [reopened], counted: [] }), /reopened at .* though it was not closed early/);
    await expectCaught(log({ during: [{ ...closed, effectiveAt: CLOSE_AT }], counted: [] }), /takes effect before it/);
  });
});
