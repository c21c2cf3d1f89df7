/**
 * Checks a voter's marks against their ballot style, the way a ballot-marking device would:
 * every contest on the style, known options only, no option twice, no more marks than the contest
 * allows (an overvote is refused; the voter is asked to fix it), fewer is an undervote and fine,
 * write-in text only on write-in options and required there, and well formed (writeInProblem).
 * Returns the canonical marks: every contest of the style in ballot order, blank ones with no
 * options, option ids sorted.
 */
import type { Problem } from "../errors.ts";
import type { CompiledElection } from "../election/model.ts";
import { err, ok, type Result } from "../result.ts";
import { WRITE_IN_MAX_LENGTH, type ContestMarks } from "./messages.ts";

export const BALLOT_PROBLEMS = {
  unknown_ballot_style: "The ballot style is not part of this election.",
  contest_not_on_ballot_style: "This contest is not on the voter's ballot style.",
  duplicate_contest: "The contest appears twice.",
  unknown_option: "This option is not part of the contest.",
  duplicate_option: "The option is marked twice.",
  overvote: "More options are marked than the contest allows.",
  write_in_missing: "A write-in option is marked without a name.",
  write_in_not_allowed: "Write-in text is given for an option that is not a write-in.",
  write_in_invalid: "The write-in name has characters a name cannot have (control characters or broken Unicode).",
} as const;
export type BallotProblemCode = keyof typeof BALLOT_PROBLEMS;

/**
 * Why a write-in name cannot be recorded, or undefined when it can. The one rule for both
 * channels: the online cast and the portal (validateBallot) and the paper ballot's QR payload,
 * encoded by a ballot-marking device and decoded at the scan (lib/qr/payload.ts). A name is 1-80
 * UTF-16 code units, not blank, with no control character (\p{Cc}: NUL, line breaks, escapes)
 * and no lone surrogate: a lone surrogate has no UTF-8 form, so a paper ballot could never carry
 * the name the voter saw, and a control character would reach the published cast vote records
 * and every display of them.
 */
export function writeInProblem(text: string): string | undefined {
  if (text.length === 0 || text.length > WRITE_IN_MAX_LENGTH)
    return `a write-in is 1-${WRITE_IN_MAX_LENGTH} characters`;
  if (text.trim() === "") return "a write-in is blank";
  if (/\p{Cc}/u.test(text)) return "a write-in has control characters";
  if (/\p{Cs}/u.test(text)) return "a write-in has a lone surrogate (ill-formed Unicode)";
  return undefined;
}

function problem(path: string, code: BallotProblemCode, detail?: string): Problem {
  return { path, code, message: detail ? `${BALLOT_PROBLEMS[code]} (${detail})` : BALLOT_PROBLEMS[code] };
}

export function validateBallot(
  election: CompiledElection,
  ballotStyleId: string,
  contests: readonly ContestMarks[],
): Result<ContestMarks[], Problem[]> {
  const style = election.ballotStyles.get(ballotStyleId);
  if (!style) return err([problem("/", "unknown_ballot_style", ballotStyleId)]);
  const onStyle = new Set(style.contestIds);
  const problems: Problem[] = [];
  const byContest = new Map<string, ContestMarks>();

  contests.forEach((marks, i) => {
    const path = `/contests/${i}`;
    if (!onStyle.has(marks.contestId)) {
      problems.push(problem(`${path}/contestId`, "contest_not_on_ballot_style", marks.contestId));
      return;
    }
    if (byContest.has(marks.contestId)) {
      problems.push(problem(`${path}/contestId`, "duplicate_contest", marks.contestId));
      return;
    }
    const contest = election.contests.get(marks.contestId);
    if (!contest) {
      problems.push(problem(`${path}/contestId`, "contest_not_on_ballot_style", marks.contestId));
      return;
    }
    const options = new Map(contest.options.map((o) => [o.id, o]));
    const seen = new Set<string>();
    const writeIns = marks.writeIns ?? {};
    marks.optionIds.forEach((optionId, j) => {
      const option = options.get(optionId);
      if (!option) problems.push(problem(`${path}/optionIds/${j}`, "unknown_option", optionId));
      else if (seen.has(optionId)) problems.push(problem(`${path}/optionIds/${j}`, "duplicate_option", optionId));
      else if (option.isWriteIn && (writeIns[optionId] ?? "").trim() === "") {
        problems.push(problem(`${path}/writeIns/${optionId}`, "write_in_missing", optionId));
      }
      seen.add(optionId);
    });
    for (const [optionId, text] of Object.entries(writeIns)) {
      if (!seen.has(optionId) || !options.get(optionId)?.isWriteIn) {
        problems.push(problem(`${path}/writeIns/${optionId}`, "write_in_not_allowed", optionId));
        continue;
      }
      const bad = text.trim() === "" ? undefined : writeInProblem(text);
      if (bad) problems.push(problem(`${path}/writeIns/${optionId}`, "write_in_invalid", `${optionId}: ${bad}`));
    }
    if (seen.size > contest.votesAllowed) {
      problems.push(problem(`${path}/optionIds`, "overvote", `${seen.size} marked, ${contest.votesAllowed} allowed`));
    }
    const cleanWriteIns = Object.fromEntries(Object.entries(writeIns).map(([k, v]) => [k, v.trim()]));
    byContest.set(marks.contestId, {
      contestId: marks.contestId,
      optionIds: [...seen].sort(),
      ...(Object.keys(cleanWriteIns).length > 0 ? { writeIns: cleanWriteIns } : {}),
    });
  });

  if (problems.length > 0) return err(problems);
  return ok(style.contestIds.map((contestId) => byContest.get(contestId) ?? { contestId, optionIds: [] }));
}
