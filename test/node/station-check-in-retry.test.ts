/**
 * A console check-in of a voter not in the pollbook, asked online, whose answer is lost after the
 * server applied it: the official is told to try again, and the second try sends the same
 * check-in id, so the server answers it as the first (its idempotency) and the voter gets their
 * ballot, counted once at the station as at the server. (Found by the outbox's model-based test,
 * test/node/outbox-model.test.ts, which leaves console check-ins out; before, the second try had
 * a new id and the server refused it as a second check-in.)
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { StationSetup } from "../../station/setup.ts";
import { Station } from "../../station/station.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

/** A server that applies each check-in id once and replays its answer; it can lose one answer. */
function server(): { fetch: (request: Request) => Promise<Response>; applied: string[]; loseNext: () => void } {
  const applied: string[] = [];
  const byNationalId = new Map<string, string>();
  let lose = false;
  const json = (status: number, body: unknown): Response =>
    new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
  return {
    applied,
    loseNext: () => {
      lose = true;
    },
    fetch: async (request) => {
      if (request.method !== "POST") return json(404, { error: { code: "not_found", message: "No such resource." } });
      const body = (await request.json()) as { checkInId: string; nationalId: string };
      const answer = (replayed: boolean) =>
        json(200, {
          outcome: "issue-ballot",
          checkInId: body.checkInId,
          electionId: "e-retry",
          stationId: "st-1",
          ballotStyleId: "bs-north",
          districtId: "district-north",
          replayed,
        });
      const earlier = byNationalId.get(body.nationalId);
      if (earlier === body.checkInId) return answer(true);
      if (earlier !== undefined) {
        return json(409, { error: { code: "already_checked_in", message: "This voter is already checked in." } });
      }
      byNationalId.set(body.nationalId, body.checkInId);
      applied.push(body.checkInId);
      if (lose) {
        lose = false;
        throw new TypeError("fetch failed: the answer was lost");
      }
      return answer(false);
    },
  };
}

describe("a console check-in whose answer was lost", () => {
  it("is completed by trying again: same check-in id, one check-in at the server and at the station", async () => {
    const { privateJwk } = await generateSigningKey("st-1-k1");
    const setup = StationSetup.parse({
      v: 1,
      stationId: "st-1",
      apiOrigin: "http://station-server.test",
      electionId: "e-retry",
      districtIds: ["district-north"],
      deviceKey: privateJwk,
    });
    const dir = await mkdtemp(join(tmpdir(), "check-in-retry-"));
    dirs.push(dir);
    const fake = server();
    const station = await Station.open(setup, dir, { fetch: fake.fetch });
    try {
      fake.loseNext();
      const first = await station.checkIn({ nationalId: "EE-1234", identity: { method: "id-card" } });
      expect(first).toMatchObject({ outcome: "refused", code: "not_in_pollbook" });
      expect(fake.applied).toHaveLength(1);

      const again = await station.checkIn({ nationalId: "EE-1234", identity: { method: "id-card" } });
      expect(again).toMatchObject({ outcome: "issue-ballot", ballotStyleId: "bs-north", decidedOffline: false });
      expect(fake.applied).toHaveLength(1);
      expect(station.db.total("checkIns")).toBe(1);
      // One row for the voter: the unanswered try gave way to the one that was answered.
      expect(station.db.outboxList(10).map((r) => [r.kind, r.state])).toEqual([["check-in", "done"]]);

      // Another voter is another check-in id, and is not taken for the first.
      const other = await station.checkIn({ nationalId: "EE-5678", identity: { method: "id-card" } });
      expect(other).toMatchObject({ outcome: "issue-ballot" });
      expect(fake.applied).toHaveLength(2);
    } finally {
      await station.close();
    }
  });
});
