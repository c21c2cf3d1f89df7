/**
 * The auditor reads logs from mirrors it does not trust: a body larger than any log object is
 * abandoned as it streams, and a server that does not answer fails the fetch (security review L6).
 */
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchBytes, MAX_OBJECT_BYTES, SourceError } from "../../cli/auditor/source.ts";

let server: Server;
let base: string;
let bytesSent = 0;
const hanging = new Set<ServerResponse>();

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === "/endless") {
      // No content-length: only the streamed count can stop the reader.
      res.writeHead(200, { "content-type": "application/octet-stream" });
      const chunk = Buffer.alloc(1024 * 1024, 7);
      const push = (): void => {
        while (res.write(chunk)) {
          bytesSent += chunk.length;
          if (bytesSent > 64 * MAX_OBJECT_BYTES) return void res.end();
        }
        bytesSent += chunk.length;
      };
      res.on("drain", push);
      push();
    } else if (req.url === "/declared-huge") {
      res.writeHead(200, { "content-length": String(MAX_OBJECT_BYTES + 1) });
      res.end();
    } else if (req.url === "/silent") {
      hanging.add(res); // never answers
    } else {
      res.writeHead(200).end("checkpoint\n");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  for (const res of hanging) res.destroy();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

describe("the auditor's fetches", () => {
  it("read an ordinary object", async () => {
    expect(new TextDecoder().decode(await fetchBytes(`${base}/checkpoint`))).toBe("checkpoint\n");
  });

  it("abandon an endless body soon after it passes the object limit", async () => {
    const error = await fetchBytes(`${base}/endless`).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SourceError);
    expect(String(error)).toContain(`larger than ${MAX_OBJECT_BYTES} bytes`);
    // The server stops at 64 times the limit; the reader gave up long before.
    expect(bytesSent).toBeLessThan(8 * MAX_OBJECT_BYTES);
  });

  it("refuse a body that declares itself too large without reading it", async () => {
    await expect(fetchBytes(`${base}/declared-huge`)).rejects.toThrow(/larger than/);
  });

  it("fail a server that does not answer, after the timeout", async () => {
    const started = Date.now();
    await expect(fetchBytes(`${base}/silent`, 300)).rejects.toThrow(/did not answer within 0.3 s/);
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
