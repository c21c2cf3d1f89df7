/**
 * Why a QR payload was refused, or could not be made. A code is stable: the Worker that validates
 * scans, the station client and the tests match on it. Each has a sentence for officials.
 *
 * The codes fall in three groups, in the order decodeQrPayload meets them: the text and the byte
 * structure (no election needed), the payload against the compiled election, and the signature.
 */
import type { Problem } from "../errors.ts";

export const QR_ERRORS = {
  // Text and structure
  not_a_payload: "This is not one of our QR payloads (the scheme prefix is missing).",
  bad_text_encoding: "The QR text is not valid base45.",
  too_long: "The payload is longer than any payload this format allows.",
  bad_magic: "The payload does not start with this format's magic byte.",
  unsupported_version: "The payload's format version is not one this software reads.",
  unknown_type: "The payload type is unknown.",
  truncated: "The payload ends before its last field.",
  trailing_bytes: "The payload has bytes after its signature.",
  bad_varint: "A number in the payload is not a canonical varint, or is too large.",
  bad_string: "A text field in the payload is empty, too long, not UTF-8, or not a valid id.",
  invalid_field: "A field of the payload is outside its allowed range.",
  non_canonical: "Indexes in the payload are not in ascending order.",
  duplicate_contest: "A contest appears twice.",
  duplicate_option: "An option appears twice in one contest.",
  // Against the election
  election_required: "The compiled election is needed to read this payload.",
  wrong_election: "The payload belongs to another election.",
  layout_mismatch: "The payload was made with another version of this election's definition.",
  unknown_ballot_style: "The ballot style is not part of this election.",
  contest_count_mismatch: "The payload does not list every contest of the ballot style.",
  index_out_of_range: "A contest or option index is outside the election's lists.",
  unknown_contest: "The contest is not part of this election.",
  unknown_option: "The option is not part of this contest.",
  option_count_mismatch: "A contest's counts do not match its number of options.",
  overvote: "More options are marked than the contest allows.",
  write_in_missing: "A write-in option is marked without a name.",
  write_in_not_allowed: "Write-in text is given for an option that is not a write-in.",
  invalid_ballot: "The marks do not fit the ballot style.",
  // Keys and signatures
  invalid_key: "The signing key is not a usable Ed25519 private key.",
  unknown_key: "No key with this key id may sign this kind of payload.",
  key_mismatch: "The registered key does not match the payload's key id.",
  bad_signature: "The signature does not verify.",
} as const;

export type QrErrorCode = keyof typeof QR_ERRORS;

export interface QrError {
  readonly code: QrErrorCode;
  readonly message: string;
  /** Byte offset in the payload where a structural problem was found. */
  readonly offset?: number;
  /** Details, e.g. each problem validateBallot found when encoding a ballot. */
  readonly problems?: readonly Problem[];
}

export function qrError(
  code: QrErrorCode,
  detail?: string,
  extra: { offset?: number; problems?: readonly Problem[] } = {},
): QrError {
  return {
    code,
    message: detail ? `${QR_ERRORS[code]} (${detail})` : QR_ERRORS[code],
    ...(extra.offset !== undefined ? { offset: extra.offset } : {}),
    ...(extra.problems && extra.problems.length > 0 ? { problems: extra.problems } : {}),
  };
}
