/**
 * Live results fan-out (issue 11, items 1 and 2): the aggregator cuts and publishes by itself,
 * relays hold the displays' WebSockets and push updates, reconnects get only the change, and the
 * same public snapshots are served over HTTP. The tests' relay tree is small (vitest.config.ts:
 * 3 relays, fan-out 2, 3 sockets each) so that a few sockets fill a relay.
 */
import { env, runInDurableObject, SELF } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  applyUpdate,
  HEARTBEAT_TIMEOUT_MS,
  LatestPointer,
  LiveMessage,
  type LiveSnapshot,
  type LiveUpdate,
} from "../../lib/results/live.ts";
import { relayIndexFor, resultsRelayFor } from "../../durable-objects/addresses.ts";
import { adminToken, BASE, officialToken, voterSession } from "./helpers/auth.ts";
import { cast, NORTH_BALLOT, waitFor } from "./helpers/cast.ts";
import { loadClosingSoonDemo, loadDemoElection } from "./helpers/election.ts";
import { enrol } from "./helpers/roll.ts";

const RELAYS = 3;

let hosts = 0;
/** A host of its own for each HTTP read, so the edge cache (keyed by URL) never answers it. */
function freshBase(): string {
  hosts += 1;
  return `https://fanout${hosts}.vote.example`;
}

/** One display: every message it received, in order, and how its socket ended. */
class Display {
  readonly messages: LiveMessage[] = [];
  pongs = 0;
  closedWith: number | undefined;

  readonly ws: WebSocket;

  constructor(ws: WebSocket) {
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (event.data === "pong") {
        this.pongs += 1;
        return;
      }
      this.messages.push(LiveMessage.parse(JSON.parse(String(event.data))));
    });
    ws.addEventListener("close", (event) => {
      this.closedWith = event.code;
    });
    ws.accept();
  }

  /** The release this display holds: its first snapshot with every update applied in order. */
  view(): LiveSnapshot | undefined {
    let held: LiveSnapshot | undefined;
    for (const m of this.messages) {
      if (m.type === "snapshot") held = m;
      else if (m.type === "update") {
        if (!held) throw new Error("an update before any snapshot");
        const next = applyUpdate(held, m);
        if (!next) throw new Error(`update from ${m.from} to ${m.version} does not apply to ${held.version}`);
        held = next;
      }
    }
    return held;
  }

  async until<T>(probe: (d: Display) => T | undefined): Promise<T> {
    return waitFor(async () => probe(this));
  }

  close(): void {
    try {
      this.ws.close(1000, "done");
    } catch {
      // already closed
    }
  }
}

async function upgrade(path: string, headers: Record<string, string> = {}): Promise<Response> {
  return SELF.fetch(`${BASE}${path}`, {
    headers: { upgrade: "websocket", "cf-connecting-ip": "10.77.0.1", ...headers },
  });
}

async function connect(path: string, headers: Record<string, string> = {}): Promise<Display> {
  const res = await upgrade(path, headers);
  expect(res.status).toBe(101);
  if (!res.webSocket) throw new Error("no socket");
  return new Display(res.webSocket);
}

function livePath(electionId: string, query: Record<string, string | number> = {}): string {
  const q = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  const s = q.toString();
  return `/v1/elections/${electionId}/results/live${s ? `?${s}` : ""}`;
}

async function latest(electionId: string): Promise<LatestPointer> {
  const res = await SELF.fetch(`${freshBase()}/v1/elections/${electionId}/results/latest`, {
    headers: { "cf-connecting-ip": "10.77.0.2" },
  });
  expect(res.status).toBe(200);
  expect(res.headers.get("cache-control")).toBe("public, max-age=1");
  return LatestPointer.parse(await res.json());
}

async function castNorth(electionId: string, nationalId: string): Promise<void> {
  const session = await voterSession(electionId, nationalId);
  expect((await cast(electionId, session, NORTH_BALLOT)).status).toBe(201);
}

function presidentVotes(snapshot: LiveSnapshot): number | undefined {
  return snapshot.totals.contests
    .find((c) => c.contestId === "contest-president")
    ?.options.find((o) => o.optionId === "sel-president-aino-tamm")?.votes;
}

