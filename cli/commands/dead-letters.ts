/**
 * `admin dead-letters ...`: what reached the ballots' dead-letter queue, for the operator.
 *
 *   admin dead-letters list [--election <id>] [--key <dead-letter private JWK>]
 *   admin dead-letters keygen <out>
 *
 * The Worker keeps each dead letter's body only as a JWE to the offline dead-letter key
 * (lib/ballot/dead-letter-seal.ts); `list` prints what an operator triages by and, given the
 * private key file with --key, opens the bodies here, on the operator's machine. The private key
 * never goes to the Worker: `keygen` writes the pair, and only the public half is configured
 * (DEAD_LETTER_PUBLIC_JWK).
 */
import { readFile, writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError } from "commander";
import { exportJWK, generateKeyPair } from "jose";
import { z } from "zod";
import { DeadLetterPrivateJwk, openDeadLetter } from "../../lib/ballot/dead-letter-seal.ts";
import { OfficialClient } from "../lib/api.ts";
import { print } from "../lib/io.ts";

const DeadLetterRow = z.looseObject({ letterId: z.string(), bodyJwe: z.string().nullable() });
const DeadLetterList = z.object({ deadLetters: z.array(DeadLetterRow) });
type DeadLetterRow = z.infer<typeof DeadLetterRow>;

/** Reads the operator's private dead-letter key from a file; a public-only key is refused. */
export async function readDeadLetterKey(path: string): Promise<z.infer<typeof DeadLetterPrivateJwk>> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, "utf8"));
  } catch (error) {
    throw new InvalidArgumentError(`${path} is not a JSON file: ${String(error)}`);
  }
  const parsed = DeadLetterPrivateJwk.safeParse(json);
  if (!parsed.success)
    throw new InvalidArgumentError(`${path} is not a private P-256 JWK: ${z.prettifyError(parsed.error)}`);
  return parsed.data;
}

/**
 * Each row with its body opened (`body`, the message as JSON), or `bodyError` when the key does
 * not open it (another key's letter) or there is no body to open.
 */
export async function openDeadLetters(
  rows: readonly DeadLetterRow[],
  keyFile: string,
): Promise<(DeadLetterRow & { body?: unknown; bodyError?: string })[]> {
  const key = await readDeadLetterKey(keyFile);
  return Promise.all(
    rows.map(async (row) => {
      if (row.bodyJwe === null) return { ...row, bodyError: "no body was kept (no dead-letter key configured)" };
      try {
        return { ...row, body: JSON.parse(await openDeadLetter(key, row.bodyJwe)) as unknown };
      } catch (error) {
        return { ...row, bodyError: `this key does not open it: ${String(error)}` };
      }
    }),
  );
}

export function deadLetterCommands(): Command {
  const command = new Command("dead-letters").description(
    "Messages that reached the ballots' dead-letter queue; bodies are encrypted to the offline dead-letter key.",
  );

  command
    .command("list")
    .description("List dead letters, oldest first; with --key, open their bodies locally.")
    .option("--election <id>", "only this election's")
    .option("--key <file>", "the dead-letter private JWK (kept offline); opens the bodies on this machine")
    .action(async (options: { election?: string; key?: string }) => {
      const query = options.election ? `?electionId=${encodeURIComponent(options.election)}` : "";
      const list = DeadLetterList.parse(await OfficialClient.fromEnv().call("GET", `/v1/admin/dead-letters${query}`));
      print(options.key ? await openDeadLetters(list.deadLetters, options.key) : list.deadLetters);
    });

  command
    .command("keygen")
    .description("Make the offline dead-letter key pair: <out>.jwk.json (private, 0600) and <out>.pub.json.")
    .argument("<out>", "path prefix of the two files")
    .option("--kid <kid>", "key id", `dead-letter-${new Date().toISOString().slice(0, 10)}`)
    .action(async (out: string, options: { kid: string }) => {
      const { publicKey, privateKey } = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
      await writeFile(
        `${out}.jwk.json`,
        JSON.stringify({ ...(await exportJWK(privateKey)), kid: options.kid }, null, 2),
        {
          mode: 0o600,
        },
      );
      await writeFile(
        `${out}.pub.json`,
        JSON.stringify({ ...(await exportJWK(publicKey)), kid: options.kid }, null, 2),
      );
      print({ privateKey: `${out}.jwk.json`, publicKey: `${out}.pub.json`, configure: "DEAD_LETTER_PUBLIC_JWK" });
    });

  return command;
}
