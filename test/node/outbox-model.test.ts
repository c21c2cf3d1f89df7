/**
 * Model-based test of the station's outbox (station/db.ts, station/sync.ts; docs/PAPER.md "the
 * station's life and working offline"): random sequences of tasks written to the outbox
 * (check-ins online and decided offline, scans, cancellations, some of which the server refuses),
 * syncs against an in-process server that fails in every way a network does (cut, timed out, 503,
 * 429, or the answer lost after the server applied the request, or garbled), crashes of the
 * process (the store abandoned without closing and opened again from the same file) and orderly
 * restarts, checked after every step against a model: the ordered list of tasks, with for each
 * whether the server has decided it and whether the station has its answer.
 *
 * Properties, after every command:
 * - the server decides every task at most once, never sees an id it was not given or an id with
 *   another body (a resend is the same request), and decides them strictly in the order they
 *   were written: no task reaches it while an earlier one is undecided;
 * - the station's rows are the model's tasks in order, each pending, done or failed as the model
 *   says (nothing lost across a crash), and an answered row has dropped its body;
 * - the station's totals count each task's effect once: a refused scan or cancellation is taken
 *   back, an online check-in is counted when its answer arrives, an offline one when decided;
 * - a sync with the network up drains the outbox.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import type { StationDb } from "../../station/db.ts";
import { StationSetup } from "../../station/setup.ts";
import { Station } from "../../station/station.ts";
import type { OutboxSync } from "../../station/sync.ts";
import { type CancellationBody, type CheckInBody, type ScanBody } from "../../station/sync.ts";
import type { z } from "zod";

const ELECTION = "model-election";
const STATION = "model-station";

type Kind = "check-in" | "offline-check-in" | "scan" | "cancellation";

interface Task {
  readonly id: string;
  readonly kind: Kind;
  /** The server refuses this one for good (a 4xx with a code). */
  readonly refused: boolean;
  /** The server has decided it (whether or not the station heard the answer). */
  serverDecided: boolean;
  /** The station has the answer: the row is done or failed. */
  answered: boolean;
}

interface Model {
  readonly tasks: Task[];
}

/** How the request that meets the fault goes wrong. */
type Fault = "cut" | "timeout" | "503" | "429" | "lost-answer" | "garbled";

/** The server, in process: idempotent by request id, as the real one; the network in front of it. */
class FakeServer {
  /** The tasks the station wrote, in order, with the body each must carry. */
  readonly registered = new Map<string, { index: number; refused: boolean }>();
  /** Ids in the order the server first decided them, and what it answered. */
  readonly decided: string[] = [];
  private readonly answers = new Map<string, { status: number; body: unknown; request: string }>();
  /** Anything the station did wrong: an unknown id, another body for an id, a task out of order. */
  readonly violations: string[] = [];
  /** The requests still to be answered normally before `fault` strikes; undefined: no fault. */
  okLeft: number | undefined;
  fault: Fault = "cut";
  /** The index of the task the console is writing, whose id the server learns on first sight. */
  consoleTask: number | undefined;

  readonly fetch = async (request: Request): Promise<Response> => {
    if (this.okLeft !== undefined) {
      if (this.okLeft === 0) return this.faulty(request);
      this.okLeft -= 1;
    }
    return this.handle(request);
  };

  private async faulty(request: Request): Promise<Response> {
    switch (this.fault) {
      case "cut":
        throw new TypeError("fetch failed");
      case "timeout":
        throw new DOMException("The operation was aborted due to timeout", "TimeoutError");
      case "503":
        return json(503, { error: { code: "unavailable", message: "Try again." } }, { "retry-after": "1" });
      case "429":
        return json(429, { error: { code: "rate_limited", message: "Slow down." } }, { "retry-after": "2" });
      case "lost-answer":
        await this.handle(request);
        throw new TypeError("fetch failed: other side closed");
      case "garbled":
        await this.handle(request);
        return new Response("<html>proxy error", { status: 200 });
    }
  }

