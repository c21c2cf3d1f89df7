/**
 * `/`: the elections whose polls are open or coming, each with its ways in: vote online (the eID
 * login), the live results, checking a receipt, and auditing the election (its public log, the
 * log's verifier key and the auditor's command line). Times are shown in UTC, said so, because
 * the page is the same for everyone who loads it.
 */
import type { ListedElection } from "../../../db/stores/elections.ts";
import { LanguageSwitcher } from "./languages.tsx";
import { Layout } from "./layout.tsx";
import { DEFAULT_LANGUAGE, PAGE_LANGUAGES, type Messages } from "./messages.ts";

export interface HomeElection extends ListedElection {
  readonly open: boolean;
  /** An administrator closed voting early and that instant has passed (the schedule said later). */
  readonly endedEarly: boolean;
}

/**
 * Absolute URLs, because the auditor's command line is copied into a terminal. The command takes
 * the verifier key as a placeholder, never fetched from this server: a key taken from the server
 * being audited would let that server vouch for itself. Auditors take it from the election
 * authority's own publication (and may compare it with the one linked here).
 */
function auditUrls(
  origin: string,
  electionId: string,
  keyPlaceholder: string,
): { log: string; key: string; command: string } {
  const log = `${origin}/v1/logs/${electionId}/`;
  const key = `${origin}/v1/logs/${electionId}/verifier-key`;
  return { log, key, command: `npm run auditor -- verify --log ${log} --key '${keyPlaceholder}'` };
}

/** The receipt check in the page's language (English needs no query). */
export function checkPath(language: string): string {
  return language === DEFAULT_LANGUAGE ? "/check" : `/check?lang=${encodeURIComponent(language)}`;
}

export function formatInstant(language: string, iso: string): string {
  const text = new Intl.DateTimeFormat(language === "en" ? "en-GB" : language, {
    dateStyle: "full",
    timeStyle: "short",
    timeZone: "UTC",
  }).format(new Date(iso));
  return `${text} UTC`;
}

function ElectionCard(props: {
  readonly election: HomeElection;
  readonly language: string;
  readonly t: Messages;
  readonly origin: string;
}) {
  const { election, language, t, origin } = props;
  const id = encodeURIComponent(election.id);
  const audit = auditUrls(origin, id, t.auditKeyPlaceholder);
  const headingId = `election-${election.id}`;
  return (
    <section class="card" aria-labelledby={headingId}>
      {election.endedEarly ? (
        <p class="tag tag-ended">{t.pollsEndedEarly}</p>
      ) : (
        <p class={election.open ? "tag tag-open" : "tag tag-coming"}>
          {election.open ? t.pollsOpenNow : t.pollsComing}
        </p>
      )}
      <h2 id={headingId}>{election.name}</h2>
      <p>
        {election.endedEarly && election.closedEarlyAtMs !== null
          ? t.pollsEndedEarlyAt(formatInstant(language, new Date(election.closedEarlyAtMs).toISOString()))
          : t.pollsOpenFromTo(formatInstant(language, election.opensAt), formatInstant(language, election.closesAt))}
      </p>
      <ul class="actions">
        {election.open ? (
          <li>
            <a
              class="button"
              href={`/v1/auth/login?electionId=${id}${language === DEFAULT_LANGUAGE ? "" : `&lang=${encodeURIComponent(language)}`}`}
              aria-describedby={`${headingId}-vote-hint`}
            >
              {t.voteOnline}
            </a>
            <span class="hint" id={`${headingId}-vote-hint`}>
              {t.voteOnlineHint}
            </span>
          </li>
        ) : null}
        <li>
          <a
            href={`/elections/${id}/results${language === DEFAULT_LANGUAGE ? "" : `?lang=${encodeURIComponent(language)}`}`}
          >
            {t.liveResults}
          </a>
        </li>
        <li>
          <a href={checkPath(language)}>{t.checkReceipt}</a>
        </li>
      </ul>
      <details class="audit">
        <summary>{t.auditTitle}</summary>
        <p>{t.auditIntro}</p>
        <ul>
          <li>
            <a href={audit.log}>{t.auditLog}</a>
          </li>
          <li>
            <a href={audit.key}>{t.auditKey}</a>
          </li>
        </ul>
        <p class="label" id={`${headingId}-command`}>
          {t.auditCommand}
        </p>
        <pre aria-labelledby={`${headingId}-command`} tabindex={0}>
          <code>{audit.command}</code>
        </pre>
        <p>{t.auditKeySource}</p>
      </details>
    </section>
  );
}

export function HomePage(props: {
  readonly language: string;
  readonly t: Messages;
  readonly origin: string;
  readonly elections: readonly HomeElection[];
}) {
  const { language, t, origin, elections } = props;
  return (
    <Layout language={language} t={t} title={t.homeTitle}>
      <LanguageSwitcher label={t.languageLabel} languages={PAGE_LANGUAGES} current={language} path="/" />
      <h1>{t.homeTitle}</h1>
      <p class="lead">{t.homeIntro}</p>
      {elections.length === 0 ? (
        <div class="empty">
          <p>
            <strong>{t.homeEmpty}</strong>
          </p>
          <p>{t.homeEmptyHint}</p>
          <p>
            <a href={checkPath(language)}>{t.checkReceipt}</a>
          </p>
        </div>
      ) : (
        elections.map((election) => <ElectionCard election={election} language={language} t={t} origin={origin} />)
      )}
    </Layout>
  );
}
