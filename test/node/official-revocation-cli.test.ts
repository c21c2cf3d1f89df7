/**
 * `admin official pending` and `approve-revocation`: revoking another administrator takes two
 * (test/workers/officials-revocation.test.ts shows the API side); the CLI lists what waits, and
 * approving sends the same DELETE as the request, but only for a request another administrator
 * made, so it never starts one. The API here is a small HTTP server that records what the CLI
 * sends over real HTTP.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair } from "jose";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { officialCommands } from "../../cli/commands/official.ts";

const pendingRevocations = [
  { officialId: "admin-b", kid: null, requestedBy: "admin-a", requestedAt: "2026-11-30T10:00:00.000Z" },
  { officialId: "admin-b", kid: "admin-b-k1", requestedBy: "admin-a", requestedAt: "2026-11-30T10:01:00.000Z" },
  { officialId: "admin-d", kid: null, requestedBy: "admin-c", requestedAt: "2026-11-30T10:02:00.000Z" },
];

let dir: string;
let server: Server;
let requests: { method: string; url: string }[];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "official-cli-"));
  const { privateKey } = await generateKeyPair("EdDSA", { extractable: true });
  const keyFile = join(dir, "admin-c.jwk.json");
  await writeFile(keyFile, JSON.stringify({ ...(await exportJWK(privateKey)), kid: "admin-c-k1", alg: "EdDSA" }));
  server = createServer((req, res) => {
    requests.push({ method: req.method ?? "", url: req.url ?? "" });
    res.setHeader("content-type", "application/json");
    if (req.url === "/v1/auth/token") {
      res.end(JSON.stringify({ accessToken: "token", expiresIn: 600 }));
    } else if (req.method === "GET" && req.url === "/v1/admin/officials") {
      res.end(JSON.stringify({ officials: [], pendingRevocations }));
    } else if (req.method === "DELETE") {
      res.end(JSON.stringify({ id: "admin-b", revokedAt: "2026-11-30T10:05:00.000Z" }));
    } else {
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { code: "not_found", message: "no" } }));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  vi.stubEnv("ELECTION_API", `http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  vi.stubEnv("ELECTION_OFFICIAL_ID", "admin-c");
  vi.stubEnv("ELECTION_OFFICIAL_KEY", keyFile);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await new Promise((resolve) => server.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  requests = [];
});

/** Runs `admin official <args>` and answers what it printed. */
async function official(...args: string[]): Promise<unknown[]> {
  const printed: unknown[] = [];
  const log = vi.spyOn(console, "log").mockImplementation((text: string) => printed.push(JSON.parse(text)));
  try {
    await officialCommands().exitOverride().parseAsync(args, { from: "user" });
  } finally {
    log.mockRestore();
  }
  return printed;
}

const deletes = () => requests.filter((r) => r.method === "DELETE").map((r) => r.url);

describe("admin official pending / approve-revocation", () => {
  it("pending lists the revocations that await a second administrator", async () => {
    expect(await official("pending")).toEqual([pendingRevocations]);
  });

  it("approve-revocation sends the same DELETE as the request: the administrator, or one key", async () => {
    await official("approve-revocation", "admin-b");
    await official("approve-revocation", "admin-b", "admin-b-k1");
    expect(deletes()).toEqual(["/v1/admin/officials/admin-b", "/v1/admin/officials/admin-b/keys/admin-b-k1"]);
  });

  it("approve-revocation never starts a request: nothing pending, or one's own, sends nothing", async () => {
    await expect(official("approve-revocation", "admin-x")).rejects.toThrow(/no pending request/);
    await expect(official("approve-revocation", "admin-b", "admin-b-k2")).rejects.toThrow(/no pending request/);
    await expect(official("approve-revocation", "admin-d")).rejects.toThrow(/another administrator must approve/);
    expect(deletes()).toEqual([]);
  });
});
