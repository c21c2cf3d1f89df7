/**
 * The polling station's client (StationOperations, station/operations.ts): what the console and
 * the command line drive. Every task is written to the local outbox first, in one transaction with
 * the counts it changes, and only then sent (station/sync.ts), so an acknowledged task survives a
 * crash and is sent exactly once.
 *
 * Check-in (docs/PAPER.md "Offline"): the typed national id is normalised and looked up in the
 * local pollbook; the outbox holds the entry's ref, never the national id (a voter not in the
 * pollbook may still be asked about online, by national id, which the row holds until answered).
 * The entry is sent at once; the server's answer decides. If the server cannot be reached within
 * ONLINE_TIMEOUT_MS (network error, timeout, 5xx), the station decides from its pollbook: in it
 * and not checked in here yet → issue the ballot with a fresh envelope code, the outbox row
 * carrying `offline: { decidedAt, envelope }` before the official is told to issue.
 */
import { randomUUID } from "node:crypto";
import type { JSONWebKeySet } from "jose";
import QRCode from "qrcode";
import { validateBallot } from "../lib/ballot/validate.ts";
import type { ContestMarks } from "../lib/ballot/messages.ts";
import type { CompiledElection } from "../lib/election/model.ts";
import { NationalId } from "../lib/identity/national-id.ts";
import { qrSignerFromJwk } from "../lib/qr/keys.ts";
import { decodeQrPayload, encodeResultSheet, type ResultSheetFields } from "../lib/qr/payload.ts";
import { EnvelopeCode, newEnvelopeCode } from "../lib/station/pollbook.ts";
import { StationDb, type OutboxRow } from "./db.ts";
import { PublicElection, stationElection } from "./election.ts";
import type {
  CancelResult,
  CheckInResult,
  Identity,
  OutboxItem,
  Refusal,
  ResultSheet,
  ScanInput,
  ScanResult,
  StationOperations,
  StationStatus,
} from "./operations.ts";
import { findEntry, loadPollbook, verifyPollbookPage, type LoadedPollbook } from "./pollbook.ts";
import type { StationSetup } from "./setup.ts";
import {
  type CheckInBody,
  markFailed,
  ONLINE_TIMEOUT_MS,
  OutboxSync,
  ResultSheetBody,
  type ScanBody,
  StoredAnswer,
} from "./sync.ts";

export interface StationOptions {
  /** The fetch the client calls the server with (tests pass one; the default is the global fetch). */
  readonly fetch?: (request: Request) => Promise<Response>;
}

