/**
 * `/elections/{id}/results`: the public results of an election as its latest public snapshot
 * shows them. Turnout per district, then every contest: its national figures and, under
 * "Results by district", each district's. `?view=kiosk` is the wall-screen view: large type,
 * the whole width, no navigation, national figures only, every contest at once.
 *
 * Each contest's figures are one data table: option, votes, share. The bar beside each share is
 * drawn in SVG (its length is geometry, `width`, which the CSP allows, never a style), hidden from
 * assistive technology: it repeats the share in the cell beside it, so a screen reader reads the
 * table once, with nothing drawn to skip.
 *
 * Every figure comes from lib/results/display.ts (`displayFigures`) and sits in an element that
 * carries its key (`data-slot`, `data-bar`): browser/results.ts computes the same figures with the
 * same code as updates arrive and patches those elements in place, so focus and reading position
 * stay where the reader left them. What the script needs (the frame, the snapshot, the words of
 * its states) is in data attributes: no inline script. Without JavaScript the page is complete
 * and says it does not update by itself, with a plain link to refresh it.
 */
import { localize } from "../../../lib/election/localize.ts";
import type { CompiledElection, Contest } from "../../../lib/election/model.ts";
import {
  asOfClock,
  BLANKS_ROW,
  NATIONAL,
  releaseKind,
  slotKey,
  turnoutKey,
  updatedAgo,
  WRITE_INS_ROW,
  type DisplayFigures,
  type DisplayFrame,
  type ReleaseKind,
} from "../../../lib/results/display.ts";
import type { LiveSnapshot } from "../../../lib/results/live.ts";
import type { BallotTexts, ShownText } from "./ballot-texts.ts";
import { LanguageSwitcher } from "./languages.tsx";
import { Layout } from "./layout.tsx";
import type { Messages } from "./messages.ts";

const RESULTS_SCRIPT_PATH = "/assets/results.js";

export interface ResultsPageProps {
  readonly language: string;
  readonly t: Messages;
  readonly bt: BallotTexts;
  readonly election: CompiledElection;
  readonly frame: DisplayFrame;
  readonly snapshot: LiveSnapshot | null;
  readonly figures: DisplayFigures;
  readonly choicesBeforeClose: boolean;
  readonly kiosk: boolean;
  readonly nowMs: number;
  /** This page's path, and the query that keeps the language and view (for the refresh link). */
  readonly path: string;
  readonly query: string;
}

/** The words the script shows for its states and release kinds, in the page's language. */
function scriptWords(t: Messages, k: number): Record<string, string> {
  return {
    connecting: t.resultsLinkConnecting,
    live: t.resultsLinkLive,
    reconnecting: t.resultsLinkReconnecting,
    polling: t.resultsLinkPolling,
    offline: t.resultsLinkOffline,
    pending: t.resultsKindPending(k),
    snapshot: t.resultsKindSnapshot(k),
    exact: t.resultsKindExact,
    "turnout-only": t.resultsKindTurnoutOnly,
  };
}

function kindSentence(t: Messages, kind: ReleaseKind, k: number): string {
  return scriptWords(t, k)[kind] ?? "";
}

function textLang(language: string, text: ShownText | undefined): string | undefined {
  return text === undefined || text.lang === language ? undefined : text.lang;
}

function Bar(props: { readonly figures: DisplayFigures; readonly slot: string }) {
  const length = props.figures.bars.get(props.slot) ?? 0;
  return (
    <svg class="bar" viewBox="0 0 100 10" preserveAspectRatio="none" aria-hidden="true" focusable="false">
      <rect class="bar-track" x="0" y="0" width="100" height="10" />
      <rect class="bar-fill" x="0" y="0" width={length} height="10" data-bar={props.slot} />
    </svg>
  );
}

function Figure(props: { readonly figures: DisplayFigures; readonly slot: string; readonly class?: string }) {
  return (
    <span class={props.class} data-slot={props.slot}>
      {props.figures.texts.get(props.slot) ?? ""}
    </span>
  );
}

function ShareCell(props: { readonly figures: DisplayFigures; readonly slot: string }) {
  return (
    <td class="share">
      <Figure figures={props.figures} slot={props.slot} class="share-figure" />
      <Bar figures={props.figures} slot={props.slot} />
    </td>
  );
}

