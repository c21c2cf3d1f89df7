/**
 * `/check`: a voter types the tracking code from their receipt and learns whether a ballot with it
 * is recorded, never what it says nor whether a later ballot replaced it (the receipt API's rule).
 * A plain GET form, so it works without JavaScript, can be bookmarked and reloaded safely. A
 * validation error is announced (an error summary that takes focus order first, `role="alert"`)
 * and linked to the field, which names its error through aria-describedby. Once a published
 * checkpoint holds the ballot, the enhancement script verifies its inclusion proof in the browser
 * (Verification below); without JavaScript the page links the proof for auditors instead.
 */
import { LanguageSwitcher } from "./languages.tsx";
import { Layout } from "./layout.tsx";
import { DEFAULT_LANGUAGE, PAGE_LANGUAGES, type Messages } from "./messages.ts";
import { checkPath, formatInstant } from "./home.tsx";

export type CheckOutcome =
  | { readonly kind: "empty" }
  | { readonly kind: "invalid"; readonly code: string; readonly message: string }
  | { readonly kind: "not_found"; readonly code: string }
  | {
      readonly kind: "recorded";
      readonly code: string;
      readonly electionName: string;
      readonly recordedAt: string;
      readonly log?: {
        readonly leafIndex: number;
        readonly proofUrl: string;
        readonly checkpointUrl: string;
        /** The log's own URL (`/v1/logs/{election}/`): its tiles and verifier key are under it. */
        readonly logUrl: string;
        readonly verifierKeyUrl: string;
      };
    };

function CheckForm(props: { readonly language: string; readonly t: Messages; readonly outcome: CheckOutcome }) {
  const { language, t, outcome } = props;
  const error = outcome.kind === "invalid" ? outcome.message : undefined;
  const value = outcome.kind === "empty" ? "" : outcome.code;
  return (
    <form method="get" action="/check" class="check-form" novalidate>
      {language === DEFAULT_LANGUAGE ? null : <input type="hidden" name="lang" value={language} />}
      <div class={error ? "field field-error" : "field"}>
        <label for="code">{t.checkLabel}</label>
        <p class="hint" id="code-hint">
          {t.checkHint}
        </p>
        {error ? (
          <p class="error-message" id="code-error">
            <span class="visually-hidden">{`${t.errorPrefix}: `}</span>
            {error}
          </p>
        ) : null}
        <input
          id="code"
          name="code"
          type="text"
          class="input-code"
          value={value}
          autocomplete="off"
          autocapitalize="characters"
          spellcheck={false}
          maxlength={32}
          aria-describedby={error ? "code-hint code-error" : "code-hint"}
          aria-invalid={error ? "true" : undefined}
        />
      </div>
      <button type="submit" class="button">
        {t.checkSubmit}
      </button>
    </form>
  );
}

function Outcome(props: { readonly language: string; readonly t: Messages; readonly outcome: CheckOutcome }) {
  const { language, t, outcome } = props;
  if (outcome.kind === "recorded") {
    return (
      <div class="panel panel-success" role="status">
        <h2>{t.checkRecordedTitle}</h2>
        <p class="code-display">{outcome.code}</p>
        <p>
          {`${t.electionLabel}: `}
          <strong>{outcome.electionName}</strong>
        </p>
        <p>{t.checkRecordedAt(formatInstant(language, outcome.recordedAt))}</p>
        {outcome.log ? (
          <>
            <p>{t.checkInLog(outcome.log.leafIndex)}</p>
            <h3>{t.checkForAuditors}</h3>
            <ul>
              <li>
                <a href={outcome.log.proofUrl}>{t.checkProof}</a>
              </li>
              <li>
                <a href={outcome.log.checkpointUrl}>{t.checkCheckpoint}</a>
              </li>
            </ul>
          </>
        ) : (
          <p>{t.checkNotInLogYet}</p>
        )}
      </div>
    );
  }
  if (outcome.kind === "not_found") {
    return (
      <div class="panel panel-warning" role="status">
        <h2>{t.checkNotFoundTitle}</h2>
        <p class="code-display">{outcome.code}</p>
        <p>{t.checkNotFound}</p>
      </div>
    );
  }
  return null;
}

/** Where the script writes a value it found (a key, an index, a reason). */
function slot(name: string) {
  return <code data-slot={name}></code>;
}

/**
 * The verification in the browser (browser/check.ts): an empty live region that says what the
 * script needs in data attributes, and the texts of its states as templates (inert, never shown
 * without the script), so the words stay in the server's catalogue and no script is inline.
 * Without JavaScript nothing of it shows: the server's answer and the auditors' links stand.
 */
