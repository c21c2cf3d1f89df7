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

export const CheckInAnswer = z.object({
  checkInId: z.string(),
  electionId: z.string(),
  stationId: z.string(),
  outcome: z.literal("issue-ballot"),
  ballotStyleId: z.string(),
  districtId: z.string(),
  replayed: z.boolean(),
});
export type CheckInAnswer = z.infer<typeof CheckInAnswer>;

export const ScanAnswer = z.object({
  electionId: z.string(),
  stationId: z.string(),
  scanId: z.string(),
  serial: z.number(),
  source: PaperBallotSource,
  channel: z.literal("paper"),
  trackingCode: z.string(),
  acceptedAt: z.string(),
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

export interface CheckInInput {
  readonly electionId: string;
  readonly nationalId: string;
  readonly identity: {
    readonly method: "id-card" | "id-card+biometric";
    readonly biometric?: { readonly matched: boolean; readonly score?: number };
  };
  readonly checkInId?: string;
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
      nationalId: input.nationalId,
      identity: input.identity,
      checkInId: input.checkInId ?? crypto.randomUUID(),
    });
    return CheckInAnswer.parse(body);
  }

  async scan(input: ScanInput): Promise<ScanAnswer> {
    const { body } = await this.call("POST", this.stationPath("ballots"), {
      electionId: input.electionId,
      scanId: input.scanId ?? crypto.randomUUID(),
      qr: input.qr,
      ...(input.contests ? { contests: input.contests } : {}),
      scannedAt: (input.scannedAt ?? new Date()).toISOString(),
      ...(input.districtId === undefined ? {} : { districtId: input.districtId }),
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
