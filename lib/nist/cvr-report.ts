/**
 * The cast vote record export: a NIST SP 1500-103 CastVoteRecordReport holding exactly the log's
 * record entries (0x03 cast-vote-record, 0x19 contest-vote-record), one CVR per record entry, in
 * log order, and its reading back by the auditor. Runtime-free and deterministic.
 *
 * Secrecy (docs/AUDIT-LOG.md M5): under per-contest records each CVR holds one contest of one
 * ballot, and nothing in the export ties two of them together: no BallotAuditId, UniqueId, batch,
 * device or time, and CVRs come in the log's (shuffled) order. A CVR's ids are its position in
 * this document only. Under whole-ballot records each CVR is a whole ballot, as the log has it.
 * Which of the two the export holds is its OtherReportType ("per-contest-records" or
 * "whole-ballot-records", with ReportType "other"), so a reader never takes one contest of a
 * ballot for a ballot.
 *
 * Write-in texts are never published (entries.ts): a marked write-in selection is a
 * SelectionPosition with HasIndication "yes" and no CVRWriteIn text.
 */
import type { LogEntryOf } from "../audit/entries.ts";
import type { ElectionDefinition } from "../election/definition.ts";
import type { CompiledElection } from "../election/model.ts";
import { textOf } from "../election/nist.ts";
import { err, ok, type Result } from "../result.ts";
import { nistDateTime } from "./results-report.ts";
import type { CastVoteRecordsMode } from "../vocabulary.ts";

type Json = Record<string, unknown>;
export type RecordEntry = LogEntryOf<"cast-vote-record"> | LogEntryOf<"contest-vote-record">;

const ELECTION_REF = "election";
const DEVICE_REF = "rd-audit-log";
const OTHER_REPORT_TYPE: Record<CastVoteRecordsMode, string> = {
  "per-contest": "per-contest-records",
  "whole-ballot": "whole-ballot-records",
};

export interface CvrReportInput {
  readonly definition: ElectionDefinition;
  readonly election: CompiledElection;
  readonly mode: CastVoteRecordsMode;
  /** The log's record entries in log order. */
  readonly records: readonly RecordEntry[];
  /** ISO time taken from stored state (never the clock), so a rebuild gives the same bytes. */
  readonly generatedAt: string;
}

export function buildCvrReport(input: CvrReportInput): Json {
  const { definition, election, mode, records, generatedAt } = input;
  const report = definition.electionReport;
  const nistElection = report.Election?.[0];
  const candidates = (nistElection?.Candidate ?? []).map((c) => ({
    "@id": c["@id"],
    "@type": "CVR.Candidate",
    Name: textOf(c.BallotName) ?? c["@id"],
  }));
  const contests = [...election.contests.values()].map((contest) => {
    const nist = nistElection?.Contest?.find((c) => c["@id"] === contest.id);
    const selections = contest.options.map((option) => {
      const source = nist?.ContestSelection?.find((s) => s["@id"] === option.id);
      if (source?.["@type"] === "ElectionResults.BallotMeasureSelection")
        return { "@id": option.id, "@type": "CVR.BallotMeasureSelection", Selection: option.label };
      const candidateIds = source?.["@type"] === "ElectionResults.CandidateSelection" ? source.CandidateIds : undefined;
      return {
        "@id": option.id,
        "@type": "CVR.CandidateSelection",
        ...(candidateIds && candidateIds.length > 0 ? { CandidateIds: candidateIds } : {}),
        ...(option.isWriteIn ? { IsWriteIn: true } : {}),
      };
    });
    return contest.kind === "candidate"
      ? {
          "@id": contest.id,
          "@type": "CVR.CandidateContest",
          Name: contest.name,
          VotesAllowed: contest.votesAllowed,
          ContestSelection: selections,
        }
      : { "@id": contest.id, "@type": "CVR.BallotMeasureContest", Name: contest.name, ContestSelection: selections };
  });
  const gpUnits = [...election.districts.values()].map((d) => ({
    "@id": d.id,
    "@type": "CVR.GpUnit",
    Type: "other",
    OtherType: "electoral-district",
    Name: d.name,
  }));
  const cvrs = records.map((record, i) => {
    const snapshotId = `cvr-${i + 1}-original`;
    const recordContests =
      record.type === "cast-vote-record" ? record.contests : [{ contestId: record.contestId, marks: record.marks }];
    return {
      "@type": "CVR.CVR",
      ElectionId: ELECTION_REF,
      BallotStyleId: record.ballotStyleId,
      BallotStyleUnitId: record.districtId,
      CurrentSnapshotId: snapshotId,
      CVRSnapshot: [
        {
          "@id": snapshotId,
          "@type": "CVR.CVRSnapshot",
          Type: "original",
          CVRContest: recordContests.map((c) => {
            const allowed = election.contests.get(c.contestId)?.votesAllowed ?? 1;
            return {
              "@type": "CVR.CVRContest",
              ContestId: c.contestId,
              Selections: c.marks.length,
              Undervotes: Math.max(0, allowed - c.marks.length),
              WriteIns: c.marks.filter((m) => m.writeIn).length,
              CVRContestSelection: c.marks.map((m) => ({
                "@type": "CVR.CVRContestSelection",
                ContestSelectionId: m.optionId,
                SelectionPosition: [
                  { "@type": "CVR.SelectionPosition", HasIndication: "yes", NumberVotes: 1, IsAllocable: "yes" },
                ],
              })),
            };
          }),
        },
      ],
    };
  });
  return {
    "@type": "CVR.CastVoteRecordReport",
    Version: "1.0.0",
    GeneratedDate: nistDateTime(generatedAt),
    ReportType: ["other"],
    OtherReportType: OTHER_REPORT_TYPE[mode],
    Notes: `Every cast vote record of election ${election.id} as published in its public audit log, in log order. ${
      mode === "per-contest"
        ? "Each CVR is one contest of one ballot; CVRs of the same ballot are not linked."
        : "Each CVR is one ballot."
    } Write-in texts are not published.`,
    ReportGeneratingDeviceIds: [DEVICE_REF],
    ReportingDevice: [
      {
        "@id": DEVICE_REF,
        "@type": "CVR.ReportingDevice",
        Application: "mixed-election audit log",
        Manufacturer: report.Issuer ?? "election authority",
      },
    ],
    GpUnit: gpUnits,
    Election: [
      {
        "@id": ELECTION_REF,
        "@type": "CVR.Election",
        ElectionScopeId: nistElection?.ElectionScopeId ?? election.id,
        Name: election.name,
        ...(candidates.length > 0 ? { Candidate: candidates } : {}),
        Contest: contests,
      },
    ],
    CVR: cvrs,
  };
}

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/**
 * The record entries a CVR export holds, in its order, as the log encodes them: what the auditor
 * compares, one by one, with the log's records. Errors name the CVR at fault.
 */
