/**
 * What an auditor concludes from a log's decoded entries, in log order: the rules the entries
 * must keep among themselves, and the recount of the published cast vote records. Runtime-free
 * (the auditor CLI and the tests share it).
 *
 * Rules checked (each broken rule is a problem naming the entry index):
 * - a ballot commitment appears once;
 * - once the `retraction-key` entry is logged (after the polls closed; only one may be), every
 *   retraction's blinded code is the blinding of exactly one earlier ballot entry's tracking code,
 *   of the same district, and no ballot is retracted twice; retractions logged after the polls
 *   closed with no key published are a problem too (checkRetractions);
 * - cast vote records appear only after `polls-closed` (the secrecy policy: see AUDIT-LOG.md), of
 *   the kind the last definition says (whole-ballot or per-contest);
 * - records come in rounds: each `cast-vote-records-published` entry closes a round, its round
 *   number is the next one, and its per-district counts are exactly the record entries since the
 *   previous round's entry; records after the last round's entry mean an unfinished round;
 * - per district, counted ballots = ballot entries - retraction entries - records the last round
 *   says are withheld (every counted ballot has exactly one record, and no retracted one has any),
 *   once publication is complete; under per-contest records, per district and ballot style every
 *   contest has as many records, and those numbers add up to the counted ballots.
 *
 * The recount adds each record's marks the way the tally does (lib/tally/totals.ts): a marked
 * named option +1 to it, a marked write-in option +1 to the contest's write-ins, a contest with
 * no mark +1 to its blanks; one ballot per whole-ballot record to its district, or per district
 * and style as many ballots as each contest of that style has records.
 */
import * as z from "zod";
import { trackingCodeOf } from "../ballot/commitment.ts";
import {
  addContest,
  contestList,
  sumTotals,
  type ContestCounter,
  type DistrictTotals,
  type ElectionTotals,
} from "../tally/totals.ts";
import {
  ENTRY_TYPES,
  retractionBlind,
  retractionBlindingKey,
  type EntryTypeName,
  type LogEntry,
  type LogEntryOf,
} from "./entries.ts";
import { assertNever } from "../result.ts";
import type { CastVoteRecordsMode } from "../vocabulary.ts";

export interface AuditFindings {
  /** Entries of each type. */
  readonly counts: Readonly<Record<EntryTypeName, number>>;
  /** Broken rules, each a sentence naming the entry index; empty when all hold. */
  readonly problems: readonly string[];
  /** Whether a round of cast vote records was completed (the recount needs one). */
  readonly recordsPublished: boolean;
  /** The recount of the published records (all districts; empty before publication). */
  readonly recount: ElectionTotals;
  readonly pollsClosed: boolean;
  /** The record entries (0x03, 0x19) in log order. */
  readonly records: readonly RecordEntry[];
  /** The results-published entry, its index and the record entries before it; undefined if none. */
  readonly resultsPublished:
    | { readonly index: number; readonly entry: LogEntryOf<"results-published">; readonly recordsBefore: number }
    | undefined;
  readonly resultsCertified: readonly { readonly index: number; readonly entry: LogEntryOf<"results-certified"> }[];
}

export type RecordEntry = LogEntryOf<"cast-vote-record"> | LogEntryOf<"contest-vote-record">;

/**
 * The recount of record entries, the way the tally counts ballots (lib/tally/totals.ts): shared
 * by the auditor and by the sequencer, which compares it with the tally before exporting.
 */
export class RecordTally {
  private readonly tallies = new Map<string, DistrictTally>();

  add(record: RecordEntry): void {
    let district = this.tallies.get(record.districtId);
    if (!district) {
      district = { ballots: 0, contests: new Map(), styles: new Map() };
      this.tallies.set(record.districtId, district);
    }
    if (record.type === "contest-vote-record") {
      const style = district.styles.get(record.ballotStyleId) ?? new Map<string, number>();
      district.styles.set(record.ballotStyleId, style);
      increment(style, record.contestId);
    } else district.ballots += 1;
    const contests = record.type === "cast-vote-record" ? record.contests : [record];
    for (const contest of contests) {
      const named = contest.marks.filter((m) => !m.writeIn);
      addContest(district.contests, {
        contestId: contest.contestId,
        options: named.map((m) => ({ optionId: m.optionId, votes: 1 })),
        writeIns: contest.marks.length - named.length,
        blanks: contest.marks.length === 0 ? 1 : 0,
      });
    }
  }

