/**
 * The order a voter sees a contest's options in on one ballot style. Runtime-free: the portal's
 * ballot, the printed sheet and the station console share it.
 */
import type { BallotHeading, BallotStyle, Contest, ContestOption } from "./model.ts";

/**
 * The contest's options in the style's own order when the definition gives one
 * (OrderedContestSelectionIds), otherwise in the contest's order (its SequenceOrder, else the
 * definition's). Each option keeps its index in `contest.options`, which is what marks and QR
 * payloads carry, so that a rotated ballot records the same option as any other.
 */
export function optionsOnStyle(
  style: BallotStyle | undefined,
  contest: Contest,
): readonly { readonly option: ContestOption; readonly index: number }[] {
  const indexed = contest.options.map((option, index) => ({ option, index }));
  const order = style?.optionOrder?.[contest.id];
  if (order === undefined) return indexed;
  const byId = new Map(indexed.map((entry) => [entry.option.id, entry]));
  // The compiler checked that the order names each option exactly once; anything it somehow
  // misses still shows, after the ordered ones, rather than vanish from a ballot.
  const ordered = order.flatMap((id) => {
    const entry = byId.get(id);
    if (entry === undefined) return [];
    byId.delete(id);
    return [entry];
  });
  return [...ordered, ...byId.values()];
}

/**
 * What a page puts before a contest of the style: the section headings that open there, each with
 * its heading rank, and the rank of the contest's own heading. Ranks start at `top` (the rank of a
 * contest on a ballot without sections, h2 on the portal) and go one deeper per header, up to h6,
 * so that a page's outline follows the file's nesting.
 */
export function sectionsBefore(
  style: BallotStyle | undefined,
  contestId: string,
  top: number,
): { readonly headings: readonly { readonly heading: BallotHeading; readonly rank: number }[]; readonly rank: number } {
  const rank = (depth: number): number => Math.min(6, top + depth);
  const headings = (style?.headings ?? [])
    .filter((h) => h.beforeContestId === contestId)
    .map((heading) => ({ heading, rank: rank(heading.level - 1) }));
  return { headings, rank: rank(style?.contestDepth?.[contestId] ?? 0) };
}
