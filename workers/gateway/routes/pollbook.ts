/**
 * A station's offline pollbook (lib/station/pollbook.ts; docs/PAPER.md "Offline"):
 *
 *   GET /v1/stations/{stationId}/pollbook?electionId=E&after=CURSOR
 *
 * Station-signed like every station route (the signed path includes the query). Each answer is one
 * page of the election's voters in the districts the station serves, signed as a compact JWS with
 * the receipt key: entries carry the voter's pollbook id (computed by the roll import, the only
 * time the server sees national ids), a ref (the voter key sealed for this election and station,
 * so another station cannot use it), the district and its ballot style. No national id and no
 * voter key leaves the server.
 *
 * Paging is by keyset, one district at a time in the order `districtIds` lists them, in
 * pollbook-id order within a district: every page is one range scan of the voters_by_district
 * index, whatever page it is. A page ends where its district ends, so a page may hold fewer than
 * POLLBOOK_PAGE_SIZE entries and still have a next. The cursor (opaque to the station) carries
 * the district's index, the last pollbook id sent, the page number and when the first page was
 * cut, so every page of one download says the same `issuedAt`. Voters imported or moved while a
 * download runs may be missed or seen twice by that download; the station downloads again.
 *
 * Voters stored before pollbook ids existed have none and are left out: a roll imported before
 * this route existed must be imported again (the import fills the missing ids; see
 * db/stores/roll.ts).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { getElection } from "../../../db/stores/elections.ts";
import { pollbookVoters } from "../../../db/stores/roll.ts";
import { base64urlDecode, base64urlEncode, utf8 } from "../../../lib/bytes.ts";
import type { CompiledElection } from "../../../lib/election/model.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { StationId } from "../../../lib/station/ids.ts";
import {
  POLLBOOK_PAGE_SIZE,
  PollbookEntryId,
  PollbookPage,
  PollbookPageAnswer,
  type PollbookEntry,
} from "../../../lib/station/pollbook.ts";
import { districtPollbookKey, sealVoterRef } from "../../voting/pollbook-keys.ts";
import { signPollbookPage } from "../../voting/receipts.ts";
import { requireStation, type StationAppEnv, type StationPrincipal } from "../auth/station.ts";
import { errorResponses, fail, validationHook } from "../http.ts";

/** What the opaque cursor holds (base64url of its JSON). */
const Cursor = z
  .object({
    v: z.literal(1),
    /** issuedAt of the download's first page. */
    t: z.iso.datetime(),
    /** Index into the page's districtIds. */
    d: z.number().int().min(0).max(63),
    /** The last pollbook id sent in that district; "" for its start. */
    a: z.union([z.literal(""), PollbookEntryId]),
    /** The next page's number. */
    n: z.number().int().min(1).max(1_000_000),
  })
  .strict();
type Cursor = z.infer<typeof Cursor>;

function encodeCursor(cursor: Cursor): string {
  return base64urlEncode(utf8(JSON.stringify(cursor)));
}

function decodeCursor(text: string): Cursor | undefined {
  const bytes = base64urlDecode(text);
  if (!bytes) return undefined;
  try {
    const parsed = Cursor.safeParse(
      JSON.parse(new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes)),
    );
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

const PollbookQuery = z
  .object({
    electionId: ElectionId.openapi({ param: { name: "electionId", in: "query" }, example: "demo-2026" }),
    after: z
      .string()
      .min(1)
      .max(200)
      .optional()
      .openapi({ param: { name: "after", in: "query" }, description: "The previous page's `next`." }),
  })
  .strict();

const pollbookRoute = createRoute({
  method: "get",
  path: "/v1/stations/{stationId}/pollbook",
  tags: ["stations"],
  summary: "One signed page of the station's offline pollbook",
  description:
    "A compact JWS (EdDSA, typ pollbook+jws, the receipt key: verify with GET /v1/receipt-keys) over a PollbookPage (lib/station/pollbook.ts). Pass the page's `next` as `after` until it is null. Refusals: election_not_found (404), station_wrong_district (403: the station serves none of the election's districts), invalid_request (400: a bad query or cursor).",
  security: [{ stationSignature: [] }],
  middleware: [requireStation()] as const,
  request: {
    params: z.object({
      stationId: StationId.openapi({ param: { name: "stationId", in: "path" }, example: "tallinn-001" }),
    }),
    query: PollbookQuery,
  },
  responses: {
    200: {
      description: "The page",
      content: { "application/json": { schema: PollbookPageAnswer.openapi("PollbookPageAnswer") } },
    },
    ...errorResponses(400, 401, 403, 404, 429),
  },
});

/** The station's districts in this election, sorted: the order pages and their cursors follow. */
function stationDistricts(election: CompiledElection, station: StationPrincipal): string[] {
  return [...new Set(station.districtIds)].filter((d) => election.ballotStyleByDistrict.has(d)).sort();
}

function badCursor(): never {
  return fail("invalid_request", undefined, [
    { path: "/after", message: "not a cursor this pollbook gave; start again without `after`" },
  ]);
}

export function pollbookRoutes(): OpenAPIHono<StationAppEnv> {
  const app = new OpenAPIHono<StationAppEnv>({ defaultHook: validationHook });

  app.openapi(pollbookRoute, async (c) => {
    const station = c.get("station");
    const { electionId, after } = c.req.valid("query");
    const election = await getElection(c.env.DB, electionId);
    if (!election) return fail("election_not_found");
    const districtIds = stationDistricts(election, station);
    if (districtIds.length === 0) return fail("station_wrong_district");

    const cursor: Cursor =
      after === undefined
        ? { v: 1, t: new Date().toISOString(), d: 0, a: "", n: 0 }
        : (decodeCursor(after) ?? badCursor());
    const districtId = districtIds[cursor.d];
    if (districtId === undefined) return badCursor();
    const ballotStyleId = election.ballotStyleByDistrict.get(districtId);
    if (ballotStyleId === undefined) throw new Error(`district ${districtId} lost its ballot style`);

    const rows = await pollbookVoters(c.env.DB, election.id, districtId, cursor.a, POLLBOOK_PAGE_SIZE);
    const entries: PollbookEntry[] = await Promise.all(
      rows.map(async (row) => ({
        id: row.pollbookId,
        ref: await sealVoterRef(c.env, election.id, station.stationId, row.voterKey),
        districtId,
        ballotStyleId,
      })),
    );
    const last = rows.at(-1);
    let next: Cursor | null = null;
    if (rows.length === POLLBOOK_PAGE_SIZE && last) next = { ...cursor, a: last.pollbookId, n: cursor.n + 1 };
    else if (cursor.d + 1 < districtIds.length) next = { ...cursor, d: cursor.d + 1, a: "", n: cursor.n + 1 };

    const keys = Object.fromEntries(
      await Promise.all(districtIds.map(async (d) => [d, await districtPollbookKey(c.env, election.id, d)] as const)),
    );
    const page = PollbookPage.parse({
      v: 1,
      electionId: election.id,
      stationId: station.stationId,
      districtIds,
      issuedAt: cursor.t,
      keys,
      page: cursor.n,
      entries,
      next: next && encodeCursor(next),
    });
    // The page holds the districts' pollbook keys: for this station only, never a cache.
    c.header("cache-control", "no-store");
    return c.json({ page: await signPollbookPage(c.env, page) }, 200);
  });

  return app;
}