function Verification(props: {
  readonly t: Messages;
  readonly code: string;
  readonly log: NonNullable<Extract<CheckOutcome, { kind: "recorded" }>["log"]>;
}) {
  const { t, code, log } = props;
  return (
    <>
      <div
        class="verify"
        role="status"
        data-verify-receipt={code}
        data-proof-url={log.proofUrl}
        data-checkpoint-url={log.checkpointUrl}
        data-log-url={log.logUrl}
        data-verifier-key-url={log.verifierKeyUrl}
      ></div>
      <template id="verify-checking">
        <div class="panel panel-info">
          <p class="verify-title">{t.verifyChecking}</p>
        </div>
      </template>
      <template id="verify-ok">
        <div class="panel panel-verified" data-verify-state="verified">
          <h2>{t.verifyOkTitle}</h2>
          <p>{t.verifyOk}</p>
          <p>
            {`${t.verifyKeyLabel} `}
            {slot("key-name")}
            {` (${t.verifyKeyIdLabel} `}
            {slot("key-id")}
            {")"}
          </p>
          <p>{t.verifyKeyCaveat}</p>
          <details>
            <summary>{t.verifyDetails}</summary>
            <dl class="verify-facts">
              <dt>{t.verifyFactKey}</dt>
              <dd>{slot("verifier-key")}</dd>
              <dt>{t.verifyFactIndex}</dt>
              <dd>{slot("leaf-index")}</dd>
              <dt>{t.verifyFactTree}</dt>
              <dd>{slot("tree-size")}</dd>
              <dt>{t.verifyFactRoot}</dt>
              <dd>{slot("root")}</dd>
            </dl>
          </details>
        </div>
      </template>
      <VerifyProblem t={t} state="failed" panel="panel-error" title={t.verifyFailedTitle} text={t.verifyFailed} />
      <VerifyProblem
        t={t}
        state="unavailable"
        panel="panel-warning"
        title={t.verifyUnavailableTitle}
        text={t.verifyUnavailable}
      />
    </>
  );
}

/** A check that did not verify, as a template the script fills with the reason for auditors. */
function VerifyProblem(props: {
  readonly t: Messages;
  readonly state: "failed" | "unavailable";
  readonly panel: string;
  readonly title: string;
  readonly text: string;
}) {
  const { t, state, panel, title, text } = props;
  return (
    <template id={`verify-${state}`}>
      <div class={`panel ${panel}`} data-verify-state={state}>
        <h2>{title}</h2>
        <p>{text}</p>
        <details>
          <summary>{t.verifyDetails}</summary>
          <p>{slot("reason")}</p>
        </details>
      </div>
    </template>
  );
}

export function CheckPage(props: { readonly language: string; readonly t: Messages; readonly outcome: CheckOutcome }) {
  const { language, t, outcome } = props;
  const title = outcome.kind === "invalid" ? `${t.errorPrefix}: ${t.checkTitle}` : t.checkTitle;
  return (
    <Layout language={language} t={t} title={title}>
      {outcome.kind === "invalid" ? (
        <div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex={-1}>
          <h2 id="error-summary-title">{t.errorSummaryTitle}</h2>
          <ul>
            <li>
              <a href="#code">{outcome.message}</a>
            </li>
          </ul>
        </div>
      ) : null}
      <LanguageSwitcher label={t.languageLabel} languages={PAGE_LANGUAGES} current={language} path="/check" />
      <h1>{t.checkTitle}</h1>
      <p class="lead">{t.checkIntro}</p>
      <Outcome language={language} t={t} outcome={outcome} />
      {outcome.kind === "recorded" && outcome.log ? <Verification t={t} code={outcome.code} log={outcome.log} /> : null}
      {outcome.kind === "recorded" || outcome.kind === "not_found" ? (
        <h2 class="check-again">{t.checkAnother}</h2>
      ) : null}
      <CheckForm language={language} t={t} outcome={outcome} />
    </Layout>
  );
}

/** The page for a lookup refused by the public reads' rate limit: what happened and what to do. */
export function BusyPage(props: { readonly language: string; readonly t: Messages }) {
  const { language, t } = props;
  return (
    <Layout language={language} t={t} title={t.busyTitle}>
      <h1>{t.busyTitle}</h1>
      <p class="lead">{t.busyText}</p>
      <p>
        <a href={checkPath(language)}>{t.checkAnother}</a>
      </p>
    </Layout>
  );
}
