/**
 * The polling station's client: every call signed with the station's client key (role `client`;
 * a ballot-marking device's key is refused for requests)
 * (lib/station/signed-request.ts), answers parsed with zod, refusals thrown as StationCallError
 * with the API's stable code (may_not_issue_ballot, serial_already_used, ...).
 *
 * Runtime-free (fetch, WebCrypto, jose): the Node station CLI, the end-to-end tests and the tests
 * inside workerd (which pass their own `fetch`) share it. Check-in and scan ids default to fresh
 * UUIDs; pass your own to retry a call so that it is answered as the first time. The offline
 * outbox of a later issue sits on top of this and supplies those ids.
 */
import type { JWK } from "jose";
import * as z from "zod";
import { PollbookPageAnswer } from "../station/pollbook.ts";
import { signStationRequest } from "../station/signed-request.ts";
import { PaperBallotSource } from "../vocabulary.ts";

export interface StationClientOptions {
  /** The gateway's origin, e.g. "http://127.0.0.1:8787". */
  readonly baseUrl: string;
  readonly stationId: string;
  /** The station device's private Ed25519 JWK, with its registered kid. */
  readonly privateJwk: JWK;
  readonly fetch?: (request: Request) => Promise<Response>;
}

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    problems: z.array(z.object({ path: z.string(), message: z.string(), code: z.string().optional() })).optional(),
  }),
});

export class StationCallError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problems: readonly { path: string; message: string; code?: string }[];
  constructor(
    status: number,
    code: string,
    message: string,
    problems: readonly { path: string; message: string; code?: string }[] = [],
  ) {
    super(`${code}: ${message}`);
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
}

const CheckInCommon = {
  checkInId: z.string(),
  electionId: z.string(),
  stationId: z.string(),
  ballotStyleId: z.string(),
  districtId: z.string(),
  replayed: z.boolean(),
};

/**
 * "issue-ballot", or, for a check-in the station decided offline (it has issued the ballot
 * already), "held": the check-in conflicts (the voter voted online or checked in elsewhere, or is
 * no longer this station's), so the ballot scanned with its envelope is held, not counted, until
 * an administrator adjudicates the conflict.
 */
export const CheckInAnswer = z.discriminatedUnion("outcome", [
  z.object({ ...CheckInCommon, outcome: z.literal("issue-ballot") }),
  z.object({ ...CheckInCommon, outcome: z.literal("held"), conflictId: z.string() }),
]);
export type CheckInAnswer = z.infer<typeof CheckInAnswer>;

/** A spoiled or void paper ballot, cancelled by its serial before it was ever scanned. */
export const CancellationAnswer = z.object({
  electionId: z.string(),
  stationId: z.string(),
  cancellationId: z.string(),
  serial: z.number(),
  reason: z.enum(["spoiled", "void"]),
  replayed: z.boolean(),
});
export type CancellationAnswer = z.infer<typeof CancellationAnswer>;

/** The receipt key's JWKS (`GET /v1/receipt-keys`), which also signs pollbook pages. */
export const ReceiptKeys = z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) });
export type ReceiptKeys = z.infer<typeof ReceiptKeys>;

/**
 * `held` is true for a ballot whose offline check-in conflicts: its serial is used, its marks are
 * kept aside and counted only if an administrator decides so (docs/PAPER.md "Offline").
 */
export const ScanAnswer = z.object({
  electionId: z.string(),
  stationId: z.string(),
  scanId: z.string(),
  serial: z.number(),
  source: PaperBallotSource,
  channel: z.literal("paper"),
  trackingCode: z.string(),
  acceptedAt: z.string(),
  held: z.boolean().default(false),
  replayed: z.boolean(),
});
export type ScanAnswer = z.infer<typeof ScanAnswer>;

const Totals = z.object({
  contestId: z.string(),
  options: z.array(z.object({ optionId: z.string(), votes: z.number() })),
  writeIns: z.number(),
  blanks: z.number(),
});

export const Reconciliation = z.object({
  electionId: z.string(),
  stationId: z.string(),
  computedAt: z.string(),
  consistent: z.boolean(),
  sheet: z
    .object({
      sequence: z.number(),
      closedAt: z.string(),
      votersCheckedIn: z.number(),
      ballotsCast: z.number(),
      contests: z.array(Totals),
    })
    .loose()
    .nullable(),
  system: z.object({ checkIns: z.number(), ballotsScanned: z.number(), contests: z.array(Totals) }),
  differences: z.array(
    z.object({
      kind: z.string(),
      contestId: z.string().optional(),
      optionId: z.string().optional(),
      system: z.number(),
      station: z.number().nullable(),
      message: z.string(),
    }),
  ),
});
export type Reconciliation = z.infer<typeof Reconciliation>;

export const ResultSheetAnswer = z.object({
  electionId: z.string(),
  stationId: z.string(),
  sequence: z.number(),
  payloadSha256: z.string(),
  replayed: z.boolean(),
  reconciliation: Reconciliation,
});
export type ResultSheetAnswer = z.infer<typeof ResultSheetAnswer>;

/**
 * A check-in names the voter by national id (decided online by the server) or by the `ref` of
 * their pollbook entry (lib/station/pollbook.ts), which is how the station's outbox holds it; with
 * `offline` the station has already decided it from its pollbook and issued the ballot.
 */
export type CheckInInput = {
  readonly electionId: string;
  readonly identity: {
    readonly method: "id-card" | "id-card+biometric";
    readonly biometric?: { readonly matched: boolean; readonly score?: number };
  };
  readonly checkInId?: string;
} & (
  | { readonly nationalId: string; readonly voterRef?: undefined; readonly offline?: undefined }
  | {
      readonly voterRef: string;
      readonly nationalId?: undefined;
      /** When the station decided it (its clock, signed with the request) and the ballot's envelope. */
      readonly offline?: { readonly decidedAt: Date; readonly envelope: string };
    }
);

