/**
 * The ballot's order, on the Worker: with the demo rewritten so that one style rotates the
 * president's candidates (OrderedContestSelectionIds) and lists its contests in an order of its
 * own (OrderedContent), and one contest's selections carry a SequenceOrder that reverses them
 * (testdata/nist/demo-rotated.json), the voter's ballot page, the review and the JSON ballot show
 * that order, the public summary carries the style's order and the station's copy of it keeps it;
 * a vote for the first option shown counts that option, not the one at its position in the
 * contest; a form error links to the field where the page shows it; and another style's ballot
 * keeps the contest's order.
 */
import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import rotated from "../../testdata/nist/demo-rotated.json";
import otherStyle from "../../testdata/nist/demo-other-style.json";
import { optionsOnStyle } from "../../lib/election/ballot-order.ts";
import { PublicElection, stationElection } from "../../station/election.ts";
import { adminToken, BASE, voterSession } from "./helpers/auth.ts";
import { browser, type Browser } from "./helpers/browser.ts";
import { waitFor } from "./helpers/cast.ts";
import { enrol } from "./helpers/roll.ts";

const ELECTION = "ballot-order";

/** The north style's contests and options, as the definition orders them for its voters. */
const NORTH_ORDER = [
  [
    "contest-parliament-north",
    ["sel-parliament-north-kadri-lepp", "sel-parliament-north-toomas-kivi", "sel-parliament-north-mari-saar"],
  ],
  [
    "contest-president",
    ["sel-president-liis-kask", "sel-president-aino-tamm", "sel-president-juhan-mets", "sel-president-write-in"],
  ],
  ["contest-referendum-voting-age", ["sel-referendum-voting-age-yes", "sel-referendum-voting-age-no"]],
] as const;

let voterCounter = 0;
async function newVoter(district: string): Promise<string> {
  voterCounter += 1;
  const id = `EE-BO-${String(voterCounter).padStart(4, "0")}`;
  await enrol(ELECTION, id, district);
  return id;
}

/** A voter's browser with a live session cookie (the cookie holds the session token). */
async function signedIn(district: string): Promise<Browser> {
  const b = browser();
  b.jar.cookies.set("__Host-voter_session", await voterSession(ELECTION, await newVoter(district)));
  return b;
}

/** The option ids of the ballot form's inputs, grouped by contest, in the page's order. */
function formOrder(html: string): [string, string[]][] {
  const groups = new Map<string, string[]>();
  for (const m of html.matchAll(/<input type="(?:radio|checkbox)" id="[^"]*" name="m:([^"]+)" value="([^"]*)"/g)) {
    const [, contestId = "", optionId = ""] = m;
    if (optionId === "") continue; // "leave blank"
    groups.set(contestId, [...(groups.get(contestId) ?? []), optionId]);
  }
  return [...groups];
}

function decode(text: string): string {
  return text
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&amp;/g, "&");
}

/** Loads a definition document under `electionId` as an administrator would. */
async function loadAs(definition: { settings: Record<string, unknown> }, electionId: string): Promise<void> {
  const res = await SELF.fetch(`${BASE}/v1/admin/elections`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify({ ...definition, settings: { ...definition.settings, electionId } }),
  });
  if (res.status !== 201) throw new Error(`load failed: ${res.status} ${await res.text()}`);
}

beforeAll(() => loadAs(structuredClone(rotated), ELECTION));

