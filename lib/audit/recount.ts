/**
 * What an auditor concludes from a log's decoded entries, in log order: the rules the entries
 * must keep among themselves, and the recount of the published cast vote records. Runtime-free
 * (the auditor CLI and the tests share it).
 *
 * Rules checked (each broken rule is a problem naming the entry index):
 * - a ballot commitment appears once;
 * - a retraction names the tracking code of an earlier ballot entry of the same district, once;
 * - cast vote records appear only after `polls-closed` (the secrecy policy: see AUDIT-LOG.md);
 * - records come in rounds: each `cast-vote-records-published` entry closes a round, its round
 *   number is the next one, and its per-district counts are exactly the records since the
 *   previous round's entry; records after the last round's entry mean an unfinished round;
 * - per district, cast vote records = ballot entries - retraction entries (every counted ballot
 *   has exactly one record, and no retracted one has any), once publication is complete.
 *
 * The recount adds each record's marks the way the tally does (lib/tally/totals.ts): a marked
 * named option +1 to it, a marked write-in option +1 to the contest's write-ins, a contest with
 * no mark +1 to its blanks; one ballot per record to its district.
 */
import { z } from "zod";
import { trackingCodeOf } from "../ballot/commitment.ts";
import { addContest, contestList, sumTotals, type ContestCounter, type ElectionTotals } from "../tally/totals.ts";
import { ENTRY_TYPES, type EntryTypeName, type LogEntry, type LogEntryOf } from "./entries.ts";
import { assertNever } from "../result.ts";

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
}

interface DistrictTally {
  ballots: number;
  readonly contests: Map<string, ContestCounter>;
}

/** Feed every entry in order with add(), then finish(). */
export class LogAuditor {
  private readonly counts = Object.fromEntries(Object.keys(ENTRY_TYPES).map((t) => [t, 0])) as Record<
    EntryTypeName,
    number
  >;
  private readonly problems: string[] = [];
  private readonly commitments = new Set<string>();
  /** Tracking code -> district, for the ballots logged so far. */
  private readonly ballotsByCode = new Map<string, string>();
  private readonly retracted = new Set<string>();
  private readonly ballotsPerDistrict = new Map<string, number>();
  private readonly retractionsPerDistrict = new Map<string, number>();
  private readonly recordsPerDistrict = new Map<string, number>();
  /** Records since the last round's closing entry, per district. */
  private roundRecords = new Map<string, number>();
  private lastRound = 0;
  private pollsClosed = false;
  private readonly tallies = new Map<string, DistrictTally>();
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
        this.ballotsByCode.set(await trackingCodeOf(entry.commitment), entry.districtId);
        increment(this.ballotsPerDistrict, entry.districtId);
        break;
      }
      case "retraction": {
        const district = this.ballotsByCode.get(entry.trackingCode);
        if (district === undefined)
          this.problem(index, `retraction of ${entry.trackingCode} names no earlier ballot entry`);
        else if (district !== entry.districtId)
          this.problem(
            index,
            `retraction of ${entry.trackingCode} is for district ${entry.districtId}, its ballot is in ${district}`,
          );
        if (this.retracted.has(entry.trackingCode))
          this.problem(index, `ballot ${entry.trackingCode} is retracted twice`);
        this.retracted.add(entry.trackingCode);
        increment(this.retractionsPerDistrict, entry.districtId);
        break;
      }
      case "cast-vote-record":
        if (!this.pollsClosed) this.problem(index, "a cast vote record is published before the polls closed");
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
        break;
      }
      case "polls-closed":
        this.pollsClosed = true;
        break;
      case "check-in":
      case "station-results":
      case "paper-cancellation":
      case "definition-loaded":
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
        break;
      default:
        assertNever(entry);
    }
  }

  private count(record: LogEntryOf<"cast-vote-record">): void {
    let district = this.tallies.get(record.districtId);
    if (!district) {
      district = { ballots: 0, contests: new Map() };
      this.tallies.set(record.districtId, district);
    }
    district.ballots += 1;
    for (const contest of record.contests) {
      const named = contest.marks.filter((m) => !m.writeIn);
      addContest(district.contests, {
        contestId: contest.contestId,
        options: named.map((m) => ({ optionId: m.optionId, votes: 1 })),
        writeIns: contest.marks.length - named.length,
        blanks: contest.marks.length === 0 ? 1 : 0,
      });
    }
  }

  finish(): AuditFindings {
    const published = this.lastRound > 0;
    const unfinished = [...this.roundRecords.values()].reduce((a, b) => a + b, 0);
    if (unfinished > 0)
      this.problems.push(
        `${unfinished} cast vote record(s) after the last round's closing entry: a publication round is unfinished`,
      );
    if (published && unfinished === 0) {
      for (const district of new Set([...this.ballotsPerDistrict.keys(), ...this.recordsPerDistrict.keys()])) {
        const ballots = this.ballotsPerDistrict.get(district) ?? 0;
        const retractions = this.retractionsPerDistrict.get(district) ?? 0;
        const records = this.recordsPerDistrict.get(district) ?? 0;
        if (records !== ballots - retractions) {
          this.problems.push(
            `district ${district}: ${records} cast vote records, but ${ballots} ballots - ${retractions} retractions = ${ballots - retractions}`,
          );
        }
      }
    }
    const recount = sumTotals(
      [...this.tallies].map(([districtId, t]) => ({
        districtId,
        ballots: t.ballots,
        contests: contestList(t.contests),
      })),
    );
    return {
      counts: this.counts,
      problems: this.problems,
      recordsPublished: published,
      recount,
      pollsClosed: this.pollsClosed,
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
