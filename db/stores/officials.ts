/**
 * Officials and their public keys (db/schema.ts `officials`, `official_keys`): the registry that
 * administrators write (workers/gateway/routes/officials.ts) and that an official's assertion is
 * checked against (workers/gateway/auth/officials.ts). Keys rotate by add-then-revoke; revoking an
 * official stops all of their keys at once. A refused change writes nothing.
 */
import { and, eq, isNull } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import { z } from "zod";
import { err, ok, type Result } from "../../lib/result.ts";
import { officialKeys, officials } from "../schema.ts";

type OfficialRole = (typeof officials.$inferSelect)["role"];

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

/** Revokes an unrevoked official at `revokedAt`: none of their keys is accepted any more. */
export async function revokeOfficial(
  d1: D1Database,
  officialId: string,
  revokedAt: string,
): Promise<Result<undefined, "official_not_found">> {
  const result = await drizzle(d1)
    .update(officials)
    .set({ revokedAt })
    .where(and(eq(officials.id, officialId), isNull(officials.revokedAt)))
    .run();
  return result.meta.changes === 1 ? ok(undefined) : err("official_not_found");
}
