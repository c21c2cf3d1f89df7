/**
 * The election as the system uses it: compiled once from the loaded definition (NIST SP 1500-100
 * ElectionReport plus our settings) into lookups by id. Runtime-free: the Worker, the station
 * client and the auditor CLI share it.
 */
import type { ElectionSettings } from "./settings.ts";

export interface District {
  readonly id: string;
  readonly name: string;
}

export interface ContestOption {
  /** The NIST ContestSelection @id. */
  readonly id: string;
  /** What the ballot shows: candidate ballot names joined, or the ballot-measure selection text. */
  readonly label: string;
  readonly partyId?: string;
  readonly isWriteIn: boolean;
}

export interface Contest {
  readonly id: string;
  readonly name: string;
  readonly kind: "candidate" | "ballot-measure";
  /** The GpUnit whose voters see this contest. */
  readonly districtId: string;
  /** 1 for choose-one; N for choose-N. */
  readonly votesAllowed: number;
  readonly options: readonly ContestOption[];
  /** True when the contest has at least one write-in selection. */
  readonly writeInsAllowed: boolean;
}

export interface BallotStyle {
  readonly id: string;
  /** The districts (GpUnits) whose voters receive this style. */
  readonly districtIds: readonly string[];
  /** Contests in ballot order. */
  readonly contestIds: readonly string[];
}

export interface CompiledElection {
  readonly id: string;
  readonly name: string;
  readonly settings: ElectionSettings;
  readonly districts: ReadonlyMap<string, District>;
  readonly contests: ReadonlyMap<string, Contest>;
  readonly ballotStyles: ReadonlyMap<string, BallotStyle>;
  /** For each district a voter can live in, the one ballot style they receive. */
  readonly ballotStyleByDistrict: ReadonlyMap<string, string>;
  /** settings.polls as epoch milliseconds, parsed once here: every decision on time uses these. */
  readonly polls: { readonly opensAtMs: number; readonly closesAtMs: number };
}
