import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createLocalJWKSet, jwtVerify } from "jose";
import jsQR from "jsqr";
import { PNG } from "pngjs";
import { newNonce, TRACKING_CODE } from "../../lib/ballot/commitment.ts";
import { ledgerFor } from "../../durable-objects/addresses.ts";
import { BASE, voterSession } from "./helpers/auth.ts";
import { cast, EAST_BALLOT, NORTH_BALLOT, waitFor, type CastContest } from "./helpers/cast.ts";
import { loadDemoElection } from "./helpers/election.ts";
import { enrol, voterKeyFor } from "./helpers/roll.ts";

const FIRST_WINS = "cast-first-wins";
const SUPERSEDES = "cast-supersedes";

interface ReceiptBody {
  trackingCode: string;
  commitment: string;
  receiptJws: string;
  checkUrl: string;
  qr: { svgUrl: string; pngUrl: string };
  replayed: boolean;
}

async function codeOf(res: Response): Promise<{ code: string; problems: { code?: string; path: string }[] }> {
  const body: { error: { code: string; problems?: { code?: string; path: string }[] } } = await res.json();
  return { code: body.error.code, problems: body.error.problems ?? [] };
}

let counter = 0;
async function newVoter(electionId: string, district: string): Promise<string> {
  counter += 1;
  const nationalId = `EE-CAST-${String(counter).padStart(4, "0")}`;
  await enrol(electionId, nationalId, district);
  return voterSession(electionId, nationalId);
}

beforeAll(async () => {
  await loadDemoElection({ electionId: FIRST_WINS, crossChannelPolicy: "first-wins" });
  await loadDemoElection({ electionId: SUPERSEDES, crossChannelPolicy: "paper-supersedes" });
  await loadDemoElection({
    electionId: "cast-closed",
    polls: { opensAt: "2020-01-01T00:00:00Z", closesAt: "2020-01-02T00:00:00Z" },
  });
  await loadDemoElection({
    electionId: "cast-not-open",
    polls: { opensAt: "2099-01-01T00:00:00Z", closesAt: "2099-01-02T00:00:00Z" },
  });
});

