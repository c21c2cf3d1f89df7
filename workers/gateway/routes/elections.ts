/**
 * Election definitions: administrators load them (NIST SP 1500-100 ElectionReport plus our
 * settings, see lib/election/definition.ts); administrators and auditors read them back as
 * stored, and exported as a NIST election definition (lib/election/export.ts); everyone reads the
 * public summary; a voter reads the ballot of their style.
 *
 * What the loader decided on its own (a ballot style named after its GpUnits, a composition the
 * styles imply, Yes and No added to a measure) is answered as warnings beside the load and the
 * stored definition. The stored route reads the stored document again for them rather than
 * keeping the load's: the rules may have changed since, and an administrator sees today's reading.
 *
 * A refused load changes nothing: the definition is parsed and compiled in full before the one
 * write in saveElection, and that write itself refuses once the stored election's polls opened.
 */
import { wakeMonitor } from "../../monitor/signal.ts";
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { bodyLimit } from "hono/body-limit";
import { optionsOnStyle } from "../../../lib/election/ballot-order.ts";
import { parseDefinition } from "../../../lib/election/definition.ts";
import { exportedDefinition } from "../../../lib/election/export.ts";
import type { CompiledElection, Contest } from "../../../lib/election/model.ts";
import { ElectionId } from "../../../lib/election/settings.ts";
import { requireOfficial, requireVoter } from "../auth/middleware.ts";
import { getElection, getStoredDefinition, saveElection } from "../../../db/stores/elections.ts";
import { configureAggregator } from "../../tally/results-settings.ts";
import { errorResponses, fail, orFail, respondError, validationHook, type AppEnv } from "../http.ts";
import { logEvent, logTime } from "../../audit/log.ts";
import { logAuthoritiesOf } from "../../audit/authorities.ts";
import { sha256Hex } from "../../../lib/digest.ts";
import { CastVoteRecordsMode, CrossChannelPolicy, ResultsVisibility } from "../../../lib/vocabulary.ts";

/** A national definition with every candidate, in several languages, is a few hundred KB. */
export const MAX_DEFINITION_BYTES = 2 * 1024 * 1024;

const ElectionIdParam = z.object({
  electionId: ElectionId.openapi({ param: { name: "electionId", in: "path" }, example: "demo-2026" }),
});

const Polls = z.object({ opensAt: z.string(), closesAt: z.string() }).openapi("Polls");

/** Every language's text (lib/election/model.ts LocalizedText); `localize` picks one. */
const LocalizedTextSchema = z.record(z.string(), z.string()).openapi("LocalizedText", {
  description: "Language tag (lower case) to text, the definition's order kept: the first is the plain field's.",
  example: { en: "Vote for one", et: "Hääletage ühe poolt" },
});

const PartySchema = z
  .object({ id: z.string(), name: LocalizedTextSchema, abbreviation: LocalizedTextSchema.optional() })
  .openapi("Party");

const OptionSchema = z
  .object({
    id: z.string(),
    label: z.string(),
    isWriteIn: z.boolean(),
    partyId: z.string().optional(),
    labelText: LocalizedTextSchema.optional(),
    party: PartySchema.optional(),
  })
  .openapi("ContestOption");

const ContestSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    kind: z.enum(["candidate", "ballot-measure"]),
    districtId: z.string(),
    votesAllowed: z.number().int(),
    writeInsAllowed: z.boolean(),
    options: z.array(OptionSchema),
    title: LocalizedTextSchema.optional(),
    subtitle: LocalizedTextSchema.optional().openapi({ description: "Instructions such as Vote for one." }),
    fullText: LocalizedTextSchema.optional(),
    summaryText: LocalizedTextSchema.optional(),
  })
  .openapi("Contest");

/** lib/election/derivations.ts DefinitionWarning. */
const WarningSchema = z
  .object({
    path: z.string().openapi({ description: "JSON pointer into the definition document." }),
    code: z.string().openapi({
      description:
        "ballot_style_id_derived, composition_derived, ballot_measure_selections_added or sequence_order_missing.",
    }),
    message: z.string(),
  })
  .openapi("DefinitionWarning", {
    example: {
      path: "/electionReport/Election/0/BallotStyle/0",
      code: "ballot_style_id_derived",
      message:
        'has no ExternalIdentifier with OtherType "ballot-style-id"; named "bs-district-north" after its GpUnitIds',
    },
  });

const Warnings = z.array(WarningSchema).openapi({
  description: "What the loader decided where the file was silent; the export writes each decision out.",
});