  /**
   * The totals, and the problems of per-contest records: per district and style every contest
   * must have the same number of records, which is that style's number of counted ballots.
   */
  finish(): { totals: ElectionTotals; problems: string[] } {
    const problems: string[] = [];
    const districts: DistrictTotals[] = [];
    for (const [districtId, tally] of this.tallies) {
      let ballots = tally.ballots;
      for (const [style, contests] of tally.styles) {
        const counts = [...contests.values()];
        const most = Math.max(...counts);
        if (counts.some((n) => n !== most))
          problems.push(
            `district ${districtId}, ballot style ${style}: its contests have different numbers of records (${[...contests].map(([c, n]) => `${c} ${n}`).join(", ")})`,
          );
        ballots += most;
      }
      districts.push({ districtId, ballots, contests: contestList(tally.contests) });
    }
    return { totals: sumTotals(districts), problems };
  }
}

interface DistrictTally {
  ballots: number;
  readonly contests: Map<string, ContestCounter>;
  /** Per-contest records: ballot style -> contest -> records. */
  readonly styles: Map<string, Map<string, number>>;
}

interface LoggedBallot {
  readonly index: number;
  readonly trackingCode: string;
  readonly districtId: string;
}

interface LoggedRetraction {
  readonly index: number;
  readonly entry: LogEntryOf<"retraction">;
}

/** Feed every entry in order with add(), then finish(). */
export class LogAuditor {
  private readonly counts = Object.fromEntries(Object.keys(ENTRY_TYPES).map((t) => [t, 0])) as Record<
    EntryTypeName,
    number
  >;
  private readonly problems: string[] = [];
  private readonly commitments = new Set<string>();
  /** Every ballot entry so far, in log order (retractions are matched to them once the key is out). */
  private readonly ballots: LoggedBallot[] = [];
  /** Retractions not yet matched (all of them until the retraction key is logged). */
  private readonly unmatched: LoggedRetraction[] = [];
  /** Once the retraction key is logged: blinded code -> ballot. */
  private blinded: Map<string, LoggedBallot> | undefined;
  private blindingKey: CryptoKey | undefined;
  private readonly retracted = new Set<string>();
  /** The last definition's record kind (per-contest when no definition was logged). */
  private recordsMode: CastVoteRecordsMode = "per-contest";
  /** Records the last round said it withheld, per district. */
  private withheld = new Map<string, number>();
  private readonly ballotsPerDistrict = new Map<string, number>();
  private readonly retractionsPerDistrict = new Map<string, number>();
  private readonly recordsPerDistrict = new Map<string, number>();
  /** Records since the last round's closing entry, per district. */
  private roundRecords = new Map<string, number>();
  private lastRound = 0;
  private pollsClosed = false;
  private readonly records = new RecordTally();
  /** The record entries in log order (the CVR export must hold exactly these). */
  private readonly recordList: RecordEntry[] = [];
  private resultsPublished:
    { index: number; entry: LogEntryOf<"results-published">; recordsBefore: number } | undefined;
  private readonly resultsCertified: { index: number; entry: LogEntryOf<"results-certified"> }[] = [];
  private next = 0;

  private problem(index: number, text: string): void {
    if (this.problems.length < 1000) this.problems.push(`entry ${index}: ${text}`);
  }

