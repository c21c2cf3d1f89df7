/**
 * Public reads by tracking code (receipt, proof, QR images): rate limited per client address and
 * answered from the edge cache for a few seconds (security review M9).
 */
import { env, SELF } from "cloudflare:test";
import { describe, expect, it } from "vitest";

const CODE = "7K3M-Q9TX-2D4F-H8JA";

async function receipt(base: string, ip: string, path = ""): Promise<Response> {
  return SELF.fetch(`${base}/v1/receipts/${CODE}${path}`, { headers: { "cf-connecting-ip": ip } });
}

describe("public reads", () => {
  it("serve a receipt from the edge cache within a few seconds: a change underneath does not show there", async () => {
    await env.DB.prepare(
      `INSERT INTO receipts (tracking_code, election_id, commitment, status, recorded_at) VALUES (?, ?, ?, ?, ?)`,
    )
      .bind(CODE, "public-reads", "commitment-one", "recorded", "2026-05-01T10:00:00.000Z")
      .run();
    const base = "https://cache-a.vote.example";
    // Not yet in the log: its voter is waiting for the proof link, so it is not cached.
    const waiting = await receipt(base, "10.62.0.1");
    expect(waiting.status).toBe(200);
    expect(waiting.headers.get("cache-control")).toBe("no-store");
    await env.DB.prepare(`INSERT INTO log_receipts (tracking_code, election_id, leaf_index) VALUES (?, ?, ?)`)
      .bind(CODE, "public-reads", 7)
      .run();
    const first = await receipt(base, "10.62.0.1");
    expect(first.status).toBe(200);
    expect(first.headers.get("cache-control")).toBe("public, max-age=5");
    expect(await first.json()).toMatchObject({ commitment: "commitment-one", log: { leafIndex: 7 } });

    await env.DB.prepare(`UPDATE receipts SET commitment = 'commitment-two' WHERE tracking_code = ?`).bind(CODE).run();
    for (const query of ["", "?x=1"]) {
      const again = await SELF.fetch(`${base}/v1/receipts/${CODE}${query}`, {
        headers: { "cf-connecting-ip": "10.62.0.2" },
      });
      expect(((await again.json()) as { commitment: string }).commitment).toBe("commitment-one");
    }
    // Another URL is not in the cache: the change was there all along.
    const fresh = await receipt("https://cache-b.vote.example", "10.62.0.3");
    expect(((await fresh.json()) as { commitment: string }).commitment).toBe("commitment-two");
    // An unknown code is not cached, and says so.
    const unknown = await SELF.fetch(`${base}/v1/receipts/0000-0000-0000-0000`, {
      headers: { "cf-connecting-ip": "10.62.0.4" },
    });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("cache-control")).toBe("no-store");
  });

  it("turn one client address away with 429 once it is over its budget, and not another", async () => {
    const base = "https://limit.vote.example";
    const ip = "10.62.1.1";
    let last: Response | undefined;
    // The budget (600 a minute) is counted in fixed windows: a run that straddles a window's end
    // starts counting again, so the loop may need up to twice the budget before it is turned away.
    for (let i = 0; i < 1300 && last?.status !== 429; i += 1) {
      last = await receipt(base, ip, "/qr.svg");
      await last.body?.cancel();
    }
    expect(last?.status).toBe(429);
    // The budget is one for every public read of that address, results included.
    expect(
      (await SELF.fetch(`${base}/v1/elections/any-election/results`, { headers: { "cf-connecting-ip": ip } })).status,
    ).toBe(429);
    expect((await receipt(base, "10.62.1.2", "/qr.svg")).status).toBe(200);
  });

  it("do not count a development deployment's own machine (a local run is one client polling many receipts)", async () => {
    expect(env.ENVIRONMENT).toBe("development");
    for (const ip of ["127.0.0.1", "unknown"]) {
      for (let i = 0; i < 601; i += 1) await env.PUBLIC_READ_LIMITER.limit({ key: `public-read:${ip}` });
    }
    expect((await receipt("https://local.vote.example", "127.0.0.1", "/qr.svg")).status).toBe(200);
    expect((await SELF.fetch(`https://local.vote.example/v1/receipts/${CODE}/qr.png`)).status).toBe(200);
  });
});
