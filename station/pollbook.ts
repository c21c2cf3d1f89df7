/**
 * The station's copy of its pollbook: signed pages (lib/station/pollbook.ts) verified against the
 * receipt key's JWKS when downloaded and again whenever they are loaded from the disk, so a page
 * altered on the laptop is refused rather than trusted. Once verified, the entries are kept in
 * memory by id; the database keeps only the signed texts.
 */
import { compactVerify, createLocalJWKSet, type JSONWebKeySet } from "jose";
import { POLLBOOK_JWS_TYPE, PollbookPage, pollbookEntryId, type PollbookEntry } from "../lib/station/pollbook.ts";
import { err, ok, type Result } from "../lib/result.ts";

export interface LoadedPollbook {
  readonly issuedAt: string;
  readonly keys: Readonly<Record<string, string>>;
  readonly entries: ReadonlyMap<string, PollbookEntry>;
}

export interface PollbookExpectation {
  readonly electionId: string;
  readonly stationId: string;
}

/** Verifies one page's signature, type and payload; refuses a page for another election or station. */
export async function verifyPollbookPage(
  jws: string,
  jwks: JSONWebKeySet,
  expect: PollbookExpectation,
): Promise<Result<PollbookPage, string>> {
  let payload: Uint8Array;
  try {
    const verified = await compactVerify(jws, createLocalJWKSet(jwks), { algorithms: ["EdDSA"] });
    if (verified.protectedHeader.typ !== POLLBOOK_JWS_TYPE) return err(`a page's type is not ${POLLBOOK_JWS_TYPE}`);
    payload = verified.payload;
  } catch (error) {
    return err(`a page's signature does not verify (${error instanceof Error ? error.message : String(error)})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return err("a page is not JSON");
  }
  const page = PollbookPage.safeParse(json);
  if (!page.success) return err("a page is not a pollbook page");
  if (page.data.electionId !== expect.electionId || page.data.stationId !== expect.stationId) {
    return err("a page is for another election or station");
  }
  return ok(page.data);
}

/** Verifies every page of one download (numbered 0.., one issuedAt) and indexes its entries. */
export async function loadPollbook(
  pages: readonly string[],
  jwks: JSONWebKeySet,
  expect: PollbookExpectation,
): Promise<Result<LoadedPollbook, string>> {
  if (pages.length === 0) return err("the pollbook has no pages");
  const entries = new Map<string, PollbookEntry>();
  let first: PollbookPage | undefined;
  for (const [i, jws] of pages.entries()) {
    const page = await verifyPollbookPage(jws, jwks, expect);
    if (!page.ok) return page;
    if (page.value.page !== i) return err(`page ${i} is missing or out of order`);
    first ??= page.value;
    if (page.value.issuedAt !== first.issuedAt) return err("the pages are from different downloads");
    if (i === pages.length - 1 && page.value.next !== null) return err("the last page is missing");
    for (const entry of page.value.entries) entries.set(entry.id, entry);
  }
  return ok({ issuedAt: first!.issuedAt, keys: first!.keys, entries });
}

/** The voter's entry, trying each of the station's districts' keys. */
export async function findEntry(
  pollbook: LoadedPollbook,
  normalisedNationalId: string,
): Promise<PollbookEntry | undefined> {
  for (const key of Object.values(pollbook.keys)) {
    const entry = pollbook.entries.get(await pollbookEntryId(key, normalisedNationalId));
    if (entry) return entry;
  }
  return undefined;
}
