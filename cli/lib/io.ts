/** What the admin CLI's commands share: printing answers, reading key files, making key pairs. */
import { readFile, writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import { z } from "zod";
import { generateSigningKey } from "../../lib/identity/keys.ts";

export function print(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

/** Reads a public JWK file and checks it with `schema`; a private key file is refused. */
export async function readPublicJwkFile<T>(path: string, schema: z.ZodType<T>): Promise<T> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new InvalidArgumentError(`${path} is not a JSON file: ${String(error)}`);
  }
  if (typeof json === "object" && json !== null && "d" in json) {
    throw new InvalidArgumentError(`${path} holds a private key; pass the .pub.json file`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success)
    throw new InvalidArgumentError(`${path} is not a usable public JWK with a kid: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/** `keygen <kid> <out>`: an Ed25519 pair as <out>.jwk.json (private, 0600) and <out>.pub.json. */
export function keygenCommand(description: string): Command {
  return new Command("keygen")
    .description(description)
    .argument("<kid>", "the key id")
    .argument("<out>", "path prefix for the two files")
    .action(async (kid: string, out: string) => {
      const { privateJwk, publicJwk } = await generateSigningKey(kid);
      await writeFile(`${out}.jwk.json`, JSON.stringify(privateJwk, null, 2), { mode: 0o600 });
      await writeFile(`${out}.pub.json`, JSON.stringify(publicJwk, null, 2));
      console.log(`wrote ${out}.jwk.json (private) and ${out}.pub.json (public)`);
    });
}