const LoadedSchema = z
  .object({
    electionId: z.string(),
    version: z.number().int(),
    name: z.string(),
    ballotStyles: z.number().int(),
    contests: z.number().int(),
    districts: z.number().int(),
    warnings: Warnings,
  })
  .openapi("ElectionLoaded");

const StoredSchema = z
  .object({
    electionId: z.string(),
    version: z.number().int(),
    createdAt: z.string(),
    updatedAt: z.string(),
    definition: z
      .unknown()
      .openapi({ description: "The definition document as loaded: { settings, electionReport }." }),
    warnings: Warnings,
    problems: z
      .array(z.object({ path: z.string(), message: z.string() }))
      .optional()
      .openapi({
        description:
          "Only when the stored definition no longer passes today's rules: why. It still serves as stored, and cannot be exported until loaded again.",
      }),
  })
  .openapi("StoredElectionDefinition");

const ExportQuery = z.object({
  document: z
    .enum(["report", "definition"])
    .optional()
    .openapi({
      param: { name: "document", in: "query" },
      description:
        "report (the default): the NIST ElectionReport; definition: { settings, electionReport }, the stored settings beside it, loadable as it is.",
    }),
});

const ExportSchema = z.record(z.string(), z.unknown()).openapi("ElectionDefinitionExport", {
  description:
    "A NIST SP 1500-100 v2 ElectionReport (or, with document=definition, { settings, electionReport }): the stored report with every derivation written out, valid against the NIST schema.",
});

const PublicElectionSchema = z
  .object({
    electionId: z.string(),
    name: z.string(),
    polls: Polls,
    policies: z.object({
      crossChannelPolicy: CrossChannelPolicy,
      resultsVisibility: ResultsVisibility,
      castVoteRecords: CastVoteRecordsMode,
      paperSyncGraceMinutes: z.number().int(),
    }),
    districts: z.array(z.object({ id: z.string(), name: z.string() })),
    contests: z.array(ContestSchema),
    /** What an auditor checks cast vote records against (lib/audit/observer.ts). */
    ballotStyles: z.array(
      z.object({
        id: z.string(),
        districtIds: z.array(z.string()),
        contestIds: z.array(z.string()),
        optionOrder: z.record(z.string(), z.array(z.string())).optional().openapi({
          description:
            "Per contest, its option ids in this style's own display order (OrderedContestSelectionIds), where the definition gives one; other contests show their options in the contest's order.",
        }),
      }),
    ),
    definition: z.object({ version: z.number().int(), sha256: z.string() }).openapi({
      description: "The stored definition's version and SHA-256, as its definition-loaded log entry has them.",
    }),
  })
  .openapi("PublicElection");

const BallotSchema = z
  .object({
    electionId: z.string(),
    ballotStyleId: z.string(),
    districtId: z.string(),
    contests: z.array(ContestSchema.omit({ districtId: true })),
    polls: Polls,
    languages: z
      .array(z.string())
      .optional()
      .openapi({ description: "Every language the definition's texts carry, its first language first." }),
    headings: z
      .array(z.object({ beforeContestId: z.string(), level: z.number().int(), title: LocalizedTextSchema }))
      .optional()
      .openapi({
        description:
          "The ballot's section headings (the definition's OrderedHeaders), in ballot order: each stands before the first contest under it; level 1 is outermost, nested headers are deeper.",
      }),
  })
  .openapi("Ballot");

/**
 * Documented, not validated by the route: parseDefinition validates the body itself, so that a
 * bad definition is a 422 listing every problem, never a 400 with the first few. (A plain OpenAPI
 * schema object, unlike a zod schema, adds no validator.)
 */
const definitionBodyDoc = {
  type: "object" as const,
  required: ["settings", "electionReport"],
  additionalProperties: false,
  properties: {
    settings: {
      type: "object" as const,
      description:
        "electionId, crossChannelPolicy (first-wins | paper-supersedes), resultsVisibility (live | after-close), polls { opensAt, closesAt }, geofence { allowedCountries, outside (refuse | flag) }; optional: minBallotsPerRelease (k, default 25), castVoteRecords (per-contest | whole-ballot, default per-contest), paperSyncGraceMinutes (default 720).",
    },
    electionReport: {
      type: "object" as const,
      description:
        "A NIST SP 1500-100 rev.2 ElectionReport (JSON), standards/nist/election_results_reporting_v2.schema.json.",
    },
  },
};

const loadRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections",
  tags: ["elections"],
  summary: "Load an election definition, or replace it before polls open",
  description:
    "Validates the settings, the NIST schema and the definition's meaning, and lists every problem found. Replacing bumps the version; once the stored election's polls have opened it is refused.",
  security: [{ officialAccess: [] }],
  middleware: [
    requireOfficial("administrator"),
    bodyLimit({ maxSize: MAX_DEFINITION_BYTES, onError: (c) => respondError(c, "payload_too_large") }),
  ] as const,
  request: { body: { required: true, content: { "application/json": { schema: definitionBodyDoc } } } },
  responses: {
    200: { description: "Replaced, with warnings", content: { "application/json": { schema: LoadedSchema } } },
    201: { description: "Created, with warnings", content: { "application/json": { schema: LoadedSchema } } },
    ...errorResponses(400, 401, 403, 409, 413, 415, 422),
  },
});

const storedRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}",
  tags: ["elections"],
  summary: "The stored definition document, its version, and what the loader derives from it today",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Stored definition", content: { "application/json": { schema: StoredSchema } } },
    ...errorResponses(400, 401, 403, 404),
  },
});

const exportRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/export",
  tags: ["elections"],
  summary: "The stored election exported as a NIST SP 1500-100 v2 election definition",
  description:
    "The stored ElectionReport with what the loader derived written out (ballot style ids as ExternalIdentifiers, implied ComposingGpUnitIds, added BallotMeasureSelections): schema-valid, and loading it gives the same compiled election. Sent as an attachment.",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor", "security-officer")] as const,
  request: { params: ElectionIdParam, query: ExportQuery },
  responses: {
    200: { description: "The export", content: { "application/json": { schema: ExportSchema } } },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

const publicRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}",
  tags: ["elections"],
  summary: "An election's public summary: polls, policies, districts and contests",
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Election", content: { "application/json": { schema: PublicElectionSchema } } },
    ...errorResponses(400, 404),
  },
});

const ballotRoute = createRoute({
  method: "get",
  path: "/v1/elections/{electionId}/ballot",
  tags: ["elections"],
  summary: "The contests on the logged-in voter's ballot style",
  description:
    "The contests in the ballot style's order, and each contest's options in the order this style shows them (the definition's OrderedContestSelectionIds for the style, such as candidates rotated by precinct, else the contest's SequenceOrder). The order is for display: a cast names options by id.",
  security: [{ voterSession: [] }],
  middleware: [requireVoter()] as const,
  request: { params: ElectionIdParam },
  responses: {
    200: { description: "Ballot", content: { "application/json": { schema: BallotSchema } } },
    ...errorResponses(400, 401, 403, 404, 409),
  },
});

function isJsonMediaType(contentType: string): boolean {
  return /^application\/([a-z0-9.+-]*\+)?json\s*(;|$)/i.test(contentType.trim());
}

function contestView(contest: Contest): z.infer<typeof ContestSchema> {
  return {
    id: contest.id,
    name: contest.name,
    kind: contest.kind,
    districtId: contest.districtId,
    votesAllowed: contest.votesAllowed,
    writeInsAllowed: contest.writeInsAllowed,
    options: contest.options.map((o) => ({
      id: o.id,
      label: o.label,
      isWriteIn: o.isWriteIn,
      ...(o.partyId !== undefined ? { partyId: o.partyId } : {}),
      labelText: o.labelText,
      ...(o.party !== undefined ? { party: o.party } : {}),
    })),
    title: contest.title,
    ...(contest.subtitle !== undefined ? { subtitle: contest.subtitle } : {}),
    ...(contest.fullText !== undefined ? { fullText: contest.fullText } : {}),
    ...(contest.summaryText !== undefined ? { summaryText: contest.summaryText } : {}),
  };
}

function pollsOf(election: CompiledElection): z.infer<typeof Polls> {
  return { opensAt: election.settings.polls.opensAt, closesAt: election.settings.polls.closesAt };
}

