/**
 * The console's pages. They render what the API answered (parsed in api.ts) and nothing else:
 * figures in tables, states and severities in words, never raw JSON or a token. Which forms
 * appear follows the signed-in role (the API still decides what is allowed: a form shown to a
 * role that may not use it would only earn the API's refusal).
 */
import type { Child } from "hono/jsx";
import type { OfficialRole } from "../../../lib/vocabulary.ts";
import type {
  Alert,
  Conflict,
  DeadLetters,
  LogStatus,
  MonitorStatus,
  PollsView,
  Reconciliation,
  Results,
  StoredDefinition,
} from "./api.ts";
import { ConsoleLayout, type SignedIn } from "./layout.tsx";
import type { ConsoleMessages } from "./messages.ts";

/** A problem shown in the error summary: its text and the field it is about (if any). */
export interface PageError {
  readonly message: string;
  readonly field?: string;
}

/** What every signed-in page has. */
export interface Frame {
  readonly t: ConsoleMessages;
  readonly signedIn: SignedIn;
  readonly role: OfficialRole;
  readonly errors?: readonly PageError[];
  readonly errorCode?: string;
  readonly notice?: string;
}

/** An instant as officials read it: date and time to the second, UTC, unambiguous. */
export function when(iso: string): string {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return iso;
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function ErrorSummary(props: { t: ConsoleMessages; errors: readonly PageError[]; code?: string }) {
  if (props.errors.length === 0) return null;
  return (
    <div
      class="error-summary"
      role="alert"
      aria-labelledby="error-summary-title"
      tabindex={-1}
      data-error-code={props.code}
    >
      <h2 id="error-summary-title">{props.t.errorSummaryTitle}</h2>
      <ul>
        {props.errors.map((e) => (
          <li>{e.field ? <a href={`#${e.field}`}>{e.message}</a> : e.message}</li>
        ))}
      </ul>
    </div>
  );
}

function Notice(props: { text?: string }) {
  if (!props.text) return null;
  return (
    <div class="panel panel-success console-notice" role="status">
      <p>{props.text}</p>
    </div>
  );
}

/**
 * The head of a page outside an election: the way back to the elections (when `back`), the error
 * summary, the title and the lead (when the page has one).
 */
function PageHead(props: {
  t: ConsoleMessages;
  title: string;
  errors: readonly PageError[];
  code?: string | undefined;
  back?: boolean;
  lead?: string;
}) {
  const { t } = props;
  return (
    <>
      {props.back ? (
        <p class="breadcrumb">
          <a href="/console">{t.electionsTitle}</a>
        </p>
      ) : null}
      <ErrorSummary t={t} errors={props.errors} code={props.code} />
      <h1>{props.title}</h1>
      {props.lead === undefined ? null : <p class="lead">{props.lead}</p>}
    </>
  );
}

/** A column of a data table: its header, and whether it holds figures (aligned as numbers). */
interface Column {
  readonly label: string;
  readonly num?: boolean;
}

/**
 * A data table in a region that scrolls on its own on a narrow screen (focusable, so a keyboard
 * can scroll it), named by `labelledBy`: the id of a heading outside, or with `caption`, of the
 * table's own caption (visually hidden: the page's heading already says it).
 */
function DataTable(props: { labelledBy: string; caption?: string; columns: readonly Column[]; children: Child }) {
  return (
    <div class="table-scroll" role="region" aria-labelledby={props.labelledBy} tabindex={0}>
      <table class="results-table console-table">
        {props.caption === undefined ? null : (
          <caption id={props.labelledBy} class="visually-hidden">
            {props.caption}
          </caption>
        )}
        <thead>
          <tr>
            {props.columns.map((column) =>
              column.num ? (
                <th scope="col" class="num">
                  {column.label}
                </th>
              ) : (
                <th scope="col">{column.label}</th>
              ),
            )}
          </tr>
        </thead>
        {props.children}
      </table>
    </div>
  );
}

function Field(props: {
  id: string;
  name: string;
  label: string;
  hint?: string;
  error?: string;
  multiline?: boolean;
  required?: boolean;
  value?: string;
  type?: string;
  autocomplete?: string;
}) {
  const hintId = props.hint ? `${props.id}-hint` : undefined;
  const errorId = props.error ? `${props.id}-error` : undefined;
  const describedBy = [hintId, errorId].filter((x) => x !== undefined).join(" ") || undefined;
  return (
    <div class={props.error ? "field field-error" : "field"}>
      <label for={props.id}>{props.label}</label>
      {props.hint ? (
        <span class="hint" id={hintId}>
          {props.hint}
        </span>
      ) : null}
      {props.error ? (
        <p class="error-message" id={errorId}>
          {props.error}
        </p>
      ) : null}
      {props.multiline ? (
        <textarea
          id={props.id}
          name={props.name}
          rows={3}
          maxlength={props.name === "assertion" ? 8192 : 500}
          required={props.required}
          aria-describedby={describedBy}
          aria-invalid={props.error ? "true" : undefined}
        >
          {props.value ?? ""}
        </textarea>
      ) : (
        <input
          type={props.type ?? "text"}
          id={props.id}
          name={props.name}
          value={props.value}
          required={props.required}
          autocomplete={props.autocomplete}
          aria-describedby={describedBy}
          aria-invalid={props.error ? "true" : undefined}
        />
      )}
    </div>
  );
}

function fieldError(errors: readonly PageError[] | undefined, field: string): string | undefined {
  return errors?.find((e) => e.field === field)?.message;
}

// ---- Signing in ----------------------------------------------------------------------------

export function SignInPage(props: {
  t: ConsoleMessages;
  errors?: readonly PageError[];
  errorCode?: string;
  officialId?: string;
  notice?: string;
}) {
  const { t, errors = [] } = props;
  return (
    <ConsoleLayout t={t} title={t.signInTitle}>
      <PageHead t={t} title={t.signInTitle} errors={errors} code={props.errorCode} />
      {props.notice ? (
        <div class="panel panel-warning" role="status">
          <p>{props.notice}</p>
        </div>
      ) : null}
      <p class="lead">{t.signInIntro}</p>
      {/* Filled in by the script from the key this browser keeps (IndexedDB): hidden without it. */}
      <section class="stored-key" data-stored-key hidden aria-labelledby="stored-key-title">
        <h2 id="stored-key-title" class="visually-hidden">
          {t.storedKeyIntro}
        </h2>
        <p>
          {t.storedKeyIntro} <strong data-stored-official></strong>
        </p>
        <ul class="actions">
          <li>
            <button type="button" class="button" data-sign-in-stored data-label={t.signInAs("")}>
              {t.signInAs("")}
            </button>
          </li>
          <li>
            <button type="button" class="button button-secondary" data-forget-key>
              {t.forgetKey}
            </button>
          </li>
        </ul>
        <h2 class="subhead">{t.orAnotherKey}</h2>
      </section>
      <form
        class="key-sign-in"
        data-key-sign-in
        hidden
        method="post"
        action="/console/session"
        data-signing-in={t.signingIn}
        data-official-id-missing={t.officialIdMissing}
        data-key-file-missing={t.keyFileMissing}
        data-key-file-unreadable={t.keyFileUnreadable}
      >
        <Field
          id="official-id"
          name="officialId"
          label={t.officialIdLabel}
          hint={t.officialIdHint}
          value={props.officialId}
          error={fieldError(errors, "official-id")}
          autocomplete="username"
          required
        />
        <div class={fieldError(errors, "key-file") ? "field field-error" : "field"}>
          <label for="key-file">{t.keyFileLabel}</label>
          <span class="hint" id="key-file-hint">
            {t.keyFileHint}
          </span>
          {fieldError(errors, "key-file") ? (
            <p class="error-message" id="key-file-error">
              {fieldError(errors, "key-file")}
            </p>
          ) : null}
          <input
            type="file"
            id="key-file"
            accept=".json,.jwk,application/json"
            aria-describedby="key-file-hint"
            required
          />
        </div>
        <input type="hidden" name="assertion" value="" />
        <button type="submit" class="button">
          {t.signInSubmit}
        </button>
        <p class="sign-in-progress" data-sign-in-status role="status" aria-live="polite"></p>
      </form>
      <section class="no-script-sign-in" data-no-script-sign-in aria-labelledby="no-script-title">
        <h2 id="no-script-title">{t.noScriptTitle}</h2>
        <p>{t.noScriptIntro}</p>
        <form method="post" action="/console/session">
          <Field
            id="assertion"
            name="assertion"
            label={t.assertionLabel}
            multiline
            required
            error={fieldError(errors, "assertion")}
          />
          <button type="submit" class="button">
            {t.assertionSubmit}
          </button>
        </form>
      </section>
    </ConsoleLayout>
  );
}

// ---- Plain states --------------------------------------------------------------------------

export function StatePage(props: {
  t: ConsoleMessages;
  title: string;
  text: string;
  code?: string;
  signedIn?: SignedIn;
  backHref?: string;
}) {
  const { t } = props;
  return (
    <ConsoleLayout t={t} title={props.title} signedIn={props.signedIn}>
      <div class="panel panel-warning state" data-error-code={props.code}>
        <h1>{props.title}</h1>
        <p>{props.text}</p>
      </div>
      <p>
        <a href={props.backHref ?? "/console"}>{t.backToElections}</a>
      </p>
    </ConsoleLayout>
  );
}

// ---- Elections -----------------------------------------------------------------------------

export interface ListedElection {
  readonly id: string;
  readonly name: string;
  readonly opensAt: string;
  readonly closesAt: string;
}

export function ElectionsPage(props: { frame: Frame; elections: readonly ListedElection[] }) {
  const { t, signedIn, role } = props.frame;
  return (
    <ConsoleLayout t={t} title={t.electionsTitle} signedIn={signedIn}>
      <PageHead t={t} title={t.electionsTitle} errors={props.frame.errors ?? []} code={props.frame.errorCode} />
      {props.elections.length === 0 ? (
        <p class="empty">{t.electionsEmpty}</p>
      ) : (
        <DataTable
          labelledBy="elections-caption"
          caption={t.electionsTitle}
          columns={[{ label: t.electionColumn }, { label: t.opensColumn }, { label: t.closesColumn }]}
        >
          <tbody>
            {props.elections.map((e) => (
              <tr>
                <th scope="row">
                  <a href={`/console/elections/${e.id}`}>{e.name}</a>
                  <span class="hint">{e.id}</span>
                </th>
                <td>{when(e.opensAt)}</td>
                <td>{when(e.closesAt)}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
      {role === "administrator" || role === "security-officer" ? (
        <p>
          <a href="/console/dead-letters">{t.deadLettersLink}</a>
        </p>
      ) : null}
    </ConsoleLayout>
  );
}

// ---- An election's pages -------------------------------------------------------------------

export type ElectionTab = "overview" | "results" | "alerts" | "reconciliation" | "conflicts";

/** The pages of an election a role may read (the API's role lists for their GET routes). */
export function tabsFor(role: OfficialRole): ElectionTab[] {
  switch (role) {
    case "administrator":
      return ["overview", "results", "alerts", "reconciliation", "conflicts"];
    case "security-officer":
      return ["overview", "results", "alerts", "reconciliation"];
    case "auditor":
      return ["overview", "results", "reconciliation", "conflicts"];
    case "station-official":
      return ["overview"];
  }
}

function tabLabel(t: ConsoleMessages, tab: ElectionTab): string {
  switch (tab) {
    case "overview":
      return t.navOverview;
    case "results":
      return t.navResults;
    case "alerts":
      return t.navAlerts;
    case "reconciliation":
      return t.navReconciliation;
    case "conflicts":
      return t.navConflicts;
  }
}

function tabHref(electionId: string, tab: ElectionTab): string {
  return tab === "overview" ? `/console/elections/${electionId}` : `/console/elections/${electionId}/${tab}`;
}

function ElectionFrame(props: {
  frame: Frame;
  electionId: string;
  electionName: string;
  tab: ElectionTab;
  title: string;
  children: Child;
}) {
  const { t, signedIn, role } = props.frame;
  const href = tabHref(props.electionId, props.tab);
  return (
    <ConsoleLayout t={t} title={`${props.title} – ${props.electionName}`} signedIn={signedIn}>
      <p class="breadcrumb">
        <a href="/console">{t.electionsTitle}</a>
      </p>
      <p class="election-name">{props.electionName}</p>
      <nav class="election-nav" aria-label={t.sectionNav}>
        <ul>
          {tabsFor(role).map((tab) => (
            <li>
              <a href={tabHref(props.electionId, tab)} aria-current={tab === props.tab ? "page" : undefined}>
                {tabLabel(t, tab)}
              </a>
            </li>
          ))}
        </ul>
      </nav>
      <ErrorSummary t={t} errors={props.frame.errors ?? []} code={props.frame.errorCode} />
      <Notice text={props.frame.notice} />
      <div class="title-row">
        <h1>{props.title}</h1>
        <a class="refresh-link" href={href} data-refresh>
          {t.refresh}
        </a>
      </div>
      {props.children}
    </ConsoleLayout>
  );
}

/** A part the page could not show: not for this role, or the API's refusal in its own words. */
function Unavailable(props: { t: ConsoleMessages; refusal?: string | undefined }) {
  return (
    <p class="empty">{props.refusal === undefined ? props.t.notAvailable : props.t.couldNotRead(props.refusal)}</p>
  );
}

function Facts(props: { rows: readonly (readonly [string, Child])[]; id?: string }) {
  return (
    <dl class="facts" id={props.id}>
      {props.rows.map(([term, value]) => (
        <div class="fact">
          <dt>{term}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}

function ReasonForm(props: {
  t: ConsoleMessages;
  id: string;
  action: string;
  csrf: string;
  title: string;
  hint?: string;
  submit: string;
  errors?: readonly PageError[];
  danger?: boolean;
}) {
  const { t } = props;
  return (
    <form class="console-form" method="post" action={props.action} aria-labelledby={`${props.id}-title`}>
      <h3 id={`${props.id}-title`}>{props.title}</h3>
      {props.hint ? <p class="hint">{props.hint}</p> : null}
      <input type="hidden" name="csrf" value={props.csrf} />
      <Field
        id={props.id}
        name="reason"
        label={t.reasonLabel}
        hint={t.reasonHint}
        multiline
        required
        error={fieldError(props.errors, props.id)}
      />
      <button type="submit" class={props.danger ? "button button-danger" : "button"}>
        {props.submit}
      </button>
    </form>
  );
}

export function OverviewPage(props: {
  frame: Frame;
  electionId: string;
  electionName: string;
  polls?: PollsView;
  log?: LogStatus;
  monitor?: MonitorStatus;
  definition?: StoredDefinition;
  /** The API's refusals of the parts this role may read, by part. */
  refusals?: {
    readonly polls?: string;
    readonly log?: string;
    readonly monitor?: string;
    readonly definition?: string;
  };
}) {
  const { frame, polls, log, monitor, definition, refusals = {} } = props;
  const { t } = frame;
  const base = `/console/elections/${props.electionId}`;
  const canControl = frame.role === "administrator" && polls !== undefined;
  return (
    <ElectionFrame
      frame={frame}
      electionId={props.electionId}
      electionName={props.electionName}
      tab="overview"
      title={t.navOverview}
    >
      <div class="overview-grid">
        <section aria-labelledby="polls-title" class="console-section">
          <h2 id="polls-title">{t.pollsTitle}</h2>
          {polls ? (
            <>
              <Facts
                rows={[
                  [
                    t.pollsState,
                    <strong data-polls-state={polls.state}>{t.pollStates[polls.state] ?? polls.state}</strong>,
                  ],
                  [t.pollsSchedule, `${when(polls.opensAt)} – ${when(polls.closesAt)}`],
                  [t.pollsVotingEnds, when(polls.votingEndsAt)],
                ]}
              />
              {polls.closedEarly ? (
                <p class="panel panel-warning">
                  {t.pollsClosedEarly(when(polls.closedEarly.effectiveAt), polls.closedEarly.reason)}
                </p>
              ) : null}
              {polls.changePending ? <p class="hint">{t.pollsChangePending}</p> : null}
            </>
          ) : (
            <Unavailable t={t} refusal={refusals.polls} />
          )}
        </section>
        <section
          aria-labelledby="log-title"
          class="console-section"
          data-log-health
          data-live-log={
            frame.role === "administrator" || frame.role === "security-officer" ? props.electionId : undefined
          }
          data-seconds-word={t.secondsWord}
          data-second-word={t.secondWord}
          data-not-halted={t.logNotHalted}
        >
          <h2 id="log-title">{t.logTitle}</h2>
          {log || monitor?.log ? (
            <Facts
              id="log-facts"
              rows={[
                [t.logSize, <span data-log="size">{String(monitor?.log?.size ?? log?.size ?? 0)}</span>],
                [
                  t.logPublished,
                  <span data-log="published">{String(monitor?.log?.publishedSize ?? log?.publishedSize ?? 0)}</span>,
                ],
                [
                  t.logBacklog,
                  <span data-log="backlog">
                    {String(monitor?.log?.backlog ?? (log ? log.size - log.publishedSize : 0))}
                  </span>,
                ],
                ...(monitor?.log
                  ? ([
                      [
                        t.logCheckpointAge,
                        <span data-log="checkpoint-age">
                          {monitor.log.checkpointAgeSeconds === null
                            ? t.logNoCheckpoint
                            : t.seconds(monitor.log.checkpointAgeSeconds)}
                        </span>,
                      ],
                    ] as const)
                  : []),
                [t.logHalted, <span data-log="halted">{(monitor?.log?.halted ?? log?.halted) || t.logNotHalted}</span>],
              ]}
            />
          ) : (
            <Unavailable t={t} refusal={refusals.log} />
          )}
        </section>
        <section aria-labelledby="monitor-title" class="console-section">
          <h2 id="monitor-title">{t.monitorTitle}</h2>
          {monitor ? (
            <Facts
              rows={[
                [t.monitorOpenAlerts, <span data-monitor="open-alerts">{String(monitor.openAlerts)}</span>],
                [t.monitorDeadLetters, monitor.deadLetters === null ? t.notAvailable : String(monitor.deadLetters)],
                [
                  t.monitorAggregator,
                  monitor.aggregator === null
                    ? t.notAvailable
                    : monitor.aggregator.behind === 0
                      ? t.monitorAggregatorLevel
                      : t.ballots(monitor.aggregator.behind),
                ],
                [t.monitorEvaluatedAt, monitor.evaluatedAt ? when(monitor.evaluatedAt) : t.monitorNever],
              ]}
            />
          ) : (
            <Unavailable t={t} refusal={refusals.monitor} />
          )}
        </section>
        <section
          aria-labelledby="definition-title"
          class={definition && definition.warnings.length > 0 ? "console-section wide" : "console-section"}
          data-definition
        >
          <h2 id="definition-title">{t.definitionTitle}</h2>
          {definition ? (
            <>
              <Facts
                rows={[
                  [t.definitionVersion, String(definition.version)],
                  [t.definitionUpdated, when(definition.updatedAt)],
                ]}
              />
              {definition.warnings.length === 0 ? (
                <p class="hint">{t.definitionNoWarnings}</p>
              ) : (
                <details class="definition-warnings" open={definition.warnings.length <= 10}>
                  <summary>{t.definitionWarnings(definition.warnings.length)}</summary>
                  <ul>
                    {definition.warnings.map((w) => (
                      <li data-warning={w.code}>
                        <code>{w.path}</code> {w.message}
                      </li>
                    ))}
                  </ul>
                </details>
              )}
              <p>
                <a href={`${base}/definition.json`} download>
                  {t.definitionExport}
                </a>
              </p>
            </>
          ) : (
            <Unavailable t={t} refusal={refusals.definition} />
          )}
        </section>
      </div>
      {canControl ? (
        <section aria-labelledby="controls-title" class="console-section controls">
          <h2 id="controls-title" class="visually-hidden">
            {t.pollsTitle}
          </h2>
          {polls.state === "open" ? (
            <ReasonForm
              t={t}
              id="close-reason"
              action={`${base}/polls/close`}
              csrf={frame.signedIn.csrf}
              title={t.closeEarlyTitle}
              hint={t.closeEarlyHint}
              submit={t.closeEarlySubmit}
              errors={frame.errors}
              danger
            />
          ) : null}
          {polls.closedEarly && polls.state !== "closed" ? (
            <ReasonForm
              t={t}
              id="reopen-reason"
              action={`${base}/polls/reopen`}
              csrf={frame.signedIn.csrf}
              title={t.reopenTitle}
              submit={t.reopenSubmit}
              errors={frame.errors}
            />
          ) : null}
        </section>
      ) : null}
    </ElectionFrame>
  );
}

// ---- Results -------------------------------------------------------------------------------

function percent(ratio: number | null): string {
  return ratio === null ? "–" : `${(ratio * 100).toFixed(1)} %`;
}

export function ResultsPage(props: { frame: Frame; electionId: string; electionName: string; results: Results }) {
  const { frame, results } = props;
  const { t } = frame;
  return (
    <ElectionFrame
      frame={frame}
      electionId={props.electionId}
      electionName={props.electionName}
      tab="results"
      title={t.resultsTitle}
    >
      <div data-console-results={props.electionId}>
        <p data-results-as-of>{results.asOf ? t.resultsAsOf(when(results.asOf)) : t.resultsNone}</p>
        <section aria-labelledby="turnout-title" class="console-section">
          <h2 id="turnout-title">{t.turnoutTitle}</h2>
          <DataTable
            labelledBy="turnout-title"
            columns={[
              { label: t.districtColumn },
              { label: t.ballotsCountedColumn, num: true },
              { label: t.registeredColumn, num: true },
              { label: t.turnoutColumn, num: true },
            ]}
          >
            <tbody>
              {results.turnout.districts.map((d) => (
                <tr>
                  <th scope="row">{d.name}</th>
                  <td class="num">{String(d.ballotsCounted)}</td>
                  <td class="num">{String(d.registeredVoters)}</td>
                  <td class="num">{percent(d.ratio)}</td>
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">{t.total}</th>
                <td class="num" data-turnout-total>
                  {String(results.turnout.ballotsCounted)}
                </td>
                <td class="num">{String(results.turnout.registeredVoters)}</td>
                <td class="num">{percent(results.turnout.ratio)}</td>
              </tr>
            </tfoot>
          </DataTable>
        </section>
        {results.contests.map((contest) => (
          <section aria-labelledby={`contest-${contest.id}`} class="console-section">
            <h2 id={`contest-${contest.id}`}>{contest.name}</h2>
            <DataTable
              labelledBy={`contest-${contest.id}`}
              columns={[{ label: t.optionColumn }, { label: t.votesColumn, num: true }]}
            >
              <tbody>
                {contest.options.map((o) => (
                  <tr>
                    <th scope="row">{o.label}</th>
                    <td class="num">{String(o.votes)}</td>
                  </tr>
                ))}
                <tr>
                  <th scope="row">{t.writeInsRow}</th>
                  <td class="num">{String(contest.writeIns)}</td>
                </tr>
                <tr>
                  <th scope="row">{t.blanksRow}</th>
                  <td class="num">{String(contest.blanks)}</td>
                </tr>
              </tbody>
            </DataTable>
          </section>
        ))}
      </div>
    </ElectionFrame>
  );
}

// ---- Alerts --------------------------------------------------------------------------------

export const ALERT_FILTERS = ["active", "open", "acknowledged", "closed", "all"] as const;
export type AlertFilter = (typeof ALERT_FILTERS)[number];

export function AlertCard(props: {
  t: ConsoleMessages;
  alert: Alert;
  electionId: string;
  csrf: string;
  canHandle: boolean;
}) {
  const { t, alert } = props;
  const base = `/console/elections/${props.electionId}/alerts/${alert.id}`;
  const evidence = Object.entries(alert.evidence);
  return (
    <article
      class={`alert-card severity-${alert.severity} state-${alert.state}`}
      aria-labelledby={`${alert.id}-title`}
      data-alert-id={alert.id}
      data-alert-rule={alert.rule}
      data-alert-state={alert.state}
    >
      <header class="alert-head">
        <p class="alert-tags">
          <span class={`severity severity-${alert.severity}`}>
            {t.alertSeverity}: {t.severityWords[alert.severity]}
          </span>{" "}
          <span class="alert-state">
            {t.alertState}: {t.alertStates[alert.state]}
          </span>
        </p>
        <h2 id={`${alert.id}-title`} class="alert-summary">
          {alert.summary}
        </h2>
      </header>
      <Facts
        rows={[
          [t.alertRule, alert.rule],
          [t.alertScope, alert.scope],
          [t.alertFirstSeen, when(alert.firstSeen)],
          [t.alertLastSeen, when(alert.lastSeen)],
          [t.alertCount, String(alert.count)],
        ]}
      />
      {evidence.length > 0 ? (
        <details class="evidence">
          <summary>{t.alertEvidence}</summary>
          <dl class="facts">
            {evidence.map(([key, value]) => (
              <div class="fact">
                <dt>{key}</dt>
                <dd>{evidenceText(value)}</dd>
              </div>
            ))}
          </dl>
        </details>
      ) : null}
      {alert.acknowledged ? (
        <p class="handling">
          {t.alertAcknowledgedBy(alert.acknowledged.officialId, when(alert.acknowledged.at), alert.acknowledged.note)}
        </p>
      ) : null}
      {alert.closed ? (
        <p class="handling">{t.alertClosedBy(alert.closed.officialId, when(alert.closed.at), alert.closed.note)}</p>
      ) : null}
      {props.canHandle && alert.state !== "closed" ? (
        <form class="console-form alert-form" method="post" action={`${base}/close`}>
          <input type="hidden" name="csrf" value={props.csrf} />
          <div class="field">
            <label for={`${alert.id}-note`}>{t.noteLabel}</label>
            <span class="hint" id={`${alert.id}-note-hint`}>
              {t.noteHint}
            </span>
            <textarea
              id={`${alert.id}-note`}
              name="note"
              rows={2}
              maxlength={500}
              required
              aria-describedby={`${alert.id}-note-hint`}
            ></textarea>
          </div>
          <div class="form-buttons">
            {alert.state === "open" ? (
              <button type="submit" class="button button-secondary" formaction={`${base}/acknowledge`}>
                {t.acknowledgeSubmit}
              </button>
            ) : null}
            <button type="submit" class="button">
              {t.closeSubmit}
            </button>
          </div>
        </form>
      ) : null}
    </article>
  );
}

/** Evidence values are figures, names and times; anything nested is written out plainly. */
function evidenceText(value: unknown): string {
  if (value === null || value === undefined) return "–";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (Array.isArray(value)) return value.map(evidenceText).join(", ");
  if (typeof value === "object") {
    return Object.entries(value as Record<string, unknown>)
      .map(([k, v]) => `${k}: ${evidenceText(v)}`)
      .join("; ");
  }
  return "";
}

export function AlertsPage(props: {
  frame: Frame;
  electionId: string;
  electionName: string;
  alerts: readonly Alert[];
  filter: AlertFilter;
}) {
  const { frame } = props;
  const { t } = frame;
  const canHandle = frame.role === "administrator" || frame.role === "security-officer";
  const newestFirst = [...props.alerts].sort((a, b) => b.lastSeen.localeCompare(a.lastSeen));
  return (
    <ElectionFrame
      frame={frame}
      electionId={props.electionId}
      electionName={props.electionName}
      tab="alerts"
      title={t.alertsTitle}
    >
      <p class="lead">{t.alertsIntro}</p>
      <form class="filter-form" method="get" action={`/console/elections/${props.electionId}/alerts`}>
        <label for="alert-filter">{t.alertsFilter}</label>
        <select id="alert-filter" name="state">
          {ALERT_FILTERS.map((f) => (
            <option value={f} selected={f === props.filter}>
              {t.alertStateFilters[f]}
            </option>
          ))}
        </select>{" "}
        <button type="submit" class="button button-secondary">
          {t.alertsFilterSubmit}
        </button>
      </form>
      <p
        class="live-status"
        data-live-status
        data-connected={t.liveStatusConnected}
        data-reconnecting={t.liveStatusReconnecting}
      ></p>
      <div class="visually-hidden" data-alert-announcer role="status" aria-live="polite"></div>
      <div
        class="alert-list"
        data-alert-list={props.electionId}
        data-live-alerts={props.filter === "active" || props.filter === "open" || props.filter === "all" ? "on" : "off"}
        data-can-handle={canHandle ? "yes" : "no"}
        data-csrf={frame.signedIn.csrf}
        data-announce-prefix={t.newAlertPrefix}
      >
        {newestFirst.map((alert) => (
          <AlertCard
            t={t}
            alert={alert}
            electionId={props.electionId}
            csrf={frame.signedIn.csrf}
            canHandle={canHandle}
          />
        ))}
      </div>
      <p class="empty" data-alerts-empty hidden={newestFirst.length > 0}>
        {t.alertsEmpty}
      </p>
    </ElectionFrame>
  );
}

// ---- Reconciliation ------------------------------------------------------------------------

export function ReconciliationPage(props: {
  frame: Frame;
  electionId: string;
  electionName: string;
  reconciliation: Reconciliation;
}) {
  const { frame } = props;
  const { t } = frame;
  const stations = props.reconciliation.stations;
  return (
    <ElectionFrame
      frame={frame}
      electionId={props.electionId}
      electionName={props.electionName}
      tab="reconciliation"
      title={t.reconciliationTitle}
    >
      <p class="lead">{t.reconciliationIntro}</p>
      {stations.length === 0 ? (
        <p class="empty">{t.reconciliationEmpty}</p>
      ) : (
        <DataTable
          labelledBy="reconciliation-caption"
          caption={t.reconciliationTitle}
          columns={[
            { label: t.stationColumn },
            { label: t.consistentColumn },
            { label: t.checkInsColumn, num: true },
            { label: t.scannedColumn, num: true },
            { label: t.differencesColumn },
          ]}
        >
          <tbody>
            {stations.map((s) => (
              <tr data-station={s.stationId}>
                <th scope="row">{s.stationId}</th>
                <td>{s.sheet === null ? t.noSheet : s.consistent ? t.yes : <strong>{t.no}</strong>}</td>
                <td class="num">{`${s.system.checkIns} / ${s.sheet ? String(s.sheet.votersCheckedIn) : "–"}`}</td>
                <td class="num">{`${s.system.ballotsScanned} / ${s.sheet ? String(s.sheet.ballotsCast) : "–"}`}</td>
                <td>
                  {s.differences.length === 0 ? (
                    t.none
                  ) : (
                    <ul class="differences">
                      {s.differences.map((d) => (
                        <li>{d.message}</li>
                      ))}
                    </ul>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </ElectionFrame>
  );
}

// ---- Offline conflicts ---------------------------------------------------------------------

export function ConflictsPage(props: {
  frame: Frame;
  electionId: string;
  electionName: string;
  conflicts: readonly Conflict[];
}) {
  const { frame } = props;
  const { t } = frame;
  const canDecide = frame.role === "administrator";
  return (
    <ElectionFrame
      frame={frame}
      electionId={props.electionId}
      electionName={props.electionName}
      tab="conflicts"
      title={t.conflictsTitle}
    >
      <p class="lead">{t.conflictsIntro}</p>
      {props.conflicts.length === 0 ? <p class="empty">{t.conflictsEmpty}</p> : null}
      {props.conflicts.map((c) => {
        const id = `conflict-${c.conflictId}`;
        return (
          <article
            class="conflict-card"
            aria-labelledby={`${id}-title`}
            data-conflict-id={c.conflictId}
            data-conflict-state={c.state}
          >
            <h2 id={`${id}-title`}>{`${c.stationId} · ${t.conflictKinds[c.kind] ?? c.kind}`}</h2>
            <Facts
              rows={[
                [t.conflictState, <strong>{t.conflictStates[c.state] ?? c.state}</strong>],
                [t.districtColumn, c.districtId],
                [t.conflictCheckIn, when(c.checkInMinute)],
                [t.conflictSynced, when(c.syncedMinute)],
                [
                  t.conflictOther,
                  c.other === null
                    ? t.none
                    : c.other.channel === "online"
                      ? t.conflictOtherOnline(c.other.minute === null ? null : when(c.other.minute))
                      : t.conflictOtherPaper(c.other.stationId, when(c.other.minute)),
                ],
              ]}
            />
            {c.decision ? (
              <p class="handling">
                {t.conflictDecidedBy(c.decision.officialId, when(c.decision.minute), c.decision.reason)}
              </p>
            ) : null}
            {canDecide && c.state === "held" ? (
              <form
                class="console-form"
                method="post"
                action={`/console/elections/${props.electionId}/conflicts/${c.conflictId}/decision`}
              >
                <input type="hidden" name="csrf" value={frame.signedIn.csrf} />
                <fieldset>
                  <legend>{t.decisionLegend}</legend>
                  <div class="choice">
                    <input type="radio" id={`${id}-count`} name="decision" value="count" required />
                    <label for={`${id}-count`}>{t.decisionCount}</label>
                  </div>
                  <div class="choice">
                    <input type="radio" id={`${id}-do-not-count`} name="decision" value="do-not-count" />
                    <label for={`${id}-do-not-count`}>{t.decisionDoNotCount}</label>
                  </div>
                </fieldset>
                <Field id={`${id}-reason`} name="reason" label={t.reasonLabel} hint={t.reasonHint} multiline required />
                <button type="submit" class="button">
                  {t.decideSubmit}
                </button>
              </form>
            ) : null}
          </article>
        );
      })}
    </ElectionFrame>
  );
}

// ---- Dead letters --------------------------------------------------------------------------

export function DeadLettersPage(props: { frame: Frame; letters: DeadLetters["deadLetters"] }) {
  const { t, signedIn } = props.frame;
  return (
    <ConsoleLayout t={t} title={t.deadLettersTitle} signedIn={signedIn}>
      <PageHead
        t={t}
        title={t.deadLettersTitle}
        errors={props.frame.errors ?? []}
        code={props.frame.errorCode}
        back
        lead={t.deadLettersIntro}
      />
      {props.letters.length === 0 ? (
        <p class="empty">{t.deadLettersEmpty}</p>
      ) : (
        <DataTable
          labelledBy="dead-letters-caption"
          caption={t.deadLettersTitle}
          columns={[
            { label: t.letterColumn },
            { label: t.electionColumn },
            { label: t.queueColumn },
            { label: t.kindColumn },
            { label: t.attemptsColumn, num: true },
            { label: t.firstSeenColumn },
            { label: t.lastSeenColumn },
          ]}
        >
          <tbody>
            {props.letters.map((l) => (
              <tr>
                <th scope="row">{l.letterId}</th>
                <td>{l.electionId ?? "–"}</td>
                <td>{l.queue}</td>
                <td>{l.kind ?? "–"}</td>
                <td class="num">{String(l.attempts)}</td>
                <td>{when(l.firstSeen)}</td>
                <td>{when(l.lastSeen)}</td>
              </tr>
            ))}
          </tbody>
        </DataTable>
      )}
    </ConsoleLayout>
  );
}
