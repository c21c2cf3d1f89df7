/** `admin official ...`: key generation, registration, rotation and revocation of officials. */
import { readFile, writeFile } from "node:fs/promises";
import { Command, Option } from "commander";
import { z } from "zod";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { OfficialClient } from "../lib/api.ts";

const PublicJwkFile = z.looseObject({ kty: z.string(), kid: z.string() }).refine((k) => !("d" in k), {
  message: "this file holds a private key; pass the .pub.json file",
});

async function readPublicJwk(path: string): Promise<z.infer<typeof PublicJwkFile>> {
  return PublicJwkFile.parse(JSON.parse(await readFile(path, "utf8")));
}

function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

export function officialCommands(): Command {
  const official = new Command("official").description("Officials: administrators, station officials, auditors.");

  official
    .command("keygen")
    .description("Make an Ed25519 key pair: <out>.jwk.json (private, keep it) and <out>.pub.json (register it).")
    .argument("<kid>", "the key id")
    .argument("<out>", "path prefix for the two files")
    .action(async (kid: string, out: string) => {
      const { privateJwk, publicJwk } = await generateSigningKey(kid);
      await writeFile(`${out}.jwk.json`, JSON.stringify(privateJwk, null, 2), { mode: 0o600 });
      await writeFile(`${out}.pub.json`, JSON.stringify(publicJwk, null, 2));
      console.log(`wrote ${out}.jwk.json (private) and ${out}.pub.json (public)`);
    });

  official
    .command("add")
    .description("Register an official with a role and a public key.")
    .argument("<id>", "the official's id")
    .addOption(new Option("--role <role>", "the role").choices(["administrator", "station-official", "auditor"]).makeOptionMandatory())
    .requiredOption("--name <name>", "display name")
    .requiredOption("--public-key <file>", "the official's public JWK file")
    .action(async (id: string, opts: { role: string; name: string; publicKey: string }) => {
      const publicJwk = await readPublicJwk(opts.publicKey);
      print(await OfficialClient.fromEnv().call("POST", "/v1/admin/officials", { json: { id, role: opts.role, displayName: opts.name, publicJwk } }));
    });

  official
    .command("add-key")
    .description("Add a key to an official (rotation: add the new key, then revoke the old).")
    .argument("<id>", "the official's id")
    .requiredOption("--public-key <file>", "the new public JWK file")
    .action(async (id: string, opts: { publicKey: string }) => {
      const publicJwk = await readPublicJwk(opts.publicKey);
      print(await OfficialClient.fromEnv().call("POST", `/v1/admin/officials/${encodeURIComponent(id)}/keys`, { json: { publicJwk } }));
    });

  official
    .command("revoke-key")
    .description("Revoke one key of an official.")
    .argument("<id>")
    .argument("<kid>")
    .action(async (id: string, kid: string) => {
      print(await OfficialClient.fromEnv().call("DELETE", `/v1/admin/officials/${encodeURIComponent(id)}/keys/${encodeURIComponent(kid)}`));
    });

  official
    .command("revoke")
    .description("Revoke an official: none of their keys gets a new access token.")
    .argument("<id>")
    .action(async (id: string) => {
      print(await OfficialClient.fromEnv().call("DELETE", `/v1/admin/officials/${encodeURIComponent(id)}`));
    });

  official
    .command("list")
    .description("List officials and their keys.")
    .action(async () => {
      print(await OfficialClient.fromEnv().call("GET", "/v1/admin/officials"));
    });

  return official;
}