  async add(index: number, entry: LogEntry): Promise<void> {
    if (index !== this.next) throw new Error(`entries must be added in order: got ${index}, expected ${this.next}`);
    this.next += 1;
    this.counts[entry.type] += 1;
    switch (entry.type) {
      case "ballot": {
        if (this.commitments.has(entry.commitment))
          this.problem(index, `ballot commitment ${entry.commitment} is logged twice`);
        this.commitments.add(entry.commitment);
        const ballot = { index, trackingCode: await trackingCodeOf(entry.commitment), districtId: entry.districtId };
        this.ballots.push(ballot);
        if (this.blinded && this.blindingKey)
          this.blinded.set(await retractionBlind(this.blindingKey, ballot.trackingCode), ballot);
        increment(this.ballotsPerDistrict, entry.districtId);
        break;
      }
      case "retraction":
        increment(this.retractionsPerDistrict, entry.districtId);
        if (this.blinded) this.matchRetraction({ index, entry });
        else this.unmatched.push({ index, entry });
        break;
      case "retraction-key":
        await this.retractionKey(index, entry);
        break;
      case "cast-vote-record":
      case "contest-vote-record":
        if (!this.pollsClosed) this.problem(index, "a cast vote record is published before the polls closed");
        if ((entry.type === "cast-vote-record") !== (this.recordsMode === "whole-ballot"))
          this.problem(index, `a ${entry.type} entry, but the definition says ${this.recordsMode} records`);
        increment(this.roundRecords, entry.districtId);
        increment(this.recordsPerDistrict, entry.districtId);
        this.count(entry);
        break;
      case "cast-vote-records-published": {
        if (entry.round !== this.lastRound + 1)
          this.problem(index, `round ${entry.round} follows round ${this.lastRound}`);
        this.lastRound = entry.round;
        const stated = new Map(entry.districts.map((d) => [d.districtId, d.records]));
        for (const district of new Set([...stated.keys(), ...this.roundRecords.keys()])) {
          const s = stated.get(district) ?? 0;
          const seen = this.roundRecords.get(district) ?? 0;
          if (s !== seen)
            this.problem(
              index,
              `round ${entry.round} states ${s} records for district ${district}, the log has ${seen} since the previous round`,
            );
        }
        this.roundRecords = new Map();
        this.withheld = new Map(entry.districts.map((d) => [d.districtId, d.withheld]));
        break;
      }
      case "polls-closed":
        this.pollsClosed = true;
        break;
      case "definition-loaded":
        this.recordsMode = entry.castVoteRecords;
        break;
      case "check-in":
      case "station-results":
      case "paper-cancellation":
      case "roll-imported":
      case "polls-opened":
      case "official-key-added":
      case "official-key-revoked":
      case "official-revoked":
      case "station-registered":
      case "station-revoked":
      case "station-key-added":
      case "station-key-revoked":
      case "serial-range-issued":
      case "sheet-key-added":
      case "sheet-key-revoked":
      case "polls-closed-early": // the observer's (lib/audit/observer.ts)
      case "polls-reopened":
      case "conflict-adjudicated":
      case "alert-raised":
      case "alert-closed":
        break;
      case "results-published":
        if (this.resultsPublished)
          this.problem(index, "a second results-published entry (the exports are published once)");
        else {
          this.resultsPublished = { index, entry, recordsBefore: this.recordList.length };
          if (entry.records !== this.recordList.length)
            this.problem(
              index,
              `results-published says ${entry.records} records, the log has ${this.recordList.length} before it`,
            );
          if (entry.logSize > index)
            this.problem(index, `results-published covers ${entry.logSize} entries, but it is entry ${index}`);
        }
        break;
      case "results-certified":
        if (!this.resultsPublished) this.problem(index, "results are certified before any results-published entry");
        else if (entry.resultsSha256 !== this.resultsPublished.entry.resultsSha256)
          this.problem(
            index,
            `results-certified names report ${entry.resultsSha256}, the published report is ${this.resultsPublished.entry.resultsSha256}`,
          );
        this.resultsCertified.push({ index, entry });
        break;
      default:
        assertNever(entry);
    }
  }

