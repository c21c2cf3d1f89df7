/**
 * The order a voter sees a contest's options in on one ballot style. Runtime-free: the portal's
 * ballot, the printed sheet and the station console share it.
 */
import type { BallotStyle, Contest, ContestOption } from "./model.ts";

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