describe("casting an online ballot", () => {
  it("accepts a choose-one ballot and returns a signed receipt with a tracking code and QR codes", async () => {
    const session = await newVoter(FIRST_WINS, "district-north");
    const res = await cast(FIRST_WINS, session, NORTH_BALLOT);
    expect(res.status).toBe(201);
    const receipt: ReceiptBody = await res.json();
    expect(receipt.trackingCode).toMatch(TRACKING_CODE);
    expect(receipt.replayed).toBe(false);
    const jwks: { keys: { kty: string }[] } = await (await SELF.fetch(`${BASE}/v1/receipt-keys`)).json();
    const { payload } = await jwtVerify(
      receipt.receiptJws,
      createLocalJWKSet(jwks as Parameters<typeof createLocalJWKSet>[0]),
      { algorithms: ["EdDSA"] },
    );
    expect(payload).toMatchObject({
      electionId: FIRST_WINS,
      trackingCode: receipt.trackingCode,
      commitment: receipt.commitment,
      channel: "online",
    });
    // The receipt carries no choice and no voter.
    expect(JSON.stringify(payload)).not.toContain("sel-");
    expect(JSON.stringify(payload)).not.toContain(await voterKeyFor("EE-CAST-0001"));
    const svg = await SELF.fetch(receipt.qr.svgUrl);
    expect(svg.headers.get("content-type")).toBe("image/svg+xml");
    expect(await svg.text()).toContain("<svg");
    const png = new Uint8Array(await (await SELF.fetch(receipt.qr.pngUrl)).arrayBuffer());
    expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  });

  it("accepts a choose-N ballot with a write-in, and a ballot with blank contests", async () => {
    expect((await cast(FIRST_WINS, await newVoter(FIRST_WINS, "district-east"), EAST_BALLOT)).status).toBe(201);
    expect((await cast(FIRST_WINS, await newVoter(FIRST_WINS, "district-south"), [])).status).toBe(201);
  });

  it("records the ballot: the receipt API says so once the tally consumer has it", async () => {
    const res = await cast(FIRST_WINS, await newVoter(FIRST_WINS, "district-north"), NORTH_BALLOT);
    const receipt: ReceiptBody = await res.json();
    const recorded = await waitFor(async () => {
      const check = await SELF.fetch(`${BASE}/v1/receipts/${receipt.trackingCode}`);
      return check.status === 200 ? ((await check.json()) as { status: string; commitment: string }) : undefined;
    });
    expect(recorded).toMatchObject({ status: "recorded", commitment: receipt.commitment });
  });

  it("points the receipt's check URL and its QR code at the /check page, which says the ballot is recorded", async () => {
    const res = await cast(FIRST_WINS, await newVoter(FIRST_WINS, "district-north"), NORTH_BALLOT);
    const receipt: ReceiptBody = await res.json();
    const pageUrl = `${BASE}/check?code=${receipt.trackingCode}`;
    expect(receipt.checkUrl).toBe(pageUrl);
    // The QR images stay under the receipt API and encode the page, as a phone's camera reads it.
    expect(receipt.qr).toEqual({
      svgUrl: `${BASE}/v1/receipts/${receipt.trackingCode}/qr.svg`,
      pngUrl: `${BASE}/v1/receipts/${receipt.trackingCode}/qr.png`,
    });
    expect((await SELF.fetch(receipt.qr.svgUrl)).status).toBe(200);
    const pngRes = await SELF.fetch(receipt.qr.pngUrl);
    expect(pngRes.status).toBe(200);
    // pngjs's sync reader needs a zlib class workerd lacks; its streaming parser runs here.
    const bytes = Buffer.from(await pngRes.arrayBuffer());
    const png = await new Promise<PNG>((resolve, reject) => {
      new PNG().parse(bytes, (error, parsed) => (error ? reject(error) : resolve(parsed)));
    });
    expect(jsQR(new Uint8ClampedArray(png.data), png.width, png.height)?.data).toBe(pageUrl);
    const page = await waitFor(async () => {
      const check = await SELF.fetch(receipt.checkUrl, { headers: { accept: "text/html" } });
      const html = await check.text();
      return check.status === 200 && html.includes('class="panel panel-success"') ? { check, html } : undefined;
    });
    expect(page.check.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.html).toContain(receipt.trackingCode);
  });

  const bad: [string, CastContest[], string][] = [
    [
      "a contest not on the voter's style",
      [{ contestId: "contest-parliament-south", optionIds: ["sel-parliament-south-peeter-org"] }],
      "contest_not_on_ballot_style",
    ],
    ["an unknown contest", [{ contestId: "contest-nope", optionIds: [] }], "contest_not_on_ballot_style"],
    [
      "a contest twice",
      [
        { contestId: "contest-president", optionIds: [] },
        { contestId: "contest-president", optionIds: [] },
      ],
      "duplicate_contest",
    ],
    [
      "an option of another contest",
      [{ contestId: "contest-president", optionIds: ["sel-parliament-north-mari-saar"] }],
      "unknown_option",
    ],
    [
      "an option twice",
      [
        {
          contestId: "contest-parliament-north",
          optionIds: ["sel-parliament-north-mari-saar", "sel-parliament-north-mari-saar"],
        },
      ],
      "duplicate_option",
    ],
    [
      "an overvote",
      [
        {
          contestId: "contest-parliament-north",
          optionIds: ["sel-parliament-north-mari-saar", "sel-parliament-north-toomas-kivi"],
        },
      ],
      "overvote",
    ],
    [
      "a write-in without a name",
      [{ contestId: "contest-president", optionIds: ["sel-president-write-in"] }],
      "write_in_missing",
    ],
    [
      "write-in text on a named candidate",
      [
        {
          contestId: "contest-president",
          optionIds: ["sel-president-aino-tamm"],
          writeIns: { "sel-president-aino-tamm": "X" },
        },
      ],
      "write_in_not_allowed",
    ],
  ];
  it.each(bad)("refuses %s with 422 and its code, and records nothing", async (_name, contests, problemCode) => {
    const session = await newVoter(FIRST_WINS, "district-north");
    const res = await cast(FIRST_WINS, session, contests);
    expect(res.status).toBe(422);
    const { code, problems } = await codeOf(res);
    expect(code).toBe("invalid_ballot");
    expect(problems.map((p) => p.code)).toContain(problemCode);
    // Nothing changed: the voter can still cast a valid ballot.
    expect((await cast(FIRST_WINS, session, NORTH_BALLOT)).status).toBe(201);
  });

  it("refuses a choose-N overvote", async () => {
    const session = await newVoter(FIRST_WINS, "district-east");
    const res = await cast(FIRST_WINS, session, [
      {
        contestId: "contest-council-east",
        optionIds: [
          "sel-council-east-anna-laur",
          "sel-council-east-mart-parn",
          "sel-council-east-eva-sild",
          "sel-council-east-karl-tuul",
        ],
      },
    ]);
    expect(res.status).toBe(422);
    expect((await codeOf(res)).problems.map((p) => p.code)).toEqual(["overvote"]);
  });

  it.each([
    ["no body", undefined],
    ["malformed JSON", "{"],
    ["a missing idempotency key", JSON.stringify({ contests: [] })],
    ["extra fields", JSON.stringify({ idempotencyKey: crypto.randomUUID(), contests: [], voterId: "x" })],
  ])("refuses %s with 400", async (_name, body) => {
    const session = await newVoter(FIRST_WINS, "district-north");
    const res = await SELF.fetch(`${BASE}/v1/elections/${FIRST_WINS}/ballots`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${session}` },
      ...(body === undefined ? {} : { body }),
    });
    expect(res.status).toBe(400);
  });

  it("needs a session for this election", async () => {
    expect((await cast(FIRST_WINS, "not-a-token", NORTH_BALLOT)).status).toBe(401);
    const other = await newVoter(SUPERSEDES, "district-north");
    const res = await cast(FIRST_WINS, other, NORTH_BALLOT);
    expect(res.status).toBe(403);
  });

  it("refuses when the polls are closed or not yet open", async () => {
    await enrol("cast-closed", "EE-CLOSED-1", "district-north");
    await enrol("cast-not-open", "EE-CLOSED-1", "district-north");
    const closed = await cast("cast-closed", await voterSession("cast-closed", "EE-CLOSED-1"), NORTH_BALLOT);
    expect(closed.status).toBe(403);
    expect((await codeOf(closed)).code).toBe("polls_closed");
    const early = await cast("cast-not-open", await voterSession("cast-not-open", "EE-CLOSED-1"), NORTH_BALLOT);
    expect(early.status).toBe(403);
    expect((await codeOf(early)).code).toBe("polls_not_open");
  });
});

describe("first-wins", () => {
  it("refuses a second ballot", async () => {
    const session = await newVoter(FIRST_WINS, "district-north");
    expect((await cast(FIRST_WINS, session, NORTH_BALLOT)).status).toBe(201);
    const second = await cast(FIRST_WINS, session, NORTH_BALLOT);
    expect(second.status).toBe(409);
    expect((await codeOf(second)).code).toBe("already_voted");
  });

  it("answers a retry with the same idempotency key with the same receipt, and refuses the key for another ballot", async () => {
    const session = await newVoter(FIRST_WINS, "district-north");
    const key = crypto.randomUUID();
    const first: ReceiptBody = await (await cast(FIRST_WINS, session, NORTH_BALLOT, key)).json();
    const retry = await cast(FIRST_WINS, session, NORTH_BALLOT, key);
    expect(retry.status).toBe(200);
    const again: ReceiptBody = await retry.json();
    expect(again.trackingCode).toBe(first.trackingCode);
    expect(again.receiptJws).toBe(first.receiptJws);
    expect(again.replayed).toBe(true);
    const other = await cast(
      FIRST_WINS,
      session,
      [{ contestId: "contest-president", optionIds: ["sel-president-juhan-mets"] }],
      key,
    );
    expect(other.status).toBe(409);
    expect((await codeOf(other)).code).toBe("idempotency_conflict");
  });

  it("accepts exactly one of 200 concurrent casts by one voter at the ledger", async () => {
    await enrol(FIRST_WINS, "EE-RACE-0001", "district-north");
    const voterKey = await voterKeyFor("EE-RACE-0001");
    const ledger = ledgerFor(env, FIRST_WINS, voterKey);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ledger.castOnline({
          electionId: FIRST_WINS,
          voterKey,
          ballotStyleId: "bs-north",
          districtId: "district-north",
          policy: "first-wins",
          opensAtMs: 0,
          closesAtMs: Date.now() + 3_600_000,
          forgetLinksAtMs: Date.now() + 7_200_000,
          idempotencyKey: `race-${i}-${crypto.randomUUID()}`,
          nonce: newNonce(),
          contests: [
            {
              contestId: "contest-president",
              optionIds: [i % 2 === 0 ? "sel-president-aino-tamm" : "sel-president-liis-kask"],
            },
          ],
          commitment: `c-${i}`,
          trackingCode: `T-${i}`,
        }),
      ),
    );
    expect(outcomes.filter((o) => o.ok)).toHaveLength(1);
    expect(outcomes.filter((o) => !o.ok && o.error === "already_voted")).toHaveLength(199);
    expect(await ledger.status(FIRST_WINS, voterKey)).toMatchObject({ state: "online", counted: 1 });
  });

  it("accepts exactly one of 200 concurrent casts by one voter over HTTP; the rest are refused cleanly", async () => {
    const session = await newVoter(FIRST_WINS, "district-north");
    // More than the isolate admits at once (ADMISSION_MAX_IN_FLIGHT): those past it are told
    // "not now" (503 service_overloaded with Retry-After) before anything is read.
    const answers = await Promise.all(
      Array.from({ length: 200 }, async () => {
        const res = await cast(FIRST_WINS, session, NORTH_BALLOT);
        const code = res.status === 503 ? (await codeOf(res)).code : undefined;
        return { status: res.status, code, retryAfter: res.headers.get("retry-after") };
      }),
    );
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 409 || s === 429 || s === 503)).toBe(true);
    for (const shed of answers.filter((a) => a.status === 503))
      expect(shed).toMatchObject({ code: "service_overloaded", retryAfter: "2" });
  });
});

describe("paper-supersedes", () => {
  it("accepts online re-votes; only the latest ballot counts", async () => {
    await enrol(SUPERSEDES, "EE-REVOTE-01", "district-north");
    const session = await voterSession(SUPERSEDES, "EE-REVOTE-01");
    const first: ReceiptBody = await (await cast(SUPERSEDES, session, NORTH_BALLOT)).json();
    const secondRes = await cast(SUPERSEDES, session, [
      { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
    ]);
    expect(secondRes.status).toBe(201);
    const second: ReceiptBody = await secondRes.json();
    expect(second.trackingCode).not.toBe(first.trackingCode);
    const voterKey = await voterKeyFor("EE-REVOTE-01");
    expect(await ledgerFor(env, SUPERSEDES, voterKey).status(SUPERSEDES, voterKey)).toEqual({
      state: "online",
      revotes: 1,
      counted: 1,
    });
    // The voter sees it in their own session; the public check never says so (H1: a coercer may
    // hold the first receipt). test/workers/cast-secrecy.test.ts has the coercer's whole view.
    const mine = (await (
      await SELF.fetch(`${BASE}/v1/elections/${SUPERSEDES}/my-ballot`, {
        headers: { authorization: `Bearer ${session}` },
      })
    ).json()) as { countedTrackingCode: string; ballots: { trackingCode: string; status: string }[] };
    expect(mine.countedTrackingCode).toBe(second.trackingCode);
    expect(mine.ballots.map((b) => [b.trackingCode, b.status])).toEqual([
      [first.trackingCode, "superseded"],
      [second.trackingCode, "counted"],
    ]);
  });

  it("under 200 concurrent casts by one voter, every accepted ballot but the last is retracted", async () => {
    await enrol(SUPERSEDES, "EE-REVOTE-02", "district-north");
    const voterKey = await voterKeyFor("EE-REVOTE-02");
    const ledger = ledgerFor(env, SUPERSEDES, voterKey);
    const outcomes = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        ledger.castOnline({
          electionId: SUPERSEDES,
          voterKey,
          ballotStyleId: "bs-north",
          districtId: "district-north",
          policy: "paper-supersedes",
          opensAtMs: 0,
          closesAtMs: Date.now() + 3_600_000,
          forgetLinksAtMs: Date.now() + 7_200_000,
          idempotencyKey: `revote-${i}-${crypto.randomUUID()}`,
          nonce: newNonce(),
          contests: [{ contestId: "contest-president", optionIds: ["sel-president-aino-tamm"] }],
          commitment: `c-${i}`,
          trackingCode: `T-${i}`,
        }),
      ),
    );
    expect(outcomes.every((o) => o.ok)).toBe(true);
    expect(await ledger.status(SUPERSEDES, voterKey)).toEqual({ state: "online", revotes: 199, counted: 1 });
  });
});

describe("the outbox", () => {
  it("is flushed to the queues after a cast", async () => {
    await enrol(FIRST_WINS, "EE-OUTBOX-01", "district-south");
    const session = await voterSession(FIRST_WINS, "EE-OUTBOX-01");
    expect((await cast(FIRST_WINS, session, [])).status).toBe(201);
    const ledger = ledgerFor(env, FIRST_WINS, await voterKeyFor("EE-OUTBOX-01"));
    await waitFor(async () => ((await ledger.pendingOutbox()) === 0 ? true : undefined));
  });

  it("leaves no wake-up behind once sent: the ledger's alarm is the time to forget the links", async () => {
    await enrol(FIRST_WINS, "EE-OUTBOX-02", "district-south");
    const session = await voterSession(FIRST_WINS, "EE-OUTBOX-02");
    expect((await cast(FIRST_WINS, session, [])).status).toBe(201);
    const ledger = ledgerFor(env, FIRST_WINS, await voterKeyFor("EE-OUTBOX-02"));
    const { alarm, forgetAt, pending } = await runInDurableObject(ledger, async (instance, state) => {
      // Joins the flush the cast started, or runs one more: either way it has ended here.
      await (instance as unknown as { outbox: { flush(): Promise<void> } }).outbox.flush();
      return {
        alarm: await state.storage.getAlarm(),
        forgetAt: state.storage.sql.exec<{ at: number }>(`SELECT at FROM forget_links WHERE done = 0`).toArray()[0]?.at,
        pending: await instance.pendingOutbox(),
      };
    });
    // Nothing unsent, so no safety net five seconds ahead (that wake-up would find nothing to
    // send): the only alarm left is the one that forgets the voter-ballot links.
    expect(pending).toBe(0);
    expect(forgetAt).toBeDefined();
    expect(alarm).toBe(forgetAt);
  });
});