function relay(electionId: string, channel: "public" | "official", index: number) {
  return resultsRelayFor(env, electionId, channel, index);
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("a display on the public channel", () => {
  const E = "fanout-live";
  const VOTERS = 5;

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
    for (let i = 0; i < VOTERS; i += 1) await enrol(E, `EE-FAN-${i}`, "district-north");
  });

  it("gets the snapshot, then updates in version order as ballots are cast, the same as the HTTP snapshots; a reconnect gets only the change", async () => {
    // Nothing released yet: the pointer says so (and this read hands the aggregator its settings).
    expect(await latest(E)).toEqual({ electionId: E, version: 0, asOf: null, snapshot: null });

    await castNorth(E, "EE-FAN-0");
    // The aggregator publishes on its own: no reader asks for results.
    const first = await waitFor(async () => {
      const p = await latest(E);
      return p.version >= 1 ? p : undefined;
    });
    expect(first.snapshot).toBe(`/v1/elections/${E}/results/snapshots/${first.version}`);

    // This display's relay is a child of relay 0: what it gets has crossed the relay tree.
    expect(relayIndexFor("wall-1", RELAYS)).not.toBe(0);
    const display = await connect(livePath(E, { display: "wall-1" }), { "sec-websocket-protocol": "results.v1" });
    const opening = await display.until((d) => d.messages[0]);
    expect(opening).toMatchObject({ type: "snapshot", electionId: E, channel: "public", version: first.version });
    if (opening.type !== "snapshot") throw new Error("not a snapshot");
    expect(opening).toMatchObject({ exact: false, choices: true, closed: false });
    expect(opening.totals.ballots).toBe(1);
    expect(presidentVotes(opening)).toBe(1);

    for (let i = 1; i < VOTERS; i += 1) {
      await castNorth(E, `EE-FAN-${i}`);
      await display.until((d) => ((d.view()?.totals.ballots ?? 0) >= i + 1 ? true : undefined));
    }
    // Every message after the first is an update from the version before it, versions only grow.
    const updates = display.messages.slice(1) as LiveUpdate[];
    expect(updates.length).toBeGreaterThan(0);
    let version = opening.version;
    for (const u of updates) {
      expect(u.type).toBe("update");
      expect(u.from).toBe(version);
      expect(u.version).toBeGreaterThan(version);
      version = u.version;
    }
    const held = display.view();
    if (!held) throw new Error("nothing held");
    expect(held.totals.ballots).toBe(VOTERS);
    expect(presidentVotes(held)).toBe(VOTERS);

    // The latest pointer moved to the version the display holds, and the immutable HTTP snapshot
    // at that version is what the socket delivered.
    const pointer = await waitFor(async () => {
      const p = await latest(E);
      return p.version === held.version ? p : undefined;
    });
    const res = await SELF.fetch(`${freshBase()}${pointer.snapshot ?? ""}`, {
      headers: { "cf-connecting-ip": "10.77.0.3" },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(await res.json()).toEqual(held);
    // The first version too, though it is long superseded.
    const old = await SELF.fetch(`${freshBase()}/v1/elections/${E}/results/snapshots/${opening.version}`);
    expect(await old.json()).toEqual(opening);
    const missing = await SELF.fetch(`${freshBase()}/v1/elections/${E}/results/snapshots/${held.version + 100}`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "snapshot_not_found" } });

    display.close();

    // Reconnects: up to date gets `current`; an older held version gets one update from it; an
    // unknown version gets the whole snapshot.
    const upToDate = await connect(livePath(E, { display: "wall-1", since: held.version }));
    expect(await upToDate.until((d) => d.messages[0])).toEqual({
      type: "current",
      electionId: E,
      channel: "public",
      version: held.version,
    });
    upToDate.close();

    const behind = await connect(livePath(E, { display: "wall-1", since: opening.version }));
    const change = await behind.until((d) => d.messages[0]);
    expect(change).toMatchObject({ type: "update", from: opening.version, version: held.version });
    if (change.type !== "update") throw new Error("not an update");
    expect(applyUpdate(opening, change)).toEqual(held);
    behind.close();

    const unknown = await connect(livePath(E, { display: "wall-1", since: 0 }));
    expect(await unknown.until((d) => d.messages[0])).toEqual(held);
    unknown.close();
  });

  it("is described in the OpenAPI document", async () => {
    const doc: { paths: Record<string, unknown> } = await (await SELF.fetch(`${BASE}/openapi.json`)).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining([
        "/v1/elections/{electionId}/results/live",
        "/v1/admin/elections/{electionId}/results/live",
        "/v1/elections/{electionId}/results/latest",
        "/v1/elections/{electionId}/results/snapshots/{version}",
      ]),
    );
  });

  it("refuses a request that is no WebSocket upgrade, and an unknown election", async () => {
    const plain = await SELF.fetch(`${BASE}${livePath(E)}`, { headers: { "cf-connecting-ip": "10.77.0.4" } });
    expect(plain.status).toBe(426);
    expect(await plain.json()).toMatchObject({ error: { code: "upgrade_required" } });
    const unknown = await upgrade(livePath("fanout-nowhere"));
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: "election_not_found" } });
    const bad = await upgrade(livePath(E, { since: "-1" }));
    expect(bad.status).toBe(400);
  });
});

