/**
 * Election definitions in D1 (`elections` table), and the compiled election each isolate keeps.
 *
 * What must stay true:
 * - A definition may change only before its polls open: the lock is decided inside the one upsert
 *   statement (ON CONFLICT ... DO UPDATE ... WHERE stored opens_at > now), so two concurrent loads
 *   cannot both slip past a check made a moment earlier.
 * - opens_at and closes_at are stored in UTC as Date.toISOString() writes them, and `now` is
 *   written the same way, so comparing them as text compares instants.
 * - An isolate serves a compiled election for at most CACHE_MS after it read it; a reload through
 *   this isolate drops its entry at once. Other isolates may serve the previous version for up
 *   to CACHE_MS, which only happens before polls open, since after that nothing changes.
 */
import { asc, eq, gt, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { parseDefinition, type ElectionDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import { elections } from "../schema.ts";

/** Long enough that a voting burst reads D1 once per isolate every few seconds, short enough
 *  that an administrator's correction before polls open shows everywhere within moments. */
export const CACHE_MS = 10_000;

const cache = new Map<string, { readonly election: CompiledElection; readonly expiresAt: number }>();

const NOW_ISO = sql`strftime('%Y-%m-%dT%H:%M:%fZ','now')`;

function utc(instant: string): string {
  return new Date(instant).toISOString();
}

/** The compiled election, or undefined when there is none with this id. */
export async function getElection(db: D1Database, electionId: string): Promise<CompiledElection | undefined> {
  const hit = cache.get(electionId);
  if (hit && hit.expiresAt > Date.now()) return hit.election;
  cache.delete(electionId);

  const row = await drizzle(db)
    .select({ definitionJson: elections.definitionJson })
    .from(elections)
    .where(eq(elections.id, electionId))
    .get();
  if (!row) return undefined;
  // Only saveElection writes this column, after parseDefinition accepted the same document, so a
  // failure here is corruption or an incompatible change to the rules: a bug, not an outcome.
  const stored: unknown = JSON.parse(row.definitionJson);
  const parsed = parseDefinition(stored);
  if (!parsed.ok) {
    throw new Error(
      `stored definition of election ${electionId} no longer parses: ${JSON.stringify(parsed.error.slice(0, 5))}`,
    );
  }
  cache.set(electionId, { election: parsed.value.election, expiresAt: Date.now() + CACHE_MS });
  return parsed.value.election;
}

/**
 * Stores a definition that parseDefinition accepted: a new election at version 1, or a
 * replacement at the next version while the stored election's polls have not opened.
 */
export async function saveElection(
  db: D1Database,
  definition: ElectionDefinition,
  election: CompiledElection,
): Promise<Result<{ version: number; created: boolean }, "election_locked">> {
  const values = {
    id: election.id,
    name: election.name,
    definitionJson: JSON.stringify(definition),
    opensAt: utc(election.settings.polls.opensAt),
    closesAt: utc(election.settings.polls.closesAt),
  };
  const rows = await drizzle(db)
    .insert(elections)
    .values({ ...values, version: 1 })
    .onConflictDoUpdate({
      target: elections.id,
      set: {
        name: values.name,
        definitionJson: values.definitionJson,
        opensAt: values.opensAt,
        closesAt: values.closesAt,
        version: sql`${elections.version} + 1`,
        updatedAt: NOW_ISO,
      },
      // The stored row's opening time, not the new one: what voters may already be using.
      setWhere: sql`${elections.opensAt} > ${new Date().toISOString()}`,
    })
    .returning({ version: elections.version });
  cache.delete(election.id);
  const saved = rows[0];
  if (!saved) return err("election_locked");
  // An update always leaves version >= 2, so version 1 means this load created the election.
  return ok({ version: saved.version, created: saved.version === 1 });
}

export interface StoredDefinition {
  readonly electionId: string;
  readonly version: number;
  /** The definition document as stored (settings and NIST ElectionReport), parsed JSON. */
  readonly definition: unknown;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** The stored definition document as loaded, for administrators and auditors. */
export async function getStoredDefinition(db: D1Database, electionId: string): Promise<StoredDefinition | undefined> {
  const row = await drizzle(db)
    .select({
      definitionJson: elections.definitionJson,
      version: elections.version,
      createdAt: elections.createdAt,
      updatedAt: elections.updatedAt,
    })
    .from(elections)
    .where(eq(elections.id, electionId))
    .get();
  if (!row) return undefined;
  const definition: unknown = JSON.parse(row.definitionJson);
  return {
    electionId,
    version: row.version,
    definition,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

/** Every election's id: officials' changes are logged to each election's audit log. */
export async function electionIds(db: D1Database): Promise<string[]> {
  const rows = await drizzle(db).select({ id: elections.id }).from(elections).all();
  return rows.map((r) => r.id);
}

/** What the portal's front page shows of an election whose polls are open or still to come. */
export interface ListedElection {
  readonly id: string;
  readonly name: string;
  readonly opensAt: string;
  readonly closesAt: string;
}

/** Elections whose polls close after `nowIso`, the soonest to open first. */
export async function listOpenOrComingElections(db: D1Database, nowIso: string): Promise<ListedElection[]> {
  return drizzle(db)
    .select({ id: elections.id, name: elections.name, opensAt: elections.opensAt, closesAt: elections.closesAt })
    .from(elections)
    .where(gt(elections.closesAt, nowIso))
    .orderBy(asc(elections.opensAt), asc(elections.id))
    .all();
}