  /**
   * The retraction key, once: from here on every retraction so far, and every later one, must be
   * the blinding of exactly one earlier ballot's tracking code.
   */
  private async retractionKey(index: number, entry: LogEntryOf<"retraction-key">): Promise<void> {
    if (this.blinded) {
      this.problem(index, "a second retraction-key entry (the key is published once)");
      return;
    }
    if (!this.pollsClosed) this.problem(index, "the retraction key is published before the polls closed");
    this.blindingKey = await retractionBlindingKey(entry.key);
    this.blinded = new Map();
    for (const ballot of this.ballots)
      this.blinded.set(await retractionBlind(this.blindingKey, ballot.trackingCode), ballot);
    for (const retraction of this.unmatched.splice(0)) this.matchRetraction(retraction);
  }

  /**
   * Retractions left unmatched once the polls closed: the key that would show which ballots they
   * retract was never published (during voting they are unmatched by design).
   */
  private checkRetractions(): void {
    if (!this.pollsClosed || this.blinded || this.unmatched.length === 0) return;
    this.problems.push(
      `${this.unmatched.length} retraction(s) cannot be checked: the polls closed and no retraction-key entry is logged`,
    );
  }

  private matchRetraction({ index, entry }: LoggedRetraction): void {
    const ballot = this.blinded?.get(entry.blindedCode);
    if (!ballot || ballot.index >= index) {
      this.problem(index, `retraction ${entry.blindedCode.slice(0, 16)}... names no earlier ballot entry`);
      return;
    }
    if (ballot.districtId !== entry.districtId)
      this.problem(
        index,
        `retraction of ${ballot.trackingCode} is for district ${entry.districtId}, its ballot is in ${ballot.districtId}`,
      );
    if (this.retracted.has(ballot.trackingCode))
      this.problem(index, `ballot ${ballot.trackingCode} is retracted twice`);
    this.retracted.add(ballot.trackingCode);
  }

  private count(record: LogEntryOf<"cast-vote-record"> | LogEntryOf<"contest-vote-record">): void {
    this.records.add(record);
    this.recordList.push(record);
  }

  finish(): AuditFindings {
    const published = this.lastRound > 0;
    const unfinished = [...this.roundRecords.values()].reduce((a, b) => a + b, 0);
    if (unfinished > 0)
      this.problems.push(
        `${unfinished} cast vote record(s) after the last round's closing entry: a publication round is unfinished`,
      );
    this.checkRetractions();
    const { totals: recount, problems } = this.records.finish();
    this.problems.push(...problems);
    const countedIn = new Map(recount.districts.map((d) => [d.districtId, d.ballots]));
    if (published && unfinished === 0) {
      for (const district of new Set([
        ...this.ballotsPerDistrict.keys(),
        ...this.recordsPerDistrict.keys(),
        ...this.withheld.keys(),
      ])) {
        const ballots = this.ballotsPerDistrict.get(district) ?? 0;
        const retractions = this.retractionsPerDistrict.get(district) ?? 0;
        const withheld = this.withheld.get(district) ?? 0;
        const counted = countedIn.get(district) ?? 0;
        if (counted !== ballots - retractions - withheld) {
          this.problems.push(
            `district ${district}: cast vote records of ${counted} ballots, but ${ballots} ballots - ${retractions} retractions - ${withheld} withheld = ${ballots - retractions - withheld}`,
          );
        }
      }
    }
    return {
      counts: this.counts,
      problems: this.problems,
      recordsPublished: published,
      recount,
      pollsClosed: this.pollsClosed,
      records: this.recordList,
      resultsPublished: this.resultsPublished,
      resultsCertified: this.resultsCertified,
    };
  }
}