describe("a relay evicted mid-stream", () => {
  const E = "fanout-evict";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
    for (let i = 0; i < 3; i += 1) await enrol(E, `EE-EVICT-${i}`, "district-north");
  });

  it("loses the display no more than a reconnect: it comes back with its version and misses nothing", async () => {
    await latest(E);
    await castNorth(E, "EE-EVICT-0");
    await waitFor(async () => ((await latest(E)).version >= 1 ? true : undefined));

    const display = await connect(livePath(E, { display: "evicted-wall" }));
    await display.until((d) => d.view());
    await castNorth(E, "EE-EVICT-1");
    const before = await display.until((d) => {
      const v = d.view();
      return v && v.totals.ballots === 2 ? v : undefined;
    });

    // The relay that holds it is reset (as on a restart or an eviction that drops its memory);
    // it is relay 0, the root of the tree, which the aggregator calls.
    const index = relayIndexFor("evicted-wall", RELAYS);
    expect(index).toBe(0);
    await runInDurableObject(relay(E, "public", index), (_instance, state) => state.abort("evicted")).catch(
      () => undefined,
    );
    await display.until((d) => (d.closedWith !== undefined ? true : undefined));

    // A ballot lands while the display is away.
    await castNorth(E, "EE-EVICT-2");
    await waitFor(async () => ((await latest(E)).version > before.version ? true : undefined));

    // It reconnects with the version it holds and gets exactly the change.
    const back = await connect(livePath(E, { display: "evicted-wall", since: before.version }));
    const change = await back.until((d) => d.messages[0]);
    expect(change).toMatchObject({ type: "update", from: before.version });
    if (change.type !== "update") throw new Error("not an update");
    const now = applyUpdate(before, change);
    expect(now?.totals.ballots).toBe(3);
    expect(now && presidentVotes(now)).toBe(3);
    back.close();
  });
});

describe("a relay with no display", () => {
  const E = "fanout-idle";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
    for (let i = 0; i < 3; i += 1) await enrol(E, `EE-IDLE-${i}`, "district-north");
  });

  /** The versions a relay holds in SQLite (the relay's own storage). */
  async function storedVersions(index: number): Promise<number[]> {
    return runInDurableObject(relay(E, "public", index), (_instance, state) =>
      state.storage.sql
        .exec<{ version: number }>(`SELECT version FROM versions ORDER BY version`)
        .toArray()
        .map((r) => r.version),
    );
  }

  /** A display name that the gateway places on relay `index`. */
  function displayOn(index: number, tag: string): string {
    for (let i = 0; ; i += 1) if (relayIndexFor(`${tag}-${i}`, RELAYS) === index) return `${tag}-${i}`;
  }

  it("gets no publish until a display comes to its subtree, writes no snapshot while it holds no socket, and after an eviction never shows a stale one", async () => {
    const index = 1;
    await latest(E);
    await castNorth(E, "EE-IDLE-0");
    const first = await waitFor(async () => {
      const status = await relay(E, "public", 0).status();
      return status.version >= 1 ? status.version : undefined;
    });
    // The root has it; relay 1 has no display in its subtree, so the root forwards nothing to it.
    await pause(500);
    expect((await relay(E, "public", index).status()).version).toBe(0);
    expect(await storedVersions(index)).toEqual([]);

    // A display comes: the relay registers with the root, starts from the root's release, and
    // writes the version the display is shown before it sees it.
    const display = await connect(livePath(E, { display: displayOn(index, "idle-wall") }));
    const seen = await display.until((d) => d.view());
    expect(seen.version).toBe(first);
    expect(await storedVersions(index)).toEqual([first]);
    display.close();
    await waitFor(async () => ((await relay(E, "public", index).status()).sockets === 0 ? true : undefined));

    // Once active, it gets every release, with or without a socket; with none it writes nothing
    // and clears what SQLite held, so an evicted relay cannot come back with an old version.
    await castNorth(E, "EE-IDLE-1");
    const second = await waitFor(async () => {
      const status = await relay(E, "public", index).status();
      return status.version > first ? status.version : undefined;
    });
    expect(await storedVersions(index)).toEqual([]);
    await runInDurableObject(relay(E, "public", index), (_instance, state) => state.abort("evicted")).catch(
      () => undefined,
    );

    // Cold again: it asks the aggregator, and a new display gets the latest release.
    const again = await connect(livePath(E, { display: displayOn(index, "idle-wall-2") }));
    const shown = await again.until((d) => d.view());
    expect(shown.version).toBe(second);
    expect(shown.totals.ballots).toBe(2);
    again.close();

    // Relay 2 never had a display in its subtree: it never got a release.
    expect((await relay(E, "public", 2).status()).version).toBe(0);
  });
});

