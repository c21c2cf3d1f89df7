/**
 * `admin official ...`: key generation, registration, rotation and revocation of officials.
 * Creating an administrator, and revoking another administrator or another administrator's key,
 * take two administrators: the first call asks, a second administrator approves (`approve`,
 * `approve-revocation`); `pending` lists the revocations waiting.
 */
import { Command, InvalidArgumentError, Option } from "commander";
import { z } from "zod";
import { OfficialClient } from "../lib/api.ts";
import { keygenCommand, print, readPublicJwkFile } from "../lib/io.ts";
import { OfficialRole } from "../../lib/vocabulary.ts";

const PublicJwkFile = z.looseObject({ kty: z.string(), kid: z.string() });

const PendingRevocations = z.object({
  pendingRevocations: z.array(
    z.object({ officialId: z.string(), kid: z.string().nullable(), requestedBy: z.string(), requestedAt: z.string() }),
  ),
});

function revocationPath(id: string, kid?: string): string {
  const official = `/v1/admin/officials/${encodeURIComponent(id)}`;
  return kid === undefined ? official : `${official}/keys/${encodeURIComponent(kid)}`;
}

function readPublicJwk(path: string): Promise<z.infer<typeof PublicJwkFile>> {
  return readPublicJwkFile(path, PublicJwkFile);
}

export function officialCommands(): Command {
  const official = new Command("official").description("Officials: administrators, station officials, auditors.");

  official.addCommand(
    keygenCommand("Make an Ed25519 key pair: <out>.jwk.json (private, keep it) and <out>.pub.json (register it)."),
  );

  official
    .command("add")
    .description(
      "Register an official with a role and a public key. While another administrator exists, a new administrator is only proposed until a second one approves it.",
    )
    .argument("<id>", "the official's id")
    .addOption(new Option("--role <role>", "the role").choices(OfficialRole.options).makeOptionMandatory())
    .requiredOption("--name <name>", "display name")
    .requiredOption("--public-key <file>", "the official's public JWK file")
    .action(async (id: string, opts: { role: string; name: string; publicKey: string }) => {
      const publicJwk = await readPublicJwk(opts.publicKey);
      print(
        await OfficialClient.fromEnv().call("POST", "/v1/admin/officials", {
          json: { id, role: opts.role, displayName: opts.name, publicJwk },
        }),
      );
    });

  official
    .command("approve")
    .description("Approve an administrator that another administrator proposed (it takes two).")
    .argument("<id>", "the proposed administrator's id")
    .action(async (id: string) => {
      print(await OfficialClient.fromEnv().call("POST", `/v1/admin/officials/${encodeURIComponent(id)}/approval`));
    });

  official
    .command("add-key")
    .description(
      "Add a key to an official (rotation: add the new key, then revoke the old). An administrator's keys are added by that administrator only.",
    )
    .argument("<id>", "the official's id")
    .requiredOption("--public-key <file>", "the new public JWK file")
    .action(async (id: string, opts: { publicKey: string }) => {
      const publicJwk = await readPublicJwk(opts.publicKey);
      print(
        await OfficialClient.fromEnv().call("POST", `/v1/admin/officials/${encodeURIComponent(id)}/keys`, {
          json: { publicJwk },
        }),
      );
    });

  official
    .command("revoke-key")
    .description(
      "Revoke one key of an official. Another administrator's key takes two: the first call answers awaiting-approval, the same call by a second administrator revokes it.",
    )
    .argument("<id>")
    .argument("<kid>")
    .action(async (id: string, kid: string) => {
      print(await OfficialClient.fromEnv().call("DELETE", revocationPath(id, kid)));
    });

  official
    .command("revoke")
    .description(
      "Revoke an official: none of their keys or tokens works any more. Another administrator takes two: the first call answers awaiting-approval, the same call by a second administrator revokes. The last administrator cannot be revoked.",
    )
    .argument("<id>")
    .action(async (id: string) => {
      print(await OfficialClient.fromEnv().call("DELETE", revocationPath(id)));
    });

  official
    .command("pending")
    .description("List revocations of administrators and their keys that await a second administrator.")
    .action(async () => {
      const listed = PendingRevocations.parse(await OfficialClient.fromEnv().call("GET", "/v1/admin/officials"));
      print(listed.pendingRevocations);
    });

  official
    .command("approve-revocation")
    .description(
      "Approve another administrator's request to revoke administrator <id>, or their key <kid> (it takes two). Refuses when no such request is pending, so it never starts one.",
    )
    .argument("<id>", "the administrator to revoke")
    .argument("[kid]", "only this key of theirs")
    .action(async (id: string, kid: string | undefined) => {
      const client = OfficialClient.fromEnv();
      const listed = PendingRevocations.parse(await client.call("GET", "/v1/admin/officials"));
      const request = listed.pendingRevocations.find((r) => r.officialId === id && r.kid === (kid ?? null));
      if (!request) {
        throw new InvalidArgumentError(
          `no pending request to revoke ${kid === undefined ? id : `key ${kid} of ${id}`}; see \`official pending\``,
        );
      }
      if (request.requestedBy === client.credentials.officialId) {
        throw new InvalidArgumentError("you made this request; another administrator must approve it");
      }
      print(await client.call("DELETE", revocationPath(id, kid)));
    });

  official
    .command("assertion")
    .description(
      "Print a signed assertion (good for two minutes, usable once) to paste into the officials' console's sign-in page in a browser that runs no scripts.",
    )
    .action(async () => {
      process.stdout.write(`${await OfficialClient.fromEnv().assertion()}\n`);
    });

  official
    .command("list")
    .description("List officials and their keys.")
    .action(async () => {
      print(await OfficialClient.fromEnv().call("GET", "/v1/admin/officials"));
    });

  return official;
}
