/**
 * The voter roll: administrators import it chunk by chunk (the CLI cuts the file, see
 * lib/roll/chunker.ts); administrators and auditors read its counts. National ids arrive in the
 * CSV body and leave this Worker only as voter keys.
 *
 * The roll is fixed once the polls open (authority_locked); every chunk imported before is in the
 * log with its counts and a keyed digest (roll/chunk-digest.ts).
 *
 * A chunk is judged twice: as a whole (CSV, header, size: refused with nothing written) and row by
 * row (a bad row is rejected with its line; the good rows of the same chunk are written).
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { ElectionId } from "../../../lib/election/settings.ts";
import { readBodyWithin } from "../body.ts";
import {
  MAX_CHUNK_BYTES,
  MAX_CHUNK_ROWS,
  MAX_REJECTED_LISTED,
  RollChunkReport,
  RollSummary,
} from "../../../lib/roll/format.ts";
import { validateRollChunk } from "../../../lib/roll/validate.ts";
import { requireOfficial } from "../auth/middleware.ts";
import { getElection } from "../../../db/stores/elections.ts";
import { errorResponses, fail, orFail, validationHook, type AppEnv } from "../http.ts";
import { countRoll } from "../../../db/stores/roll.ts";
import { writeRollEntries } from "../roll/import.ts";
import { logEvent, logTime } from "../../audit/log.ts";
import { rollChunkDigest } from "../roll/chunk-digest.ts";
import { refuseOnceOpen } from "../../audit/authorities.ts";

const RollPath = z.object({ electionId: ElectionId });

const importChunkRoute = createRoute({
  method: "post",
  path: "/v1/admin/elections/{electionId}/roll",
  tags: ["voter roll"],
  summary: "Import a chunk of the voter roll (CSV)",
  description:
    `A CSV with the header \`national_id,district\` (either order, no other columns) and at most ${MAX_CHUNK_ROWS} rows ` +
    `and ${MAX_CHUNK_BYTES} bytes. Rows are upserted: importing the same rows again writes nothing. ` +
    "Bad rows are rejected with their line and the others written; a chunk that is not CSV, has a bad header " +
    "or is too large is refused whole. National ids are stored only as a keyed hash.",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator")] as const,
  request: {
    params: RollPath,
    query: z.object({
      firstLine: z.coerce.number().int().min(2).max(1_000_000_000).optional().openapi({
        description:
          "The line of the original file where this chunk's first data row is; rejected rows are reported in the file's lines. Absent: the chunk is the whole file.",
      }),
    }),
    body: {
      required: true,
      content: {
        "text/csv": {
          schema: z.string().openapi({ example: "national_id,district\nAB-123456,district-north\n" }),
        },
      },
    },
  },
  responses: {
    200: {
      description: "What was written and which rows were rejected",
      content: { "application/json": { schema: RollChunkReport.openapi("RollChunkReport") } },
    },
    ...errorResponses(400, 401, 403, 404, 409, 413, 415, 422, 429),
  },
});

const summaryRoute = createRoute({
  method: "get",
  path: "/v1/admin/elections/{electionId}/roll",
  tags: ["voter roll"],
  summary: "Count the voters on the roll, in total and per district",
  security: [{ officialAccess: [] }],
  middleware: [requireOfficial("administrator", "auditor")] as const,
  request: { params: RollPath },
  responses: {
    200: {
      description: "The roll's counts",
      content: { "application/json": { schema: RollSummary.openapi("RollSummary") } },
    },
    ...errorResponses(400, 401, 403, 404),
  },
});

export function rollRoutes(): OpenAPIHono<AppEnv> {
  const app = new OpenAPIHono<AppEnv>({ defaultHook: validationHook });

  app.openapi(importChunkRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    const { firstLine } = c.req.valid("query");
    if (!isCsv(c.req.header("content-type"))) {
      fail("unsupported_media_type", "The roll is sent as text/csv (UTF-8).");
    }
    const election = await getElection(c.env.DB, electionId);
    if (!election) fail("election_not_found");
    // Who may vote is fixed when the polls open: a voter added during voting would be unseen.
    orFail(refuseOnceOpen([election]));

    const body = await readBodyWithin(c.req.raw, MAX_CHUNK_BYTES);
    if (!body.ok && body.error === "invalid_body") fail("invalid_body");
    if (!body.ok)
      fail(
        "payload_too_large",
        `A roll chunk is at most ${MAX_CHUNK_BYTES} bytes; send the file through the CLI, which cuts it.`,
      );
    const text = decodeUtf8(body.value);
    if (text === undefined) fail("invalid_roll", "The body is not UTF-8 text.");

    const chunk = validateRollChunk(text, {
      ...(firstLine === undefined ? {} : { firstLine }),
      hasDistrict: (districtId) => election.ballotStyleByDistrict.has(districtId),
    });
    if (!chunk.ok) {
      const { code, message, line } = chunk.error;
      fail(code, message, line === undefined ? undefined : [{ path: `line ${line}`, message }]);
    }

    const { written, unchanged } = await writeRollEntries(c.env, electionId, chunk.value.entries);
    // Audit log: counts and the chunk's keyed digest, never a national id or voter key.
    orFail(
      await logEvent(c.env, electionId, `roll-imported/${crypto.randomUUID()}`, {
        type: "roll-imported",
        at: logTime(),
        firstLine: chunk.value.firstLine,
        rows: chunk.value.rows,
        accepted: chunk.value.entries.length,
        written,
        unchanged,
        rejected: chunk.value.rejected.length,
        chunkDigest: await rollChunkDigest(c.env, electionId, body.value),
      }),
    );
    return c.json(
      {
        electionId,
        firstLine: chunk.value.firstLine,
        rows: chunk.value.rows,
        accepted: chunk.value.entries.length,
        written,
        unchanged,
        rejected: chunk.value.rejected.slice(0, MAX_REJECTED_LISTED),
        rejectedTotal: chunk.value.rejected.length,
      },
      200,
    );
  });

  app.openapi(summaryRoute, async (c) => {
    const { electionId } = c.req.valid("param");
    if (!(await getElection(c.env.DB, electionId))) fail("election_not_found");
    const { total, byDistrict } = await countRoll(c.env.DB, electionId);
    return c.json({ electionId, total, byDistrict }, 200);
  });

  return app;
}

/** `text/csv`, with at most a UTF-8 charset parameter. */
function isCsv(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const [mediaType, ...params] = contentType.split(";").map((p) => p.trim().toLowerCase());
  if (mediaType !== "text/csv") return false;
  return params.every((p) => !p.startsWith("charset=") || p === "charset=utf-8" || p === 'charset="utf-8"');
}

function decodeUtf8(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return undefined;
  }
}
