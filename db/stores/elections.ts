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
 *   this isolate drops its entry at once. When it reads the row again and the stored definition is
 *   the text it last compiled, it keeps that compilation: the text was parsed and validated (the
 *   NIST schema, every rule) when it was stored and when first read, and parsing it again every
 *   CACHE_MS per isolate cost the cast path about 2% of its CPU. Other isolates may serve the previous version for up
 *   to CACHE_MS, which only matters before polls open for the definition, since it cannot change
 *   after; the early close below is timed so that it does not matter for it either.
 * - An early close (`election_polls`) is merged into the compiled election as
 *   `polls.closedEarly` once it took effect in D1, i.e. once the log accepted its entry; its
 *   instant lies more than CACHE_MS after it was written (pollChangeEffectiveAtMs), so every
 *   isolate has reloaded before it and all of them refuse from the same instant. A reopen is
 *   seen by each isolate within CACHE_MS: until then it refuses, which is the safe side.
 * - A change of the polls is claimed (`pending`) with the row's generation, and applied only if
 *   neither moved meanwhile: two administrators acting at once cannot both change the state.
 */
import { and, asc, eq, gt, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { parseDefinition, type ElectionDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { err, ok, type Result } from "../../lib/result.ts";
import { electionPolls, elections } from "../schema.ts";

/** Long enough that a voting burst reads D1 once per isolate every few seconds, short enough
 *  that an administrator's correction before polls open shows everywhere within moments. */
export const CACHE_MS = 10_000;

const cache = new Map<string, { readonly election: CompiledElection; readonly expiresAt: number }>();
/** Per election, the stored text this isolate last compiled and what it compiled to. */
const compiledText = new Map<string, { readonly text: string; readonly compiled: CompiledElection }>();

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
    .select({
      definitionJson: elections.definitionJson,
      closedEarlyAtMs: electionPolls.closedEarlyAtMs,
      closedEarlyReason: electionPolls.closedEarlyReason,
    })
    .from(elections)
    .leftJoin(electionPolls, eq(electionPolls.electionId, elections.id))
    .where(eq(elections.id, electionId))
    .get();
  if (!row) return undefined;
  const compiled = compileStored(electionId, row.definitionJson);
  const election: CompiledElection =
    row.closedEarlyAtMs === null
      ? compiled
      : {
          ...compiled,
          polls: {
            ...compiled.polls,
            closedEarly: { atMs: row.closedEarlyAtMs, reason: row.closedEarlyReason ?? "" },
          },
        };
  cache.set(electionId, { election, expiresAt: Date.now() + CACHE_MS });
  return election;
}

/** The stored definition compiled, or this isolate's compilation of the same text. */
export function compileStored(electionId: string, text: string): CompiledElection {
  const known = compiledText.get(electionId);
  if (known?.text === text) return known.compiled;
  // Only saveElection writes this column, after parseDefinition accepted the same document, so a
  // failure here is corruption or an incompatible change to the rules: a bug, not an outcome.
  const parsed = parseDefinition(JSON.parse(text));
  if (!parsed.ok) {
    throw new Error(
      `stored definition of election ${electionId} no longer parses: ${JSON.stringify(parsed.error.slice(0, 5))}`,
    );
  }
  compiledText.set(electionId, { text, compiled: parsed.value.election });
  return parsed.value.election;
}

/**
 * When an early close decided at `nowMs` takes effect: after every isolate's cached election
 * expired (CACHE_MS) and a second more, rounded up to a whole second (the log's times are
 * seconds), so that every path that accepts ballots agrees on one instant.
 */
export function pollChangeEffectiveAtMs(nowMs: number): number {
  return Math.ceil((nowMs + CACHE_MS + 1000) / 1000) * 1000;
}

/** An election's early-close state as stored: what is in force, and the change in flight. */
export interface StoredPolls {
  readonly generation: number;
  readonly closedEarly?: { readonly atMs: number; readonly reason: string };
  /** The change awaiting its log entry, as the polls routes stored it (JSON). */
  readonly pending?: string;
}

export async function getStoredPolls(db: D1Database, electionId: string): Promise<StoredPolls> {
  const row = await drizzle(db).select().from(electionPolls).where(eq(electionPolls.electionId, electionId)).get();
  if (!row) return { generation: 0 };
  return {
    generation: row.generation,
    ...(row.closedEarlyAtMs === null
      ? {}
      : { closedEarly: { atMs: row.closedEarlyAtMs, reason: row.closedEarlyReason ?? "" } }),
    ...(row.pending === null ? {} : { pending: row.pending }),
  };
}

/**
 * Claims the next change of an election's polls: stores `pending` if the row is still at
 * `generation` with nothing in flight. False when another change came first.
 */
export async function claimPollChange(
  db: D1Database,
  electionId: string,
  generation: number,
  pending: string,
): Promise<boolean> {
  const rows = await drizzle(db)
    .insert(electionPolls)
    .values({ electionId, generation, pending })
    .onConflictDoUpdate({
      target: electionPolls.electionId,
      set: { pending },
      setWhere: and(eq(electionPolls.generation, generation), isNull(electionPolls.pending)),
    })
    .returning({ generation: electionPolls.generation });
  return rows.length === 1 && rows[0]?.generation === generation;
}

/**
 * Puts the claimed change in force once the log accepted its entry: the next generation, the
 * early close (or none, for a reopen), nothing in flight. False when it was applied already.
 */
export async function applyPollChange(
  db: D1Database,
  electionId: string,
  generation: number,
  pending: string,
  closedEarly: { readonly atMs: number; readonly reason: string } | undefined,
): Promise<boolean> {
  const rows = await drizzle(db)
    .update(electionPolls)
    .set({
      generation: generation + 1,
      closedEarlyAtMs: closedEarly?.atMs ?? null,
      closedEarlyReason: closedEarly?.reason ?? null,
      pending: null,
    })
    .where(
      and(
        eq(electionPolls.electionId, electionId),
        eq(electionPolls.generation, generation),
        eq(electionPolls.pending, pending),
      ),
    )
    .returning({ generation: electionPolls.generation });
  cache.delete(electionId);
  return rows.length === 1;
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
  /** An administrator's early close in force (epoch ms); null when there is none. */
  readonly closedEarlyAtMs: number | null;
}

/** Elections whose polls close after `nowIso` (as scheduled), the soonest to open first. */
export async function listOpenOrComingElections(db: D1Database, nowIso: string): Promise<ListedElection[]> {
  return drizzle(db)
    .select({
      id: elections.id,
      name: elections.name,
      opensAt: elections.opensAt,
      closesAt: elections.closesAt,
      closedEarlyAtMs: electionPolls.closedEarlyAtMs,
    })
    .from(elections)
    .leftJoin(electionPolls, eq(electionPolls.electionId, elections.id))
    .where(gt(elections.closesAt, nowIso))
    .orderBy(asc(elections.opensAt), asc(elections.id))
    .all();
}