  private async handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    // The console asks for the election when it opens; this server has none to give.
    if (request.method === "GET" && path === `/v1/elections/${ELECTION}`) {
      return json(404, { error: { code: "election_not_found", message: "No such election." } });
    }
    const text = await request.text();
    const body = JSON.parse(text) as Record<string, unknown>;
    if (request.headers.get("station-signature") === null) this.violations.push(`unsigned request to ${path}`);
    const route = /^\/v1\/stations\/([^/]+)\/(check-ins|ballots|cancellations)$/.exec(path);
    if (!route || route[1] !== STATION) {
      this.violations.push(`request to ${path}`);
      return json(404, { error: { code: "not_found", message: "No such route." } });
    }
    const id = String(body["checkInId"] ?? body["scanId"] ?? body["cancellationId"]);
    const earlier = this.answers.get(id);
    if (earlier) {
      if (earlier.request !== text) {
        this.violations.push(`${id} sent again with another body`);
        return json(409, { error: { code: "idempotency_conflict", message: "Another request had this id." } });
      }
      const replay =
        typeof earlier.body === "object" && earlier.status < 300 ? { ...earlier.body, replayed: true } : earlier.body;
      return json(earlier.status, replay);
    }
    if (!this.registered.has(id) && this.consoleTask !== undefined) {
      this.registered.set(id, { index: this.consoleTask, refused: false });
      this.consoleTask = undefined;
    }
    const task = this.registered.get(id);
    if (!task) {
      this.violations.push(`unknown id ${id}`);
      return json(404, { error: { code: "not_found", message: "Unknown." } });
    }
    if (task.index !== this.decided.length) this.violations.push(`${id} (task ${task.index}) came out of order`);
    const answer = task.refused
      ? { status: 409, body: { error: { code: "refused_by_model", message: "The server refuses this task." } } }
      : { status: route[2] === "check-ins" ? 200 : 201, body: accepted(route[2]!, id, body) };
    this.decided.push(id);
    this.answers.set(id, { ...answer, request: text });
    return json(answer.status, answer.body);
  }
}

function accepted(route: string, id: string, body: Record<string, unknown>): Record<string, unknown> {
  const common = { electionId: ELECTION, stationId: STATION, replayed: false };
  if (route === "check-ins") {
    return {
      ...common,
      checkInId: id,
      ballotStyleId: "bs-north",
      districtId: "district-north",
      outcome: "issue-ballot",
    };
  }
  if (route === "ballots") {
    return {
      ...common,
      scanId: id,
      serial: 7,
      source: "marked-ballot",
      channel: "paper",
      trackingCode: `P-${id}`,
      acceptedAt: "2026-12-01T08:00:00.000Z",
      held: false,
    };
  }
  return { ...common, cancellationId: id, serial: body["serial"], reason: body["reason"] };
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json", ...headers } });
}

/** The station process (the console, its store and its sync), which a crash throws away. */
interface Real {
  readonly dir: string;
  readonly server: FakeServer;
  station: Station;
  db: StationDb;
  sync: OutboxSync;
  /** Stores abandoned by a crash, closed when the run ends. */
  readonly abandoned: StationDb[];
}

let setup: StationSetup;
let root: string;
let uniq = 0;

async function open(real: Pick<Real, "dir" | "server">): Promise<Pick<Real, "station" | "db" | "sync">> {
  const fetch = real.server.fetch;
  // The election is asked for as the console opens: no fault may strike that request.
  const okLeft = real.server.okLeft;
  real.server.okLeft = undefined;
  const station = await Station.open(setup, real.dir, { fetch });
  real.server.okLeft = okLeft;
  return { station, db: station.db, sync: station.sync };
}

/** Writes a task as the console does: its row and its effect on the totals, in one transaction. */
function write(real: Real, task: Task, now: string): void {
  const { db } = real;
  db.tx(() => {
    switch (task.kind) {
      case "check-in":
      case "offline-check-in": {
        const offline = task.kind === "offline-check-in";
        const body: CheckInBody = {
          checkInId: task.id,
          identity: { method: "id-card" },
          voterRef: `ref-${task.id}`,
          pollbookId: `pb-${task.id}`,
          ...(offline ? { offline: { decidedAt: now, envelope: "ABCD-2345" } } : {}),
        };
        db.insertOutbox({ kind: "check-in", requestId: task.id, body, signedAt: now, summary: "Check-in" });
        if (offline) {
          db.db.prepare("INSERT OR IGNORE INTO checked_in (id) VALUES (?)").run(`pb-${task.id}`);
          db.addTotal("checkIns", 1);
        }
        break;
      }
      case "scan": {
        const body: ScanBody = { scanId: task.id, qr: `QR-${task.id}`, tally: { ballots: 1, "opt-a": 1 } };
        db.insertOutbox({ kind: "scan", requestId: task.id, body, signedAt: now, summary: "Ballot scanned" });
        db.addTotal("ballots", 1);
        db.addTotal("opt-a", 1);
        break;
      }
      case "cancellation": {
        const body: z.infer<typeof CancellationBody> = { cancellationId: task.id, serial: 9, reason: "spoiled" };
        db.insertOutbox({ kind: "cancellation", requestId: task.id, body, signedAt: now, summary: "Cancelled" });
        db.addTotal("cancellations", 1);
        break;
      }
    }
  });
}

