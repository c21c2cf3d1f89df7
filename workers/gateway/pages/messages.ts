/**
 * The portal pages' own texts, one catalogue per language. English is the reference: every other
 * catalogue has exactly its keys (the type says so), so a second language is one more object here
 * and one more entry in CATALOGUES. Texts that come from an election definition (its name, its
 * contests) are not here: they carry their own languages.
 */

const en = {
  serviceName: "Vote online and check your ballot",
  skipToContent: "Skip to main content",
  footerNote:
    "Every ballot is recorded in a public, signed audit log that anyone can check. Nothing on this service links your name to your vote.",
  footerApi: "API description for developers",
  homeTitle: "Elections",
  homeIntro: "Vote online, follow the results and check that your ballot was recorded.",
  homeEmpty: "There are no elections open or coming up at the moment.",
  homeEmptyHint: "Elections appear here once their polls are announced.",
  pollsOpenNow: "Polls open",
  pollsComing: "Coming up",
  pollsOpenFromTo: (opens: string, closes: string) => `Voting from ${opens} to ${closes}.`,
  voteOnline: "Vote online",
  voteOnlineHint: "You will sign in with your national eID.",
  liveResults: "Live results",
  checkReceipt: "Check a receipt",
  auditTitle: "Audit this election",
  auditIntro:
    "Anyone can verify that the published log is complete and was never rewritten, with the open-source auditor.",
  auditLog: "Audit log",
  auditKey: "Log verifier key",
  auditCommand: "Auditor command line",
  checkTitle: "Check a receipt",
  checkIntro:
    "Enter the tracking code printed on your receipt to see whether your ballot was recorded. It does not show how you voted.",
  checkLabel: "Tracking code",
  checkHint: "Four groups of four letters and digits, for example 7K3M-Q9TX-2D4F-H8JA.",
  checkSubmit: "Check",
  errorSummaryTitle: "There is a problem",
  errorPrefix: "Error",
  checkInvalid: "Enter a tracking code in the form 7K3M-Q9TX-2D4F-H8JA",
  checkEmpty: "Enter the tracking code from your receipt",
  checkRecordedTitle: "Your ballot was recorded",
  checkRecordedAt: (at: string) => `Recorded on ${at}.`,
  checkInLog: (leafIndex: number) => `It is in the election's public audit log at position ${leafIndex} (leaf index).`,
  checkNotInLogYet:
    "It is not yet in a published checkpoint of the audit log. That usually takes under a minute: check again shortly.",
  checkForAuditors: "For auditors",
  checkProof: "Inclusion proof",
  checkCheckpoint: "Signed checkpoint",
  checkNotFoundTitle: "No ballot with this tracking code",
  checkNotFound:
    "Check that you typed the code exactly as printed. A ballot cast in the last few seconds may not show yet: try again in a minute.",
  checkAnother: "Check another code",
  electionLabel: "Election",
  busyTitle: "Too many checks from your network",
  busyText:
    "So many receipts were checked from your network in the last minute that we have to pause. Wait a minute, then try again.",
  // The receipt check's verification in the browser, the auditor's key, the not-found page
  // (portal-check).
  auditKeyPlaceholder: "<the verifier key the election authority published>",
  auditKeySource:
    "Replace the placeholder with the log verifier key from the election authority's own publication, not from this server: a key this server gives you cannot prove this server honest. You may compare the two.",
  notFoundTitle: "Page not found",
  notFoundText:
    "There is no page at this address. If you typed it, check that it is spelled correctly; if you followed a link, it may be out of date.",
  notFoundHome: "Go to the elections",
  verifyChecking: "Checking the public record…",
  verifyOkTitle: "Checked against the public record",
  verifyOk:
    "Verified: your ballot is in the election's public record, and that record is signed by the election authority's key.",
  verifyKeyLabel: "Signed by the key named",
  verifyKeyIdLabel: "key ID",
  verifyKeyCaveat:
    "Your browser checked this itself, with the key this website gives. Auditors compare that key with the one the election authority publishes itself, outside this website: only then is it proven to be the authority's key.",
  verifyDetails: "Details for auditors",
  verifyFactKey: "Verifier key used",
  verifyFactIndex: "Position in the log (leaf index)",
  verifyFactTree: "Signed checkpoint, entries",
  verifyFactRoot: "Signed checkpoint, root hash",
  verifyFailedTitle: "We could not verify your ballot in the public record",
  verifyFailed:
    "The public record this website gave your browser does not prove that your ballot is in it. This may mean the record was altered: report it to the election authority, with your tracking code and the details below.",
  verifyUnavailableTitle: "The public record could not be checked just now",
  verifyUnavailable:
    "Your browser could not fetch what it needs to check the record (a network problem or a busy server). This says nothing against your ballot: try again in a minute.",
} as const;

type Widen<T> = { readonly [K in keyof T]: T[K] extends string ? string : T[K] };
export type Messages = Widen<typeof en>;

const CATALOGUES: Readonly<Record<string, Messages>> = { en };

export const DEFAULT_LANGUAGE = "en";

/** The catalogue for a language tag, or English when there is none for it. */
export function messagesFor(language: string): { readonly language: string; readonly t: Messages } {
  const base = language.toLowerCase().split("-")[0] ?? DEFAULT_LANGUAGE;
  const t = CATALOGUES[base];
  return t ? { language: base, t } : { language: DEFAULT_LANGUAGE, t: en };
}
