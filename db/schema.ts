/**
 * D1 tables (drizzle-orm). `migrations/` is generated from this file by `npm run db:generate`
 * (drizzle-kit); the migrations are what wrangler and the tests apply.
 *
 * National ids never appear here: voters are keyed by `voter_key`, the HMAC of the normalised
 * national id under the ROLL_HASH_KEY secret.
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** One row per election: its NIST definition and our settings, as loaded by an administrator. */
export const elections = sqliteTable("elections", {
  id: text("id").primaryKey(),
  name: text("name").notNull(),
  /** The whole definition document as loaded (NIST ElectionReport plus settings), JSON. */
  definitionJson: text("definition_json").notNull(),
  /** Increases by one on every accepted reload; caches compare it. */
  version: integer("version").notNull().default(1),
  opensAt: text("opens_at").notNull(),
  closesAt: text("closes_at").notNull(),
  createdAt: text("created_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  updatedAt: text("updated_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
});

/** The voter roll: who may vote in which election, and in which district. */
export const voters = sqliteTable(
  "voters",
  {
    electionId: text("election_id").notNull(),
    voterKey: text("voter_key").notNull(),
    districtId: text("district_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.electionId, t.voterKey] }),
    index("voters_by_district").on(t.electionId, t.districtId),
  ],
);

/** Officials: administrators, station officials and auditors. */
export const officials = sqliteTable("officials", {
  id: text("id").primaryKey(),
  role: text("role", { enum: ["administrator", "station-official", "auditor"] }).notNull(),
  displayName: text("display_name").notNull(),
  createdAt: text("created_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  revokedAt: text("revoked_at"),
});

/** Each official's public keys; a key is rotated by adding a new one and revoking the old. */
export const officialKeys = sqliteTable(
  "official_keys",
  {
    kid: text("kid").primaryKey(),
    officialId: text("official_id").notNull(),
    publicJwk: text("public_jwk").notNull(),
    createdAt: text("created_at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
    revokedAt: text("revoked_at"),
  },
  (t) => [index("official_keys_by_official").on(t.officialId)],
);

/** Security events that are not yet alerts: geofence flags, for the monitor to come. */
export const securityEvents = sqliteTable(
  "security_events",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    electionId: text("election_id"),
    kind: text("kind").notNull(),
    detailJson: text("detail_json").notNull(),
    at: text("at").notNull().default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ','now'))`),
  },
  (t) => [index("security_events_by_election").on(t.electionId, t.at)],
);
