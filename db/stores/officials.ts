/**
 * Officials and their public keys (db/schema.ts `officials`, `official_keys`): the registry that
 * administrators write (workers/gateway/routes/officials.ts) and that an official's assertion is
 * checked against (workers/gateway/auth/officials.ts). Keys rotate by add-then-revoke; revoking an
 * official stops all of their keys, and every access token issued to them, at once. A refused
 * change writes nothing.
 *
 * The first administrator is configuration (BOOTSTRAP_ADMIN_JWK), not a row: it has no row until
 * it is revoked, and then a row that records the revocation. Creating an administrator takes two
 * administrators while two exist (a proposal, then another's approval); the last administrator
 * cannot be revoked.
 */
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { err, ok, type Result } from "../../lib/result.ts";
import { officialKeys, officialProposals, officials } from "../schema.ts";

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
  const result = await drizzle(d1)
    .update(officialKeys)
    .set({ revokedAt })
    .where(and(eq(officialKeys.kid, kid), eq(officialKeys.officialId, officialId), isNull(officialKeys.revokedAt)))
    .run();
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
 * Revokes an unrevoked official at `revokedAt`: none of their keys or tokens is accepted any more.
 * The configured first administrator can be revoked like any other, once another administrator
 * exists; the last administrator never can (nobody could then manage the officials). The count
 * is read before the write: two administrators revoking each other in the same instant could both
 * pass, which a two-administrator rule for revocations (not built yet) would close.
 */
export async function revokeOfficial(
  d1: D1Database,
  officialId: string,
  revokedAt: string,
): Promise<Result<undefined, "official_not_found" | "last_administrator">> {
  const db = drizzle(d1);
  const administrators = await activeAdministrators(d1);
  if (administrators.includes(officialId) && administrators.length < 2) return err("last_administrator");
  if (officialId === BOOTSTRAP_ADMIN_ID) {
    if (!administrators.includes(BOOTSTRAP_ADMIN_ID)) return err("official_not_found");
    await db
      .insert(officials)
      .values({ id: BOOTSTRAP_ADMIN_ID, role: "administrator", displayName: "First administrator", revokedAt })
      .onConflictDoUpdate({ target: officials.id, set: { revokedAt } })
      .run();
    return ok(undefined);
  }
  const result = await db
    .update(officials)
    .set({ revokedAt })
    .where(and(eq(officials.id, officialId), isNull(officials.revokedAt)))
    .run();
  return result.meta.changes === 1 ? ok(undefined) : err("official_not_found");
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
 * Approves a proposed official: `approvedBy` must not be who proposed it. Registers the official
 * with their key and deletes the proposal; answers what was registered.
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
