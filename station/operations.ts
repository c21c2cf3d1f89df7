/**
 * What the polling station's client does for its official, as one interface: the console (web
 * pages on localhost) and the command line both drive a station through it, so the two never do
 * a task two ways. The implementation (station/station.ts) writes every task to the local SQLite
 * outbox first and syncs it in order; see docs/PAPER.md "The station's life".
 */

export type Identity =
  | { readonly method: "id-card" }
  | {
      readonly method: "id-card+biometric";
      readonly biometric: { readonly matched: boolean; readonly score?: number };
    };

/** A refusal the official can act on: a stable code (the API's, or the station's own) and a sentence. */
export interface Refusal {
  readonly outcome: "refused";
  readonly code: string;
  readonly message: string;
}

export type CheckInResult =
  | {
      readonly outcome: "issue-ballot";
      readonly ballotStyleId: string;
      readonly districtId: string;
      /** Decided from the pollbook while the server could not be reached. */
      readonly decidedOffline: boolean;
      /** With an offline decision: the code to write on the ballot's sleeve and give when scanning it. */
      readonly envelope?: string;
    }
  | Refusal;

export interface ScanInput {
  /** The QR text, as a USB scanner types it or as decoded from an image. */
  readonly qr: string;
  /** A pre-printed sheet's marks, as the scanner read them. */
  readonly contests?: readonly { contestId: string; optionIds: string[]; writeIns?: Record<string, string> }[];
  readonly districtId?: string;
  readonly envelope?: string;
}

export type ScanResult =
  | {
      /** "accepted" once the server took it; "queued" while it waits in the outbox. */
      readonly outcome: "accepted" | "queued";
      readonly serial: number;
      /** For an offline envelope whose check-in conflicts: kept aside until adjudicated. */
      readonly held: boolean;
    }
  | Refusal;

export type CancelResult =
  { readonly outcome: "accepted" | "queued"; readonly serial: number; readonly reason: "spoiled" | "void" } | Refusal;

export type OutboxKind = "check-in" | "scan" | "cancellation" | "result-sheet";

export interface OutboxItem {
  /** The order it was written and is synced in. */
  readonly seq: number;
  readonly kind: OutboxKind;
  /** pending: not yet answered; done: the server answered it; failed: refused, with the reason. */
  readonly state: "pending" | "done" | "failed";
  readonly createdAt: string;
  readonly attempts: number;
  /** A short description for the official, never a national id nor a ballot's marks. */
  readonly summary: string;
  readonly error?: { readonly code: string; readonly message: string };
  readonly lastAttemptAt?: string;
}

export interface StationStatus {
  readonly stationId: string;
  readonly electionId: string;
  readonly districtIds: readonly string[];
  readonly apiOrigin: string;
  /** Whether the last call to the server got an answer. */
  readonly online: boolean;
  readonly lastSyncAt: string | null;
  readonly lastError: { readonly code: string; readonly message: string } | null;
  readonly pending: number;
  readonly failed: number;
  readonly pollbook: { readonly entries: number; readonly issuedAt: string } | null;
  /** Ballots issued offline whose envelope has not been scanned yet. */
  readonly openEnvelopes: readonly string[];
  /** The station's own counts. */
  readonly checkIns: number;
  readonly scans: number;
  readonly cancellations: number;
  readonly resultSheet: { readonly sequence: number; readonly state: "pending" | "done" | "failed" } | null;
}

export interface ResultSheet {
  readonly sequence: number;
  /** The signed QR text (what the server's decoder reads). */
  readonly qr: string;
  /** The same, as an SVG image to show and print. */
  readonly svg: string;
  readonly votersCheckedIn: number;
  readonly ballotsCast: number;
  /** With the names the official reads (the QR carries only the ids). */
  readonly contests: readonly {
    readonly contestId: string;
    readonly name: string;
    readonly options: readonly { readonly optionId: string; readonly label: string; readonly votes: number }[];
    readonly writeIns: number;
    readonly blanks: number;
  }[];
}

export interface StationOperations {
  status(): Promise<StationStatus>;
  checkIn(input: { readonly nationalId: string; readonly identity: Identity }): Promise<CheckInResult>;
  scan(input: ScanInput): Promise<ScanResult>;
  /** A spoiled or void ballot, by its serial or its QR text. */
  cancel(input: {
    readonly serial?: number;
    readonly qr?: string;
    readonly reason: "spoiled" | "void";
    readonly districtId?: string;
  }): Promise<CancelResult>;
  /** Newest first, at most `limit`. */
  outbox(limit?: number): Promise<readonly OutboxItem[]>;
  /** Sends what is pending now (in order); resolves when this pass is over. */
  syncNow(): Promise<void>;
  /** Downloads the pollbook again (online only). */
  refreshPollbook(): Promise<{ readonly entries: number; readonly issuedAt: string } | Refusal>;
  /** The station's totals from its own records, signed; written to the outbox once (polls closed). */
  resultSheet(): Promise<ResultSheet | Refusal>;
}
