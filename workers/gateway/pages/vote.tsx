/**
 * The voting pages: signed in, the ballot, the review, the receipt (and its printable view),
 * signed out, and one page for every state that stops a voter (already voted, polls closed, not
 * on the roll, a refused form, ...). Plain HTML forms: a voter with scripts off or on an old phone
 * votes the same way. Errors go in an error summary that links to each field (as check.tsx).
 *
 * The pages never show the session token, a voter key or any id a voter does not need; the only
 * code a voter sees is their own tracking code.
 */
import type { Child } from "hono/jsx";
import { sectionsBefore } from "../../../lib/election/ballot-order.ts";
import type { BallotStyle, Contest } from "../../../lib/election/model.ts";
import type { ErrorCode } from "../../../lib/errors.ts";
import type { BallotTexts, ShownText } from "./ballot-texts.ts";
import { formatInstant } from "./home.tsx";
import { LanguageSwitcher } from "./languages.tsx";
import { Layout } from "./layout.tsx";
import type { Messages } from "./messages.ts";

/** What every voting page knows: the language, its catalogue, and the election's address. */
export interface PageFrame {
  /** The language of the page's own texts (its catalogue's). */
  readonly language: string;
  /** The language the voter asked for (`?lang=`), in which the election's own texts are shown. */
  readonly requested: string;
  readonly t: Messages;
  readonly electionId: string;
  /** "?lang=xx" when the voter chose a language, else "": kept on every link and form. */
  readonly langQuery: string;
  /** The session's CSRF token when signed in: the header then has the sign-out form. */
  readonly csrf?: string;
}

export function electionBase(frame: PageFrame): string {
  return `/elections/${encodeURIComponent(frame.electionId)}`;
}

function SignOut(props: { readonly frame: PageFrame }) {
  const { frame } = props;
  if (frame.csrf === undefined) return null;
  return (
    <form method="post" action={`${electionBase(frame)}/logout${frame.langQuery}`} class="sign-out">
      <input type="hidden" name="csrf" value={frame.csrf} />
      <button type="submit" class="button-link">
        {frame.t.signOut}
      </button>
    </form>
  );
}

function VoteLayout(props: {
  readonly frame: PageFrame;
  readonly title: string;
  readonly head?: Child;
  readonly children: Child;
}) {
  const { frame, title, head, children } = props;
  return (
    <Layout language={frame.language} t={frame.t} title={title} head={head} headerEnd={<SignOut frame={frame} />}>
      {children}
    </Layout>
  );
}

/**
 * The `lang` of one of the election's own texts where it differs from the page's (a language the
 * page's catalogue does not speak, or a text the definition lacks in the voter's language), so
 * screen readers read it right.
 */
function textLang(frame: PageFrame, text: ShownText | undefined): string | undefined {
  return text === undefined || text.lang === frame.language ? undefined : text.lang;
}

/** "Vote for one" and "Vote for one." say the same: the subtitle is not repeated then. */
function sameWords(a: string, b: string): boolean {
  const words = (text: string) =>
    text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}]+/gu, " ")
      .trim();
  return words(a) === words(b);
}

export interface FieldError {
  /** The element the summary links to (an input's id). */
  readonly href: string;
  /** The contest (index on the ballot) whose fieldset shows the error. */
  readonly contestIndex: number;
  readonly message: string;
}

function ErrorSummary(props: {
  readonly t: Messages;
  readonly errors: readonly FieldError[];
  readonly code: ErrorCode;
}) {
  const { t, errors, code } = props;
  if (errors.length === 0) return null;
  return (
    <div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex={-1} data-error-code={code}>
      <h2 id="error-summary-title">{t.errorSummaryTitle}</h2>
      <ul>
        {errors.map((e) => (
          <li>
            <a href={`#${e.href}`}>{e.message}</a>
          </li>
        ))}
      </ul>
    </div>
  );
}

/** The choices a ballot page shows as made: from the draft, or the form sent back with errors. */
export interface Choices {
  readonly chosen: ReadonlyMap<string, ReadonlySet<string>>;
  readonly writeIns: ReadonlyMap<string, string>;
}

export function optionInputId(contestIndex: number, optionIndex: number): string {
  return `c${contestIndex}-o${optionIndex}`;
}
export function writeInInputId(contestIndex: number, optionIndex: number): string {
  return `c${contestIndex}-w${optionIndex}`;
}

