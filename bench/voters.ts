/**
 * The benchmark's voters: a synthetic roll imported through the real admin API, and a voter
 * session token for each voter minted with the Worker's own code and signing key.
 *
 * Minting instead of logging in: a login is its own path (ID-token verification against the eID
 * issuer's JWKS, the replay guard, the roll lookup) with its own rate limits; the cast path is what
 * is measured here, and 50,000 logins would take longer than the measurement. The tokens are the
 * ones POST /v1/auth/voter-session would give (workers/gateway/auth/tokens.ts issueVoterSession,
 * the same SESSION_SIGNING_KEY, the voter key from the same keyed hash, the district from the
 * roll the Worker holds), and every voter is on the roll.
 */
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { importRollFile } from "../cli/commands/roll.ts";
import type { OfficialClient } from "../cli/lib/api.ts";
import { importVoterKeySecret, NationalId, voterKeyOf } from "../lib/identity/national-id.ts";
import {
  checkSyntheticRoll,
  syntheticDistrictOf,
  syntheticNationalId,
  syntheticRollText,
} from "../lib/roll/generate.ts";
import { issueVoterSession } from "../workers/gateway/auth/tokens.ts";
import { configOf } from "../durable-objects/config.ts";
import { DEMO_DISTRICTS, isDemoDistrict, styleOf, type DemoDistrict } from "./ballots.ts";

/** What a session of requests from the synthetic roll's voters (casts, logins) needs to run. */
export interface RollSessionOptions {
  readonly baseUrl: string;
  /** The production Worker's string bindings (its keys, its eID settings). */
  readonly vars: Record<string, string>;
  readonly electionId: string;
  /** The synthetic roll the voters come from: PREFIX-1 .. PREFIX-rollSize. */
  readonly prefix: string;
  readonly rollSize: number;
  readonly connections: number;
  readonly timeoutSeconds: number;
  readonly workDir: string;
  readonly runtimePids: readonly number[];
}

export interface BenchVoter {
  /** The voter's number on the synthetic roll (1-based): PREFIX-<n>. */
  readonly n: number;
  readonly district: DemoDistrict;
  readonly token: string;
}

/** Writes a synthetic roll of `count` voters (PREFIX-0001 ...) and imports it, 10,000 rows a chunk. */
export async function importSyntheticRoll(
  client: OfficialClient,
  electionId: string,
  file: string,
  prefix: string,
  count: number,
): Promise<{ accepted: number; seconds: number }> {
  const checked = checkSyntheticRoll({ count, districts: DEMO_DISTRICTS, prefix });
  if (!checked.ok) throw new Error(checked.error);
  await pipeline(Readable.from(syntheticRollText(checked.value)), createWriteStream(file));
  const started = performance.now();
  const summary = await importRollFile(client, electionId, file);
  if (summary.rejectedTotal > 0 || summary.stoppedAt || summary.accepted !== count) {
    throw new Error(
      `roll import: ${summary.accepted} of ${count} accepted, ${summary.rejectedTotal} rejected${summary.stoppedAt ? `, stopped at line ${summary.stoppedAt.line}: ${summary.stoppedAt.message}` : ""}`,
    );
  }
  return { accepted: summary.accepted, seconds: (performance.now() - started) / 1000 };
}

/**
 * Session tokens for voters `from`..`to` (1-based, inclusive) of a synthetic roll of `count`. A
 * session lives 15 minutes (VOTER_SESSION_SECONDS), so they are minted just before they are used.
 */
export async function mintSessions(
  vars: Record<string, string>,
  electionId: string,
  prefix: string,
  count: number,
  from: number,
  to: number,
): Promise<BenchVoter[]> {
  // configOf parses the bindings with the Worker's own schema, so a bad key fails here, not later.
  const config = configOf(vars as unknown as Env);
  const rollKey = await importVoterKeySecret(config.ROLL_HASH_KEY);
  const voters: BenchVoter[] = [];
  for (let i = from; i <= to; i++) {
    const district = syntheticDistrictOf(i, DEMO_DISTRICTS);
    if (!isDemoDistrict(district)) throw new Error(`${district} is not a demo district`);
    const voterKey = await voterKeyOf(rollKey, NationalId.parse(syntheticNationalId(prefix, i, count)));
    const { token } = await issueVoterSession(config, {
      voterKey,
      electionId,
      ballotStyleId: styleOf(district),
      districtId: district,
    });
    voters.push({ n: i, district, token });
  }
  return voters;
}