function ContestTable(props: {
  readonly p: ResultsPageProps;
  readonly contest: Contest;
  readonly frameContest: DisplayFrame["contests"][number];
  readonly scope: string;
  readonly caption: string;
}) {
  const { p, contest, frameContest, scope, caption } = props;
  const { t, bt, figures, language } = p;
  const options = contest.options.filter((o) => !o.isWriteIn);
  const hasWriteIns = contest.writeInsAllowed || frameContest.writeInOptions.length > 0;
  return (
    <>
      <table class="results-table">
        <caption>{caption}</caption>
        <thead>
          <tr>
            <th scope="col">{t.resultsOption}</th>
            <th scope="col" class="num">
              {t.resultsVotes}
            </th>
            <th scope="col">{t.resultsShare}</th>
          </tr>
        </thead>
        <tbody>
          {options.map((option) => {
            const label = bt.optionLabel(option);
            const party = bt.partyName(option);
            return (
              <tr>
                <th scope="row">
                  <span lang={textLang(language, label)}>{label.text}</span>
                  {party ? (
                    <span class="party" lang={textLang(language, party)}>
                      {party.text}
                    </span>
                  ) : null}
                </th>
                <td class="num">
                  <Figure figures={figures} slot={slotKey(scope, contest.id, option.id, "votes")} />
                </td>
                <ShareCell figures={figures} slot={slotKey(scope, contest.id, option.id, "share")} />
              </tr>
            );
          })}
          {hasWriteIns ? (
            <tr class="write-ins">
              <th scope="row">{t.resultsWriteIns}</th>
              <td class="num">
                <Figure figures={figures} slot={slotKey(scope, contest.id, WRITE_INS_ROW, "votes")} />
              </td>
              <ShareCell figures={figures} slot={slotKey(scope, contest.id, WRITE_INS_ROW, "share")} />
            </tr>
          ) : null}
        </tbody>
      </table>
      <p class="blanks">
        {`${t.resultsBlanks} `}
        <Figure figures={figures} slot={slotKey(scope, contest.id, BLANKS_ROW, "votes")} class="blank-figure" />
      </p>
    </>
  );
}

function districtName(election: CompiledElection, language: string, id: string): string {
  const district = election.districts.get(id);
  return district ? localize(district.nameText, language, district.name) : id;
}

function ContestSection(props: {
  readonly p: ResultsPageProps;
  readonly frameContest: DisplayFrame["contests"][number];
}) {
  const { p, frameContest } = props;
  const { t, bt, election, language, kiosk, snapshot, choicesBeforeClose } = p;
  const contest = election.contests.get(frameContest.id);
  if (!contest) return null;
  const title = bt.contestTitle(contest);
  const headingId = `contest-${frameContest.id}`;
  const hidden = snapshot ? !snapshot.choices : !choicesBeforeClose;
  return (
    <section class="results-contest" aria-labelledby={headingId} data-choices hidden={hidden}>
      <h2 id={headingId} lang={textLang(language, title)}>
        {title.text}
      </h2>
      <ContestTable
        p={p}
        contest={contest}
        frameContest={frameContest}
        scope={NATIONAL}
        caption={t.resultsAllDistricts}
      />
      {kiosk || frameContest.districts.length === 0 ? null : (
        <details class="by-district">
          <summary>{t.resultsByDistrict}</summary>
          {frameContest.districts.map((districtId) => (
            <ContestTable
              p={p}
              contest={contest}
              frameContest={frameContest}
              scope={districtId}
              caption={districtName(election, bt.language, districtId)}
            />
          ))}
        </details>
      )}
    </section>
  );
}

function Turnout(props: { readonly p: ResultsPageProps }) {
  const { p } = props;
  const { t, figures, frame, election, bt, kiosk } = p;
  return (
    <section class="results-turnout" aria-labelledby="turnout-title">
      <h2 id="turnout-title">{t.resultsTurnoutTitle}</h2>
      <p class="turnout-headline">
        <Figure figures={figures} slot={turnoutKey(NATIONAL, "share")} class="headline-figure" />
        <span class="turnout-words">
          <Figure figures={figures} slot={turnoutKey(NATIONAL, "ballots")} />
          {` ${t.resultsBallotsOf} `}
          <Figure figures={figures} slot={turnoutKey(NATIONAL, "registered")} />
          {` ${t.resultsRegisteredVoters}`}
        </span>
      </p>
      {kiosk ? null : (
        // Four columns do not fit a phone held upright at every language's word lengths: the
        // table then scrolls sideways in its own keyboard-reachable region (WCAG 1.4.10 exempts
        // data tables), and the page itself never does.
        <div class="table-scroll" role="region" aria-labelledby="turnout-caption" tabindex={0}>
          <table class="results-table turnout-table">
            <caption id="turnout-caption">{t.resultsTurnoutCaption}</caption>
            <thead>
              <tr>
                <th scope="col">{t.resultsDistrict}</th>
                <th scope="col" class="num">
                  {t.resultsBallots}
                </th>
                <th scope="col" class="num">
                  {t.resultsRegistered}
                </th>
                <th scope="col">{t.resultsTurnout}</th>
              </tr>
            </thead>
            <tbody>
              {frame.districts.map((district) => (
                <tr>
                  <th scope="row">{districtName(election, bt.language, district.id)}</th>
                  <td class="num">
                    <Figure figures={figures} slot={turnoutKey(district.id, "ballots")} />
                  </td>
                  <td class="num">
                    <Figure figures={figures} slot={turnoutKey(district.id, "registered")} />
                  </td>
                  <ShareCell figures={figures} slot={turnoutKey(district.id, "share")} />
                </tr>
              ))}
            </tbody>
            <tfoot>
              <tr>
                <th scope="row">{t.resultsAllDistricts}</th>
                <td class="num">
                  <Figure figures={figures} slot={turnoutKey(NATIONAL, "ballots")} />
                </td>
                <td class="num">
                  <Figure figures={figures} slot={turnoutKey(NATIONAL, "registered")} />
                </td>
                <ShareCell figures={figures} slot={turnoutKey(NATIONAL, "share")} />
              </tr>
            </tfoot>
          </table>
        </div>
      )}
    </section>
  );
}