export interface CancellationInput {
  readonly electionId: string;
  readonly serial: number;
  readonly reason: "spoiled" | "void";
  /** The district whose ballot it was, needed when the serial's style serves several of the station's. */
  readonly districtId?: string;
  readonly cancellationId?: string;
}

export interface ScanInput {
  readonly electionId: string;
  /** The QR text as scanned. */
  readonly qr: string;
  /** With a pre-printed sheet: the marks the scanner read. */
  readonly contests?: readonly { contestId: string; optionIds: string[]; writeIns?: Record<string, string> }[];
  readonly scanId?: string;
  /**
   * When the device scanned the ballot, by its clock; signed with the request. Defaults to now;
   * an offline station syncing later passes the time it scanned.
   */
  readonly scannedAt?: Date;
  /** The district the ballot counts in, needed when its style serves several of the station's. */
  readonly districtId?: string;
  /** The envelope of the offline check-in this ballot was issued for (lib/station/pollbook.ts). */
  readonly envelope?: string;
}

export class StationClient {
  readonly options: StationClientOptions;

  constructor(options: StationClientOptions) {
    this.options = { ...options, baseUrl: options.baseUrl.replace(/\/$/, "") };
  }

  /** A signed call; answers the parsed JSON body of a 2xx, throws StationCallError otherwise. */
  async call(method: string, path: string, json?: unknown): Promise<{ status: number; body: unknown }> {
    const body = json === undefined ? "" : JSON.stringify(json);
    const signature = await signStationRequest(this.options.privateJwk, {
      stationId: this.options.stationId,
      origin: this.options.baseUrl,
      method,
      path,
      body,
    });
    const headers: Record<string, string> = { "station-signature": signature };
    if (json !== undefined) headers["content-type"] = "application/json";
    const request = new Request(`${this.options.baseUrl}${path}`, {
      method,
      headers,
      ...(json !== undefined ? { body } : {}),
    });
    const res = await (this.options.fetch ?? fetch)(request);
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text === "" ? undefined : JSON.parse(text);
    } catch {
      throw new StationCallError(res.status, "invalid_response", `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    if (!res.ok) {
      const error = ErrorBody.safeParse(parsed);
      if (error.success)
        throw new StationCallError(
          res.status,
          error.data.error.code,
          error.data.error.message,
          error.data.error.problems,
        );
      throw new StationCallError(res.status, "invalid_response", `HTTP ${res.status}: ${text.slice(0, 200)}`);
    }
    return { status: res.status, body: parsed };
  }

  private stationPath(suffix: string): string {
    return `/v1/stations/${encodeURIComponent(this.options.stationId)}/${suffix}`;
  }

  async checkIn(input: CheckInInput): Promise<CheckInAnswer> {
    const { body } = await this.call("POST", this.stationPath("check-ins"), {
      electionId: input.electionId,
      ...(input.nationalId === undefined ? { voterRef: input.voterRef } : { nationalId: input.nationalId }),
      ...(input.offline
        ? { offline: { decidedAt: input.offline.decidedAt.toISOString(), envelope: input.offline.envelope } }
        : {}),
      identity: input.identity,
      checkInId: input.checkInId ?? crypto.randomUUID(),
    });
    return CheckInAnswer.parse(body);
  }

  /** One signed page of the station's pollbook (a compact JWS; verify it with `receiptKeys()`). */
  async pollbookPage(electionId: string, after?: string): Promise<string> {
    const query = new URLSearchParams({ electionId, ...(after === undefined ? {} : { after }) });
    const { body } = await this.call("GET", `${this.stationPath("pollbook")}?${query.toString()}`);
    return PollbookPageAnswer.parse(body).page;
  }

  /** The public keys that sign receipts and pollbook pages (unsigned, public). */
  async receiptKeys(): Promise<ReceiptKeys> {
    const res = await (this.options.fetch ?? fetch)(new Request(`${this.options.baseUrl}/v1/receipt-keys`));
    if (!res.ok) throw new StationCallError(res.status, "invalid_response", `HTTP ${res.status} for the receipt keys`);
    return ReceiptKeys.parse(await res.json());
  }

  async cancelBallot(input: CancellationInput): Promise<CancellationAnswer> {
    const { body } = await this.call("POST", this.stationPath("cancellations"), {
      electionId: input.electionId,
      cancellationId: input.cancellationId ?? crypto.randomUUID(),
      serial: input.serial,
      reason: input.reason,
      ...(input.districtId === undefined ? {} : { districtId: input.districtId }),
    });
    return CancellationAnswer.parse(body);
  }

  async scan(input: ScanInput): Promise<ScanAnswer> {
    const { body } = await this.call("POST", this.stationPath("ballots"), {
      electionId: input.electionId,
      scanId: input.scanId ?? crypto.randomUUID(),
      qr: input.qr,
      ...(input.contests ? { contests: input.contests } : {}),
      scannedAt: (input.scannedAt ?? new Date()).toISOString(),
      ...(input.districtId === undefined ? {} : { districtId: input.districtId }),
      ...(input.envelope === undefined ? {} : { envelope: input.envelope }),
    });
    return ScanAnswer.parse(body);
  }

  async submitResultSheet(input: { readonly electionId: string; readonly qr: string }): Promise<ResultSheetAnswer> {
    const { body } = await this.call("POST", this.stationPath("result-sheet"), {
      electionId: input.electionId,
      qr: input.qr,
    });
    return ResultSheetAnswer.parse(body);
  }
}