describe("the aggregator's load", () => {
  const E = "fanout-load";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
    await enrol(E, "EE-FAN-LOAD", "district-north");
  });

  async function aggregatorCalls(): Promise<number> {
    const res = await SELF.fetch(`${BASE}/v1/admin/elections/${E}/results/aggregator`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(res.status).toBe(200);
    const body: unknown = await res.json();
    const calls = (body as { calls?: unknown }).calls;
    if (typeof calls !== "number") throw new Error("no call count");
    return calls;
  }

  it("does not grow with the displays: once a release is published, connecting displays costs it no call", async () => {
    await castNorth(E, "EE-FAN-LOAD");
    // Loading the election configured the aggregator: the release comes with no reader asking.
    await waitFor(async () => ((await latest(E)).version >= 1 ? true : undefined));
    const first = await connect(livePath(E, { display: "load-0" }));
    await first.until((d) => d.messages[0]);
    // A relay a display comes to registers with its parent and starts from the parent's release.
    const before = await aggregatorCalls();
    const displays = await Promise.all(
      Array.from({ length: 6 }, async (_, i) => {
        const d = await connect(livePath(E, { display: `load-${i + 1}` }));
        await d.until((x) => x.messages[0]);
        return d;
      }),
    );
    expect(displays.every((d) => d.messages[0]?.type === "snapshot")).toBe(true);
    expect(await aggregatorCalls()).toBe(before);
    for (const d of [first, ...displays]) d.close();
  });

  it("is shown to administrators only", async () => {
    const res = await SELF.fetch(`${BASE}/v1/admin/elections/${E}/results/aggregator`);
    expect(res.status).toBe(401);
    const unknown = await SELF.fetch(`${BASE}/v1/admin/elections/no-such-election/results/aggregator`, {
      headers: { authorization: `Bearer ${await adminToken()}` },
    });
    expect(unknown.status).toBe(404);
  });
});

describe("relay capacity", () => {
  const E = "fanout-full";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
  });

  it("places a display on the next relay when its own is full, and says when all are", async () => {
    const home = relayIndexFor("busy-wall", RELAYS);
    const displays: Display[] = [];
    for (let i = 0; i < 3; i += 1) displays.push(await connect(livePath(E, { display: "busy-wall" })));
    expect((await relay(E, "public", home).status()).sockets).toBe(3);
    // The fourth with the same id is refused there and placed on the next relay.
    displays.push(await connect(livePath(E, { display: "busy-wall" })));
    expect((await relay(E, "public", home).status()).sockets).toBe(3);
    expect((await relay(E, "public", (home + 1) % RELAYS).status()).sockets).toBe(1);
    // Fill the rest: 3 relays of 3 sockets.
    for (let i = 0; i < 5; i += 1) displays.push(await connect(livePath(E, { display: "busy-wall" })));
    for (let i = 0; i < RELAYS; i += 1) expect((await relay(E, "public", i).status()).sockets).toBe(3);
    const refused = await upgrade(livePath(E, { display: "busy-wall" }));
    expect(refused.status).toBe(503);
    expect(refused.headers.get("retry-after")).toBe("5");
    expect(await refused.json()).toMatchObject({ error: { code: "results_relays_full" } });
    for (const d of displays) d.close();
  });
});

describe("heartbeats", () => {
  const E = "fanout-heartbeat";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "live", minBallotsPerRelease: 1 });
  });

  it("drops a socket silent past the timeout, keeps one that pings, and closes one that says anything else", async () => {
    const index = relayIndexFor("quiet-wall", RELAYS);
    // Times taken on this side bracket the relay's: it saw the connections after `before`, the
    // ping after `pingSentAt`, and answered it before `pongedAt`.
    const before = Date.now();
    const quiet = await connect(livePath(E, { display: "quiet-wall" }));
    const chatty = await connect(livePath(E, { display: "quiet-wall" }));
    await pause(1_500);
    const pingSentAt = Date.now();
    chatty.ws.send("ping");
    await chatty.until((d) => (d.pongs > 0 ? true : undefined));
    const pongedAt = Date.now();

    const stub = relay(E, "public", index);
    // Within the timeout of their connections, nothing is dropped.
    expect(await stub.sweep(before + HEARTBEAT_TIMEOUT_MS - 1_000)).toBe(0);
    // Past the quiet socket's timeout but not past the ping: only the quiet one goes.
    expect(await stub.sweep(pingSentAt + HEARTBEAT_TIMEOUT_MS - 200)).toBe(1);
    await quiet.until((d) => (d.closedWith !== undefined ? true : undefined));
    expect(quiet.closedWith).toBe(1001);
    expect(chatty.closedWith).toBeUndefined();
    expect((await stub.status()).sockets).toBe(1);
    // And the pinging one too, once its ping is old.
    expect(await stub.sweep(pongedAt + HEARTBEAT_TIMEOUT_MS + 1_000)).toBe(1);
    await chatty.until((d) => (d.closedWith !== undefined ? true : undefined));

    // Displays only ping: a socket that says anything else is closed.
    const talker = await connect(livePath(E, { display: "talker-wall" }));
    talker.ws.send("hello");
    await talker.until((d) => (d.closedWith !== undefined ? true : undefined));
    expect(talker.closedWith).toBe(1008);
  });
});

