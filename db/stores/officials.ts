/**
 * Officials and their public keys (db/schema.ts `officials`, `official_keys`): the registry that
 * administrators write (workers/gateway/routes/officials.ts) and that an official's assertion is
 * checked against (workers/gateway/auth/officials.ts). Keys rotate by add-then-revoke; revoking an
 * official stops all of their keys, and every access token issued to them, at once. A refused
 * change writes nothing.
 *
 * The first administrator is configuration (BOOTSTRAP_ADMIN_JWK), not a row: it has no row until
 * it is revoked, and then a row that records the revocation. Creating an administrator takes two
 * administrators while two exist (a proposal, then another's approval); so does revoking another
 * administrator or another administrator's key (a request, then another's same request), while
 * revoking oneself, one's own key or a non-administrator takes one. The last administrator
 * cannot be revoked: the check and the write are one statement, so concurrent revocations cannot
 * both pass it.
 */
import { and, eq, isNull, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { err, ok, type Result } from "../../lib/result.ts";
import { officialKeys, officialProposals, officialRevocationRequests, officials } from "../schema.ts";

type OfficialRole = (typeof officials.$inferSelect)["role"];

/** The official id of the configured first administrator (BOOTSTRAP_ADMIN_JWK). */
export const BOOTSTRAP_ADMIN_ID = "bootstrap-admin";

/** A public JWK with its kid, as the officials' routes accepted it. */
interface SigningJwk {
  readonly kid: string;
}

/** What official_keys.public_jwk holds for the assertion check: public parts only. */
const PublicJwk = z.looseObject({ kty: z.string(), kid: z.string().optional() }).refine((k) => !("d" in k), {
  message: "a public key must not carry private parts",
});

export interface OfficialKey {
  readonly officialId: string;
  readonly role: OfficialRole;
  readonly jwk: z.infer<typeof PublicJwk>;
}

/**
 * The unrevoked key `kid` of an unrevoked official, or undefined (also when the stored key does
 * not parse as a public key).
 */
export async function findOfficialKey(db: D1Database, kid: string): Promise<OfficialKey | undefined> {
  const row = await drizzle(db)
    .select({ officialId: officials.id, role: officials.role, publicJwk: officialKeys.publicJwk })
    .from(officialKeys)
    .innerJoin(officials, eq(officials.id, officialKeys.officialId))
    .where(and(eq(officialKeys.kid, kid), isNull(officialKeys.revokedAt), isNull(officials.revokedAt)))
    .get();
  if (!row) return undefined;
  const jwk = PublicJwk.safeParse(JSON.parse(row.publicJwk));
  if (!jwk.success) return undefined;
  return { officialId: row.officialId, role: row.role, jwk: jwk.data };
}

async function kidTaken(db: ReturnType<typeof drizzle>, kid: string): Promise<boolean> {
  return (
    (await db.select({ kid: officialKeys.kid }).from(officialKeys).where(eq(officialKeys.kid, kid)).get()) !== undefined
  );
}

/** Registers an official with their first key; one D1 batch, so the official never exists without it. */
export async function registerOfficial(
  d1: D1Database,
  official: {
    readonly id: string;
    readonly role: OfficialRole;
    readonly displayName: string;
    readonly publicJwk: SigningJwk;
  },
): Promise<Result<undefined, "official_exists" | "key_exists">> {
  const db = drizzle(d1);
  if (await db.select({ id: officials.id }).from(officials).where(eq(officials.id, official.id)).get()) {
    return err("official_exists");
  }
  if (await kidTaken(db, official.publicJwk.kid)) return err("key_exists");
  await db.batch([
    db.insert(officials).values({ id: official.id, role: official.role, displayName: official.displayName }),
    db
      .insert(officialKeys)
      .values({ kid: official.publicJwk.kid, officialId: official.id, publicJwk: JSON.stringify(official.publicJwk) }),
  ]);
  return ok(undefined);
}

export interface OfficialSummary {
  readonly id: string;
  readonly role: OfficialRole;
  readonly displayName: string;
  readonly revokedAt: string | null;
  readonly keys: { readonly kid: string; readonly revokedAt: string | null }[];
}

/** Every official, by id, with their keys. */
export async function listOfficials(d1: D1Database): Promise<OfficialSummary[]> {
  const db = drizzle(d1);
  const [rows, keys] = await db.batch([
    db.select().from(officials).orderBy(officials.id),
    db.select().from(officialKeys),
  ]);
  return rows.map((o) => ({
    id: o.id,
    role: o.role,
    displayName: o.displayName,
    revokedAt: o.revokedAt,
    keys: keys.filter((k) => k.officialId === o.id).map((k) => ({ kid: k.kid, revokedAt: k.revokedAt })),
  }));
}

/** Adds a key to an unrevoked official; answers the official's role. */
export async function addOfficialKey(
  d1: D1Database,
  officialId: string,
  publicJwk: SigningJwk,
): Promise<Result<{ role: OfficialRole }, "official_not_found" | "key_exists">> {
  const db = drizzle(d1);
  const official = await db
    .select()
    .from(officials)
    .where(and(eq(officials.id, officialId), isNull(officials.revokedAt)))
    .get();
  if (!official) return err("official_not_found");
  if (await kidTaken(db, publicJwk.kid)) return err("key_exists");
  await db.insert(officialKeys).values({ kid: publicJwk.kid, officialId, publicJwk: JSON.stringify(publicJwk) });
  return ok({ role: official.role });
}

/** Revokes one unrevoked key of the official at `revokedAt`. */
export async function revokeOfficialKey(
  d1: D1Database,
  officialId: string,
  kid: string,
  revokedAt: string,
): Promise<Result<undefined, "key_not_found">> {
  const db = drizzle(d1);
  const [result] = await db.batch([
    db
      .update(officialKeys)
      .set({ revokedAt })
      .where(and(eq(officialKeys.kid, kid), eq(officialKeys.officialId, officialId), isNull(officialKeys.revokedAt))),
    db
      .delete(officialRevocationRequests)
      .where(and(eq(officialRevocationRequests.officialId, officialId), eq(officialRevocationRequests.kid, kid))),
  ]);
  return result.meta.changes === 1 ? ok(undefined) : err("key_not_found");
}

async function bootstrapRevoked(db: ReturnType<typeof drizzle>): Promise<boolean> {
  const row = await db
    .select({ revokedAt: officials.revokedAt })
    .from(officials)
    .where(eq(officials.id, BOOTSTRAP_ADMIN_ID))
    .get();
  return row?.revokedAt != null;
}

/** The unrevoked administrators, the configured first one included until it is revoked. */
export async function activeAdministrators(d1: D1Database): Promise<string[]> {
  const db = drizzle(d1);
  const rows = await db
    .select({ id: officials.id })
    .from(officials)
    .where(and(eq(officials.role, "administrator"), isNull(officials.revokedAt)))
    .all();
  const ids = rows.map((r) => r.id).filter((id) => id !== BOOTSTRAP_ADMIN_ID);
  return (await bootstrapRevoked(db)) ? ids : [BOOTSTRAP_ADMIN_ID, ...ids];
}

/**
 * Whether an access token's official and key are still unrevoked: checked on every privileged
 * call, so revocation takes effect at once (one indexed read). The configured first
 * administrator's key is `bootstrapKid`.
 */
export async function credentialActive(
  d1: D1Database,
  officialId: string,
  kid: string,
  bootstrapKid: string,
): Promise<boolean> {
  const db = drizzle(d1);
  if (officialId === BOOTSTRAP_ADMIN_ID) return kid === bootstrapKid && !(await bootstrapRevoked(db));
  const row = await db
    .select({ kid: officialKeys.kid })
    .from(officialKeys)
    .innerJoin(officials, eq(officials.id, officialKeys.officialId))
    .where(
      and(
        eq(officialKeys.kid, kid),
        eq(officialKeys.officialId, officialId),
        isNull(officialKeys.revokedAt),
        isNull(officials.revokedAt),
      ),
    )
    .get();
  return row !== undefined;
}

/**
 * How many unrevoked administrators other than `officialId` there are, as an SQL expression, so
 * that the last-administrator check and the revocation are one statement (D1 runs statements one
 * at a time): two revocations at the same instant cannot both see the other's target still there.
 */
function otherAdministrators(officialId: string) {
  return sql`((SELECT COUNT(*) FROM officials WHERE role = 'administrator' AND revoked_at IS NULL
      AND id <> ${officialId} AND id <> ${BOOTSTRAP_ADMIN_ID})
    + (CASE WHEN ${officialId} <> ${BOOTSTRAP_ADMIN_ID} AND NOT EXISTS
      (SELECT 1 FROM officials WHERE id = ${BOOTSTRAP_ADMIN_ID} AND revoked_at IS NOT NULL) THEN 1 ELSE 0 END))`;
}

/**
 * Revokes an unrevoked official at `revokedAt`: none of their keys or tokens is accepted any more,
 * and requests to revoke them or their keys are done with. The configured first administrator can
 * be revoked like any other, once another administrator exists; the last administrator never can
 * (nobody could then manage the officials). Whether it takes a second administrator is the
 * caller's (requestRevocation). The count of the other administrators is read by the write itself,
 * so two revocations at once (two administrators each revoking themselves, or a second
 * administrator completing requests against the last two) cannot leave none.
 */
export async function revokeOfficial(
  d1: D1Database,
  officialId: string,
  revokedAt: string,
): Promise<Result<undefined, "official_not_found" | "last_administrator">> {
  const db = drizzle(d1);
  const notLast = sql`(${officials.role} <> 'administrator' OR ${otherAdministrators(officialId)} > 0)`;
  const clear = db.delete(officialRevocationRequests).where(eq(officialRevocationRequests.officialId, officialId));
  if (officialId === BOOTSTRAP_ADMIN_ID) {
    if (await bootstrapRevoked(db)) return err("official_not_found");
    // No row until it is revoked: insert one, but only while another administrator remains.
    const written = await db.run(sql`INSERT INTO officials (id, role, display_name, revoked_at)
        SELECT ${BOOTSTRAP_ADMIN_ID}, 'administrator', 'First administrator', ${revokedAt}
        WHERE ${otherAdministrators(officialId)} > 0
        ON CONFLICT (id) DO UPDATE SET revoked_at = excluded.revoked_at WHERE officials.revoked_at IS NULL`);
    if (written.meta.changes === 1) await clear.run();
    return written.meta.changes === 1 ? ok(undefined) : err("last_administrator");
  }
  const [result] = await db.batch([
    db
      .update(officials)
      .set({ revokedAt })
      .where(and(eq(officials.id, officialId), isNull(officials.revokedAt), notLast)),
    clear,
  ]);
  if (result.meta.changes === 1) return ok(undefined);
  const row = await db
    .select({ role: officials.role })
    .from(officials)
    .where(and(eq(officials.id, officialId), isNull(officials.revokedAt)))
    .get();
  return row?.role === "administrator" ? err("last_administrator") : err("official_not_found");
}

/** A pending request to revoke an administrator (`kid` null) or one of their keys. */
export interface RevocationRequest {
  readonly officialId: string;
  readonly kid: string | null;
  readonly requestedBy: string;
  readonly requestedAt: string;
}

/**
 * Whether `by` revoking `officialId` (or one of their keys) takes a second administrator: it does
 * when the target is an unrevoked administrator other than `by` (one compromised administrator must
 * not be able to remove, or lock out, the others). Oneself, one's own key and non-administrators
 * take one.
 */
export async function revocationNeedsSecond(d1: D1Database, officialId: string, by: string): Promise<boolean> {
  return officialId !== by && (await activeAdministrators(d1)).includes(officialId);
}

/**
 * Records `by`'s request to revoke `officialId` (`kid` undefined) or their key `kid`, or, when an
 * unrevoked administrator other than `by` asked first, answers "approved": the caller then
 * revokes (which deletes the request). The requester repeating the request changes nothing. A
 * request whose requester has since been revoked no longer counts: `by`'s request replaces it.
 */
export async function requestRevocation(
  d1: D1Database,
  target: { readonly officialId: string; readonly kid?: string | undefined },
  by: string,
  at: string,
): Promise<
  Result<
    { readonly status: "awaiting-approval" | "approved"; readonly requestedBy: string },
    "official_not_found" | "key_not_found"
  >
> {
  const db = drizzle(d1);
  const kid = target.kid ?? "";
  if (target.kid !== undefined) {
    const key = await db
      .select({ kid: officialKeys.kid })
      .from(officialKeys)
      .where(
        and(eq(officialKeys.kid, kid), eq(officialKeys.officialId, target.officialId), isNull(officialKeys.revokedAt)),
      )
      .get();
    if (!key) return err("key_not_found");
  } else if (!(await activeAdministrators(d1)).includes(target.officialId)) {
    return err("official_not_found");
  }
  const where = and(
    eq(officialRevocationRequests.officialId, target.officialId),
    eq(officialRevocationRequests.kid, kid),
  );
  // Insert-or-keep, then read back: of two administrators asking at once, one is first.
  await db
    .insert(officialRevocationRequests)
    .values({ officialId: target.officialId, kid, requestedBy: by, requestedAt: at })
    .onConflictDoNothing()
    .run();
  const row = await db.select().from(officialRevocationRequests).where(where).get();
  if (!row || row.requestedBy === by) return ok({ status: "awaiting-approval", requestedBy: by });
  if ((await activeAdministrators(d1)).includes(row.requestedBy)) {
    return ok({ status: "approved", requestedBy: row.requestedBy });
  }
  await db
    .update(officialRevocationRequests)
    .set({ requestedBy: by, requestedAt: at })
    .where(and(where, eq(officialRevocationRequests.requestedBy, row.requestedBy)))
    .run();
  return ok({ status: "awaiting-approval", requestedBy: by });
}

/** The pending revocation requests whose requester is still an unrevoked administrator. */
export async function listRevocationRequests(d1: D1Database): Promise<RevocationRequest[]> {
  const administrators = await activeAdministrators(d1);
  const rows = await drizzle(d1)
    .select()
    .from(officialRevocationRequests)
    .orderBy(officialRevocationRequests.requestedAt)
    .all();
  return rows
    .filter((r) => administrators.includes(r.requestedBy))
    .map((r) => ({
      officialId: r.officialId,
      kid: r.kid === "" ? null : r.kid,
      requestedBy: r.requestedBy,
      requestedAt: r.requestedAt,
    }));
}

export interface ProposedOfficial {
  readonly id: string;
  readonly role: OfficialRole;
  readonly displayName: string;
  readonly publicJwk: SigningJwk;
}

/** Records `proposedBy`'s proposal of a new administrator, for another administrator to approve. */
export async function proposeOfficial(
  d1: D1Database,
  proposal: ProposedOfficial,
  proposedBy: string,
  proposedAt: string,
): Promise<Result<undefined, "official_exists" | "key_exists">> {
  const db = drizzle(d1);
  const taken = await db.batch([
    db.select({ id: officials.id }).from(officials).where(eq(officials.id, proposal.id)),
    db.select({ id: officialProposals.id }).from(officialProposals).where(eq(officialProposals.id, proposal.id)),
  ]);
  if (taken.some((rows) => rows.length > 0)) return err("official_exists");
  if (await kidTaken(db, proposal.publicJwk.kid)) return err("key_exists");
  await db
    .insert(officialProposals)
    .values({
      id: proposal.id,
      role: proposal.role,
      displayName: proposal.displayName,
      publicJwk: JSON.stringify(proposal.publicJwk),
      proposedBy,
      proposedAt,
    })
    .run();
  return ok(undefined);
}

/**
 * Approves a proposed official: `approvedBy` must not be who proposed it, and who proposed it must
 * still be an unrevoked administrator (a revoked administrator's proposals die with them).
 * Registers the official with their key and deletes the proposal; answers what was registered.
 */
export async function approveOfficial(
  d1: D1Database,
  id: string,
  approvedBy: string,
): Promise<
  Result<
    ProposedOfficial & { proposedBy: string },
    "proposal_not_found" | "second_administrator_required" | "official_exists" | "key_exists"
  >
> {
  const db = drizzle(d1);
  const row = await db.select().from(officialProposals).where(eq(officialProposals.id, id)).get();
  if (!row) return err("proposal_not_found");
  if (row.proposedBy === approvedBy) return err("second_administrator_required");
  if (!(await activeAdministrators(d1)).includes(row.proposedBy)) {
    await db.delete(officialProposals).where(eq(officialProposals.id, id)).run();
    return err("proposal_not_found");
  }
  const publicJwk = PublicJwk.safeParse(JSON.parse(row.publicJwk));
  if (!publicJwk.success || publicJwk.data.kid === undefined) return err("proposal_not_found");
  const official = {
    id: row.id,
    role: row.role,
    displayName: row.displayName,
    publicJwk: { ...publicJwk.data, kid: publicJwk.data.kid },
  };
  const registered = await registerOfficial(d1, official);
  if (!registered.ok) return registered;
  await db.delete(officialProposals).where(eq(officialProposals.id, id)).run();
  return ok({ ...official, proposedBy: row.proposedBy });
}