function instructions(t: Messages, contest: Contest): string {
  if (contest.kind === "ballot-measure") return t.voteYesOrNo;
  return contest.votesAllowed === 1 ? t.voteForOne : t.voteForUpTo(contest.votesAllowed);
}

/** A heading of rank 2 to 6: a ballot's sections nest as deep as the definition's headers do. */
function Heading(props: {
  readonly rank: number;
  readonly class?: string;
  readonly lang: string | undefined;
  readonly children: Child;
}) {
  const { rank, children, ...rest } = props;
  switch (rank) {
    case 2:
      return <h2 {...rest}>{children}</h2>;
    case 3:
      return <h3 {...rest}>{children}</h3>;
    case 4:
      return <h4 {...rest}>{children}</h4>;
    case 5:
      return <h5 {...rest}>{children}</h5>;
    default:
      return <h6 {...rest}>{children}</h6>;
  }
}

function ContestFieldset(props: {
  readonly t: Messages;
  readonly bt: BallotTexts;
  readonly contest: Contest;
  readonly index: number;
  readonly choices: Choices;
  readonly errors: readonly FieldError[];
  readonly writeInMax: number;
  readonly frame: PageFrame;
  /** The rank of the contest's heading: 2, or deeper inside the ballot's sections. */
  readonly rank: number;
}) {
  const { t, bt, contest, index, choices, errors, writeInMax, frame, rank } = props;
  const chosen = choices.chosen.get(contest.id) ?? new Set<string>();
  const many = contest.votesAllowed > 1;
  const hintId = `contest-${index}-hint`;
  const errorId = `contest-${index}-error`;
  const subtitle = bt.contestSubtitle(contest);
  const fullText = bt.contestFullText(contest);
  const title = bt.contestTitle(contest);
  return (
    <fieldset
      id={`contest-${index}`}
      class={errors.length > 0 ? "contest field-error" : "contest"}
      aria-describedby={errors.length > 0 ? `${hintId} ${errorId}` : hintId}
      data-votes-allowed={many ? String(contest.votesAllowed) : undefined}
    >
      <legend>
        <Heading rank={rank} lang={textLang(frame, title)}>
          {title.text}
        </Heading>
      </legend>
      {fullText ? (
        <p class="measure-text" lang={textLang(frame, fullText)}>
          {fullText.text}
        </p>
      ) : null}
      <p class="hint" id={hintId}>
        {subtitle && !sameWords(subtitle.text, instructions(t, contest)) ? (
          <span class="subtitle" lang={textLang(frame, subtitle)}>
            {subtitle.text}
          </span>
        ) : null}
        {instructions(t, contest)}
      </p>
      {errors.length > 0 ? (
        <div class="error-message" id={errorId}>
          {errors.map((e) => (
            <p>
              <span class="visually-hidden">{`${t.errorPrefix}: `}</span>
              {e.message}
            </p>
          ))}
        </div>
      ) : null}
      {many ? (
        <p
          class="choice-count"
          aria-live="polite"
          data-allowed={String(contest.votesAllowed)}
          data-counts={JSON.stringify(
            [0, ...contest.options.map((_, n) => n + 1)].map((n) => t.chosenCount(n, contest.votesAllowed)),
          )}
          hidden
        >
          {t.chosenCount(chosen.size, contest.votesAllowed)}
        </p>
      ) : null}
      <div class="options">
        {contest.options.map((option, j) => {
          const inputId = optionInputId(index, j);
          const party = bt.partyName(option);
          const label = bt.optionLabel(option);
          return (
            <div class={option.isWriteIn ? "option option-write-in" : "option"}>
              <input
                type={many ? "checkbox" : "radio"}
                id={inputId}
                name={`m:${contest.id}`}
                value={option.id}
                checked={chosen.has(option.id)}
              />
              <label for={inputId}>
                {option.isWriteIn ? t.writeInOption : <span lang={textLang(frame, label)}>{label.text}</span>}
                {party ? (
                  <span class="party" lang={textLang(frame, party)}>
                    {party.text}
                  </span>
                ) : null}
              </label>
              {option.isWriteIn ? (
                <div class="write-in">
                  <label for={writeInInputId(index, j)}>{t.writeInName}</label>
                  <p class="hint" id={`${writeInInputId(index, j)}-hint`}>
                    {t.writeInHint(writeInMax)}
                  </p>
                  <input
                    type="text"
                    id={writeInInputId(index, j)}
                    name={`w:${option.id}`}
                    value={choices.writeIns.get(option.id) ?? ""}
                    maxlength={writeInMax}
                    autocomplete="off"
                    aria-describedby={`${writeInInputId(index, j)}-hint`}
                  />
                </div>
              ) : null}
            </div>
          );
        })}
        {many ? null : (
          <div class="option option-blank">
            <input
              type="radio"
              id={`c${index}-blank`}
              name={`m:${contest.id}`}
              value=""
              checked={chosen.size === 0 && choices.chosen.has(contest.id)}
            />
            <label for={`c${index}-blank`}>{t.leaveBlank}</label>
          </div>
        )}
      </div>
    </fieldset>
  );
}