describe("an after-close election's public channel", () => {
  const E = "fanout-after-close";

  it("carries turnout only before the close and the exact figures after it", async () => {
    const closesAt = await loadClosingSoonDemo(E, 12_000, {
      resultsVisibility: "after-close",
      minBallotsPerRelease: 1,
    });
    await enrol(E, "EE-AFTER-0", "district-north");
    const display = await connect(livePath(E, { display: "after-wall" }));
    await castNorth(E, "EE-AFTER-0");

    const before = await display.until((d) => {
      const v = d.view();
      return v && v.totals.ballots === 1 ? v : undefined;
    });
    expect(Date.now()).toBeLessThan(closesAt);
    expect(before).toMatchObject({ choices: false, exact: false, closed: false });
    expect(before.totals.contests).toEqual([]);
    expect(before.totals.districts).toEqual([{ districtId: "district-north", ballots: 1, contests: [] }]);
    // The stored snapshot is the same: nothing in R2 holds a choice before the close.
    const stored = await SELF.fetch(`${freshBase()}/v1/elections/${E}/results/snapshots/${before.version}`);
    expect(await stored.json()).toEqual(before);

    // At the close, without any new report, the exact release arrives.
    const after = await display.until((d) => {
      const v = d.view();
      return v?.closed ? v : undefined;
    });
    expect(after.asOf).toBeGreaterThanOrEqual(closesAt);
    expect(after).toMatchObject({ choices: true, exact: true, closed: true });
    expect(presidentVotes(after)).toBe(1);
    expect(after.totals.districts[0]?.contests.length).toBeGreaterThan(0);
    display.close();
  });
});

describe("the official channel", () => {
  const E = "fanout-official";

  beforeAll(async () => {
    await loadDemoElection({ electionId: E, resultsVisibility: "after-close", minBallotsPerRelease: 25 });
    await enrol(E, "EE-OFF-0", "district-north");
  });

  it("refuses no token, a voter's token and a station official, and gives administrators and auditors the exact sums at once", async () => {
    const path = `/v1/admin/elections/${E}/results/live`;
    const none = await upgrade(path);
    expect(none.status).toBe(401);
    expect(await none.json()).toMatchObject({ error: { code: "unauthenticated" } });
    const session = await voterSession(E, "EE-OFF-0");
    const voter = await upgrade(path, { authorization: `Bearer ${session}` });
    expect(voter.status).toBe(401);
    expect(voter.webSocket).toBeNull();
    const station = await upgrade(path, { authorization: `Bearer ${await officialToken("station-official")}` });
    expect(station.status).toBe(403);
    expect(await station.json()).toMatchObject({ error: { code: "forbidden" } });
    const plain = await SELF.fetch(`${BASE}${path}`, { headers: { authorization: `Bearer ${await adminToken()}` } });
    expect(plain.status).toBe(426);

    const official = await connect(path, { authorization: `Bearer ${await adminToken()}` });
    await castNorth(E, "EE-OFF-0");
    // One ballot, k = 25 and after-close: the public sees nothing; the official channel does.
    const exact = await official.until((d) => {
      const v = d.view();
      return v && v.totals.ballots === 1 ? v : undefined;
    });
    expect(exact).toMatchObject({ channel: "official", exact: true, choices: true, closed: false });
    expect(presidentVotes(exact)).toBe(1);
    expect((await latest(E)).version).toBe(0);
    official.close();

    // An auditor may watch too, and starts from the same exact release.
    const auditor = await connect(path, { authorization: `Bearer ${await officialToken("auditor")}` });
    expect(await auditor.until((d) => d.view())).toEqual(exact);
    auditor.close();
  });
});