/** After every command: the station's store and the server agree with the model. */
function compare(model: Model, real: Real): void {
  const { server, db } = real;
  expect(server.violations).toEqual([]);
  // Decided by the server: exactly the model's, a prefix of the tasks, in order, once each.
  const decided = model.tasks.filter((t) => t.serverDecided).map((t) => t.id);
  expect(server.decided).toEqual(decided);
  expect(server.decided).toEqual(model.tasks.slice(0, decided.length).map((t) => t.id));
  // The answered tasks are a prefix too (strict order), and the station heard at most what the
  // server decided.
  const answered = model.tasks.filter((t) => t.answered).length;
  expect(model.tasks.slice(0, answered).every((t) => t.answered && t.serverDecided)).toBe(true);

  const rows = db.db.prepare("SELECT * FROM outbox ORDER BY seq").all() as unknown as {
    request_id: string;
    state: string;
    body: string | null;
    error_code: string | null;
    answer: string | null;
  }[];
  expect(rows.map((r) => r.request_id)).toEqual(model.tasks.map((t) => t.id));
  rows.forEach((row, i) => {
    const task = model.tasks[i]!;
    const state = !task.answered ? "pending" : task.refused ? "failed" : "done";
    expect({ id: row.request_id, state: row.state, body: row.body !== null }).toEqual({
      id: task.id,
      state,
      body: !task.answered,
    });
    if (state === "failed") expect(row.error_code).toBe("refused_by_model");
    if (state === "done" && task.kind !== "scan" && task.kind !== "cancellation") {
      expect(JSON.parse(row.answer ?? "{}")).toMatchObject({ outcome: "issue-ballot" });
    }
  });
  expect(db.countByState()).toEqual({
    pending: model.tasks.filter((t) => !t.answered).length,
    failed: model.tasks.filter((t) => t.answered && t.refused).length,
  });

  // Each task's effect on the totals, once.
  const live = (kind: Kind): Task[] => model.tasks.filter((t) => t.kind === kind && !(t.answered && t.refused));
  const checkedIn = [
    ...model.tasks.filter((t) => t.kind === "offline-check-in"),
    ...model.tasks.filter((t) => t.kind === "check-in" && t.answered && !t.refused),
  ];
  expect(db.total("ballots")).toBe(live("scan").length);
  expect(db.total("opt-a")).toBe(live("scan").length);
  expect(db.total("cancellations")).toBe(live("cancellation").length);
  expect(db.total("checkIns")).toBe(checkedIn.length);
  const ids = (db.db.prepare("SELECT id FROM checked_in ORDER BY id").all() as { id: string }[]).map((r) => r.id);
  expect(ids).toEqual(checkedIn.map((t) => `pb-${t.id}`).sort());
}

type OutboxCommand = fc.AsyncCommand<Model, Real>;

class Enqueue implements OutboxCommand {
  readonly kind: Kind;
  readonly refused: boolean;
  constructor(kind: Kind, refused: boolean) {
    this.kind = kind;
    this.refused = refused;
  }
  check = (): boolean => true;
  run(model: Model, real: Real): Promise<void> {
    uniq += 1;
    const task: Task = {
      id: `task-${uniq}`,
      kind: this.kind,
      refused: this.refused,
      serverDecided: false,
      answered: false,
    };
    real.server.registered.set(task.id, { index: model.tasks.length, refused: task.refused });
    write(real, task, new Date().toISOString());
    model.tasks.push(task);
    compare(model, real);
    return Promise.resolve();
  }
  toString = (): string => `enqueue(${this.kind}${this.refused ? ", refused" : ""})`;
}

/**
 * The model of one pass of sends in order: the unanswered tasks go through (`ok` of them when the
 * pass meets `fault`, all of them with the network up), and a fault that loses or garbles the
 * answer leaves the task it hit decided by the server but unanswered at the station.
 */
function modelSends(model: Model, ok: number, fault: Fault | undefined): void {
  const pending = model.tasks.filter((t) => !t.answered);
  const through = fault === undefined ? pending.length : Math.min(ok, pending.length);
  for (const task of pending.slice(0, through)) {
    task.serverDecided = true;
    task.answered = true;
  }
  const hit = pending[through];
  if (hit && (fault === "lost-answer" || fault === "garbled")) hit.serverDecided = true;
}

/** A sync pass: `ok` requests go through, then the next meets `fault` (undefined: none does). */
class Sync implements OutboxCommand {
  readonly ok: number;
  readonly fault: Fault | undefined;
  constructor(ok: number, fault: Fault | undefined) {
    this.ok = ok;
    this.fault = fault;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    real.server.okLeft = this.fault === undefined ? undefined : this.ok;
    if (this.fault !== undefined) real.server.fault = this.fault;
    await real.sync.syncNow();
    real.server.okLeft = undefined;

    modelSends(model, this.ok, this.fault);
    compare(model, real);
    // With the network up, the outbox drains.
    if (this.fault === undefined) expect(real.db.countByState().pending).toBe(0);
  }
  toString = (): string =>
    this.fault === undefined ? "sync(network up)" : `sync(${this.ok} through, then ${this.fault})`;
}

