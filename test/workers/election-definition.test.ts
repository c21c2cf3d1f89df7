import { env, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { issueVoterSession } from "../../workers/gateway/auth/tokens.ts";
import { configOf } from "../../durable-objects/config.ts";
import { compileStored, getElection } from "../../db/stores/elections.ts";
import { nistSchemaProblems } from "../../lib/election/nist-schema.ts";
import otherStyle from "../../testdata/nist/demo-other-style.json";
import { MAX_DEFINITION_BYTES } from "../../workers/gateway/routes/elections.ts";
import { adminToken, BASE, officialToken } from "./helpers/auth.ts";
import { demoDefinition } from "./helpers/election.ts";

interface ErrorBody {
  error: { code: string; message: string; problems?: { path: string; message: string }[] };
}
interface Warning {
  path: string;
  code: string;
  message: string;
}
interface Loaded {
  electionId: string;
  version: number;
  name: string;
  ballotStyles: number;
  contests: number;
  districts: number;
  warnings: Warning[];
}
interface Stored {
  electionId: string;
  version: number;
  definition: unknown;
  warnings: Warning[];
  problems?: { path: string; message: string }[];
}
interface ContestView {
  id: string;
  name: string;
  kind: string;
  districtId?: string;
  votesAllowed: number;
  writeInsAllowed: boolean;
  options: {
    id: string;
    label: string;
    isWriteIn: boolean;
    partyId?: string;
    labelText?: Record<string, string>;
    party?: { id: string; name: Record<string, string>; abbreviation?: Record<string, string> };
  }[];
  title?: Record<string, string>;
  subtitle?: Record<string, string>;
  fullText?: Record<string, string>;
  summaryText?: Record<string, string>;
}

const inAnHour = (): string => new Date(Date.now() + 3_600_000).toISOString();
const anHourAgo = (): string => new Date(Date.now() - 3_600_000).toISOString();
const FAR_CLOSE = "2030-12-31T23:59:59Z";

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === "object" && value !== null;
}

/** The value at a JSON pointer's parent, and the last segment, for editing a test document. */
function parentOf(doc: unknown, path: string): { parent: Record<string, unknown> | unknown[]; key: string } {
  const segments = path.split("/").slice(1);
  const key = segments.pop();
  let node: unknown = doc;
  for (const s of segments) {
    if (Array.isArray(node)) node = node[Number(s)];
    else if (isContainer(node) && !Array.isArray(node)) node = node[s];
    else throw new Error(`no ${path} in the test document`);
  }
  if (!isContainer(node) || key === undefined) throw new Error(`no ${path} in the test document`);
  return { parent: node, key };
}

function setAt(doc: unknown, path: string, value: unknown): void {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent[key === "-" ? parent.length : Number(key)] = value;
  else parent[key] = value;
}

function removeAt(doc: unknown, path: string): void {
  const { parent, key } = parentOf(doc, path);
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else delete parent[key];
}

/** The demo definition with settings laid over it and the given edits applied. */
function definitionWith(settings: Record<string, unknown>, edit: (doc: unknown) => void = () => {}): unknown {
  const doc = demoDefinition();
  const { parent } = parentOf(doc, "/settings/electionId");
  Object.assign(parent, settings);
  edit(doc);
  return doc;
}

async function post(body: string, token?: string, contentType = "application/json"): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/elections`, {
    method: "POST",
    headers: { "content-type": contentType, ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body,
  });
}

async function load(definition: unknown, token?: string): Promise<Response> {
  return post(JSON.stringify(definition), token ?? (await adminToken()));
}

async function stored(electionId: string, token?: string): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/elections/${electionId}`, {
    headers: { authorization: `Bearer ${token ?? (await adminToken())}` },
  });
}

async function exported(electionId: string, token?: string, query = ""): Promise<Response> {
  return SELF.fetch(`${BASE}/v1/admin/elections/${electionId}/export${query}`, {
    headers: { authorization: `Bearer ${token ?? (await adminToken())}` },
  });
}

async function problemsOf(res: Response): Promise<{ path: string; message: string }[]> {
  expect(res.status).toBe(422);
  const body: ErrorBody = await res.json();
  expect(body.error.code).toBe("invalid_definition");
  return body.error.problems ?? [];
}

