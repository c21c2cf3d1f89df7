/**
 * The results export: a NIST SP 1500-100 rev.2 ElectionReport with counts, built from the loaded
 * definition (its GpUnits, Parties, Candidates, Contests and selections, ids as loaded) and the
 * tally's exact totals, and read back by the auditor. Runtime-free and deterministic: the same
 * definition, totals and `generatedAt` give the same bytes, so the sequencer can write the export
 * again after a crash and get what it wrote before (docs/AUDIT-LOG.md "Exports").
 *
 * How our counts are expressed:
 * - per contest selection, `VoteCounts` of Type "total" for every district (GpUnit) whose ballot
 *   style holds the contest, and one for the contest's ElectionDistrictId when that is not itself
 *   one of those districts (the whole contest): a "precinct-level" report;
 * - write-in selections carry no VoteCounts: the tally counts marked write-ins per contest, not
 *   per write-in line, so they are the contest's `OtherCounts.WriteIns`;
 * - `OtherCounts.Undervotes` is the number of ballots that left the contest blank (no mark at
 *   all), the tally's `blanks`; for vote-for-one contests that is NIST's undervote count exactly;
 * - the election's `BallotCounts` (Type "total") give the ballots counted per district;
 * - `Status` is "unofficial-complete": certification is a later, separate act, logged on its own
 *   (results-certified), that names this report by its digest.
 */
import type { ElectionDefinition } from "../election/definition.ts";
import type { CompiledElection } from "../election/model.ts";
import { err, ok, type Result } from "../result.ts";
import {
  compareIds,
  sumTotals,
  type ContestTotals,
  type DistrictTotals,
  type ElectionTotals,
} from "../tally/totals.ts";

type Json = Record<string, unknown>;

export interface ResultsReportInput {
  readonly definition: ElectionDefinition;
  readonly election: CompiledElection;
  readonly totals: ElectionTotals;
  /** ISO time taken from stored state (never the clock), so a rebuild gives the same bytes. */
  readonly generatedAt: string;
}

/**
 * A NIST DateTimeWithZone: whole seconds and "Z" (the schema's pattern takes no fractions), from
 * any ISO time; the CVR export uses the same form.
 */
