/**
 * The paper channel's D1 reads and writes (db/schema.ts `result_sheets`,
 * `reconciliation_differences`, and reads of `station_keys`, `sheet_signing_keys`,
 * `station_serial_ranges`, `check_ins`, `cast_vote_records`, `stations`): what the station routes
 * (workers/gateway/routes/paper.ts) and station reconciliation (workers/voting/reconciliation.ts)
 * ask of the database. The registry that writes stations and keys is stations.ts.
 *
 * What must stay true:
 * - A station has one result sheet per election: the first one stored is kept, a different one is
 *   refused and never replaces it; one INSERT decides, so two racing submissions cannot both win.
 * - Reconciliation totals are summed in SQL (json_each over the marks), so an election-wide report
 *   reads a few rows per station and option, never every ballot.
 * - Every reconciliation stores its differences for the security monitor: upserted with the
 *   latest figures (resolved_at cleared), and the station's rows not seen this time marked
 *   resolved. No statement binds more than D1's limit (lib/d1-limits.ts).
 */
import { and, eq, gte, inArray, isNull, lt, lte, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { base64url } from "jose";
import { z } from "zod";
import { chunksOf, rowsPerStatement } from "../../lib/d1-limits.ts";
import type { QrKeyLookup } from "../../lib/qr/payload.ts";
import { assertNever, err, ok, type Result } from "../../lib/result.ts";
import { Ed25519PublicJwk } from "../../lib/station/ids.ts";
import type { Difference } from "../../lib/station/reconcile.ts";
import { ContestTotals } from "../../lib/tally/totals.ts";
import type { StationKeyRole } from "../../lib/vocabulary.ts";
import {
  reconciliationDifferences,
  resultSheets,
  sheetSigningKeys,
  stationKeys,
  stationSerialRanges,
} from "../schema.ts";

// ---------------------------------------------------------------------------------------------
// QR keys and serials

const StoredJwk = Ed25519PublicJwk.pick({ x: true }).loose();

function rawKey(publicJwk: string): Uint8Array {
  // Written by the stations routes from a parsed Ed25519 JWK; a failure here is a bug.
  return base64url.decode(StoredJwk.parse(JSON.parse(publicJwk)).x);
}

/**
 * The keys a payload may be signed with: the election authority's sheet keys for ballot sheets,
 * this station's ballot-marking devices' keys for marked ballots, its client keys for result
 * sheets (security review H3: a key that signs requests cannot also mark ballots). Revoked keys
 * are not answered.
 */
export function qrKeyLookup(d1: D1Database, electionId: string, stationId: string): QrKeyLookup {
  const db = drizzle(d1);
  return async (keyId, type) => {
    switch (type) {
      case "ballot-sheet": {
        const row = await db
          .select({ publicJwk: sheetSigningKeys.publicJwk })
          .from(sheetSigningKeys)
          .where(
            and(
              eq(sheetSigningKeys.electionId, electionId),
              eq(sheetSigningKeys.qrKeyId, keyId),
              isNull(sheetSigningKeys.revokedAt),
            ),
          )
          .get();
        return row ? rawKey(row.publicJwk) : undefined;
      }
      case "marked-ballot":
      case "result-sheet": {
        const row = await db
          .select({ publicJwk: stationKeys.publicJwk })
          .from(stationKeys)
          .where(
            and(
              eq(stationKeys.stationId, stationId),
              eq(stationKeys.qrKeyId, keyId),
              eq(stationKeys.role, type === "marked-ballot" ? "marking-device" : "client"),
              isNull(stationKeys.revokedAt),
            ),
          )
          .get();
        return row ? rawKey(row.publicJwk) : undefined;
      }
      default:
        return assertNever(type);
    }
  };
}

/** True when the key id is another station's device key: the payload came from elsewhere. */
export async function isOtherStationsKey(d1: D1Database, keyId: string, stationId: string): Promise<boolean> {
  const row = await drizzle(d1)
    .select({ stationId: stationKeys.stationId })
    .from(stationKeys)
    .where(eq(stationKeys.qrKeyId, keyId))
    .get();
  return row !== undefined && row.stationId !== stationId;
}

/** The role of this station's unrevoked key with this QR key id, if it has one. */
export async function stationKeyRole(
  d1: D1Database,
  stationId: string,
  keyId: string,
): Promise<StationKeyRole | undefined> {
  const row = await drizzle(d1)
    .select({ role: stationKeys.role })
    .from(stationKeys)
    .where(and(eq(stationKeys.stationId, stationId), eq(stationKeys.qrKeyId, keyId), isNull(stationKeys.revokedAt)))
    .get();
  return row?.role;
}

/**
 * Whether the serial is in one of the ranges issued to this station: the serials its
 * ballot-marking devices print and the pre-printed sheets handed to it.
 */
export async function serialAssigned(d1: D1Database, stationId: string, serial: number): Promise<boolean> {
  const assigned = await drizzle(d1)
    .select({ first: stationSerialRanges.firstSerial })
    .from(stationSerialRanges)
    .where(
      and(
        eq(stationSerialRanges.stationId, stationId),
        lte(stationSerialRanges.firstSerial, serial),
        gte(stationSerialRanges.lastSerial, serial),
      ),
    )
    .get();
  return assigned !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Result sheets

/** What result_sheets.totals_json holds: the decoded sheet's fields (lib/qr ResultSheetFields). */
export const StoredSheetTotals = z.object({
  sequence: z.number().int().min(0),
  closedAt: z.string(),
  votersCheckedIn: z.number().int().min(0),
  ballotsCast: z.number().int().min(0),
  contests: z.array(ContestTotals),
});
export type StoredSheetTotals = z.infer<typeof StoredSheetTotals>;

export interface ResultSheet {
  readonly electionId: string;
  readonly stationId: string;
  /** SHA-256 of `payloadText`, hex. */
  readonly payloadSha256: string;
  /** The QR text as submitted. */
  readonly payloadText: string;
  /** Stored as totals_json; read back as StoredSheetTotals. */
  readonly totals: Omit<StoredSheetTotals, "contests"> & { readonly contests: readonly ContestTotals[] };
}

/** Another sheet is stored for this station: its digest (null if it vanished meanwhile). */
export interface ResultSheetConflict {
  readonly storedSha256: string | null;
}

/**
 * Stores the station's first sheet, or compares with the one stored: the same sheet again is
 * `replayed`, a different one a conflict, and the stored sheet stays.
 */
export async function saveResultSheet(
  d1: D1Database,
  sheet: ResultSheet,
): Promise<Result<{ replayed: boolean }, ResultSheetConflict>> {
  const db = drizzle(d1);
  // The one write decides: the first sheet for (election, station) is stored, any other finds it.
  const inserted = await db
    .insert(resultSheets)
    .values({
      electionId: sheet.electionId,
      stationId: sheet.stationId,
      payloadSha256: sheet.payloadSha256,
      payloadText: sheet.payloadText,
      totalsJson: JSON.stringify(sheet.totals),
    })
    .onConflictDoNothing()
    .returning({ stationId: resultSheets.stationId });
  if (inserted.length > 0) return ok({ replayed: false });
  const stored = await db
    .select({ payloadSha256: resultSheets.payloadSha256 })
    .from(resultSheets)
    .where(and(eq(resultSheets.electionId, sheet.electionId), eq(resultSheets.stationId, sheet.stationId)))
    .get();
  if (stored?.payloadSha256 !== sheet.payloadSha256) return err({ storedSha256: stored?.payloadSha256 ?? null });
  return ok({ replayed: true });
}

// ---------------------------------------------------------------------------------------------
// Reconciliation

/** What reconciliation reads, per station, as of now. */
export interface ReconciliationData {
  readonly checkIns: Map<string, number>;
  readonly ballots: Map<string, number>;
  /** station -> contest -> option -> votes */
  readonly marks: Map<string, Map<string, Map<string, number>>>;
  /** station -> contest -> ballots with no option marked */
  readonly blanks: Map<string, Map<string, number>>;
  readonly sheets: Map<string, { totals: StoredSheetTotals; submittedAt: string; payloadSha256: string }>;
  /** Unrevoked stations that serve one of the election's districts. */
  readonly registered: Set<string>;
}

function stationFilter(column: string, stationId: string | undefined): string {
  return stationId === undefined ? "" : ` AND ${column} = ?`;
}

function binds(electionId: string, stationId: string | undefined): string[] {
  return stationId === undefined ? [electionId] : [electionId, stationId];
}

/**
 * Reads one station's figures, or every station's of the election: check-ins and paper ballots
 * recorded (not retracted), their marks summed per option, blanks per contest, result sheets,
 * and the unrevoked stations registered for `districtIds`.
 */
export async function readReconciliation(
  db: D1Database,
  electionId: string,
  districtIds: readonly string[],
  stationId: string | undefined,
): Promise<ReconciliationData> {
  const e = electionId;
  const paper = `cvr.election_id = ? AND cvr.channel = 'paper' AND cvr.retracted = 0 AND cvr.station_id IS NOT NULL${stationFilter("cvr.station_id", stationId)}`;
  // The district ids bind one parameter each beside the station id: rowsPerStatement(1, 1) = 99
  // per statement, as many statements as the election has districts for.
  const districtChunks = chunksOf(districtIds, rowsPerStatement(1, 1));
  const [checkIns, ballots, marks, blanks, sheets, ...registered] = await db.batch([
    db
      .prepare(
        `SELECT station_id, COUNT(*) AS n FROM check_ins WHERE election_id = ?${stationFilter("station_id", stationId)} GROUP BY station_id`,
      )
      .bind(...binds(e, stationId)),
    db
      .prepare(
        `SELECT cvr.station_id AS station_id, COUNT(*) AS n FROM cast_vote_records cvr WHERE ${paper} GROUP BY cvr.station_id`,
      )
      .bind(...binds(e, stationId)),
    db
      .prepare(
        `SELECT cvr.station_id AS station_id, json_extract(c.value, '$.contestId') AS contest_id, o.value AS option_id, COUNT(*) AS n
       FROM cast_vote_records cvr, json_each(cvr.marks_json) c, json_each(c.value, '$.optionIds') o
       WHERE ${paper} GROUP BY 1, 2, 3`,
      )
      .bind(...binds(e, stationId)),
    db
      .prepare(
        `SELECT cvr.station_id AS station_id, json_extract(c.value, '$.contestId') AS contest_id, COUNT(*) AS n
       FROM cast_vote_records cvr, json_each(cvr.marks_json) c
       WHERE ${paper} AND json_array_length(c.value, '$.optionIds') = 0 GROUP BY 1, 2`,
      )
      .bind(...binds(e, stationId)),
    db
      .prepare(
        `SELECT station_id, payload_sha256, totals_json, submitted_at FROM result_sheets WHERE election_id = ?${stationFilter("station_id", stationId)}`,
      )
      .bind(...binds(e, stationId)),
    // Unrevoked stations that serve one of the election's districts: listed even with nothing recorded.
    ...districtChunks.map((districts) =>
      db
        .prepare(
          `SELECT DISTINCT s.id AS station_id FROM stations s JOIN station_districts d ON d.station_id = s.id
       WHERE s.revoked_at IS NULL AND d.district_id IN (${districts.map(() => "?").join(", ")})${stationFilter("s.id", stationId)}`,
        )
        .bind(...districts, ...(stationId === undefined ? [] : [stationId])),
    ),
  ]);

  const Count = z.object({ station_id: z.string(), n: z.number() });
  const Mark = z.object({ station_id: z.string(), contest_id: z.string(), option_id: z.string(), n: z.number() });
  const Blank = z.object({ station_id: z.string(), contest_id: z.string(), n: z.number() });
  const Sheet = z.object({
    station_id: z.string(),
    payload_sha256: z.string(),
    totals_json: z.string(),
    submitted_at: z.string(),
  });

  const out: ReconciliationData = {
    checkIns: new Map(
      z
        .array(Count)
        .parse(checkIns?.results ?? [])
        .map((r) => [r.station_id, r.n]),
    ),
    ballots: new Map(
      z
        .array(Count)
        .parse(ballots?.results ?? [])
        .map((r) => [r.station_id, r.n]),
    ),
    marks: new Map(),
    blanks: new Map(),
    sheets: new Map(),
    registered: new Set(
      z
        .array(z.object({ station_id: z.string() }))
        .parse(registered.flatMap((r) => r.results))
        .map((r) => r.station_id),
    ),
  };
  for (const row of z.array(Mark).parse(marks?.results ?? [])) {
    const byContest = out.marks.get(row.station_id) ?? new Map<string, Map<string, number>>();
    const byOption = byContest.get(row.contest_id) ?? new Map<string, number>();
    byOption.set(row.option_id, row.n);
    byContest.set(row.contest_id, byOption);
    out.marks.set(row.station_id, byContest);
  }
  for (const row of z.array(Blank).parse(blanks?.results ?? [])) {
    const byContest = out.blanks.get(row.station_id) ?? new Map<string, number>();
    byContest.set(row.contest_id, row.n);
    out.blanks.set(row.station_id, byContest);
  }
  for (const row of z.array(Sheet).parse(sheets?.results ?? [])) {
    // Written by saveResultSheet from a verified payload; a failure here is a bug.
    const totals = StoredSheetTotals.parse(JSON.parse(row.totals_json));
    out.sheets.set(row.station_id, { totals, submittedAt: row.submitted_at, payloadSha256: row.payload_sha256 });
  }
  return out;
}

/** Bound parameters per reconciliation_differences row: 11 rows per INSERT. */
const DIFFERENCE_COLUMNS = 9;

/**
 * Stores what one reconciliation found, at `at`: each station's differences upserted with the
 * latest figures (and no longer resolved), and the differences of these stations not seen this
 * time marked resolved. One D1 batch.
 */
export async function storeDifferences(
  d1: D1Database,
  electionId: string,
  reports: readonly { readonly stationId: string; readonly differences: readonly Difference[] }[],
  at: string,
): Promise<void> {
  const db = drizzle(d1);
  const t = reconciliationDifferences;
  const rows = reports.flatMap((r) =>
    r.differences.map((d) => ({
      electionId,
      stationId: r.stationId,
      kind: d.kind,
      contestId: d.contestId ?? "",
      optionId: d.optionId ?? "",
      systemCount: d.system,
      stationCount: d.station,
      firstSeenAt: at,
      lastSeenAt: at,
    })),
  );
  const upserts = chunksOf(rows, rowsPerStatement(DIFFERENCE_COLUMNS)).map((chunk) =>
    db
      .insert(t)
      .values(chunk)
      .onConflictDoUpdate({
        target: [t.electionId, t.stationId, t.kind, t.contestId, t.optionId],
        set: {
          systemCount: sql`excluded.system_count`,
          stationCount: sql`excluded.station_count`,
          lastSeenAt: sql`excluded.last_seen_at`,
          resolvedAt: sql`NULL`,
        },
      }),
  );
  // Three parameters (at, election, at) beside the station ids: rowsPerStatement(1, 3) = 97 ids.
  const resolutions = chunksOf(
    reports.map((r) => r.stationId),
    rowsPerStatement(1, 3),
  ).map((chunk) =>
    db
      .update(t)
      .set({ resolvedAt: at })
      .where(
        and(eq(t.electionId, electionId), isNull(t.resolvedAt), lt(t.lastSeenAt, at), inArray(t.stationId, chunk)),
      ),
  );
  const [first, ...rest] = [...upserts, ...resolutions];
  if (first) await db.batch([first, ...rest]);
}