describe("loading the demo election", () => {
  it("creates it and compiles districts, ballot styles and every kind of contest", async () => {
    const res = await load(
      definitionWith({ electionId: "demo-compiled", polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } }),
    );
    expect(res.status).toBe(201);
    const body: Loaded = await res.json();
    expect(body).toEqual({
      electionId: "demo-compiled",
      version: 1,
      name: "General Election 2026",
      ballotStyles: 3,
      contests: 6,
      districts: 4,
      warnings: [],
    });

    const election = await getElection(env.DB, "demo-compiled");
    expect(election).toBeDefined();
    if (!election) return;
    expect([...election.ballotStyleByDistrict]).toEqual([
      ["district-north", "bs-north"],
      ["district-south", "bs-south"],
      ["district-east", "bs-east"],
    ]);
    expect(election.ballotStyles.get("bs-north")?.contestIds).toEqual([
      "contest-president",
      "contest-parliament-north",
      "contest-referendum-voting-age",
    ]);
    expect(election.ballotStyles.get("bs-east")?.contestIds).toEqual([
      "contest-president",
      "contest-parliament-east",
      "contest-council-east",
      "contest-referendum-voting-age",
    ]);

    const president = election.contests.get("contest-president");
    expect(president).toMatchObject({
      kind: "candidate",
      districtId: "demo-republic",
      votesAllowed: 1,
      writeInsAllowed: true,
    });
    expect(president?.options.map((o) => [o.label, o.isWriteIn])).toEqual([
      ["Aino Tamm", false],
      ["Juhan Mets", false],
      ["Liis Kask", false],
      ["Write-in", true],
    ]);
    expect(president?.options[0]?.partyId).toBe("party-harbour");

    const council = election.contests.get("contest-council-east");
    expect(council).toMatchObject({
      kind: "candidate",
      districtId: "district-east",
      votesAllowed: 3,
      writeInsAllowed: false,
    });
    expect(council?.options).toHaveLength(6);

    const referendum = election.contests.get("contest-referendum-voting-age");
    expect(referendum).toMatchObject({ kind: "ballot-measure", votesAllowed: 1, writeInsAllowed: false });
    expect(referendum?.options.map((o) => o.label)).toEqual(["Yes", "No"]);

    expect(election.settings.crossChannelPolicy).toBe("first-wins");
    expect(election.settings.geofence).toEqual({ allowedCountries: ["EE", "FI", "LV", "LT", "SE"], outside: "flag" });
  });

  it("replaces it before polls open, one version up, and refuses once they have opened", async () => {
    const id = "demo-versions";
    expect(
      (await load(definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } }))).status,
    ).toBe(201);

    const again = await load(definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } }));
    expect(again.status).toBe(200);
    expect(((await again.json()) as Loaded).version).toBe(2);

    // Still allowed: what counts is when the stored election opens, and it has not yet.
    const opened = definitionWith({ electionId: id, polls: { opensAt: anHourAgo(), closesAt: FAR_CLOSE } });
    const third = await load(opened);
    expect(third.status).toBe(200);
    expect(((await third.json()) as Loaded).version).toBe(3);

    const locked = await load(definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } }));
    expect(locked.status).toBe(409);
    expect(((await locked.json()) as ErrorBody).error.code).toBe("election_locked");

    const after = await stored(id);
    expect(after.status).toBe(200);
    const body: Stored = await after.json();
    expect(body.version).toBe(3);
    expect(body.definition).toEqual(opened);
  });
});