describe("a ballot style with an order of its own", () => {
  it("the ballot page lists the style's contests, and each contest's options, in the style's order", async () => {
    const b = await signedIn("district-north");
    const page = await b.get(`/elections/${ELECTION}/ballot`);
    expect(page.res.status).toBe(200);
    expect(formOrder(page.html)).toEqual(NORTH_ORDER.map(([contest, options]) => [contest, [...options]]));
    // The labels follow the inputs: the first candidate shown for president is Liis Kask.
    const president = page.html.slice(page.html.indexOf('name="m:contest-president"'));
    expect(president.indexOf("Liis Kask")).toBeLessThan(president.indexOf("Aino Tamm"));
  });

  it("another style's ballot keeps the contest's order", async () => {
    const b = await signedIn("district-south");
    const page = await b.get(`/elections/${ELECTION}/ballot`);
    expect(formOrder(page.html)).toEqual([
      [
        "contest-president",
        ["sel-president-aino-tamm", "sel-president-juhan-mets", "sel-president-liis-kask", "sel-president-write-in"],
      ],
      [
        "contest-parliament-south",
        ["sel-parliament-south-peeter-org", "sel-parliament-south-helena-rebane", "sel-parliament-south-andres-ilves"],
      ],
      ["contest-referendum-voting-age", ["sel-referendum-voting-age-yes", "sel-referendum-voting-age-no"]],
    ]);
  });

  it("a vote for the first option shown is reviewed and counted as that option", async () => {
    const b = await signedIn("district-north");
    const page = await b.get(`/elections/${ELECTION}/ballot`);
    const [[firstContest, [firstShown]], [secondContest, [secondShown]]] = formOrder(page.html) as [
      [string, [string]],
      [string, [string]],
    ];
    // What the voter clicks: the first option of the first two contests as the page shows them.
    expect([firstShown, secondShown]).toEqual(["sel-parliament-north-kadri-lepp", "sel-president-liis-kask"]);
    const review = await b.post(`/elections/${ELECTION}/review`, [
      ["ballotStyle", "bs-north"],
      [`m:${firstContest}`, firstShown],
      [`m:${secondContest}`, secondShown],
    ]);
    expect(review.res.status).toBe(303);
    const reviewed = await b.get(`/elections/${ELECTION}/review`);
    expect(reviewed.res.status).toBe(200);
    // The review lists the contests in the ballot's order, with the names the voter chose.
    const html = reviewed.html;
    expect(html.indexOf("Kadri Lepp")).toBeGreaterThan(0);
    expect(html.indexOf("Kadri Lepp")).toBeLessThan(html.indexOf("Liis Kask"));
    expect(html).not.toContain("Mari Saar");
    expect(html).not.toContain("Aino Tamm");

    const castForm = /<form[^>]*action="\/elections\/[^/]+\/cast"[^>]*>([\s\S]*?)<\/form>/.exec(html)?.[1] ?? "";
    const form = [...castForm.matchAll(/<input type="hidden" name="([^"]*)" value="([^"]*)"/g)].map(
      (m): [string, string] => [decode(m[1] ?? ""), decode(m[2] ?? "")],
    );
    const cast = await b.post(`/elections/${ELECTION}/cast`, form);
    expect(cast.res.status).toBe(303);
    expect(cast.res.headers.get("location")).toBe(`/elections/${ELECTION}/receipt`);

    const results = await waitFor(async () => {
      const r = await env.RESULTS.get(env.RESULTS.idFromName(ELECTION)).results();
      return r.ballots === 1 ? r : undefined;
    });
    const votes = (contestId: string) =>
      results.contests.find((c) => c.contestId === contestId)?.options.filter((o) => o.votes > 0);
    expect(votes("contest-parliament-north")).toEqual([{ optionId: "sel-parliament-north-kadri-lepp", votes: 1 }]);
    expect(votes("contest-president")).toEqual([{ optionId: "sel-president-liis-kask", votes: 1 }]);
  });

  it("a form error links to the field as the page shows it", async () => {
    const b = await signedIn("district-north");
    // President is the second contest on this ballot; its first option shown is Liis Kask, its
    // write-in the last.
    const cases: { form: [string, string][]; field: RegExp }[] = [
      {
        form: [
          ["m:contest-president", "sel-president-aino-tamm"],
          ["m:contest-president", "sel-president-juhan-mets"],
        ],
        field: /<a href="#c1-o0">[\s\S]*id="c1-o0" name="m:contest-president" value="sel-president-liis-kask"/,
      },
      {
        form: [
          ["m:contest-president", "sel-president-write-in"],
          ["w:sel-president-write-in", "x".repeat(81)],
        ],
        field: /<a href="#c1-w3">[\s\S]*id="c1-w3" name="w:sel-president-write-in"/,
      },
    ];
    for (const { form, field } of cases) {
      const sent = await b.post(`/elections/${ELECTION}/review`, [["ballotStyle", "bs-north"], ...form]);
      expect(sent.res.status).toBe(400);
      expect(sent.html).toMatch(field);
    }
  });

  it("the JSON ballot lists each contest's options in the style's order", async () => {
    const token = await voterSession(ELECTION, await newVoter("district-north"));
    const res = await SELF.fetch(`${BASE}/v1/elections/${ELECTION}/ballot`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const ballot: { contests: { id: string; options: { id: string }[] }[] } = await res.json();
    expect(ballot.contests.map((c) => [c.id, c.options.map((o) => o.id)])).toEqual(
      NORTH_ORDER.map(([contest, options]) => [contest, [...options]]),
    );
  });

  it("the public summary carries the style's order, and the station's copy of the election keeps it", async () => {
    const res = await SELF.fetch(`${BASE}/v1/elections/${ELECTION}`);
    expect(res.status).toBe(200);
    const summary = PublicElection.parse(await res.json());
    const north = summary.ballotStyles.find((s) => s.id === "bs-north");
    expect(north?.contestIds).toEqual(NORTH_ORDER.map(([contest]) => contest));
    expect(north?.optionOrder).toEqual({ "contest-president": [...NORTH_ORDER[1][1]] });
    expect(summary.ballotStyles.find((s) => s.id === "bs-south")).not.toHaveProperty("optionOrder");
    // The contests' own order is SequenceOrder's: parliament north reversed, for every style.
    expect(summary.contests.find((c) => c.id === "contest-parliament-north")?.options.map((o) => o.id)).toEqual([
      ...NORTH_ORDER[0][1],
    ]);

    const election = stationElection(summary);
    const style = election.ballotStyles.get("bs-north");
    const shown = style?.contestIds.map((id) => {
      const contest = election.contests.get(id);
      return [id, contest ? optionsOnStyle(style, contest).map((o) => [o.option.id, o.index]) : []];
    });
    expect(shown).toEqual([
      [
        "contest-parliament-north",
        [
          ["sel-parliament-north-kadri-lepp", 0],
          ["sel-parliament-north-toomas-kivi", 1],
          ["sel-parliament-north-mari-saar", 2],
        ],
      ],
      [
        "contest-president",
        [
          ["sel-president-liis-kask", 2],
          ["sel-president-aino-tamm", 0],
          ["sel-president-juhan-mets", 1],
          ["sel-president-write-in", 3],
        ],
      ],
      [
        "contest-referendum-voting-age",
        [
          ["sel-referendum-voting-age-yes", 0],
          ["sel-referendum-voting-age-no", 1],
        ],
      ],
    ]);
  });
});

describe("a ballot written under headers", () => {
  const SECTIONED = "ballot-sections";

  beforeAll(() => loadAs(structuredClone(otherStyle), SECTIONED));

  it("the JSON ballot carries the style's section headings in every language", async () => {
    await enrol(SECTIONED, "EE-BO-SECT-1", "district-east");
    const token = await voterSession(SECTIONED, "EE-BO-SECT-1");
    const res = await SELF.fetch(`${BASE}/v1/elections/${SECTIONED}/ballot`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const ballot: {
      contests: { id: string }[];
      headings?: { beforeContestId: string; level: number; title: Record<string, string> }[];
    } = await res.json();
    expect(ballot.contests.map((c) => c.id)).toEqual([
      "contest-referendum-voting-age",
      "contest-president",
      "contest-council-east",
      "contest-parliament-east",
    ]);
    expect(ballot.headings).toEqual([
      { beforeContestId: "contest-referendum-voting-age", level: 1, title: { en: "Referendum", et: "Rahvahääletus" } },
      { beforeContestId: "contest-president", level: 1, title: { en: "Offices", et: "Ametikohad" } },
      { beforeContestId: "contest-president", level: 2, title: { en: "National", et: "Üleriigilised" } },
      { beforeContestId: "contest-council-east", level: 2, title: { en: "District", et: "Ringkonna" } },
    ]);
  });
});
