/**
 * A station's offline pollbook: the voters of the districts it serves, as the station may hold
 * them on its laptop (DESIGN 3.4; docs/PAPER.md "Offline").
 *
 * What a stolen laptop learns is bounded by the keys it holds. Each (election, district) has its
 * own 32-byte pollbook key, derived on the server from the roll's secret, which no station sees;
 * an entry's id is the HMAC of the normalised national id under its district's key. The server
 * computes it when it imports the roll (the only time it sees national ids) and keeps it beside
 * the voter key. So the laptop can tell whether a national id it is given belongs to one of its
 * own districts' voters (which it must, to decide a check-in offline), but it holds no national id
 * in clear, and its ids match nothing outside its districts nor the roll's voter keys (another
 * key): it can confirm nothing about people outside its districts.
 *
 * An entry's `ref` is the server's own reference to the voter (the voter key sealed under a
 * server-side key, bound to the station): the station sends it back with a check-in decided from
 * the pollbook, so neither the pollbook nor the station's outbox needs the national id, and a ref
 * from one station's pollbook is refused at another.
 *
 * The pollbook comes in pages, each a compact JWS (EdDSA, `typ` POLLBOOK_JWS_TYPE) signed with the
 * receipt key, whose public keys are published at `GET /v1/receipt-keys`: the station checks every
 * page when it downloads it and again when it loads it from its disk, so a pollbook altered on the
 * laptop is refused.
 */
import * as z from "zod";
import { base64urlDecode, base64urlEncode } from "../bytes.ts";
import { DistrictId, StationId } from "./ids.ts";

export const POLLBOOK_JWS_TYPE = "pollbook+jws";
/**
 * Entries per page: at most. An entry is about 190 bytes of JSON (its ref is the largest part), so
 * a full page is about 1.3 MB as a compact JWS (test/workers/station-pollbook.test.ts).
 */
export const POLLBOOK_PAGE_SIZE = 5_000;
/** 16 bytes of HMAC-SHA-256, base64url. */
export const PollbookEntryId = z.string().regex(/^[A-Za-z0-9_-]{22}$/, "a pollbook id is 22 base64url characters");
export const VoterRef = z.string().regex(/^[A-Za-z0-9_-]{40,200}$/, "a voter reference is 40-200 base64url characters");
/** A district's 32-byte pollbook key, base64url. */
export const PollbookKey = z.string().regex(/^[A-Za-z0-9_-]{43}$/, "32 bytes in base64url");

export const PollbookEntry = z
  .object({
    id: PollbookEntryId,
    ref: VoterRef,
    districtId: DistrictId,
    ballotStyleId: z.string().min(1).max(128),
  })
  .strict();
export type PollbookEntry = z.infer<typeof PollbookEntry>;

/** The payload of one signed page. */
export const PollbookPage = z
  .object({
    v: z.literal(1),
    electionId: z.string().min(1).max(128),
    stationId: StationId,
    /** The station's districts in this election, in the order the server lists them. */
    districtIds: z.array(DistrictId),
    /** When the server cut the pollbook this page belongs to (every page of one download: the same). */
    issuedAt: z.iso.datetime(),
    /** The pollbook key of each of the station's districts (same on every page of a download). */
    keys: z.record(DistrictId, PollbookKey),
    /** 0, 1, 2, ... within one download. */
    page: z.number().int().min(0),
    entries: z.array(PollbookEntry).max(POLLBOOK_PAGE_SIZE),
    /** Pass as `after` for the next page; null on the last page. */
    next: z.string().min(1).max(200).nullable(),
  })
  .strict();
export type PollbookPage = z.infer<typeof PollbookPage>;

/** The route's answer: the page as its compact JWS. */
export const PollbookPageAnswer = z.object({ page: z.string().min(1) }).strict();

/** A district's pollbook key imported once for many ids (the roll import hashes a chunk's voters with it). */
export async function pollbookIdKey(pollbookKey: string): Promise<CryptoKey> {
  const raw = base64urlDecode(pollbookKey);
  if (!raw || raw.length !== 32) throw new Error("a pollbook key is 32 bytes");
  return crypto.subtle.importKey("raw", new Uint8Array(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
}

/** pollbookEntryId under a key pollbookIdKey imported. */
export async function pollbookEntryIdUnder(key: CryptoKey, normalisedNationalId: string): Promise<string> {
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(normalisedNationalId)));
  return base64urlEncode(mac.subarray(0, 16));
}

/** HMAC-SHA-256 of the normalised national id under a district's pollbook key, first 16 bytes. */
export async function pollbookEntryId(pollbookKey: string, normalisedNationalId: string): Promise<string> {
  return pollbookEntryIdUnder(await pollbookIdKey(pollbookKey), normalisedNationalId);
}

/**
 * An offline check-in's envelope: a random code the station gives the ballot it issued while
 * offline, written on the ballot's sleeve and named again when that ballot is scanned, so that
 * the server can hold exactly that ballot if the check-in turns out to conflict. It is never a
 * voter's id and the server keeps only its keyed digest, and only until the ballot is counted.
 */
export const EnvelopeCode = z.string().regex(/^[A-Z0-9]{4}-[A-Z0-9]{4}$/, "an envelope code is XXXX-XXXX");

/** A fresh envelope code from the CSPRNG (letters and digits without 0/O and 1/I). */
export function newEnvelopeCode(): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  const chars = [...bytes].map((b) => alphabet[b % alphabet.length]);
  return `${chars.slice(0, 4).join("")}-${chars.slice(4).join("")}`;
}