describe("an election written in another producer's style", () => {
  const id = "demo-other-style";
  const settings = { ...otherStyle.settings, electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } };
  const OTHER_STYLE_WARNINGS = [
    ["/electionReport/Election/0/BallotStyle/0", "ballot_style_id_derived", /named "bs-district-north"/],
    ["/electionReport/Election/0/BallotStyle/1", "ballot_style_id_derived", /named "bs-district-south"/],
    ["/electionReport/Election/0/BallotStyle/2", "ballot_style_id_derived", /named "bs-district-east"/],
    ["/electionReport/GpUnit/0", "composition_derived", /"district-north", "district-south", "district-east"/],
  ] as const;

  function expectOtherStyleWarnings(warnings: readonly Warning[]): void {
    expect(warnings.map((w) => [w.path, w.code])).toEqual(OTHER_STYLE_WARNINGS.map(([path, code]) => [path, code]));
    OTHER_STYLE_WARNINGS.forEach(([, , message], i) => expect(warnings[i]?.message).toMatch(message));
  }

  beforeAll(async () => {
    const res = await load({ ...otherStyle, settings });
    expect(res.status).toBe(201);
    expectOtherStyleWarnings(((await res.json()) as Loaded).warnings);
  });

  it("shows what the loader decided beside the stored definition", async () => {
    const res = await stored(id);
    expect(res.status).toBe(200);
    const body: Stored = await res.json();
    expect(body.definition).toEqual({ ...otherStyle, settings });
    expectOtherStyleWarnings(body.warnings);
    expect(body.problems).toBeUndefined();
  });

  it("exports a schema-valid NIST report that loads again as the same election, deciding nothing", async () => {
    const res = await exported(id);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${id}-v1.nist-election.json"`);
    const report: Record<string, unknown> = await res.json();
    expect(report["@type"]).toBe("ElectionResults.ElectionReport");
    expect(nistSchemaProblems(report, "")).toEqual([]);

    const againId = `${id}-again`;
    const again = await load({ settings: { ...settings, electionId: againId }, electionReport: report });
    expect(again.status).toBe(201);
    expect(((await again.json()) as Loaded).warnings).toEqual([]);

    const summary = async (electionId: string): Promise<Record<string, unknown>> => {
      const view = await SELF.fetch(`${BASE}/v1/elections/${electionId}`);
      expect(view.status).toBe(200);
      // The ids differ, and so does the stored document (the export says more), hence its digest.
      const { electionId: _id, definition: _definition, ...rest } = (await view.json()) as Record<string, unknown>;
      return rest;
    };
    const first = await summary(id);
    expect(first["ballotStyles"]).toHaveLength(3);
    expect(await summary(againId)).toEqual(first);
  });

  it("exports the loadable definition document, the stored settings beside the report", async () => {
    const res = await exported(id, undefined, "?document=definition");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-disposition")).toBe(`attachment; filename="${id}-v1.definition.json"`);
    const body: { settings: unknown; electionReport: unknown } = await res.json();
    expect(Object.keys(body)).toEqual(["settings", "electionReport"]);
    expect(body.settings).toEqual(settings);
    expect(body.electionReport).toEqual(await (await exported(id)).json());
    expect((await exported(id, undefined, "?document=spreadsheet")).status).toBe(400);
  });

  it("lets an auditor, not a station official, export; an unknown election is 404", async () => {
    expect((await exported(id, await officialToken("auditor"))).status).toBe(200);
    const official = await exported(id, await officialToken("station-official"));
    expect(official.status).toBe(403);
    expect((await SELF.fetch(`${BASE}/v1/admin/elections/${id}/export`)).status).toBe(401);
    const missing = await exported("no-such-election");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe("election_not_found");
  });

  it("reads a stored definition with today's rules: one they now refuse is shown with why, and not exported", async () => {
    const brokenId = "demo-refused-today";
    expect((await load({ ...otherStyle, settings: { ...settings, electionId: brokenId } })).status).toBe(201);
    // As if the rules had changed since the load: the stored text now fails them.
    const text = JSON.stringify({ ...otherStyle, settings: { ...settings, electionId: brokenId, colour: "red" } });
    await env.DB.prepare("UPDATE elections SET definition_json = ? WHERE id = ?").bind(text, brokenId).run();

    const res = await stored(brokenId);
    expect(res.status).toBe(200);
    const body: Stored = await res.json();
    expect(body.warnings).toEqual([]);
    expect(body.problems).toEqual([{ path: "/settings/colour", message: "is not a known property" }]);

    const refused = await exported(brokenId);
    expect(refused.status).toBe(409);
    const error: ErrorBody = await refused.json();
    expect(error.error.code).toBe("stored_definition_invalid");
    expect(error.error.problems).toEqual([{ path: "/settings/colour", message: "is not a known property" }]);
  });
});