/**
 * The official cancels a ballot at the console: its row is written and sent at once, after every
 * entry before it (strict order), under the network as `ok` and `fault` say; what the console
 * tells the official must match what the outbox knows.
 */
class ConsoleCancel implements OutboxCommand {
  readonly ok: number;
  readonly fault: Fault | undefined;
  constructor(ok: number, fault: Fault | undefined) {
    this.ok = ok;
    this.fault = fault;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    const before = new Set(model.tasks.map((t) => t.id));
    real.server.okLeft = this.fault === undefined ? undefined : this.ok;
    if (this.fault !== undefined) real.server.fault = this.fault;
    // The console draws its cancellation's id itself: the server takes the first id it does not
    // know as that task's, and the test learns it from the row.
    real.server.consoleTask = model.tasks.length;
    let result: Awaited<ReturnType<Station["cancel"]>>;
    try {
      result = await real.station.cancel({ serial: 9, reason: "spoiled" });
    } finally {
      real.server.okLeft = undefined;
      real.server.consoleTask = undefined;
    }
    const row = real.db.db.prepare("SELECT request_id FROM outbox ORDER BY seq DESC LIMIT 1").get() as {
      request_id: string;
    };
    expect(before.has(row.request_id)).toBe(false);
    if (!real.server.registered.has(row.request_id)) {
      real.server.registered.set(row.request_id, { index: model.tasks.length, refused: false });
    }
    const task: Task = {
      id: row.request_id,
      kind: "cancellation",
      refused: false,
      serverDecided: false,
      answered: false,
    };
    model.tasks.push(task);
    modelSends(model, this.ok, this.fault);
    expect(result).toEqual({ outcome: task.answered ? "accepted" : "queued", serial: 9, reason: "spoiled" });
    compare(model, real);
  }
  toString = (): string =>
    this.fault === undefined ? "consoleCancel(network up)" : `consoleCancel(${this.ok} through, then ${this.fault})`;
}

/** The process dies: the store is abandoned as it is on disk and the station starts again. */
class Crash implements OutboxCommand {
  readonly orderly: boolean;
  constructor(orderly: boolean) {
    this.orderly = orderly;
  }
  check = (): boolean => true;
  async run(model: Model, real: Real): Promise<void> {
    if (this.orderly) await real.station.close();
    else real.abandoned.push(real.db);
    Object.assign(real, await open(real));
    compare(model, real);
  }
  toString = (): string => (this.orderly ? "restart" : "crash");
}

const kinds: Kind[] = ["check-in", "offline-check-in", "scan", "cancellation"];
const commands = fc.commands(
  [
    fc.tuple(fc.constantFrom(...kinds), fc.boolean()).map(([kind, refused]) => new Enqueue(kind, refused)),
    fc
      .tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.constantFrom<Fault>("cut", "timeout", "503", "429", "lost-answer", "garbled"), { nil: undefined }),
      )
      .map(([ok, fault]) => new Sync(ok, fault)),
    fc.boolean().map((orderly) => new Crash(orderly)),
    fc
      .tuple(
        fc.integer({ min: 0, max: 3 }),
        fc.option(fc.constantFrom<Fault>("cut", "timeout", "503", "429", "lost-answer", "garbled"), { nil: undefined }),
      )
      .map(([ok, fault]) => new ConsoleCancel(ok, fault)),
  ],
  { maxCommands: 20 },
);

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), "outbox-model-"));
  const key = await generateSigningKey(`${STATION}-k1`);
  setup = StationSetup.parse({
    v: 1,
    stationId: STATION,
    apiOrigin: "http://station-server.test",
    electionId: ELECTION,
    districtIds: ["district-north"],
    deviceKey: key.privateJwk,
  });
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

describe("the station outbox against a model of ordered, exactly-once delivery", () => {
  it("delivers every task once and in order through faults, crashes and restarts, and drains when the network is up", async () => {
    let runs = 0;
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        runs += 1;
        const server = new FakeServer();
        const dir = join(root, `run-${runs}`);
        const real: Real = { dir, server, abandoned: [], ...(await open({ dir, server })) };
        const model: Model = { tasks: [] };
        try {
          await fc.asyncModelRun(() => ({ model, real }), cmds);
          // Whatever happened on the way, the network coming back delivers everything.
          await new Sync(0, undefined).run(model, real);
          expect(server.decided).toEqual(model.tasks.map((t) => t.id));
        } finally {
          await real.station.close();
          for (const db of real.abandoned) db.close();
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { seed: 1616, numRuns: 300 },
    );
  }, 110_000);
});