/**
 * What the figures are (a snapshot that moves in steps of k, exact, turnout only), when they were
 * taken, and whether the page keeps them current. The connection state is the page's one live
 * region (polite): the script changes it only when the state changes, never per update.
 */
function Status(props: { readonly p: ResultsPageProps }) {
  const { p } = props;
  const { t, snapshot, language, nowMs, choicesBeforeClose, election, path, query } = p;
  const k = election.settings.minBallotsPerRelease;
  const kind = releaseKind(snapshot, choicesBeforeClose);
  return (
    <div class="results-status">
      <p class="release-kind" data-release-kind={kind}>
        {kindSentence(t, kind, k)}
      </p>
      <p class="not-yet" data-not-yet hidden={snapshot !== null}>
        {t.resultsNotYet}
      </p>
      <p class="updated" data-updated hidden={snapshot === null}>
        {`${t.resultsUpdated} `}
        <time
          datetime={snapshot ? new Date(snapshot.asOf).toISOString() : undefined}
          data-as-of={snapshot ? String(snapshot.asOf) : undefined}
        >
          {snapshot ? updatedAgo(language, snapshot.asOf, nowMs) : ""}
        </time>
        {" ("}
        <span data-as-of-clock>{snapshot ? t.resultsAsOf(asOfClock(language, snapshot.asOf)) : ""}</span>
        {")"}
      </p>
      <p class="link-state" role="status" data-link-state="static">
        {t.resultsStatic}
      </p>
      <p class="refresh">
        <a href={`${path}${query}`}>{t.resultsRefresh}</a>
      </p>
    </div>
  );
}

export function ResultsPage(p: ResultsPageProps) {
  const { language, t, bt, frame, snapshot, kiosk, election, path, choicesBeforeClose } = p;
  const words = scriptWords(t, election.settings.minBallotsPerRelease);
  return (
    <Layout
      language={language}
      t={t}
      title={`${t.resultsTitle}: ${bt.electionName.text}`}
      kiosk={kiosk}
      head={<script type="module" src={RESULTS_SCRIPT_PATH}></script>}
    >
      {kiosk ? null : (
        <LanguageSwitcher label={t.languageLabel} languages={bt.languages} current={bt.language} path={path} />
      )}
      <div
        class={kiosk ? "results results-kiosk" : "results"}
        data-results
        data-frame={JSON.stringify(frame)}
        data-snapshot={snapshot ? JSON.stringify(snapshot) : ""}
        data-language={language}
        data-words={JSON.stringify({ ...words, asOf: t.resultsAsOf("{time}") })}
        data-choices-before-close={choicesBeforeClose ? "true" : "false"}
      >
        <p class="caption" lang={textLang(language, bt.electionName)}>
          {bt.electionName.text}
        </p>
        <h1>{t.resultsTitle}</h1>
        <Status p={p} />
        <Turnout p={p} />
        <div class="results-contests">
          {frame.contests.map((frameContest) => (
            <ContestSection p={p} frameContest={frameContest} />
          ))}
        </div>
      </div>
    </Layout>
  );
}

/** A results address the page cannot serve: an unknown election (404) or a bad query (400). */
export function ResultsProblemPage(props: {
  readonly language: string;
  readonly t: Messages;
  readonly code: "election_not_found" | "invalid_request";
  readonly resultsPath?: string;
}) {
  const { language, t, code, resultsPath } = props;
  const title = code === "election_not_found" ? t.stateNotFoundTitle : t.resultsBadQueryTitle;
  return (
    <Layout language={language} t={t} title={title}>
      <div data-error-code={code}>
        <h1>{title}</h1>
        <p class="lead">{code === "election_not_found" ? t.stateNotFound : t.resultsBadQuery}</p>
        <ul>
          {resultsPath ? (
            <li>
              <a href={resultsPath}>{t.resultsOpenPage}</a>
            </li>
          ) : null}
          <li>
            <a href="/">{t.notFoundHome}</a>
          </li>
        </ul>
      </div>
    </Layout>
  );
}