export function BallotPage(props: {
  readonly frame: PageFrame;
  readonly bt: BallotTexts;
  readonly ballotStyleId: string;
  /** The style, for its section headings (NIST OrderedHeaders), when it has any. */
  readonly style?: BallotStyle;
  readonly contests: readonly Contest[];
  readonly choices: Choices;
  readonly errors: readonly FieldError[];
  readonly revote: boolean;
  readonly writeInMax: number;
}) {
  const { frame, bt, ballotStyleId, style, contests, choices, errors, revote, writeInMax } = props;
  const { t } = frame;
  const base = electionBase(frame);
  return (
    <VoteLayout frame={frame} title={errors.length > 0 ? `${t.errorPrefix}: ${t.ballotTitle}` : t.ballotTitle}>
      <LanguageSwitcher
        label={frame.t.languageLabel}
        languages={bt.languages}
        current={bt.language}
        path={`${base}/ballot`}
      />
      <ErrorSummary t={t} errors={errors} code="invalid_ballot" />
      <p class="caption" lang={textLang(frame, bt.electionName)}>
        {bt.electionName.text}
      </p>
      <h1>{t.ballotTitle}</h1>
      <p class="lead">{t.ballotIntro}</p>
      {revote ? (
        <div class="panel panel-warning" role="note">
          <h2>{t.revoteNoticeTitle}</h2>
          <p>{t.revoteNotice}</p>
        </div>
      ) : null}
      <form method="post" action={`${base}/review${frame.langQuery}`} class="ballot" novalidate>
        <input type="hidden" name="ballotStyle" value={ballotStyleId} />
        {contests.map((contest, index) => {
          const sections = sectionsBefore(style, contest.id, 2);
          return (
            <>
              {sections.headings.map(({ heading, rank }) => {
                const shown = bt.heading(heading);
                return (
                  <Heading
                    rank={rank}
                    class={`ballot-section ballot-section-${heading.level}`}
                    lang={textLang(frame, shown)}
                  >
                    {shown.text}
                  </Heading>
                );
              })}
              <ContestFieldset
                t={t}
                bt={bt}
                contest={contest}
                index={index}
                choices={choices}
                errors={errors.filter((e) => e.contestIndex === index)}
                writeInMax={writeInMax}
                frame={frame}
                rank={sections.rank}
              />
            </>
          );
        })}
        <button type="submit" class="button">
          {t.reviewButton}
        </button>
      </form>
    </VoteLayout>
  );
}

export interface ReviewContest {
  readonly title: ShownText;
  /** A write-in's label is a plain string: the page's words and the voter's, not the election's. */
  readonly choices: readonly { readonly label: ShownText | string; readonly party?: ShownText }[];
}

/** The hidden fields that carry the choices from the review to the cast. */
export interface HiddenField {
  readonly name: string;
  readonly value: string;
}

