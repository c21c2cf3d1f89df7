/**
 * Sends the station's outbox to the server: strictly in the order it was written, one entry at a
 * time, each with its stored idempotency id and its stored device time, so that a resend (after a
 * timeout, a crash or a kill) is answered as the first send and nothing is applied twice.
 *
 * - An HTTP 2xx: the entry is done; its answer is applied locally and its body dropped, in one
 *   transaction (station/db.ts says what is kept).
 * - A definitive 4xx (not 429): the entry failed, with the server's code and message; the next one
 *   goes. A failed check-in does not stop the scans after it: they are other ballots, and a scan
 *   whose check-in failed fails by itself with the server's code.
 * - A network error, a timeout, a 5xx or a 429: the entry stays pending and waits, with exponential
 *   backoff and jitter (at least the Retry-After of a 429 or 503); nothing after it is sent first.
 *
 * Every pass runs under one lock (`exclusive`): the console's own tasks (a check-in that must be
 * decided now) take the same lock, so an entry is never being sent while it is being changed.
 */
import { StationCallError, StationClient, type CheckInAnswer } from "../lib/station-client/client.ts";
import type { StationSetup } from "./setup.ts";
import type { OutboxRow, StationDb } from "./db.ts";
import * as z from "zod";
import { ContestMarks } from "../lib/ballot/messages.ts";

/** How long the console waits for the server before it decides offline (docs/PAPER.md "Offline"). */
export const ONLINE_TIMEOUT_MS = 3_000;
const BULK_TIMEOUT_MS = 60_000;
const MAX_BACKOFF_MS = 60_000;
const BASE_BACKOFF_MS = 500;

const Identity = z.object({
  method: z.enum(["id-card", "id-card+biometric"]),
  biometric: z.object({ matched: z.boolean(), score: z.number().optional() }).optional(),
});

/** The bodies as the outbox stores them (what the server is sent, plus local bookkeeping). */
export const CheckInBody = z.object({
  checkInId: z.string(),
  identity: Identity,
  nationalId: z.string().optional(),
  voterRef: z.string().optional(),
  /** Local only: the pollbook id, to mark the voter checked in here when the server says issue. */
  pollbookId: z.string().optional(),
  offline: z.object({ decidedAt: z.string(), envelope: z.string() }).optional(),
});
export type CheckInBody = z.infer<typeof CheckInBody>;

export const ScanBody = z.object({
  scanId: z.string(),
  qr: z.string(),
  contests: z.array(ContestMarks).optional(),
  districtId: z.string().optional(),
  envelope: z.string().optional(),
  /** Local only: what this ballot added to the station's totals (taken back if the server refuses it). */
  tally: z.record(z.string(), z.number()),
});
export type ScanBody = z.infer<typeof ScanBody>;

export const CancellationBody = z.object({
  cancellationId: z.string(),
  serial: z.number(),
  reason: z.enum(["spoiled", "void"]),
  districtId: z.string().optional(),
});

export const ResultSheetBody = z.object({ qr: z.string(), sheet: z.unknown() });

/** What the official may still see of an answered entry. */
export const StoredAnswer = z
  .object({
    outcome: z.string().optional(),
    ballotStyleId: z.string().optional(),
    districtId: z.string().optional(),
    conflictId: z.string().optional(),
    serial: z.number().optional(),
    held: z.boolean().optional(),
    consistent: z.boolean().optional(),
  })
  .strict();
export type StoredAnswer = z.infer<typeof StoredAnswer>;

type SendOutcome = "answered" | "retry";

export class OutboxSync {
  online = false;
  lastSyncAt: string | null = null;
  lastError: { code: string; message: string } | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private retryAfterMs: number | undefined;
  private loop: { stop: boolean; timer?: NodeJS.Timeout; wake?: () => void } | undefined;
  readonly client: StationClient;
  /** The same, with a longer timeout: pollbook pages are large. */
  readonly bulkClient: StationClient;
  private readonly db: StationDb;
  private readonly setup: StationSetup;

  constructor(db: StationDb, setup: StationSetup, fetchImpl: (request: Request) => Promise<Response> = fetch) {
    this.db = db;
    this.setup = setup;
    this.bulkClient = new StationClient({
      baseUrl: setup.apiOrigin,
      stationId: setup.stationId,
      privateJwk: setup.deviceKey,
      fetch: (request) => fetchImpl(new Request(request, { signal: AbortSignal.timeout(BULK_TIMEOUT_MS) })),
    });
    this.client = new StationClient({
      baseUrl: setup.apiOrigin,
      stationId: setup.stationId,
      privateJwk: setup.deviceKey,
      fetch: async (request) => {
        this.retryAfterMs = undefined;
        const response = await fetchImpl(new Request(request, { signal: AbortSignal.timeout(ONLINE_TIMEOUT_MS) }));
        const retryAfter = response.headers.get("retry-after");
        if (retryAfter !== null) {
          const seconds = Number(retryAfter);
          this.retryAfterMs = Number.isFinite(seconds)
            ? seconds * 1000
            : Math.max(0, Date.parse(retryAfter) - Date.now());
        }
        return response;
      },
    });
  }

