/**
 * What a results display shows, computed from a live snapshot (lib/results/live.ts): every count,
 * share and bar length of the results page. The server renders the page with it and the page's
 * script (browser/results.ts) patches the same page with it as updates arrive, so a figure is
 * computed by one piece of code whichever of the two drew it last. Runtime-free and DOM-free.
 *
 * The page's structure (which contests, which of their options, which districts vote on each,
 * how many voters each district registered) is a `DisplayFrame`: ids only, the names stay in the
 * page the server rendered. Figures are addressed by `slotKey`: the server writes each figure in
 * an element carrying its key, the script finds the element by it.
 *
 * Shares: an option's share is of the votes the contest's options and write-ins received (blank
 * contests are counted but take no share, as election-night sites do); a district's turnout is
 * its ballots over its registered voters.
 */
import * as z from "zod";
import type { ContestTotals } from "../tally/totals.ts";
import type { LiveSnapshot } from "./live.ts";

type LiveTotals = LiveSnapshot["totals"];

const Id = z.string().min(1).max(256);

export const DisplayFrame = z.object({
  electionId: Id,
  contests: z
    .array(
      z.object({
        id: Id,
        /** The options shown by name, in ballot order. */
        options: z.array(Id).max(500),
        /** Write-in options: their marks count together as write-ins. */
        writeInOptions: z.array(Id).max(50),
        /** The districts whose ballot style carries this contest. */
        districts: z.array(Id).max(5_000),
      }),
    )
    .max(500),
  districts: z.array(z.object({ id: Id, registered: z.number().int().min(0) })).max(5_000),
});
export type DisplayFrame = z.infer<typeof DisplayFrame>;

/** Row names of the figures that are not options (option ids are a definition's, never these). */
export const WRITE_INS_ROW = "~write-ins";
export const BLANKS_ROW = "~blanks";
/** The scope of national figures (a district's figures use its id). */
export const NATIONAL = "~all";

export type FigureField = "votes" | "share" | "ballots" | "registered";

/** The key of one figure; JSON, so no id can make two keys equal. */
export function slotKey(scope: string, contestId: string, row: string, field: FigureField): string {
  return JSON.stringify([scope, contestId, row, field]);
}

/** The key of a turnout figure: `scope` is NATIONAL or a district id. */
export function turnoutKey(scope: string, field: FigureField): string {
  return slotKey(scope, "~turnout", "~turnout", field);
}

/** Every figure of a display as text, and every bar's length (0 to 100) under the same keys. */
export interface DisplayFigures {
  readonly texts: ReadonlyMap<string, string>;
  readonly bars: ReadonlyMap<string, number>;
}

/**
 * What kind of release a display shows, for the sentence that says it in plain words:
 * - `pending`: nothing released yet;
 * - `turnout-only`: the election shows choices only after the close (resultsVisibility
 *   `after-close`) and the polls are open;
 * - `snapshot`: the public snapshot while polls are open (figures move in steps of at least k);
 * - `exact`: exact sums (after the close).
 */
export type ReleaseKind = "pending" | "turnout-only" | "snapshot" | "exact";

export function releaseKind(snapshot: LiveSnapshot | null, choicesShownBeforeClose: boolean): ReleaseKind {
  if (snapshot === null) return choicesShownBeforeClose ? "pending" : "turnout-only";
  if (!snapshot.choices) return "turnout-only";
  return snapshot.exact ? "exact" : "snapshot";
}

function numberFormat(language: string): Intl.NumberFormat {
  return new Intl.NumberFormat(language);
}

function percentFormat(language: string): Intl.NumberFormat {
  return new Intl.NumberFormat(language, { style: "percent", minimumFractionDigits: 1, maximumFractionDigits: 1 });
}

/** A bar's length out of 100, to two decimals: SVG geometry, never a style. */
function barLength(share: number): number {
  return Math.round(Math.min(1, Math.max(0, share)) * 10_000) / 100;
}

/** A figure the page cannot compute (turnout where nobody is registered). */
const NO_FIGURE = "–";

export function displayFigures(frame: DisplayFrame, totals: LiveTotals | null, language: string): DisplayFigures {
  const count = numberFormat(language);
  const percent = percentFormat(language);
  const texts = new Map<string, string>();
  const bars = new Map<string, number>();
  const byDistrict = new Map((totals?.districts ?? []).map((d) => [d.districtId, d]));

  const contestFigures = (
    scope: string,
    contest: DisplayFrame["contests"][number],
    sums: ContestTotals | undefined,
  ): void => {
    const votes = new Map((sums?.options ?? []).map((o) => [o.optionId, o.votes]));
    let writeIns = sums?.writeIns ?? 0;
    for (const id of contest.writeInOptions) writeIns += votes.get(id) ?? 0;
    const shown = contest.options.map((id) => [id, votes.get(id) ?? 0] as const);
    const base = shown.reduce((sum, [, v]) => sum + v, writeIns);
    for (const [row, v] of [...shown, [WRITE_INS_ROW, writeIns] as const]) {
      const share = base > 0 ? v / base : 0;
      texts.set(slotKey(scope, contest.id, row, "votes"), count.format(v));
      texts.set(slotKey(scope, contest.id, row, "share"), percent.format(share));
      bars.set(slotKey(scope, contest.id, row, "share"), barLength(share));
    }
    texts.set(slotKey(scope, contest.id, BLANKS_ROW, "votes"), count.format(sums?.blanks ?? 0));
  };

  for (const contest of frame.contests) {
    contestFigures(
      NATIONAL,
      contest,
      totals?.contests.find((c) => c.contestId === contest.id),
    );
    for (const districtId of contest.districts) {
      const district = byDistrict.get(districtId);
      contestFigures(
        districtId,
        contest,
        district?.contests.find((c) => c.contestId === contest.id),
      );
    }
  }

  const turnout = (scope: string, ballots: number, registered: number): void => {
    texts.set(turnoutKey(scope, "ballots"), count.format(ballots));
    texts.set(turnoutKey(scope, "registered"), count.format(registered));
    texts.set(turnoutKey(scope, "share"), registered > 0 ? percent.format(ballots / registered) : NO_FIGURE);
    bars.set(turnoutKey(scope, "share"), registered > 0 ? barLength(ballots / registered) : 0);
  };
  for (const district of frame.districts)
    turnout(district.id, byDistrict.get(district.id)?.ballots ?? 0, district.registered);
  turnout(
    NATIONAL,
    totals?.ballots ?? 0,
    frame.districts.reduce((sum, d) => sum + d.registered, 0),
  );
  return { texts, bars };
}

/**
 * "12 seconds ago", "3 minutes ago", in the page's language (Intl's own words, so no catalogue
 * entry per unit and language). `now` for anything under five seconds.
 */
export function updatedAgo(language: string, asOfMs: number, nowMs: number): string {
  const seconds = Math.max(0, Math.round((nowMs - asOfMs) / 1000));
  const format = new Intl.RelativeTimeFormat(language, { numeric: "auto" });
  if (seconds < 5) return format.format(0, "second");
  if (seconds < 60) return format.format(-seconds, "second");
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return format.format(-minutes, "minute");
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return format.format(-hours, "hour");
  return format.format(-Math.floor(hours / 24), "day");
}

/** The time the figures were taken, as a clock time in UTC (the page is the same for everyone). */
export function asOfClock(language: string, asOfMs: number): string {
  const text = new Intl.DateTimeFormat(language === "en" ? "en-GB" : language, {
    timeStyle: "medium",
    timeZone: "UTC",
  }).format(new Date(asOfMs));
  return `${text} UTC`;
}