export function ReviewPage(props: {
  readonly frame: PageFrame & { readonly csrf: string };
  readonly electionName: ShownText;
  readonly contests: readonly ReviewContest[];
  readonly hidden: readonly HiddenField[];
  readonly idempotencyKey: string;
  readonly revote: boolean;
}) {
  const { frame, electionName, contests, hidden, idempotencyKey, revote } = props;
  const { t } = frame;
  const base = electionBase(frame);
  return (
    <VoteLayout frame={frame} title={t.reviewTitle}>
      <p class="caption" lang={textLang(frame, electionName)}>
        {electionName.text}
      </p>
      <h1>{t.reviewTitle}</h1>
      <p class="lead">{t.reviewIntro}</p>
      <dl class="review-list">
        {contests.map((contest, index) => (
          <div class={contest.choices.length === 0 ? "review-row review-blank" : "review-row"}>
            <dt lang={textLang(frame, contest.title)}>{contest.title.text}</dt>
            <dd>
              {contest.choices.length === 0 ? (
                <>
                  <p class="undervote">
                    <strong>{t.reviewNoVote}</strong>
                  </p>
                  <p class="hint">{t.reviewNoVoteNote}</p>
                </>
              ) : (
                <ul class="review-choices">
                  {contest.choices.map((choice) => (
                    <li>
                      {typeof choice.label === "string" ? (
                        choice.label
                      ) : (
                        <span lang={textLang(frame, choice.label)}>{choice.label.text}</span>
                      )}
                      {choice.party ? (
                        <span class="party" lang={textLang(frame, choice.party)}>
                          {choice.party.text}
                        </span>
                      ) : null}
                    </li>
                  ))}
                </ul>
              )}
            </dd>
            <dd class="review-change">
              <a href={`${base}/ballot${frame.langQuery}#contest-${index}`}>
                {t.change}
                <span class="visually-hidden" lang={textLang(frame, contest.title)}>{` ${contest.title.text}`}</span>
              </a>
            </dd>
          </div>
        ))}
      </dl>
      {revote ? (
        <div class="panel panel-warning" role="note">
          <p>{t.revoteNotice}</p>
        </div>
      ) : null}
      <p>{t.castNote}</p>
      <form method="post" action={`${base}/cast${frame.langQuery}`} class="cast-form">
        <input type="hidden" name="csrf" value={frame.csrf} />
        <input type="hidden" name="idempotencyKey" value={idempotencyKey} />
        {hidden.map((field) => (
          <input type="hidden" name={field.name} value={field.value} />
        ))}
        <button type="submit" class="button button-cast">
          {t.castButton}
        </button>
      </form>
    </VoteLayout>
  );
}

export interface ReceiptView {
  readonly trackingCode: string;
  readonly acceptedAt: string;
  readonly checkUrl: string;
  readonly qrUrl: string;
  readonly revoteAllowed: boolean;
}

function ReceiptCore(props: { readonly frame: PageFrame; readonly receipt: ReceiptView }) {
  const { frame, receipt } = props;
  const { t } = frame;
  return (
    <>
      <h2 class="code-label">{t.receiptCodeLabel}</h2>
      <p class="code-display tracking-code" id="tracking-code">
        {receipt.trackingCode}
      </p>
      {/* Shown by the script, which copies the code; without it the code is selected in one click. */}
      <p class="copy no-print" hidden>
        <button type="button" class="button button-secondary" data-copy="tracking-code" data-copied={t.receiptCopied}>
          {t.receiptCopy}
        </button>
        <span class="copy-status" role="status"></span>
      </p>
      <div class="receipt-qr">
        <img src={receipt.qrUrl} alt={t.receiptQrAlt(receipt.trackingCode)} width={176} height={176} />
        <p>
          {`${t.receiptCheckAt} `}
          <a href={receipt.checkUrl} class="check-url">
            {receipt.checkUrl}
          </a>
        </p>
      </div>
      <p>{t.receiptCastAt(formatInstant(frame.language, receipt.acceptedAt))}</p>
    </>
  );
}

function ReceiptMeaning(props: { readonly t: Messages; readonly receipt: ReceiptView }) {
  const { t, receipt } = props;
  return (
    <>
      <h2>{t.receiptProvesTitle}</h2>
      <p>{t.receiptProves}</p>
      <p>{t.receiptDoesNotShow}</p>
      <p class="policy-note">{receipt.revoteAllowed ? t.revoteNotice : t.receiptFinal}</p>
    </>
  );
}