export function readCvrReport(report: unknown): Result<RecordEntry[], string> {
  if (!isObject(report) || report["@type"] !== "CVR.CastVoteRecordReport") return err("not a CVR.CastVoteRecordReport");
  const otherType = report["OtherReportType"];
  const mode =
    otherType === OTHER_REPORT_TYPE["per-contest"]
      ? "per-contest"
      : otherType === OTHER_REPORT_TYPE["whole-ballot"]
        ? "whole-ballot"
        : undefined;
  if (!mode) return err(`OtherReportType ${String(otherType)} says neither per-contest nor whole-ballot records`);
  const writeIns = new Set<string>();
  for (const election of list(report["Election"]))
    for (const contest of list(isObject(election) ? election["Contest"] : undefined))
      for (const selection of list(isObject(contest) ? contest["ContestSelection"] : undefined))
        if (isObject(selection) && selection["IsWriteIn"] === true && typeof selection["@id"] === "string")
          writeIns.add(selection["@id"]);
  const out: RecordEntry[] = [];
  for (const [i, cvr] of list(report["CVR"]).entries()) {
    const where = `CVR ${i + 1}`;
    if (!isObject(cvr)) return err(`${where} is not an object`);
    const districtId = cvr["BallotStyleUnitId"];
    const ballotStyleId = cvr["BallotStyleId"];
    if (typeof districtId !== "string" || typeof ballotStyleId !== "string")
      return err(`${where} has no BallotStyleUnitId or BallotStyleId`);
    const snapshot = list(cvr["CVRSnapshot"]).find((s) => isObject(s) && s["@id"] === cvr["CurrentSnapshotId"]);
    if (!isObject(snapshot)) return err(`${where}: its current snapshot is missing`);
    const contests: { contestId: string; marks: { optionId: string; writeIn: boolean }[] }[] = [];
    for (const contest of list(snapshot["CVRContest"])) {
      if (!isObject(contest) || typeof contest["ContestId"] !== "string")
        return err(`${where}: a contest without ContestId`);
      const marks: { optionId: string; writeIn: boolean }[] = [];
      for (const selection of list(contest["CVRContestSelection"])) {
        if (!isObject(selection) || typeof selection["ContestSelectionId"] !== "string")
          return err(`${where}: a selection without ContestSelectionId`);
        const indicated = list(selection["SelectionPosition"]).some((p) => isObject(p) && p["HasIndication"] === "yes");
        if (indicated)
          marks.push({
            optionId: selection["ContestSelectionId"],
            writeIn: writeIns.has(selection["ContestSelectionId"]),
          });
      }
      contests.push({ contestId: contest["ContestId"], marks });
    }
    if (mode === "per-contest") {
      const [only] = contests;
      if (contests.length !== 1 || !only)
        return err(`${where} is a per-contest record with ${contests.length} contests`);
      out.push({
        type: "contest-vote-record",
        districtId,
        ballotStyleId,
        contestId: only.contestId,
        marks: only.marks,
      });
    } else {
      out.push({ type: "cast-vote-record", districtId, ballotStyleId, contests });
    }
  }
  return ok(out);
}
