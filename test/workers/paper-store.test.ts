/**
 * The paper store's reconciliation read on an election with more districts than one statement can
 * bind: every station serving any of its districts is listed (before, stations of districts past
 * the 98th were silently left out of the election-wide reconciliation).
 */
import { env } from "cloudflare:test";
import { describe, expect, it } from "vitest";
import { readReconciliation } from "../../db/stores/paper.ts";

describe("the paper store's reconciliation read", () => {
  it("lists the stations of every district, however many districts the election has", async () => {
    const districtIds = Array.from({ length: 250 }, (_, i) => `many-${String(i).padStart(3, "0")}`);
    // One station per tenth district, the last one serving the very last district.
    const stations = districtIds.filter((_, i) => i % 10 === 9).map((d) => ({ id: `station-${d}`, district: d }));
    await env.DB.batch(
      stations.flatMap(({ id, district }) => [
        env.DB.prepare("INSERT INTO stations (id, name) VALUES (?, ?)").bind(id, id),
        env.DB.prepare("INSERT INTO station_districts (station_id, district_id) VALUES (?, ?)").bind(id, district),
      ]),
    );
    const all = await readReconciliation(env.DB, "many-districts", districtIds, undefined);
    expect([...all.registered].sort()).toEqual(stations.map((s) => s.id).sort());

    const last = stations.at(-1);
    if (!last) throw new Error("no station");
    const one = await readReconciliation(env.DB, "many-districts", districtIds, last.id);
    expect([...one.registered]).toEqual([last.id]);
  });
});