export function ReceiptPage(props: {
  readonly frame: PageFrame;
  readonly electionName: ShownText;
  readonly receipt: ReceiptView;
}) {
  const { frame, electionName, receipt } = props;
  const { t } = frame;
  const base = electionBase(frame);
  const sep = frame.langQuery === "" ? "?" : "&";
  return (
    <VoteLayout frame={frame} title={t.receiptTitle}>
      <div class="panel panel-success receipt" role="status">
        <p class="caption" lang={textLang(frame, electionName)}>
          {electionName.text}
        </p>
        <h1>{t.receiptTitle}</h1>
        <p class="lead">{t.receiptIntro}</p>
        <ReceiptCore frame={frame} receipt={receipt} />
      </div>
      <ul class="actions receipt-actions">
        <li>
          <a class="button" href={`${base}/receipt${frame.langQuery}${sep}view=print`}>
            {t.receiptPrint}
          </a>
        </li>
        <li>
          <a href={`${base}/receipt.jws`} download>
            {t.receiptDownload}
          </a>
        </li>
      </ul>
      <ReceiptMeaning t={t} receipt={receipt} />
    </VoteLayout>
  );
}

/** The receipt to print: the code, the QR code, the address, what it proves; no navigation. */
export function PrintableReceiptPage(props: {
  readonly frame: PageFrame;
  readonly electionName: ShownText;
  readonly receipt: ReceiptView;
}) {
  const { frame, electionName, receipt } = props;
  const { t } = frame;
  return (
    <VoteLayout frame={frame} title={t.receiptTitle}>
      <p class="no-print">
        <a href={`${electionBase(frame)}/receipt${frame.langQuery}`}>{t.receiptBack}</a>
      </p>
      <div class="printable-receipt">
        <p class="caption" lang={textLang(frame, electionName)}>
          {electionName.text}
        </p>
        <h1>{t.receiptTitle}</h1>
        <ReceiptCore frame={frame} receipt={receipt} />
        <ReceiptMeaning t={t} receipt={receipt} />
      </div>
    </VoteLayout>
  );
}

export function SignedInPage(props: { readonly frame: PageFrame; readonly next: string }) {
  const { frame, next } = props;
  const { t } = frame;
  // A meta refresh, not a redirect: this page answers the issuer's cross-site POST, and only a
  // navigation that starts on our own page carries the SameSite=Strict session cookie.
  return (
    <Layout
      language={frame.language}
      t={t}
      title={t.signedInTitle}
      head={<meta http-equiv="refresh" content={`0; url=${next}`} />}
    >
      <h1>{t.signedInTitle}</h1>
      <p class="lead">{t.signedInText}</p>
      <p>
        <a class="button" href={next}>
          {t.signedInContinue}
        </a>
      </p>
    </Layout>
  );
}

export function SignedOutPage(props: { readonly frame: PageFrame; readonly loginUrl: string }) {
  const { frame, loginUrl } = props;
  const { t } = frame;
  return (
    <Layout language={frame.language} t={t} title={t.signedOutTitle}>
      <div class="panel panel-success" role="status">
        <h1>{t.signedOutTitle}</h1>
        <p>{t.signedOutText}</p>
      </div>
      <ul class="actions">
        <li>
          <a class="button" href={loginUrl}>
            {t.signInAgain}
          </a>
        </li>
        <li>
          <a href="/">{t.backToStart}</a>
        </li>
      </ul>
    </Layout>
  );
}

export interface StateLink {
  readonly href: string;
  readonly label: string;
  readonly primary?: boolean;
}

/**
 * A state that stops the voter, in plain words: what happened and what they can do. The code
 * for machines (and tests) is in `data-error-code`.
 */
export function StatePage(props: {
  readonly frame: PageFrame;
  readonly code: ErrorCode;
  readonly title: string;
  readonly text: string;
  readonly trackingCode?: string;
  readonly checkUrl?: string;
  readonly links: readonly StateLink[];
}) {
  const { frame, code, title, text, trackingCode, checkUrl, links } = props;
  const { t } = frame;
  return (
    <VoteLayout frame={frame} title={title}>
      <div class="panel panel-warning state" data-error-code={code}>
        <h1>{title}</h1>
        <p>{text}</p>
        {trackingCode ? (
          <>
            <h2 class="code-label">{t.stateYourCode}</h2>
            <p class="code-display tracking-code">{trackingCode}</p>
            {checkUrl ? (
              <p>
                <a href={checkUrl}>{t.stateCheckLink}</a>
              </p>
            ) : null}
          </>
        ) : null}
      </div>
      {links.length > 0 ? (
        <ul class="actions">
          {links.map((link) => (
            <li>
              <a class={link.primary ? "button" : undefined} href={link.href}>
                {link.label}
              </a>
            </li>
          ))}
        </ul>
      ) : null}
    </VoteLayout>
  );
}