describe("refusing a bad definition", () => {
  const id = "demo-refusals";
  let original: unknown;

  beforeAll(async () => {
    original = definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } });
    expect((await load(original)).status).toBe(201);
  });

  /** Whatever was refused, the stored election is what it was. */
  async function expectUnchanged(): Promise<void> {
    const res = await stored(id);
    expect(res.status).toBe(200);
    const body: Stored = await res.json();
    expect(body.version).toBe(1);
    expect(body.definition).toEqual(original);
  }

  it("answers malformed JSON with 400 invalid_json", async () => {
    const res = await post(`{"settings": {"electionId": "${id}"`, await adminToken());
    expect(res.status).toBe(400);
    expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_json");
    await expectUnchanged();
  });

  it("answers a body over 2 MB with 413 payload_too_large", async () => {
    const big = JSON.stringify(original).replace(/}$/, `${" ".repeat(MAX_DEFINITION_BYTES)}}`);
    const res = await post(big, await adminToken());
    expect(res.status).toBe(413);
    expect(((await res.json()) as ErrorBody).error.code).toBe("payload_too_large");
    await expectUnchanged();
  });

  it("answers a body that is not JSON by its type with 415", async () => {
    const res = await post(JSON.stringify(original), await adminToken(), "text/csv");
    expect(res.status).toBe(415);
    expect(((await res.json()) as ErrorBody).error.code).toBe("unsupported_media_type");
  });

  it.each([
    ["an array", "[]"],
    ["a string", '"election"'],
    ["null", "null"],
    ["an empty object", "{}"],
    ["deep nesting", `{"settings": ${"[".repeat(200)}${"]".repeat(200)}, "electionReport": {}}`],
  ])("answers %s with 422, not a crash", async (_, body) => {
    const res = await post(body, await adminToken());
    expect(res.status).toBe(422);
    expect(((await res.json()) as ErrorBody).error.code).toBe("invalid_definition");
  });

  it("lists NIST schema violations at their paths", async () => {
    const res = await load(
      definitionWith({ electionId: id }, (doc) => {
        removeAt(doc, "/electionReport/Format");
        setAt(doc, "/electionReport/Election/0/@type", "ElectionResults.Elektion");
        setAt(doc, "/electionReport/Party/0/Colour", "ff0000");
        setAt(doc, "/electionReport/GpUnit/1/Type", "province");
      }),
    );
    const problems = await problemsOf(res);
    const paths = problems.map((p) => p.path);
    expect(paths).toContain("/electionReport/Format");
    expect(paths).toContain("/electionReport/Election/0/@type");
    expect(paths).toContain("/electionReport/Party/0/Colour");
    expect(paths).toContain("/electionReport/GpUnit/1/Type");
    // One problem per fault: the other branches of NIST's oneOf (ReportingDevice, Coalition) are
    // not reported against a ReportingUnit or a Party.
    expect(paths.filter((p) => p === "/electionReport/GpUnit/1/Type")).toHaveLength(1);
    expect(problems.find((p) => p.path === "/electionReport/Party/0/Colour")?.message).toMatch(/not a property/);
    await expectUnchanged();
  });

  it("lists every semantic and settings problem at once", async () => {
    const res = await load(
      definitionWith(
        {
          electionId: id,
          polls: { opensAt: "2027-01-02T00:00:00Z", closesAt: "2027-01-01T00:00:00Z" },
          geofence: { allowedCountries: ["EE", "fin"], outside: "flag" },
        },
        (doc) => {
          setAt(doc, "/electionReport/Election/0/Contest/0/ContestSelection/0/CandidateIds/0", "cand-nobody");
          setAt(doc, "/electionReport/Election/0/Contest/4/VotesAllowed", 7);
          setAt(doc, "/electionReport/Election/0/BallotStyle/1/GpUnitIds", ["district-south", "district-north"]);
          // A style without our identifier is named after its GpUnits now; one with an unusable id is refused.
          setAt(doc, "/electionReport/Election/0/BallotStyle/2/ExternalIdentifier/0/Value", "bs east!");
          setAt(doc, "/electionReport/Election/0/Contest/-", {
            "@type": "ElectionResults.RetentionContest",
            "@id": "contest-retain-judge",
            Name: "Retain Judge Aino Tamm",
            ElectionDistrictId: "demo-republic",
            CandidateId: "cand-president-aino-tamm",
          });
        },
      ),
    );
    const problems = await problemsOf(res);
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    expect(byPath.get("/electionReport/Election/0/Contest/0/ContestSelection/0/CandidateIds/0")).toMatch(/cand-nobody/);
    expect(byPath.get("/electionReport/Election/0/Contest/4/VotesAllowed")).toMatch(/7 votes .* 6 selection/);
    expect(byPath.get("/electionReport/Election/0/BallotStyle/1/GpUnitIds/1")).toMatch(/already has a ballot style/);
    expect(byPath.get("/electionReport/Election/0/BallotStyle/2/ExternalIdentifier/0/Value")).toMatch(
      /a ballot style id is 1-64 letters/,
    );
    expect(byPath.get("/electionReport/Election/0/Contest/6/@type")).toMatch(/RetentionContest is not supported/);
    expect(byPath.get("/settings/polls/closesAt")).toMatch(/open before they close/);
    expect(byPath.has("/settings/geofence/allowedCountries/1")).toBe(true);
    await expectUnchanged();
  });
});

