/**
 * The operator opens dead letters on their own machine: `admin dead-letters keygen` makes the
 * offline pair, the Worker seals bodies to the public half (lib/ballot/dead-letter-seal.ts, the
 * same code workers/tally/dead-letters.ts runs), and `admin dead-letters list --key` opens them
 * with the private file; another key or a public-only file opens nothing.
 */
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { deadLetterCommands, openDeadLetters } from "../../cli/commands/dead-letters.ts";
import { DeadLetterPublicJwk, sealDeadLetter } from "../../lib/ballot/dead-letter-seal.ts";

let dir: string;

async function keygen(out: string): Promise<void> {
  const log = vi.spyOn(console, "log").mockImplementation(() => undefined);
  try {
    await deadLetterCommands().parseAsync(["keygen", out, "--kid", "dead-letter-cli-test"], { from: "user" });
  } finally {
    log.mockRestore();
  }
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "dead-letters-"));
  await keygen(join(dir, "operator"));
  await keygen(join(dir, "other"));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("admin dead-letters", () => {
  it("keygen writes a private file only its owner reads and a public file the Worker accepts", async () => {
    expect((await stat(join(dir, "operator.jwk.json"))).mode & 0o777).toBe(0o600);
    const pub = DeadLetterPublicJwk.parse(JSON.parse(await readFile(join(dir, "operator.pub.json"), "utf8")));
    expect(pub.kid).toBe("dead-letter-cli-test");
  });

  it("list --key opens sealed bodies with the private key, and nothing with another key", async () => {
    const pub = DeadLetterPublicJwk.parse(JSON.parse(await readFile(join(dir, "operator.pub.json"), "utf8")));
    const body = {
      kind: "ballot",
      electionId: "e",
      trackingCode: "7K3M-Q9TX-2D4F-H8JA",
      contests: [{ contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] }],
    };
    const jwe = await sealDeadLetter(pub, JSON.stringify(body));
    expect(jwe).not.toContain("7K3M");
    const rows = [
      { letterId: "a", bodyJwe: jwe },
      { letterId: "b", bodyJwe: null },
    ];
    const opened = await openDeadLetters(rows, join(dir, "operator.jwk.json"));
    expect(opened[0]).toMatchObject({ letterId: "a", body });
    expect(opened[1]?.bodyError).toMatch(/no body/);

    const wrongKey = await openDeadLetters(rows, join(dir, "other.jwk.json"));
    expect(wrongKey[0]?.body).toBeUndefined();
    expect(wrongKey[0]?.bodyError).toMatch(/does not open/);

    await expect(openDeadLetters(rows, join(dir, "operator.pub.json"))).rejects.toThrow(/private P-256 JWK/);
  });
});
