/**
 * D1's limit on bound parameters, and the one way statements that write or match many rows are
 * split to stay under it. Runtime-free: the stores (db/stores/) and the log sequencer's
 * acknowledgement (durable-objects/log-sequencer.ts) use it alike.
 */

/** D1 refuses a statement that binds more than 100 parameters (Cloudflare's D1 limits page). */
export const D1_MAX_BOUND_PARAMETERS = 100;

/**
 * How many rows one statement may carry when each row binds `columnsPerRow` parameters and the
 * statement binds `fixedParameters` more once (an election id shared by every row, say):
 * floor((100 - fixed) / columns). Examples: 9 columns give 11 rows; 2 columns after 1 fixed give 49.
 */
export function rowsPerStatement(columnsPerRow: number, fixedParameters = 0): number {
  const rows = Math.floor((D1_MAX_BOUND_PARAMETERS - fixedParameters) / columnsPerRow);
  if (!(rows >= 1)) {
    throw new RangeError(
      `${fixedParameters} + ${columnsPerRow} per row leaves no room under D1's bound-parameter limit`,
    );
  }
  return rows;
}

/** `rows` in order, cut into runs of `size` (the last one shorter); no runs for no rows. */
export function chunksOf<T>(rows: readonly T[], size: number): T[][] {
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`chunk size ${size} is not a positive integer`);
  const out: T[][] = [];
  for (let i = 0; i < rows.length; i += size) out.push(rows.slice(i, i + size));
  return out;
}
