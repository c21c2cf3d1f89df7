/**
 * What the loader decided on its own while compiling a definition: the warnings it reports, and
 * the derivations in a form the exporter (export.ts) writes back into the report, so that an
 * exported definition says explicitly what the loaded one left implicit.
 */

/** A warning's stable code: clients and tests match on it. */
export type WarningCode =
  /** A ballot style named only by its GpUnits got an id derived from them. */
  | "ballot_style_id_derived"
  /** A district that lists no ComposingGpUnitIds was taken to contain the units its contests are placed on. */
  | "composition_derived"
  /** A ballot measure without selections got the conventional two, as the settings allow. */
  | "ballot_measure_selections_added"
  /** Some siblings have a SequenceOrder and this one has none: it goes after them. */
  | "sequence_order_missing"
  /** A unit without a style of its own (a precinct of a combined precinct) gets the style of the unit it is part of. */
  | "ballot_style_inherited"
  /** A unit without a style of its own lies in units with different styles: its voters get none. */
  | "ballot_style_ambiguous"
  /**
   * A style without OrderedContent, whose units' place in a district is known only from other
   * styles: that district's contests are left off it.
   */
  | "composition_unknown"
  /** The report carries counts (a results report); they are not read. */
  | "counts_ignored";

export interface DefinitionWarning {
  /** JSON pointer into the definition document, as a Problem's path. */
  readonly path: string;
  readonly code: WarningCode;
  readonly message: string;
}

export interface AddedSelection {
  readonly id: string;
  /** The selection's text in every language it was given in (language tag to text). */
  readonly text: Readonly<Record<string, string>>;
}

export interface Derivations {
  /** Per index in the Election's BallotStyle list, the id derived for a style that had none. */
  readonly ballotStyleIds: ReadonlyMap<number, string>;
  /** Per GpUnit id that listed no ComposingGpUnitIds, the units it was taken to contain. */
  readonly composition: ReadonlyMap<string, readonly string[]>;
  /** Per Contest @id, the BallotMeasureSelections added to a measure that had none. */
  readonly measureSelections: ReadonlyMap<string, readonly AddedSelection[]>;
}