  /** Runs `fn` when no pass and no other task holds the outbox. */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.chain.then(fn, fn);
    this.chain = run.catch(() => undefined);
    return run;
  }

  /**
   * One pass, the lock held by the caller: sends pending entries in order until none is left,
   * one must wait (a network error or backoff), `untilSeq` is answered, or `deadlineMs` passes.
   */
  async passLocked(options: { untilSeq?: number; ignoreBackoff?: boolean; deadlineMs?: number } = {}): Promise<void> {
    let answered = 0;
    for (;;) {
      const row = this.db.firstPending();
      if (!row) break;
      if (options.untilSeq !== undefined && row.seq > options.untilSeq) break;
      if (!options.ignoreBackoff && row.next_attempt_ms > Date.now()) break;
      if (options.deadlineMs !== undefined && Date.now() >= options.deadlineMs) break;
      if ((await this.send(row)) === "retry") break;
      answered++;
    }
    // Answered rows dropped their bodies: make sure no copy of them stays in the WAL.
    if (answered > 0) this.db.scrub();
  }

  /** One pass now, backoff or not: what `station sync` and the console's "sync now" do. */
  syncNow(): Promise<void> {
    return this.exclusive(() => this.passLocked({ ignoreBackoff: true }));
  }

  /** A loop that keeps syncing while the client serves. */
  start(): void {
    if (this.loop) return;
    const loop: { stop: boolean; timer?: NodeJS.Timeout; wake?: () => void } = { stop: false };
    this.loop = loop;
    const tick = async (): Promise<void> => {
      while (!loop.stop) {
        try {
          await this.exclusive(() => (loop.stop ? Promise.resolve() : this.passLocked()));
        } catch (error) {
          // A pass that threw (a store error) is logged and retried on the next turn.
          if (!loop.stop) console.error(`station sync: ${error instanceof Error ? error.message : String(error)}`);
        }
        if (loop.stop) break;
        const next = this.db.firstPending();
        const wait = next ? Math.min(Math.max(next.next_attempt_ms - Date.now(), 250), 5_000) : 2_000;
        await new Promise<void>((resolve) => {
          loop.wake = resolve;
          loop.timer = setTimeout(resolve, wait);
        });
      }
    };
    void tick();
  }

  /** Resolves when no pass or task holds the outbox any more. */
  idle(): Promise<void> {
    return this.chain.then(() => undefined);
  }

  stop(): void {
    if (!this.loop) return;
    this.loop.stop = true;
    clearTimeout(this.loop.timer);
    this.loop.wake?.();
    this.loop = undefined;
  }

  private async send(row: OutboxRow): Promise<SendOutcome> {
    const attemptAt = new Date().toISOString();
    try {
      const answer = await this.call(row);
      this.online = true;
      this.lastSyncAt = attemptAt;
      this.lastError = null;
      this.db.tx(() => this.applyAnswer(row, answer, attemptAt));
      return "answered";
    } catch (error) {
      if (error instanceof StationCallError && error.status >= 400 && error.status < 500 && error.status !== 429) {
        this.online = true;
        this.lastSyncAt = attemptAt;
        if (error.code === "polls_closed") this.db.setMeta("pollsClosedSeenAt", attemptAt);
        // StationCallError's message starts with its code; the row keeps the two apart.
        const message = error.message.startsWith(`${error.code}: `)
          ? error.message.slice(error.code.length + 2)
          : error.message;
        this.db.tx(() => this.applyFailure(row, error.code, message, attemptAt));
        return "answered";
      }
      const code = error instanceof StationCallError ? error.code : "network_error";
      const message = error instanceof Error ? error.message : String(error);
      // An HTTP answer (5xx, 429, or a 2xx we could not read) means the server is there;
      // anything else (refused, reset, timed out) means it is not.
      this.online = error instanceof StationCallError || error instanceof z.ZodError;
      this.lastError = { code, message };
      const attempts = row.attempts + 1;
      const backoff = Math.min(MAX_BACKOFF_MS, BASE_BACKOFF_MS * 2 ** (attempts - 1)) * (0.5 + Math.random() / 2);
      const wait = Math.max(backoff, this.retryAfterMs ?? 0);
      this.db.db
        .prepare(
          "UPDATE outbox SET attempts = ?, next_attempt_ms = ?, last_attempt_at = ?, error_code = ?, error_message = ? WHERE seq = ?",
        )
        .run(attempts, Date.now() + Math.round(wait), attemptAt, code, message.slice(0, 500), row.seq);
      return "retry";
    }
  }

  private async call(row: OutboxRow): Promise<StoredAnswer> {
    const electionId = this.setup.electionId;
    const json: unknown = JSON.parse(row.body ?? "null");
    switch (row.kind) {
      case "check-in": {
        const body = CheckInBody.parse(json);
        const identity =
          body.identity.method === "id-card"
            ? { method: "id-card" as const }
            : {
                method: "id-card+biometric" as const,
                ...(body.identity.biometric ? { biometric: body.identity.biometric } : {}),
              };
        const answer: CheckInAnswer =
          body.voterRef !== undefined
            ? await this.client.checkIn({
                electionId,
                identity,
                checkInId: body.checkInId,
                voterRef: body.voterRef,
                ...(body.offline
                  ? { offline: { decidedAt: new Date(body.offline.decidedAt), envelope: body.offline.envelope } }
                  : {}),
              })
            : await this.client.checkIn({
                electionId,
                identity,
                checkInId: body.checkInId,
                nationalId: body.nationalId ?? "",
              });
        return {
          outcome: answer.outcome,
          ballotStyleId: answer.ballotStyleId,
          districtId: answer.districtId,
          ...(answer.outcome === "held" ? { conflictId: answer.conflictId } : {}),
        };
      }
      case "scan": {
        const body = ScanBody.parse(json);
        const answer = await this.client.scan({
          electionId,
          qr: body.qr,
          scanId: body.scanId,
          scannedAt: new Date(row.signed_at),
          ...(body.contests ? { contests: body.contests } : {}),
          ...(body.districtId !== undefined ? { districtId: body.districtId } : {}),
          ...(body.envelope !== undefined ? { envelope: body.envelope } : {}),
        });
        return { serial: answer.serial, held: answer.held };
      }
      case "cancellation": {
        const body = CancellationBody.parse(json);
        const answer = await this.client.cancelBallot({
          electionId,
          serial: body.serial,
          reason: body.reason,
          cancellationId: body.cancellationId,
          ...(body.districtId !== undefined ? { districtId: body.districtId } : {}),
        });
        return { serial: answer.serial };
      }
      case "result-sheet": {
        const body = ResultSheetBody.parse(json);
        const answer = await this.client.submitResultSheet({ electionId, qr: body.qr });
        return { consistent: answer.reconciliation.consistent };
      }
    }
  }

  private stillPending(seq: number): boolean {
    return this.db.outboxRow(seq)?.state === "pending";
  }

  /** In the caller's transaction: the entry is done; apply what its answer means here, drop its body. */
  private applyAnswer(row: OutboxRow, answer: StoredAnswer, at: string): void {
    // Another process on the same store (the CLI beside a serving console) may have answered it
    // already: apply an answer once.
    if (!this.stillPending(row.seq)) return;
    if (row.kind === "check-in") {
      const body = CheckInBody.parse(JSON.parse(row.body ?? "null"));
      // An offline decision counted its check-in when it was made; an online one counts now.
      if (!body.offline && answer.outcome === "issue-ballot") {
        this.db.addTotal("checkIns", 1);
        if (body.pollbookId !== undefined) {
          this.db.db.prepare("INSERT OR IGNORE INTO checked_in (id) VALUES (?)").run(body.pollbookId);
        }
      }
    }
    // A result sheet keeps its body (the signed totals, no voter in them) to be shown again.
    const keepBody = row.kind === "result-sheet";
    this.db.db
      .prepare(
        `UPDATE outbox SET state = 'done', attempts = attempts + 1, last_attempt_at = ?, answer = ?,
           error_code = NULL, error_message = NULL${keepBody ? "" : ", body = NULL"} WHERE seq = ?`,
      )
      .run(at, JSON.stringify(answer), row.seq);
  }

  /** In the caller's transaction: the server refused the entry for good. */
  private applyFailure(row: OutboxRow, code: string, message: string, at: string): void {
    if (!this.stillPending(row.seq)) return;
    if (row.kind === "scan") {
      // The server will not count this ballot: neither does the station's sheet.
      const body = ScanBody.parse(JSON.parse(row.body ?? "null"));
      for (const [key, n] of Object.entries(body.tally)) this.db.addTotal(key, -n);
    }
    if (row.kind === "cancellation") this.db.addTotal("cancellations", -1);
    markFailed(this.db, row.seq, code, message, at, row.kind !== "result-sheet");
  }
}

/** Marks an entry failed with a code and a sentence, dropping its body unless asked to keep it. */
export function markFailed(
  db: StationDb,
  seq: number,
  code: string,
  message: string,
  at: string,
  dropBody = true,
): void {
  db.db
    .prepare(
      `UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_attempt_at = ?, error_code = ?,
         error_message = ?${dropBody ? ", body = NULL" : ""} WHERE seq = ?`,
    )
    .run(at, code, message.slice(0, 500), seq);
}