export function nistDateTime(iso: string): string {
  return new Date(Math.floor(Date.parse(iso) / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

/** The districts whose voters see a contest, in id order. */
export function districtsOfContest(election: CompiledElection, contestId: string): string[] {
  const out: string[] = [];
  for (const [districtId, styleId] of election.ballotStyleByDistrict) {
    if (election.ballotStyles.get(styleId)?.contestIds.includes(contestId)) out.push(districtId);
  }
  return out.sort(compareIds);
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function contestTotalsIn(district: DistrictTotals | undefined, contestId: string): ContestTotals | undefined {
  return district?.contests.find((c) => c.contestId === contestId);
}

/** The results ElectionReport as a JSON value (see serializeReport for its bytes). */
export function buildResultsReport(input: ResultsReportInput): Json {
  const { definition, election, totals, generatedAt } = input;
  // A deep copy of the loaded report: everything the definition said stays, ids as loaded.
  const report = JSON.parse(JSON.stringify(definition.electionReport)) as Json;
  const byDistrict = new Map(totals.districts.map((d) => [d.districtId, d]));
  const ballotDistricts = [...new Set([...election.ballotStyleByDistrict.keys(), ...byDistrict.keys()])].sort(
    compareIds,
  );

  report["Format"] = "precinct-level";
  report["GeneratedDate"] = nistDateTime(generatedAt);
  report["Status"] = "unofficial-complete";
  report["SequenceStart"] = 1;
  report["SequenceEnd"] = 1;
  report["Notes"] =
    "Counts of the tally, checked equal per district, contest and selection to the cast vote records in the public audit log before export. Write-ins are counted per contest (OtherCounts.WriteIns); OtherCounts.Undervotes counts ballots that left the contest blank.";

  const electionNode = Array.isArray(report["Election"]) ? (report["Election"][0] as unknown) : undefined;
  if (!isObject(electionNode)) return report;
  electionNode["BallotCounts"] = ballotDistricts.map((districtId) => ({
    "@type": "ElectionResults.BallotCounts",
    GpUnitId: districtId,
    Type: "total",
    BallotsCast: byDistrict.get(districtId)?.ballots ?? 0,
  }));
  const contests = Array.isArray(electionNode["Contest"]) ? (electionNode["Contest"] as unknown[]) : [];
  for (const contest of contests) {
    if (!isObject(contest) || typeof contest["@id"] !== "string") continue;
    const contestId = contest["@id"];
    const compiled = election.contests.get(contestId);
    const districts = districtsOfContest(election, contestId);
    for (const d of byDistrict.keys())
      if (contestTotalsIn(byDistrict.get(d), contestId) && !districts.includes(d)) districts.push(d);
    districts.sort(compareIds);
    const whole = typeof contest["ElectionDistrictId"] === "string" ? contest["ElectionDistrictId"] : undefined;
    const withTotal = whole !== undefined && !districts.includes(whole);
    const overall = totals.contests.find((c) => c.contestId === contestId);

    const selections = Array.isArray(contest["ContestSelection"]) ? (contest["ContestSelection"] as unknown[]) : [];
    for (const selection of selections) {
      if (!isObject(selection) || typeof selection["@id"] !== "string") continue;
      const optionId = selection["@id"];
      const writeIn = compiled?.options.find((o) => o.id === optionId)?.isWriteIn ?? selection["IsWriteIn"] === true;
      if (writeIn) continue;
      const votesIn = (c: ContestTotals | undefined): number =>
        c?.options.find((o) => o.optionId === optionId)?.votes ?? 0;
      const counts = districts.map((districtId) => ({
        "@type": "ElectionResults.VoteCounts",
        GpUnitId: districtId,
        Type: "total",
        Count: votesIn(contestTotalsIn(byDistrict.get(districtId), contestId)),
      }));
      if (withTotal)
        counts.push({ "@type": "ElectionResults.VoteCounts", GpUnitId: whole, Type: "total", Count: votesIn(overall) });
      selection["VoteCounts"] = counts;
    }
    const other = districts.map((districtId) => {
      const c = contestTotalsIn(byDistrict.get(districtId), contestId);
      return {
        "@type": "ElectionResults.OtherCounts",
        GpUnitId: districtId,
        Undervotes: c?.blanks ?? 0,
        WriteIns: c?.writeIns ?? 0,
      };
    });
    if (withTotal)
      other.push({
        "@type": "ElectionResults.OtherCounts",
        GpUnitId: whole,
        Undervotes: overall?.blanks ?? 0,
        WriteIns: overall?.writeIns ?? 0,
      });
    contest["OtherCounts"] = other;
  }
  return report;
}

/** The export's bytes: indented JSON and a final newline, nothing else (no clock, no key order games). */
export function serializeReport(report: unknown): Uint8Array {
  return new TextEncoder().encode(`${JSON.stringify(report, null, 2)}\n`);
}

/**
 * The counts a results report states, per district (the GpUnits of its BallotCounts), as the
 * tally's totals: what the auditor compares with the recount of the log's records.
 */
export function readResultsReport(report: unknown): Result<ElectionTotals, string> {
  if (!isObject(report) || report["@type"] !== "ElectionResults.ElectionReport")
    return err("not an ElectionResults.ElectionReport");
  const electionNode = Array.isArray(report["Election"]) ? (report["Election"][0] as unknown) : undefined;
  if (!isObject(electionNode)) return err("the report holds no Election");
  const ballotCounts = Array.isArray(electionNode["BallotCounts"]) ? (electionNode["BallotCounts"] as unknown[]) : [];
  const districts = new Map<string, { ballots: number; contests: ContestTotals[] }>();
  for (const bc of ballotCounts) {
    if (!isObject(bc) || typeof bc["GpUnitId"] !== "string" || typeof bc["BallotsCast"] !== "number")
      return err("a BallotCounts without GpUnitId or BallotsCast");
    districts.set(bc["GpUnitId"], { ballots: bc["BallotsCast"], contests: [] });
  }
  const contests = Array.isArray(electionNode["Contest"]) ? (electionNode["Contest"] as unknown[]) : [];
  for (const contest of contests) {
    if (!isObject(contest) || typeof contest["@id"] !== "string") return err("a Contest without @id");
    const contestId = contest["@id"];
    const perDistrict = new Map<string, ContestTotals>();
    const at = (districtId: string): ContestTotals | undefined => {
      if (!districts.has(districtId)) return undefined;
      let c = perDistrict.get(districtId);
      if (!c) {
        c = { contestId, options: [], writeIns: 0, blanks: 0 };
        perDistrict.set(districtId, c);
      }
      return c;
    };
    for (const selection of Array.isArray(contest["ContestSelection"])
      ? (contest["ContestSelection"] as unknown[])
      : []) {
      if (!isObject(selection) || typeof selection["@id"] !== "string")
        return err(`contest ${contestId}: a selection without @id`);
      for (const vc of Array.isArray(selection["VoteCounts"]) ? (selection["VoteCounts"] as unknown[]) : []) {
        if (!isObject(vc) || typeof vc["GpUnitId"] !== "string" || typeof vc["Count"] !== "number")
          return err(`contest ${contestId}, selection ${selection["@id"]}: a VoteCounts without GpUnitId or Count`);
        const c = at(vc["GpUnitId"]);
        if (c && vc["Count"] > 0) c.options.push({ optionId: selection["@id"], votes: vc["Count"] });
      }
    }
    for (const oc of Array.isArray(contest["OtherCounts"]) ? (contest["OtherCounts"] as unknown[]) : []) {
      if (!isObject(oc) || typeof oc["GpUnitId"] !== "string")
        return err(`contest ${contestId}: an OtherCounts without GpUnitId`);
      const c = at(oc["GpUnitId"]);
      if (!c) continue;
      c.writeIns += typeof oc["WriteIns"] === "number" ? oc["WriteIns"] : 0;
      c.blanks += typeof oc["Undervotes"] === "number" ? oc["Undervotes"] : 0;
    }
    for (const [districtId, c] of perDistrict) districts.get(districtId)?.contests.push(c);
  }
  return ok(
    sumTotals(
      [...districts].map(([districtId, d]) => ({
        districtId,
        ballots: d.ballots,
        // A contest with no votes, write-ins or blanks in a district is no contest there for the tally.
        contests: d.contests.filter((c) => c.options.length > 0 || c.writeIns > 0 || c.blanks > 0),
      })),
    ),
  );
}
