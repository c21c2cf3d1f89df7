/**
 * Synthetic voter rolls for demos, tests and the benchmark: the same options always give the same
 * bytes. Voter i (from 1) has national id `PREFIX-<i zero-padded>` and lives in
 * `districts[(i - 1) % districts.length]`, so anyone can tell a synthetic voter's district from
 * their id (DEMO-0001 is in the first district, DEMO-0002 in the second, ...).
 */
import { NationalId } from "../identity/national-id.ts";
import { err, ok, type Result } from "../result.ts";
import { ROLL_COLUMNS, RollDistrictId } from "./format.ts";

export interface SyntheticRollOptions {
  readonly count: number;
  readonly districts: readonly string[];
  /** Default "VOTER". */
  readonly prefix?: string;
}

/** Rows per yielded block: big enough that a file write per block is cheap, small enough to stream. */
const BLOCK_ROWS = 2000;

/** Digits of the padded number: at least 4, more when the count needs them. */
function widthOf(count: number): number {
  return Math.max(4, String(count).length);
}

export function syntheticNationalId(prefix: string, i: number, count: number): string {
  return `${prefix}-${String(i).padStart(widthOf(count), "0")}`;
}

export function syntheticDistrictOf(i: number, districts: readonly string[]): string {
  const district = districts[(i - 1) % districts.length];
  if (district === undefined) throw new RangeError("no districts");
  return district;
}

/** Checks the options once, so generation itself cannot produce a row the Worker would reject. */
export function checkSyntheticRoll(options: SyntheticRollOptions): Result<Required<SyntheticRollOptions>, string> {
  const prefix = options.prefix ?? "VOTER";
  if (!Number.isInteger(options.count) || options.count < 0 || options.count > 100_000_000) {
    return err("the count must be a whole number from 0 to 100,000,000");
  }
  if (options.districts.length === 0) return err("at least one district is needed");
  for (const d of options.districts) {
    if (!RollDistrictId.safeParse(d).success || d !== d.trim() || /[",\r\n]/.test(d))
      return err(`${JSON.stringify(d)} is not a usable district id`);
  }
  const sample = syntheticNationalId(prefix, Math.max(options.count, 1), options.count);
  const parsed = NationalId.safeParse(sample);
  if (!parsed.success || parsed.data !== sample) {
    return err(
      `the prefix ${JSON.stringify(prefix)} does not make valid national ids (capital letters, digits and dashes; ids of 4-32 characters)`,
    );
  }
  return ok({ count: options.count, districts: options.districts, prefix });
}

/** The roll file as text blocks: the header, then the rows in order. */
export function* syntheticRollText(options: Required<SyntheticRollOptions>): Generator<string> {
  const { count, districts, prefix } = options;
  let block = `${ROLL_COLUMNS.join(",")}\n`;
  for (let i = 1; i <= count; i++) {
    block += `${syntheticNationalId(prefix, i, count)},${syntheticDistrictOf(i, districts)}\n`;
    if (i % BLOCK_ROWS === 0) {
      yield block;
      block = "";
    }
  }
  if (block !== "") yield block;
}
