/**
 * The election as the station holds it: the public summary (`GET /v1/elections/{id}`, the same
 * document the portal and the auditor read), stored in the station's database so that marked
 * ballots can be decoded and result sheets encoded with the network down.
 *
 * lib/qr needs a CompiledElection only for its layout (contests in order with votesAllowed and
 * options with isWriteIn, ballot styles with their contests in ballot order), which the public
 * summary lists in the compiled order; `stationElection` rebuilds exactly that much. The layout
 * digest a marked ballot carries then checks that the station's copy matches the definition the
 * ballot was printed for (layout_mismatch otherwise). A style's `optionOrder` (its own display
 * order of a contest's options) is kept too, for what the console shows of a style's ballot;
 * payloads never depend on it.
 */
import * as z from "zod";
import type { CompiledElection, Contest } from "../lib/election/model.ts";

const Text = z.record(z.string(), z.string());

export const PublicElection = z
  .object({
    electionId: z.string(),
    name: z.string(),
    polls: z.object({ opensAt: z.string(), closesAt: z.string() }),
    policies: z.object({ paperSyncGraceMinutes: z.number().int() }).loose(),
    districts: z.array(z.object({ id: z.string(), name: z.string() })),
    contests: z.array(
      z
        .object({
          id: z.string(),
          name: z.string(),
          kind: z.enum(["candidate", "ballot-measure"]),
          districtId: z.string(),
          votesAllowed: z.number().int(),
          writeInsAllowed: z.boolean(),
          options: z.array(z.object({ id: z.string(), label: z.string(), isWriteIn: z.boolean() }).loose()),
          title: Text.optional(),
        })
        .loose(),
    ),
    ballotStyles: z.array(
      z.object({
        id: z.string(),
        districtIds: z.array(z.string()),
        contestIds: z.array(z.string()),
        /** A style's own display order of a contest's options, where the definition gives one. */
        optionOrder: z.record(z.string(), z.array(z.string())).optional(),
      }),
    ),
  })
  .loose();
export type PublicElection = z.infer<typeof PublicElection>;

/**
 * The parts of a CompiledElection that ballot decoding, ballot validation and result-sheet
 * encoding read. Settings other than the polls are not in the public summary and not needed here.
 */
export function stationElection(summary: PublicElection): CompiledElection {
  const contests = new Map<string, Contest>(
    summary.contests.map((c) => [
      c.id,
      {
        id: c.id,
        name: c.name,
        title: c.title ?? { en: c.name },
        kind: c.kind,
        districtId: c.districtId,
        votesAllowed: c.votesAllowed,
        writeInsAllowed: c.writeInsAllowed,
        options: c.options.map((o) => ({
          id: o.id,
          label: o.label,
          labelText: { en: o.label },
          isWriteIn: o.isWriteIn,
        })),
      },
    ]),
  );
  const ballotStyles = new Map(summary.ballotStyles.map((s) => [s.id, s]));
  const ballotStyleByDistrict = new Map(
    summary.ballotStyles.flatMap((s) => s.districtIds.map((d) => [d, s.id] as const)),
  );
  const election = {
    id: summary.electionId,
    name: summary.name,
    nameText: { en: summary.name },
    languages: ["en"],
    settings: {
      electionId: summary.electionId,
      polls: summary.polls,
      paperSyncGraceMinutes: summary.policies.paperSyncGraceMinutes,
    },
    districts: new Map(summary.districts.map((d) => [d.id, { id: d.id, name: d.name, nameText: { en: d.name } }])),
    contests,
    ballotStyles,
    ballotStyleByDistrict,
    polls: { opensAtMs: Date.parse(summary.polls.opensAt), closesAtMs: Date.parse(summary.polls.closesAt) },
  };
  // The settings are partial on purpose (see above); nothing the station calls reads the rest.
  return election as unknown as CompiledElection;
}