function refused(code: string, message: string): Refusal {
  return { outcome: "refused", code, message };
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** How long an unanswered online check-in's id is kept for a second try of the same voter. */
const UNANSWERED_KEEP_MS = 30 * 60_000;

export class Station implements StationOperations {
  private election: CompiledElection | undefined;
  private pollbook: LoadedPollbook | undefined;
  /** Why the stored pollbook was refused on load, if it was. */
  pollbookProblem: string | undefined;

  readonly setup: StationSetup;
  readonly db: StationDb;
  readonly sync: OutboxSync;

  private readonly fetchImpl: (request: Request) => Promise<Response>;

  /**
   * Per national id typed here, the check-in id of a try the server never answered (a voter not in
   * the pollbook, asked online, the answer lost). Trying the same voter again sends the same id, so
   * a server that did apply the first try answers it as that try (its idempotency) instead of
   * refusing a second check-in; the station then counts it once. Memory only, and forgotten after
   * UNANSWERED_KEEP_MS: no list of the people who came is kept.
   */
  private readonly unanswered = new Map<string, { readonly checkInId: string; readonly atMs: number }>();

  private constructor(
    setup: StationSetup,
    db: StationDb,
    sync: OutboxSync,
    fetchImpl: (request: Request) => Promise<Response>,
  ) {
    this.setup = setup;
    this.db = db;
    this.sync = sync;
    this.fetchImpl = fetchImpl;
  }

  /**
   * Opens the station's store in `dataDir`, loads the election (from the store, else from the
   * server) and the pollbook (verified again; a page that does not verify refuses the whole
   * pollbook, which `pollbookProblem` explains and a refresh replaces).
   */
  static async open(setup: StationSetup, dataDir: string, options: StationOptions = {}): Promise<Station> {
    const db = new StationDb(dataDir);
    const bound = db.getMeta("station");
    const identity = `${setup.stationId} ${setup.electionId}`;
    if (bound !== undefined && bound !== identity) {
      db.close();
      throw new Error(`${dataDir} holds the data of station/election ${bound}, not ${identity}`);
    }
    if (bound === undefined) db.setMeta("station", identity);
    const station = new Station(setup, db, new OutboxSync(db, setup, options.fetch), options.fetch ?? fetch);
    await station.loadElection();
    await station.loadStoredPollbook();
    return station;
  }

  /** Keeps syncing the outbox in the background (what `serve` runs) until `close()`. */
  startSync(): void {
    this.sync.start();
  }

  /** Stops the sync loop, waits for the pass or task under way, and closes the store. */
  async close(): Promise<void> {
    this.sync.stop();
    await this.sync.idle();
    this.db.close();
  }

  private async loadElection(): Promise<void> {
    const row = this.db.db.prepare("SELECT summary FROM election WHERE id = ?").get(this.setup.electionId) as
      { summary: string } | undefined;
    if (row) {
      this.election = stationElection(PublicElection.parse(JSON.parse(row.summary)));
      return;
    }
    await this.fetchElection();
  }

  /** The public election summary, stored for offline use. Online only; quietly absent otherwise. */
  async fetchElection(): Promise<boolean> {
    try {
      const res = await this.fetchImpl(
        new Request(`${this.setup.apiOrigin}/v1/elections/${encodeURIComponent(this.setup.electionId)}`, {
          signal: AbortSignal.timeout(ONLINE_TIMEOUT_MS * 3),
        }),
      );
      this.sync.online = true;
      if (!res.ok) return false;
      const summary = PublicElection.parse(await res.json());
      this.db.db
        .prepare(
          "INSERT INTO election (id, summary) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET summary = excluded.summary",
        )
        .run(summary.electionId, JSON.stringify(summary));
      this.election = stationElection(summary);
      return true;
    } catch {
      this.sync.online = false;
      return false;
    }
  }

  private async loadStoredPollbook(): Promise<void> {
    const pages = (this.db.db.prepare("SELECT jws FROM pollbook_pages ORDER BY page").all() as { jws: string }[]).map(
      (r) => r.jws,
    );
    if (pages.length === 0) return;
    const jwks = this.db.getMeta("receiptJwks");
    if (jwks === undefined) {
      this.pollbookProblem = "the stored pollbook has no keys to verify it with";
      return;
    }
    const loaded = await loadPollbook(pages, JSON.parse(jwks) as JSONWebKeySet, this.setup);
    if (loaded.ok) this.pollbook = loaded.value;
    else this.pollbookProblem = `the stored pollbook is refused: ${loaded.error}`;
  }

  async refreshPollbook(): Promise<{ readonly entries: number; readonly issuedAt: string } | Refusal> {
    let jwks: JSONWebKeySet;
    const pages: string[] = [];
    try {
      jwks = (await this.sync.bulkClient.receiptKeys()) as unknown as JSONWebKeySet;
      let after: string | undefined;
      for (;;) {
        const jws = await this.sync.bulkClient.pollbookPage(this.setup.electionId, after);
        const page = await verifyPollbookPage(jws, jwks, this.setup);
        if (!page.ok) return refused("pollbook_invalid", `The server's pollbook does not verify: ${page.error}.`);
        pages.push(jws);
        if (page.value.next === null) break;
        after = page.value.next;
      }
      this.sync.online = true;
    } catch (error) {
      const code =
        error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : "network_error";
      this.sync.online = code !== "network_error";
      return refused(code, `The pollbook could not be downloaded: ${errorMessage(error)}`);
    }
    const loaded = await loadPollbook(pages, jwks, this.setup);
    if (!loaded.ok) return refused("pollbook_invalid", `The server's pollbook does not verify: ${loaded.error}.`);
    // Replaced in one transaction: a crash leaves the old pollbook or the new one, never a mix.
    this.db.tx(() => {
      this.db.db.exec("DELETE FROM pollbook_pages");
      const insert = this.db.db.prepare("INSERT INTO pollbook_pages (page, jws) VALUES (?, ?)");
      pages.forEach((jws, i) => insert.run(i, jws));
      this.db.setMeta("receiptJwks", JSON.stringify(jwks));
    });
    this.pollbook = loaded.value;
    this.pollbookProblem = undefined;
    return { entries: loaded.value.entries.size, issuedAt: loaded.value.issuedAt };
  }

  async checkIn(input: { readonly nationalId: string; readonly identity: Identity }): Promise<CheckInResult> {
    const parsed = NationalId.safeParse(input.nationalId);
    if (!parsed.success) {
      return refused(
        "invalid_national_id",
        "A national id is 4-32 letters, digits and inner dashes. Check what was typed.",
      );
    }
    const nationalId = parsed.data;
    const identity: CheckInBody["identity"] =
      input.identity.method === "id-card"
        ? { method: "id-card" }
        : { method: "id-card+biometric", biometric: { ...input.identity.biometric } };
    return this.sync.exclusive(async () => {
      const entry = this.pollbook ? await findEntry(this.pollbook, nationalId) : undefined;
      const nowMs = Date.now();
      for (const [id, tried] of this.unanswered)
        if (nowMs - tried.atMs > UNANSWERED_KEEP_MS) this.unanswered.delete(id);
      const retried = entry ? undefined : this.unanswered.get(nationalId)?.checkInId;
      const checkInId = retried ?? randomUUID();
      const body: CheckInBody = entry
        ? { checkInId, identity, voterRef: entry.ref, pollbookId: entry.id }
        : { checkInId, identity, nationalId };
      const seq = this.db.tx(() => {
        // The unanswered try's row (failed, its national id scrubbed) gives way to this one.
        if (retried !== undefined) {
          this.db.db.prepare("DELETE FROM outbox WHERE request_id = ? AND state = 'failed'").run(retried);
        }
        return this.db.insertOutbox({
          kind: "check-in",
          requestId: checkInId,
          body,
          signedAt: new Date().toISOString(),
          summary: entry
            ? "Check-in of a voter in the pollbook"
            : "Check-in of a voter not in the pollbook (asked online)",
        });
      });
      await this.sync.passLocked({ untilSeq: seq, ignoreBackoff: true, deadlineMs: Date.now() + ONLINE_TIMEOUT_MS });
      const row = this.db.outboxRow(seq)!;
      if (row.state !== "pending") this.unanswered.delete(nationalId);
      if (row.state === "done") {
        const answer = StoredAnswer.parse(JSON.parse(row.answer ?? "{}"));
        return {
          outcome: "issue-ballot",
          ballotStyleId: answer.ballotStyleId ?? "",
          districtId: answer.districtId ?? "",
          decidedOffline: false,
        };
      }
      if (row.state === "failed") return refused(row.error_code ?? "refused", row.error_message ?? "Refused.");
      // The server could not be reached: the pollbook decides.
      const now = new Date().toISOString();
      if (!entry) {
        const message = this.pollbook
          ? "This person is not in the station's pollbook, and the server cannot be reached to ask. Send them to the help desk, or try again when the station is online."
          : "The station has no pollbook and the server cannot be reached. Check in again when the station is online.";
        this.db.tx(() => markFailed(this.db, seq, "not_in_pollbook", message, now));
        // The row held the typed national id: no copy of it may stay in the WAL.
        this.db.scrub();
        this.unanswered.set(nationalId, { checkInId, atMs: Date.now() });
        return refused("not_in_pollbook", message);
      }
      const already = this.db.db.prepare("SELECT 1 FROM checked_in WHERE id = ?").get(entry.id);
      if (already) {
        const message = "This voter has already been checked in at this station. Do not issue another ballot.";
        this.db.tx(() => markFailed(this.db, seq, "may_not_issue_ballot", message, now));
        this.db.scrub();
        return refused("may_not_issue_ballot", message);
      }
      const envelope = newEnvelopeCode();
      this.db.tx(() => {
        const offline: CheckInBody = { ...body, offline: { decidedAt: now, envelope } };
        this.db.db
          .prepare("UPDATE outbox SET body = ?, signed_at = ?, summary = ? WHERE seq = ?")
          .run(JSON.stringify(offline), now, "Check-in decided offline from the pollbook", seq);
        this.db.db.prepare("INSERT OR IGNORE INTO checked_in (id) VALUES (?)").run(entry.id);
        this.db.db.prepare("INSERT INTO envelopes (code, state) VALUES (?, 'open')").run(envelope);
        this.db.addTotal("checkIns", 1);
      });
      return {
        outcome: "issue-ballot",
        ballotStyleId: entry.ballotStyleId,
        districtId: entry.districtId,
        decidedOffline: true,
        envelope,
      };
    });
  }

  async scan(input: ScanInput): Promise<ScanResult> {
    const election = this.election;
    if (!election) {
      return refused(
        "election_unavailable",
        "The station has not loaded the election yet. Connect it to the network once.",
      );
    }
    const decoded = await decodeQrPayload(input.qr.trim(), election);
    if (!decoded.ok)
      return refused(`qr_${decoded.error.code}`, `The code cannot be read as a ballot: ${decoded.error.message}`);
    if (decoded.value.type === "result-sheet") return refused("not_a_ballot", "This is a result sheet, not a ballot.");
    let marks: readonly ContestMarks[];
    if (decoded.value.type === "marked-ballot") marks = decoded.value.fields.contests;
    else {
      if (!input.contests) {
        return refused("marks_required", "A pre-printed sheet is scanned with its marks; the scanner read none.");
      }
      marks = input.contests;
    }
    const { serial, ballotStyleId } = decoded.value.fields;
    const valid = validateBallot(election, ballotStyleId, marks);
    if (!valid.ok) {
      return refused(
        "invalid_ballot",
        `The ballot's marks are not valid: ${valid.error.map((p) => p.message).join("; ")}`,
      );
    }
    let envelope: string | undefined;
    if (input.envelope !== undefined && input.envelope.trim() !== "") {
      const code = EnvelopeCode.safeParse(input.envelope.trim().toUpperCase());
      if (!code.success)
        return refused("envelope_unknown", "An envelope code is two groups of four letters or digits, like ABCD-2345.");
      envelope = code.data;
    }
    const tally = tallyOf(election, valid.value);
    const scanId = randomUUID();
    return this.sync.exclusive(async () => {
      if (envelope !== undefined) {
        const row = this.db.db.prepare("SELECT state FROM envelopes WHERE code = ?").get(envelope) as
          { state: string } | undefined;
        if (!row)
          return refused(
            "envelope_unknown",
            "This station issued no ballot with that envelope code. Check the code on the sleeve.",
          );
        if (row.state !== "open")
          return refused("envelope_used", "A ballot with this envelope code has been scanned already.");
      }
      const body: ScanBody = {
        scanId,
        qr: input.qr.trim(),
        ...(input.contests ? { contests: [...input.contests] } : {}),
        ...(input.districtId !== undefined ? { districtId: input.districtId } : {}),
        ...(envelope !== undefined ? { envelope } : {}),
        tally,
      };
      const seq = this.db.tx(() => {
        const seq = this.db.insertOutbox({
          kind: "scan",
          requestId: scanId,
          body,
          signedAt: new Date().toISOString(),
          summary: `Ballot ${serial} scanned`,
        });
        for (const [key, n] of Object.entries(tally)) this.db.addTotal(key, n);
        if (envelope !== undefined)
          this.db.db.prepare("UPDATE envelopes SET state = 'scanned' WHERE code = ?").run(envelope);
        return seq;
      });
      await this.sync.passLocked({ untilSeq: seq, ignoreBackoff: true, deadlineMs: Date.now() + ONLINE_TIMEOUT_MS });
      const row = this.db.outboxRow(seq)!;
      if (row.state === "failed") return refused(row.error_code ?? "refused", row.error_message ?? "Refused.");
      if (row.state === "pending") return { outcome: "queued", serial, held: false };
      const answer = StoredAnswer.parse(JSON.parse(row.answer ?? "{}"));
      return { outcome: "accepted", serial, held: answer.held ?? false };
    });
  }

  async cancel(input: {
    readonly serial?: number;
    readonly qr?: string;
    readonly reason: "spoiled" | "void";
    readonly districtId?: string;
  }): Promise<CancelResult> {
    let serial = input.serial;
    if (input.qr !== undefined) {
      const decoded = await decodeQrPayload(input.qr.trim(), this.election);
      if (!decoded.ok)
        return refused(`qr_${decoded.error.code}`, `The code cannot be read as a ballot: ${decoded.error.message}`);
      if (decoded.value.type === "result-sheet")
        return refused("not_a_ballot", "This is a result sheet, not a ballot.");
      serial = decoded.value.fields.serial;
    }
    if (serial === undefined || !Number.isSafeInteger(serial) || serial < 0) {
      return refused("serial_required", "Give the ballot's serial number or scan its code.");
    }
    const cancellationId = randomUUID();
    const known = serial;
    return this.sync.exclusive(async () => {
      const seq = this.db.tx(() => {
        const seq = this.db.insertOutbox({
          kind: "cancellation",
          requestId: cancellationId,
          body: {
            cancellationId,
            serial: known,
            reason: input.reason,
            ...(input.districtId !== undefined ? { districtId: input.districtId } : {}),
          },
          signedAt: new Date().toISOString(),
          summary: `Ballot ${known} cancelled (${input.reason})`,
        });
        this.db.addTotal("cancellations", 1);
        return seq;
      });
      await this.sync.passLocked({ untilSeq: seq, ignoreBackoff: true, deadlineMs: Date.now() + ONLINE_TIMEOUT_MS });
      const row = this.db.outboxRow(seq)!;
      if (row.state === "failed") return refused(row.error_code ?? "refused", row.error_message ?? "Refused.");
      return { outcome: row.state === "done" ? "accepted" : "queued", serial: known, reason: input.reason };
    });
  }

  outbox(limit = 50): Promise<readonly OutboxItem[]> {
    return Promise.resolve(this.db.outboxList(limit).map(outboxItem));
  }

  syncNow(): Promise<void> {
    return this.sync.syncNow();
  }

  status(): Promise<StationStatus> {
    const counts = this.db.countByState();
    const sheet = this.db.db
      .prepare("SELECT state FROM outbox WHERE kind = 'result-sheet' ORDER BY seq LIMIT 1")
      .get() as { state: "pending" | "done" | "failed" } | undefined;
    const envelopes = this.db.db.prepare("SELECT code FROM envelopes WHERE state = 'open' ORDER BY code").all() as {
      code: string;
    }[];
    return Promise.resolve({
      stationId: this.setup.stationId,
      electionId: this.setup.electionId,
      districtIds: this.setup.districtIds,
      apiOrigin: this.setup.apiOrigin,
      online: this.sync.online,
      lastSyncAt: this.sync.lastSyncAt,
      lastError:
        this.sync.lastError ??
        (this.pollbookProblem ? { code: "pollbook_invalid", message: this.pollbookProblem } : null),
      pending: counts.pending,
      failed: counts.failed,
      pollbook: this.pollbook ? { entries: this.pollbook.entries.size, issuedAt: this.pollbook.issuedAt } : null,
      openEnvelopes: envelopes.map((e) => e.code),
      checkIns: this.db.total("checkIns"),
      scans: this.db.total("ballots"),
      cancellations: this.db.total("cancellations"),
      resultSheet: sheet ? { sequence: 1, state: sheet.state } : null,
    });
  }

  /** Whether the polls have closed: by the election's schedule, or because the server said so. */
  pollsClosed(now = Date.now()): boolean {
    if (this.election && now >= this.election.polls.closesAtMs) return true;
    return this.db.getMeta("pollsClosedSeenAt") !== undefined;
  }

  async resultSheet(): Promise<ResultSheet | Refusal> {
    const election = this.election;
    if (!election) return refused("election_unavailable", "The station has not loaded the election yet.");
    return this.sync.exclusive(async () => {
      const existing = this.db.db
        .prepare("SELECT body FROM outbox WHERE kind = 'result-sheet' ORDER BY seq LIMIT 1")
        .get() as { body: string | null } | undefined;
      let qr: string;
      let fields: ResultSheetFields;
      if (existing?.body) {
        const body = ResultSheetBody.parse(JSON.parse(existing.body));
        qr = body.qr;
        fields = body.sheet as ResultSheetFields;
      } else {
        if (!this.pollsClosed()) {
          return refused("polls_not_closed", "The result sheet is made once the polls have closed.");
        }
        const closedAtMs = Math.min(Date.now(), election.polls.closesAtMs);
        fields = {
          electionId: election.id,
          stationId: this.setup.stationId,
          sequence: 1,
          closedAt: new Date(Math.floor(closedAtMs / 1000) * 1000).toISOString().replace(/\.000Z$/, "Z"),
          votersCheckedIn: this.db.total("checkIns"),
          ballotsCast: this.db.total("ballots"),
          contests: [...election.contests.values()].map((contest) => ({
            contestId: contest.id,
            options: contest.options
              .filter((o) => !o.isWriteIn)
              .map((o) => ({ optionId: o.id, votes: this.db.total(`o\t${contest.id}\t${o.id}`) })),
            writeIns: this.db.total(`w\t${contest.id}`),
            blanks: this.db.total(`b\t${contest.id}`),
          })),
        };
        const signer = await qrSignerFromJwk(this.setup.deviceKey);
        if (!signer.ok) return refused("device_key_invalid", signer.error.message);
        const encoded = await encodeResultSheet(fields, election, signer.value);
        if (!encoded.ok) return refused(`qr_${encoded.error.code}`, encoded.error.message);
        qr = encoded.value.text;
        const sheetFields = fields;
        this.db.tx(() =>
          this.db.insertOutbox({
            kind: "result-sheet",
            requestId: randomUUID(),
            body: { qr, sheet: sheetFields },
            signedAt: sheetFields.closedAt,
            summary: "Result sheet 1",
          }),
        );
        await this.sync.passLocked({ ignoreBackoff: true, deadlineMs: Date.now() + ONLINE_TIMEOUT_MS });
      }
      const svg = await QRCode.toString(qr, { type: "svg", errorCorrectionLevel: "M", margin: 4 });
      return {
        sequence: fields.sequence,
        qr,
        svg,
        votersCheckedIn: fields.votersCheckedIn,
        ballotsCast: fields.ballotsCast,
        contests: fields.contests.map((c) => {
          const contest = election.contests.get(c.contestId);
          return {
            contestId: c.contestId,
            name: contest?.name ?? c.contestId,
            options: c.options.map((o) => ({
              optionId: o.optionId,
              label: contest?.options.find((option) => option.id === o.optionId)?.label ?? o.optionId,
              votes: o.votes,
            })),
            writeIns: c.writeIns,
            blanks: c.blanks,
          };
        }),
      };
    });
  }
}

/** What one ballot adds to the station's totals, as the tally counts (lib/tally/totals.ts). */
function tallyOf(election: CompiledElection, marks: readonly ContestMarks[]): Record<string, number> {
  const tally: Record<string, number> = { ballots: 1 };
  const add = (key: string): void => {
    tally[key] = (tally[key] ?? 0) + 1;
  };
  for (const contest of marks) {
    if (contest.optionIds.length === 0) add(`b\t${contest.contestId}`);
    const options = election.contests.get(contest.contestId)?.options ?? [];
    for (const optionId of contest.optionIds) {
      if (options.find((o) => o.id === optionId)?.isWriteIn) add(`w\t${contest.contestId}`);
      else add(`o\t${contest.contestId}\t${optionId}`);
    }
  }
  return tally;
}

function outboxItem(row: OutboxRow): OutboxItem {
  const answer = row.answer ? StoredAnswer.safeParse(JSON.parse(row.answer)) : undefined;
  const held = answer?.success && (answer.data.held === true || answer.data.outcome === "held");
  return {
    seq: row.seq,
    kind: row.kind,
    state: row.state,
    createdAt: row.created_at,
    attempts: row.attempts,
    summary: held ? `${row.summary} (held for adjudication)` : row.summary,
    ...(row.error_code !== null ? { error: { code: row.error_code, message: row.error_message ?? "" } } : {}),
    ...(row.last_attempt_at !== null ? { lastAttemptAt: row.last_attempt_at } : {}),
  };
}
