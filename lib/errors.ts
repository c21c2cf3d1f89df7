/**
 * The one registry of error codes the API returns. A code is stable: clients, the station client
 * and the tests match on it. Each says its HTTP status and a sentence for people.
 */
export const ERROR_CODES = {
  // Request shape
  invalid_request: { status: 400, message: "The request does not match the expected shape." },
  invalid_json: { status: 400, message: "The request body is not valid JSON." },
  payload_too_large: { status: 413, message: "The request body is too large." },
  unsupported_media_type: { status: 415, message: "The request body has the wrong content type." },
  not_found: { status: 404, message: "No such resource." },
  method_not_allowed: { status: 405, message: "This method is not allowed here." },
  // Election definition and roll
  invalid_definition: { status: 422, message: "The election definition is invalid." },
  election_not_found: { status: 404, message: "No election with this id." },
  election_locked: { status: 409, message: "The election's polls have opened; its definition can no longer change." },
  stored_definition_invalid: {
    status: 409,
    message:
      "The stored definition no longer passes the loader's rules; it cannot be exported until it is loaded again.",
  },
  invalid_roll: { status: 422, message: "The voter roll file is invalid." },
  authority_locked: {
    status: 409,
    message:
      "The polls of an election this change concerns have opened: its roll, station keys, serial ranges and sheet keys can no longer change (revoking a key still can).",
  },
  // Identity
  unauthenticated: { status: 401, message: "A valid credential is required." },
  invalid_token: { status: 401, message: "The token is invalid." },
  invalid_body: { status: 400, message: "The request body could not be read (a broken or malformed transfer)." },
  insufficient_assurance: {
    status: 401,
    message: "This login's level of assurance is not enough to vote: log in with the national eID card or app.",
  },
  token_expired: { status: 401, message: "The token has expired." },
  token_replayed: { status: 401, message: "The token has already been used." },
  login_state_mismatch: { status: 401, message: "The login response does not match the login that was started." },
  eid_unavailable: {
    status: 503,
    message: "The national eID issuer cannot be reached; try again shortly.",
    retryAfterSeconds: 5,
  },
  not_on_roll: { status: 403, message: "This person is not on the voter roll of this election." },
  no_ballot_style: { status: 409, message: "No ballot style covers this voter's district." },
  forbidden: { status: 403, message: "This credential's role may not do this." },
  csrf_failed: {
    status: 403,
    message: "This form was not sent from this service's own page in your current session; nothing was changed.",
  },
  // Casting
  invalid_ballot: { status: 422, message: "The ballot does not fit the voter's ballot style." },
  already_voted: { status: 409, message: "This voter has already voted in this election." },
  already_voted_on_paper: { status: 409, message: "This voter has already voted on paper in this election." },
  idempotency_conflict: { status: 409, message: "This idempotency key was used for a different ballot." },
  ballot_superseded: {
    status: 409,
    message: "This request's ballot no longer counts: a later ballot of yours replaced it, and that one counts.",
  },
  polls_not_open: { status: 403, message: "The polls are not open yet." },
  polls_closed: { status: 403, message: "The polls are closed." },
  // An administrator's early close of the polls and its reopening (workers/gateway/routes/polls.ts).
  polls_control_not_open: {
    status: 409,
    message:
      "The polls have not opened yet, so there is nothing to close or reopen: to change the polling hours, load a corrected definition.",
  },
  polls_control_after_close: {
    status: 409,
    message: "The scheduled close has passed: voting can no longer be closed early or reopened.",
  },
  polls_close_too_late: {
    status: 409,
    message:
      "An early close would take effect at or after the scheduled close (it takes effect about 11 seconds after it is made): there is nothing to close early.",
  },
  polls_already_closed_early: { status: 409, message: "Voting has already been closed early; reopen it first." },
  polls_not_closed_early: { status: 409, message: "Voting has not been closed early, so there is nothing to reopen." },
  polls_change_in_progress: {
    status: 409,
    message: "Another administrator's change of the polls is being recorded; read the polls' state and try again.",
  },
  receipt_not_found: { status: 404, message: "No ballot with this tracking code is recorded (yet)." },
  // Results
  results_not_public: { status: 403, message: "This election's results are published when its polls close." },
  snapshot_not_found: { status: 404, message: "No results snapshot with this version has been published." },
  upgrade_required: {
    status: 426,
    message: "This path opens a WebSocket: send the request with Upgrade: websocket.",
  },
  results_relays_full: {
    status: 503,
    message: "Every live results connection here is taken; try again shortly, or read the latest snapshot over HTTP.",
    retryAfterSeconds: 5,
  },
  // Audit log
  log_pool_full: {
    status: 429,
    message: "The audit log is catching up; try again in a few seconds.",
    retryAfterSeconds: 2,
  },
  log_not_found: { status: 404, message: "This election's audit log has no checkpoint yet." },
  receipt_not_sequenced: {
    status: 404,
    message:
      "This ballot is recorded but not yet in a published checkpoint of the audit log; try again in a few seconds.",
  },
  polls_not_closed: { status: 409, message: "The polls have not closed yet." },
  records_not_drained: {
    status: 409,
    message:
      "Not every accepted ballot and retraction has reached the audit log yet (an outbox, queue or dead letter holds some); cast vote records wait for them.",
  },
  // Results exports and certification (logs/<id>/exports/, results-published and results-certified entries)
  exports_not_published: {
    status: 404,
    message: "This election's results exports are not published yet: they follow the last cast vote records.",
  },
  results_not_published: {
    status: 409,
    message: "The results exports are not published yet; they can be certified once they are.",
  },
  results_already_certified: { status: 409, message: "This election's published results are already certified." },
  results_already_published: {
    status: 409,
    message:
      "This election's results are published: they waited for every conflict then open, and a decision taken now could not change them.",
  },
  // Edge
  rate_limited: { status: 429, message: "Too many requests; try again later.", retryAfterSeconds: 1 },
  service_overloaded: {
    status: 503,
    message:
      "The service is busy or one of its parts is restarting; nothing this request asked for was acknowledged. Try again in a moment (the same idempotency key where there is one).",
    retryAfterSeconds: 2,
  },
  geofence_refused: { status: 403, message: "Online voting is not available from this country." },
  // Officials
  official_exists: { status: 409, message: "An official with this id already exists." },
  official_not_found: { status: 404, message: "No official with this id." },
  key_exists: { status: 409, message: "A key with this kid is already registered." },
  key_not_found: { status: 404, message: "No such key." },
  credential_revoked: {
    status: 401,
    message: "This official, or the key this token was issued for, has been revoked.",
  },
  last_administrator: { status: 409, message: "The last administrator cannot be revoked." },
  proposal_not_found: { status: 404, message: "No administrator with this id awaits approval." },
  second_administrator_required: {
    status: 403,
    message: "An administrator's creation must be approved by another administrator than the one who proposed it.",
  },
  // Polling stations: registry and signed requests (lib/station/signed-request.ts)
  station_exists: { status: 409, message: "A station with this id already exists." },
  station_not_found: { status: 404, message: "No station with this id." },
  station_signature_missing: { status: 401, message: "A station request must carry a Station-Signature header." },
  station_signature_invalid: {
    status: 401,
    message: "The station request's signature is malformed or does not verify.",
  },
  station_unknown: { status: 401, message: "No station with this id is registered." },
  station_revoked: { status: 401, message: "This station has been revoked." },
  station_key_unknown: { status: 401, message: "This key is not registered to this station." },
  station_key_revoked: { status: 401, message: "This station key has been revoked." },
  station_request_mismatch: {
    status: 401,
    message: "The signature does not cover this request's station, method, path or body.",
  },
  station_request_expired: { status: 401, message: "The station request's time is more than two minutes from ours." },
  station_request_replayed: { status: 401, message: "This station request was already received." },
  station_key_not_for_requests: {
    status: 401,
    message: "This key belongs to a ballot-marking device, which signs marked ballots only, never requests.",
  },
  // Paper channel: check-in, scanning, result sheets
  station_wrong_district: { status: 403, message: "This station does not serve the voter's district." },
  identity_not_verified: {
    status: 403,
    message: "The voter's identity was not verified (the biometric match failed).",
  },
  already_voted_online: { status: 409, message: "This voter has already voted online; no paper ballot may be issued." },
  already_checked_in: {
    status: 409,
    message: "This voter has already been checked in; the attempt is recorded for adjudication.",
  },
  qr_invalid: { status: 422, message: "The QR payload cannot be read." },
  qr_signature_invalid: {
    status: 422,
    message: "The QR payload's signature does not verify against a registered key.",
  },
  wrong_election: { status: 422, message: "The QR payload belongs to another election." },
  foreign_ballot: { status: 422, message: "This ballot was not issued for this station." },
  serial_already_used: { status: 409, message: "A ballot with this serial has already been scanned." },
  // Spoiled-ballot cancellation (routes/cancellations.ts).
  serial_cancelled: {
    status: 409,
    message: "The ballot with this serial was cancelled (spoiled or void); it cannot be counted.",
  },
  cancellation_conflict: {
    status: 409,
    message: "This cancellation id was already used for a cancellation with another reason or district.",
  },
  result_sheet_out_of_range: {
    status: 422,
    message:
      "The result sheet cannot be logged: its sequence must be 1 to 65,535, its counts below 2^32 and its time before 2106.",
  },
  result_sheet_conflict: {
    status: 409,
    message: "This station has already submitted a different result sheet; the attempt is recorded.",
  },
  may_not_issue_ballot: {
    status: 409,
    message: "No ballot may be issued to this voter here; the attempt is recorded.",
  },
  qr_signer_wrong_role: {
    status: 422,
    message:
      "The QR payload is signed by a station key of the wrong role: marked ballots by a ballot-marking device's key, result sheets by the station's client key.",
  },
  scans_exceed_check_ins: {
    status: 409,
    message: "This station has as many paper ballots as check-ins; another ballot needs another check-in first.",
  },
  district_ambiguous: {
    status: 422,
    message: "This ballot style serves several of this station's districts; the scan must name its district.",
  },
  scan_time_outside_polls: { status: 422, message: "The scan's signed time is outside the polling hours." },
  scan_time_in_future: { status: 422, message: "The scan's signed time is ahead of our clock." },
  // Offline check-ins and their envelopes (issue 12, the server's side).
  voter_ref_invalid: {
    status: 422,
    message: "This voter reference does not open for this station and election.",
  },
  check_in_time_outside_polls: {
    status: 422,
    message: "The offline check-in's signed time is outside the polling hours.",
  },
  envelope_unknown: {
    status: 409,
    message: "This envelope was not issued by an offline check-in at this station.",
  },
  envelope_used: { status: 409, message: "A ballot was already scanned with this envelope." },
  conflict_not_found: { status: 404, message: "No conflict with this id in this election." },
  conflict_already_decided: {
    status: 409,
    message: "This conflict has already been decided otherwise; a decision is taken once.",
  },
  paper_sync_closed: {
    status: 403,
    message: "The time for stations to sync paper ballots after the close has ended.",
  },
  result_sheet_already_accepted: {
    status: 409,
    message: "This station's result sheet has been accepted; it takes no more ballots.",
  },
  // Security monitor
  alert_not_found: { status: 404, message: "No alert with this id in this election." },
  alert_closed: {
    status: 409,
    message: "This alert is closed; a closed alert takes no acknowledgement or second closing.",
  },
  drills_disabled: {
    status: 403,
    message:
      'Attack drills are not enabled on this deployment (DRILLS is not "enabled"); they never run in production.',
  },
} as const satisfies Record<string, { status: number; message: string; retryAfterSeconds?: number }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** One problem found in an input, with where it is (a JSON pointer, a CSV line, a claim). */
export interface Problem {
  readonly path: string;
  readonly message: string;
  /** A stable code for the kind of problem, where callers need to tell them apart. */
  readonly code?: string;
}

export interface ApiError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly problems?: readonly Problem[];
}

export function apiError(code: ErrorCode, message?: string, problems?: readonly Problem[]): ApiError {
  return {
    code,
    message: message ?? ERROR_CODES[code].message,
    ...(problems && problems.length > 0 ? { problems } : {}),
  };
}

export function statusOf(code: ErrorCode): number {
  return ERROR_CODES[code].status;
}

/**
 * How long a client waits before trying again, for a refusal that says "not now" (429, 503): every
 * such answer carries Retry-After, so that clients under load back off instead of hammering.
 */
export function retryAfterOf(code: ErrorCode): number | undefined {
  const entry: { status: number; retryAfterSeconds?: number } = ERROR_CODES[code];
  if (entry.status !== 429 && entry.status !== 503) return undefined;
  return entry.retryAfterSeconds ?? 2;
}