function increment(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

// ---------------------------------------------------------------------------------------------
// Comparing the recount with the published results (GET /v1/elections/{id}/results)

const Votes = z.number().int().min(0);

/** The parts of the results document the recount checks; everything else is ignored. */
export const PublishedResults = z.object({
  electionId: z.string(),
  pollsClosed: z.boolean(),
  turnout: z.object({
    ballotsCounted: Votes,
    districts: z.array(z.object({ districtId: z.string(), ballotsCounted: Votes })),
  }),
  contests: z.array(
    z.object({
      id: z.string(),
      options: z.array(z.object({ id: z.string(), votes: Votes })),
      writeIns: Votes,
      blanks: Votes,
      districts: z.array(
        z.object({
          districtId: z.string(),
          options: z.array(z.object({ id: z.string(), votes: Votes })),
          writeIns: Votes,
          blanks: Votes,
        }),
      ),
    }),
  ),
});
export type PublishedResults = z.infer<typeof PublishedResults>;

interface Figures {
  readonly options: ReadonlyMap<string, number>;
  readonly writeIns: number;
  readonly blanks: number;
}

function compareFigures(where: string, log: Figures | undefined, published: Figures | undefined, out: string[]): void {
  const l = log ?? { options: new Map<string, number>(), writeIns: 0, blanks: 0 };
  const p = published ?? { options: new Map<string, number>(), writeIns: 0, blanks: 0 };
  for (const option of new Set([...l.options.keys(), ...p.options.keys()])) {
    const a = l.options.get(option) ?? 0;
    const b = p.options.get(option) ?? 0;
    if (a !== b) out.push(`${where}, option ${option}: the log's records count ${a}, the published results ${b}`);
  }
  if (l.writeIns !== p.writeIns)
    out.push(`${where}, write-ins: the log's records count ${l.writeIns}, the published results ${p.writeIns}`);
  if (l.blanks !== p.blanks)
    out.push(`${where}, blanks: the log's records count ${l.blanks}, the published results ${p.blanks}`);
}

/**
 * Every difference between the recount and the published results, each a sentence naming the
 * contest, district and option; empty when they agree to the vote.
 */
export function compareWithResults(recount: ElectionTotals, results: PublishedResults): string[] {
  const out: string[] = [];
  if (recount.ballots !== results.turnout.ballotsCounted) {
    out.push(
      `ballots: the log has ${recount.ballots} cast vote records, the published results count ${results.turnout.ballotsCounted} ballots`,
    );
  }
  const loggedDistricts = new Map(recount.districts.map((d) => [d.districtId, d]));
  for (const district of new Set([...loggedDistricts.keys(), ...results.turnout.districts.map((d) => d.districtId)])) {
    const a = loggedDistricts.get(district)?.ballots ?? 0;
    const b = results.turnout.districts.find((d) => d.districtId === district)?.ballotsCounted ?? 0;
    if (a !== b)
      out.push(`district ${district} ballots: the log has ${a} cast vote records, the published results count ${b}`);
  }
  const figures = (c: {
    options: readonly { optionId: string; votes: number }[];
    writeIns: number;
    blanks: number;
  }): Figures => ({
    options: new Map(c.options.map((o) => [o.optionId, o.votes])),
    writeIns: c.writeIns,
    blanks: c.blanks,
  });
  const published = (c: {
    options: readonly { id: string; votes: number }[];
    writeIns: number;
    blanks: number;
  }): Figures => ({
    options: new Map(c.options.map((o) => [o.id, o.votes])),
    writeIns: c.writeIns,
    blanks: c.blanks,
  });
  const overall = new Map(recount.contests.map((c) => [c.contestId, figures(c)]));
  const resultContests = new Map(results.contests.map((c) => [c.id, c]));
  for (const contestId of new Set([...overall.keys(), ...resultContests.keys()])) {
    const rc = resultContests.get(contestId);
    compareFigures(`contest ${contestId}`, overall.get(contestId), rc && published(rc), out);
    const perDistrict = new Map<string, Figures>();
    for (const d of recount.districts) {
      const c = d.contests.find((x) => x.contestId === contestId);
      if (c) perDistrict.set(d.districtId, figures(c));
    }
    const resultDistricts = new Map((rc?.districts ?? []).map((d) => [d.districtId, published(d)]));
    for (const district of new Set([...perDistrict.keys(), ...resultDistricts.keys()])) {
      compareFigures(
        `contest ${contestId} in district ${district}`,
        perDistrict.get(district),
        resultDistricts.get(district),
        out,
      );
    }
  }
  return out;
}
