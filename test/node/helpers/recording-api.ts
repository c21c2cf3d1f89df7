/**
 * A small HTTP server standing in for the API, for tests of the admin CLI's `election` commands
 * (test/node/polls-cli.test.ts, conflicts-cli.test.ts): it records what the CLI sends over real
 * HTTP, answers the token exchange, and hands every other request to the test's `route`, which
 * answers as the real route does (the routes themselves are tested in test/workers/). Registers
 * its own vitest hooks: started before the file's tests, cleared before each, closed after.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, beforeEach, vi } from "vitest";
import { electionCommands } from "../../../cli/commands/election.ts";

export interface RecordedRequest {
  readonly method: string;
  readonly url: string;
  readonly body: string;
}

export interface RecordingApi {
  /** What the CLI sent since the current test began, the token exchange included. */
  readonly requests: readonly RecordedRequest[];
  /** The POSTs but the token exchange. */
  posts(): RecordedRequest[];
  /** Runs `admin election <args>` against the server and answers what it printed. */
  election(...args: string[]): Promise<string>;
}

/** Starts the server for this test file; `route` answers every request but the token exchange. */
export function withRecordingApi(
  name: string,
  route: (request: RecordedRequest, res: ServerResponse) => void,
): RecordingApi {
  let dir = "";
  let server: Server | undefined;
  const requests: RecordedRequest[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), `${name}-`));
    const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
    const keyFile = join(dir, "admin.jwk.json");
    await writeFile(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid: "admin-k1", alg: "EdDSA" }));
    const started = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
      req.on("end", () => {
        const request = { method: req.method ?? "", url: req.url ?? "", body };
        requests.push(request);
        res.setHeader("content-type", "application/json");
        if (request.url === "/v1/auth/token") res.end(JSON.stringify({ accessToken: "token", expiresIn: 600 }));
        else route(request, res);
      });
    });
    server = started;
    await new Promise<void>((resolve) => started.listen(0, "127.0.0.1", resolve));
    vi.stubEnv("ELECTION_API", `http://127.0.0.1:${(started.address() as AddressInfo).port}`);
    vi.stubEnv("ELECTION_OFFICIAL_ID", "admin");
    vi.stubEnv("ELECTION_OFFICIAL_KEY", keyFile);
  });

  afterAll(async () => {
    vi.unstubAllEnvs();
    await new Promise((resolve) => server?.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  beforeEach(() => {
    requests.length = 0;
  });

  return {
    requests,
    posts: () => requests.filter((r) => r.method === "POST" && r.url !== "/v1/auth/token"),
    async election(...args) {
      const printed: string[] = [];
      const log = vi.spyOn(console, "log").mockImplementation((text: string) => printed.push(text));
      try {
        // Commander's subcommands take exitOverride only from a parent that had it when they were added.
        const command = electionCommands().exitOverride();
        for (const sub of command.commands) sub.exitOverride();
        await command.parseAsync(args, { from: "user" });
      } finally {
        log.mockRestore();
      }
      return printed.join("\n");
    },
  };
}