describe("who may do what", () => {
  const id = "demo-roles";

  beforeAll(async () => {
    expect(
      (await load(definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } }))).status,
    ).toBe(201);
  });

  it("needs a token to load", async () => {
    const res = await post(JSON.stringify(definitionWith({ electionId: id })));
    expect(res.status).toBe(401);
    expect(((await res.json()) as ErrorBody).error.code).toBe("unauthenticated");
  });

  it.each(["auditor", "station-official"] as const)("forbids a %s to load", async (role) => {
    const res = await load(definitionWith({ electionId: id }), await officialToken(role));
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error.code).toBe("forbidden");
  });

  it("lets an auditor, not a station official, read the stored definition", async () => {
    expect((await stored(id, await officialToken("auditor"))).status).toBe(200);
    const official = await stored(id, await officialToken("station-official"));
    expect(official.status).toBe(403);
    const anonymous = await SELF.fetch(`${BASE}/v1/admin/elections/${id}`);
    expect(anonymous.status).toBe(401);
  });

  it("answers an unknown election with 404 and a malformed id with 400", async () => {
    const missing = await stored("no-such-election");
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe("election_not_found");
    expect((await stored("Bad_Id!")).status).toBe(400);
  });
});

describe("public election and the voter's ballot", () => {
  const id = "demo-public";

  beforeAll(async () => {
    expect((await load(definitionWith({ electionId: id }))).status).toBe(201);
  });

  it("shows anyone the polls, policies, districts and contests", async () => {
    const res = await SELF.fetch(`${BASE}/v1/elections/${id}`);
    expect(res.status).toBe(200);
    const body: {
      electionId: string;
      name: string;
      polls: { opensAt: string; closesAt: string };
      policies: { crossChannelPolicy: string; resultsVisibility: string };
      districts: { id: string; name: string }[];
      contests: ContestView[];
    } = await res.json();
    expect(body.electionId).toBe(id);
    expect(body.polls).toEqual({ opensAt: "2026-01-01T00:00:00Z", closesAt: "2030-12-31T23:59:59Z" });
    expect(body.policies).toEqual({
      crossChannelPolicy: "first-wins",
      resultsVisibility: "live",
      castVoteRecords: "per-contest",
      paperSyncGraceMinutes: 720,
    });
    expect(body.districts.map((d) => d.id)).toEqual([
      "demo-republic",
      "district-north",
      "district-south",
      "district-east",
    ]);
    expect(body.contests.map((c) => [c.id, c.kind, c.votesAllowed])).toEqual([
      ["contest-president", "candidate", 1],
      ["contest-parliament-north", "candidate", 1],
      ["contest-parliament-south", "candidate", 1],
      ["contest-parliament-east", "candidate", 1],
      ["contest-council-east", "candidate", 3],
      ["contest-referendum-voting-age", "ballot-measure", 1],
    ]);
    expect((await SELF.fetch(`${BASE}/v1/elections/no-such-election`)).status).toBe(404);
  });

  async function sessionFor(electionId: string, ballotStyleId: string, districtId: string): Promise<string> {
    const { token } = await issueVoterSession(configOf(env), {
      voterKey: "test-voter-key",
      electionId,
      ballotStyleId,
      districtId,
    });
    return token;
  }

  it("gives a voter of district-north exactly that style's contests", async () => {
    const token = await sessionFor(id, "bs-north", "district-north");
    const res = await SELF.fetch(`${BASE}/v1/elections/${id}/ballot`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const body: {
      electionId: string;
      ballotStyleId: string;
      districtId: string;
      contests: ContestView[];
      polls: unknown;
      languages?: string[];
    } = await res.json();
    expect(body.ballotStyleId).toBe("bs-north");
    expect(body.districtId).toBe("district-north");
    expect(body.contests.map((c) => c.id)).toEqual([
      "contest-president",
      "contest-parliament-north",
      "contest-referendum-voting-age",
    ]);
    const president = body.contests[0];
    expect(president?.writeInsAllowed).toBe(true);
    expect(president?.options.at(-1)).toEqual({
      id: "sel-president-write-in",
      label: "Write-in",
      isWriteIn: true,
      labelText: { en: "Write-in" },
    });
    expect(body.contests[2]?.options.map((o) => o.label)).toEqual(["Yes", "No"]);
    expect(body.polls).toEqual({ opensAt: "2026-01-01T00:00:00Z", closesAt: "2030-12-31T23:59:59Z" });
  });

  it("gives the ballot's texts in every language the definition carries, beside the first-language fields", async () => {
    const token = await sessionFor(id, "bs-north", "district-north");
    const res = await SELF.fetch(`${BASE}/v1/elections/${id}/ballot`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    const body: { contests: ContestView[]; languages?: string[] } = await res.json();
    expect(body.languages).toEqual(["en", "et"]);
    const [president, parliament, referendum] = body.contests;
    expect(president?.name).toBe("President of the Republic");
    expect(president?.title).toEqual({ en: "President of the Republic", et: "Vabariigi President" });
    expect(parliament?.subtitle).toEqual({ en: "Vote for one", et: "Hääletage ühe poolt" });
    expect(president?.options[0]).toEqual({
      id: "sel-president-aino-tamm",
      label: "Aino Tamm",
      isWriteIn: false,
      partyId: "party-harbour",
      labelText: { en: "Aino Tamm" },
      party: {
        id: "party-harbour",
        name: { en: "Harbour Party", et: "Sadamaerakond" },
        abbreviation: { en: "HP", et: "SE" },
      },
    });
    expect(referendum?.fullText?.["et"]).toMatch(/^Kas muuta põhiseadust/);
    expect(referendum?.summaryText?.["en"]).toMatch(/from 18 to 16/);
    expect(referendum?.options.map((o) => o.labelText)).toEqual([
      { en: "Yes", et: "Jah" },
      { en: "No", et: "Ei" },
    ]);
  });

  it("needs a session, for this election", async () => {
    const none = await SELF.fetch(`${BASE}/v1/elections/${id}/ballot`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as ErrorBody).error.code).toBe("unauthenticated");

    const other = await sessionFor("demo-compiled", "bs-north", "district-north");
    const res = await SELF.fetch(`${BASE}/v1/elections/${id}/ballot`, {
      headers: { authorization: `Bearer ${other}` },
    });
    expect(res.status).toBe(403);
    expect(((await res.json()) as ErrorBody).error.code).toBe("forbidden");
  });

  it("describes the routes in the OpenAPI document", async () => {
    const doc: { paths: Record<string, unknown> } = await (await SELF.fetch(`${BASE}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/admin/elections",
        "/v1/admin/elections/{electionId}",
        "/v1/admin/elections/{electionId}/export",
        "/v1/elections/{electionId}",
        "/v1/elections/{electionId}/ballot",
      ]),
    );
  });
});

describe("a stored definition read again by an isolate", () => {
  it("is compiled once while its text is unchanged, and anew when the text changes", () => {
    const id = "demo-compiled-once";
    const text = JSON.stringify(
      definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: FAR_CLOSE } }),
    );
    const first = compileStored(id, text);
    expect(first.id).toBe(id);
    // The cache of CACHE_MS expired and the row was read again: the same text, the same compilation.
    expect(compileStored(id, text)).toBe(first);

    const changedText = JSON.stringify(
      definitionWith({ electionId: id, polls: { opensAt: inAnHour(), closesAt: "2031-01-01T00:00:00Z" } }),
    );
    const changed = compileStored(id, changedText);
    expect(changed).not.toBe(first);
    expect(changed.polls.closesAtMs).not.toBe(first.polls.closesAtMs);
  });
});