export function electionRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(loadRoute, async (c) => {
    const contentType = c.req.header("content-type");
    if (contentType !== undefined && !isJsonMediaType(contentType)) {
      fail("unsupported_media_type", "An election definition is sent as application/json.");
    }
    const text = await c.req.text();
    let document: unknown;
    try {
      document = JSON.parse(text);
    } catch (e) {
      fail("invalid_json", `The request body is not valid JSON: ${e instanceof Error ? e.message : String(e)}`);
    }
    const parsed = parseDefinition(document);
    if (!parsed.ok) fail("invalid_definition", undefined, parsed.error);
    const { definition, election, warnings } = parsed.value;

    const saved = await saveElection(c.env.DB, definition, election);
    if (!saved.ok) fail(saved.error);
    // Audit log: the digest is of the document as stored (what GET /v1/admin/elections/{id} returns).
    orFail(
      await logEvent(c.env, election.id, `definition-loaded/${saved.value.version}`, {
        type: "definition-loaded",
        at: logTime(),
        version: saved.value.version,
        definitionSha256: sha256Hex(JSON.stringify(definition)),
        opensAt: new Date(election.settings.polls.opensAt).toISOString(),
        closesAt: new Date(election.settings.polls.closesAt).toISOString(),
        crossChannelPolicy: election.settings.crossChannelPolicy,
        resultsVisibility: election.settings.resultsVisibility,
        castVoteRecords: election.settings.castVoteRecords,
        minBallotsPerRelease: election.settings.minBallotsPerRelease,
      }),
    );
    // The stations and keys registered before this load sign for it too: its log names them.
    orFail(await logAuthoritiesOf(c.env, election));
    // The results aggregator cuts and publishes by itself, with these settings (k, visibility,
    // scheduled close), from the first ballot on: nobody has to read results to start it.
    await configureAggregator(c.env, election);
    // The security monitor reads the new settings and keeps its timer from the polls' opening.
    await wakeMonitor(c.env, election.id);
    const body = {
      electionId: election.id,
      version: saved.value.version,
      name: election.name,
      ballotStyles: election.ballotStyles.size,
      contests: election.contests.size,
      districts: election.districts.size,
      warnings: [...warnings],
    };
    return saved.value.created ? c.json(body, 201) : c.json(body, 200);
  });

  app.openapi(storedRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const stored = await getStoredDefinition(c.env.DB, electionId);
    if (!stored) fail("election_not_found");
    const today = parseDefinition(stored.definition);
    return c.json(
      today.ok
        ? { ...stored, warnings: [...today.value.warnings] }
        : { ...stored, warnings: [], problems: today.error },
      200,
    );
  });

  app.openapi(exportRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { document } = c.req.valid("query");
    const stored = await getStoredDefinition(c.env.DB, electionId);
    if (!stored) fail("election_not_found");
    const parsed = parseDefinition(stored.definition);
    if (!parsed.ok) fail("stored_definition_invalid", undefined, parsed.error);
    const asDefinition = document === "definition";
    const filename = `${electionId}-v${stored.version}${asDefinition ? ".definition" : ".nist-election"}.json`;
    const exported = exportedDefinition(parsed.value);
    return c.json(asDefinition ? exported : exported.electionReport, 200, {
      "content-disposition": `attachment; filename="${filename}"`,
    });
  });

  app.openapi(publicRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    const stored = await getStoredDefinition(c.env.DB, electionId);
    if (!stored) fail("election_not_found");
    return c.json(
      {
        electionId: election.id,
        name: election.name,
        polls: pollsOf(election),
        policies: {
          crossChannelPolicy: election.settings.crossChannelPolicy,
          resultsVisibility: election.settings.resultsVisibility,
          castVoteRecords: election.settings.castVoteRecords,
          paperSyncGraceMinutes: election.settings.paperSyncGraceMinutes,
        },
        districts: [...election.districts.values()].map((d) => ({ id: d.id, name: d.name })),
        contests: [...election.contests.values()].map(contestView),
        ballotStyles: [...election.ballotStyles.values()].map((style) => ({
          id: style.id,
          districtIds: [...style.districtIds],
          contestIds: [...style.contestIds],
          ...(style.optionOrder !== undefined
            ? {
                optionOrder: Object.fromEntries(
                  Object.entries(style.optionOrder).map(([contestId, ids]) => [contestId, [...ids]]),
                ),
              }
            : {}),
        })),
        definition: { version: stored.version, sha256: sha256Hex(JSON.stringify(stored.definition)) },
      },
      200,
    );
  });

  app.openapi(ballotRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const voter = c.get("voter");
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    // A session names the style it was issued for; a reload before polls open may have removed it.
    const style = election.ballotStyles.get(voter.ballotStyleId);
    if (!style) fail("no_ballot_style", "This session's ballot style is no longer in the election; log in again.");
    // The style's own order of each contest's options (optionsOnStyle): display order only, as
    // marks name options by id.
    const contests = style.contestIds.flatMap((id) => {
      const contest = election.contests.get(id);
      if (!contest) return [];
      const options = optionsOnStyle(style, contest).map(({ option }) => option);
      const { districtId: _districtId, ...view } = contestView({ ...contest, options });
      return [view];
    });
    return c.json(
      {
        electionId: election.id,
        ballotStyleId: style.id,
        districtId: voter.districtId,
        contests,
        polls: pollsOf(election),
        languages: [...election.languages],
        ...(style.headings !== undefined ? { headings: style.headings.map((h) => ({ ...h })) } : {}),
      },
      200,
    );
  });

  return app;
}
