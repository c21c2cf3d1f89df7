/**
 * The console's pages: the overview, check-in, scan, cancellation, outbox and result sheet. Each
 * is a plain form that works without JavaScript; the server (server.ts) answers a valid POST with
 * a redirect to the page showing its outcome (POST-redirect-GET), and an invalid one with the form
 * again, a 400 status, and an error summary linked to the fields. The answers an official acts on
 * (issue a ballot, write an envelope code, do not issue) are the largest thing on the page.
 */
import { html } from "hono/html";
import type {
  CancelResult,
  CheckInResult,
  OutboxItem,
  OutboxKind,
  ResultSheet,
  ScanResult,
  StationStatus,
} from "../operations.ts";
import {
  CsrfField,
  describedBy,
  ErrorSummary,
  FieldError,
  formatTime,
  Layout,
  plainError,
  type Html,
} from "./layout.ts";
import type { Messages } from "./messages.ts";

export interface FieldErrors {
  readonly [field: string]: string | undefined;
}

function errorList(errors: FieldErrors, order: readonly string[]): { field: string; message: string }[] {
  return order.flatMap((field) => {
    const message = errors[field];
    return message ? [{ field, message }] : [];
  });
}

function fieldClass(error: string | undefined): string {
  return error ? "field field-error" : "field";
}

/** A short line under the heading after an action (the redirect's message). */
/**
 * The field a USB QR scanner types a ballot's code into (and presses Enter): its form name is
 * always `qr`, its id (the error summary's link) is the page's own.
 */
function QrField(
  t: Messages,
  id: string,
  label: string,
  value: string | undefined,
  errors: FieldErrors,
  autofocus: boolean,
): Html {
  return html`<div class="${fieldClass(errors[id])}">
    <label for="${id}">${label}</label>
    <p class="hint" id="${id}-hint">${t.qrHint}</p>
    ${FieldError(t, id, errors[id])}
    <input
      id="${id}"
      name="qr"
      type="text"
      class="input-scan"
      value="${value ?? ""}"
      autocomplete="off"
      spellcheck="false"
      maxlength="4096"
      ${autofocus ? html`autofocus` : ""}
      ${describedBy(id, true, errors[id])}
    />
  </div>`;
}

/** One figure of a `<dl class="figures">`: a count and what it counts. */
function Figure(label: string, value: number, className = ""): Html {
  return html`<div class="${className}">
    <dt>${label}</dt>
    <dd>${value}</dd>
  </div>`;
}

/** One choice of a radio group, checked when it is the group's current value. */
function RadioOption(name: string, id: string, value: string, label: string, current: string | undefined): Html {
  return html`<div class="option">
    <input type="radio" id="${id}" name="${name}" value="${value}" ${current === value ? html`checked` : ""} />
    <label for="${id}">${label}</label>
  </div>`;
}

function Notice(message: string | undefined): Html {
  if (!message) return html``;
  return html`<div class="panel panel-info notice" role="status"><p>${message}</p></div>`;
}

// ---- Overview ---------------------------------------------------------------------------------

export function HomePage(t: Messages, status: StationStatus, csrf: string, notice?: string): Html {
  const body = html`
    <h1>${t.homeTitle}</h1>
    ${Notice(notice)}
    <p class="lead">${t.homeIntro}</p>
    <h2>${t.startTitle}</h2>
    <ul class="task-list">
      <li><a class="task" href="/check-in">${t.navCheckIn}</a></li>
      <li><a class="task" href="/scan">${t.navScan}</a></li>
      <li><a class="task" href="/cancel">${t.navCancel}</a></li>
    </ul>
    <h2>${t.countsTitle}</h2>
    <dl class="figures">
      ${Figure(t.checkInsLabel, status.checkIns)} ${Figure(t.scansLabel, status.scans)}
      ${Figure(t.cancellationsLabel, status.cancellations)} ${Figure(t.pendingLabel, status.pending)}
      ${Figure(t.failedLabel, status.failed, status.failed > 0 ? "figure-failed" : "")}
    </dl>
    <h2>${t.envelopesTitle}</h2>
    ${
      status.openEnvelopes.length === 0
        ? html`<p>${t.envelopesNone}</p>`
        : html`<p>${t.envelopesIntro}</p>
            <ul class="envelopes">
              ${status.openEnvelopes.map((e) => html`<li><code class="envelope-code">${e}</code></li>`)}
            </ul>`
    }
    <h2>${t.pollbookTitle}</h2>
    ${
      status.pollbook
        ? html`<p>${t.pollbookHeld(status.pollbook.entries, formatTime(status.pollbook.issuedAt))}</p>`
        : html`<p class="warning-text">${t.pollbookNone}</p>`
    }
    <form method="post" action="/pollbook" class="inline-form">
      ${CsrfField(csrf)}
      <button type="submit" class="button button-secondary">${t.pollbookRefresh}</button>
    </form>
    <h2>${t.stationLabel}</h2>
    <dl class="facts">
      <dt>${t.stationLabel}</dt>
      <dd>${status.stationId}</dd>
      <dt>${t.electionLabel}</dt>
      <dd>${status.electionId}</dd>
      <dt>${t.districtsLabel}</dt>
      <dd>${status.districtIds.join(", ")}</dd>
      <dt>${t.serverLabel}</dt>
      <dd>${status.apiOrigin}</dd>
    </dl>
  `;
  return Layout({ t, title: t.homeTitle, current: "home", status, children: body });
}

// ---- Check in ---------------------------------------------------------------------------------

export interface CheckInForm {
  readonly nationalId: string;
  readonly identity: "id-card" | "id-card+biometric";
  readonly matched: boolean;
}

function CheckInOutcome(t: Messages, result: CheckInResult): Html {
  if (result.outcome === "refused") {
    return html`<div
      class="answer answer-refused"
      role="status"
      data-outcome="refused"
      data-error-code="${result.code}"
    >
      <h2 class="answer-title">${t.refusedTitle}</h2>
      <p class="answer-text">${plainError(t, result)}</p>
      <p class="hint">${t.refusedCode(result.code)}</p>
    </div>`;
  }
  return html`<div class="answer answer-issue" role="status" data-outcome="issue-ballot">
    <h2 class="answer-title">${t.issueTitle(result.ballotStyleId)}</h2>
    <p class="answer-text">${t.issueDistrict(result.districtId)}</p>
    ${
      result.envelope
        ? html`<div class="envelope">
            <p>${t.issueEnvelope}</p>
            <p class="envelope-code envelope-big" data-envelope>${result.envelope}</p>
            <p>${t.issueEnvelopeAfter}</p>
          </div>`
        : ""
    }
    ${result.decidedOffline ? html`<p class="hint">${t.issueOffline}</p>` : ""}
  </div>`;
}

export function CheckInPage(props: {
  readonly t: Messages;
  readonly status: StationStatus;
  readonly csrf: string;
  readonly form?: CheckInForm;
  readonly errors?: FieldErrors;
  readonly result?: CheckInResult;
}): Html {
  const { t, status, csrf, form, errors = {}, result } = props;
  const list = errorList(errors, ["nationalId", "identity"]);
  const identity = form?.identity ?? "id-card";
  const body = html`
    ${ErrorSummary(t, list)}
    <h1>${t.checkInTitle}</h1>
    ${result ? CheckInOutcome(t, result) : ""}
    ${result ? html`<h2 class="next-heading">${t.nextVoter}</h2>` : html`<p class="lead">${t.checkInIntro}</p>`}
    <form method="post" action="/check-in" class="station-form" novalidate>
      ${CsrfField(csrf)}
      <div class="${fieldClass(errors["nationalId"])}">
        <label for="nationalId">${t.nationalIdLabel}</label>
        <p class="hint" id="nationalId-hint">${t.nationalIdHint}</p>
        ${FieldError(t, "nationalId", errors["nationalId"])}
        <input
          id="nationalId"
          name="nationalId"
          type="text"
          class="input-scan"
          value="${errors["nationalId"] ? (form?.nationalId ?? "") : ""}"
          autocomplete="off"
          autocapitalize="characters"
          spellcheck="false"
          maxlength="64"
          ${list.length === 0 ? html`autofocus` : ""}
          ${describedBy("nationalId", true, errors["nationalId"])}
        />
      </div>
      <fieldset class="${fieldClass(errors["identity"])}" id="identity">
        <legend>${t.identityLegend}</legend>
        ${FieldError(t, "identity", errors["identity"])}
        ${RadioOption("identity", "identity-card", "id-card", t.identityCard, identity)}
        ${RadioOption("identity", "identity-biometric", "id-card+biometric", t.identityCardBiometric, identity)}
        <div class="option option-sub">
          <input
            type="checkbox"
            id="matched"
            name="matched"
            value="yes"
            ${form?.matched === false ? "" : html`checked`}
          />
          <label for="matched">${t.identityBiometricMatched}</label>
        </div>
      </fieldset>
      <button type="submit" class="button button-big">${t.checkInSubmit}</button>
    </form>
  `;
  return Layout({ t, title: t.checkInTitle, current: "check-in", status, children: body, hasErrors: list.length > 0 });
}

// ---- Scan ---------------------------------------------------------------------------------------

export interface ScanForm {
  readonly qr: string;
  readonly envelope: string;
  readonly districtId: string;
}

function ScanOutcome(t: Messages, result: ScanResult): Html {
  if (result.outcome === "refused") {
    return html`<div
      class="answer answer-refused"
      role="status"
      data-outcome="refused"
      data-error-code="${result.code}"
    >
      <h2 class="answer-title">${t.scanRefusedTitle}</h2>
      <p class="answer-text">${plainError(t, result)}</p>
      <p class="hint">${t.refusedCode(result.code)}</p>
    </div>`;
  }
  const accepted = result.outcome === "accepted";
  return html`<div
    class="answer ${result.held ? "answer-held" : "answer-issue"}"
    role="status"
    data-outcome="${result.outcome}"
  >
    <h2 class="answer-title">${accepted ? t.scanAcceptedTitle(result.serial) : t.scanQueuedTitle(result.serial)}</h2>
    <p class="answer-text">${accepted ? t.scanAccepted : t.scanQueued}</p>
    ${result.held ? html`<p class="answer-text"><strong>${t.scanHeld}</strong></p>` : ""}
  </div>`;
}

export function ScanPage(props: {
  readonly t: Messages;
  readonly status: StationStatus;
  readonly csrf: string;
  readonly form?: ScanForm;
  readonly errors?: FieldErrors;
  readonly result?: ScanResult;
}): Html {
  const { t, status, csrf, form, errors = {}, result } = props;
  const list = errorList(errors, ["qr", "image", "envelope", "districtId"]);
  const envelopes = status.openEnvelopes;
  const envelopeValue = form?.envelope ?? "";
  const body = html`
    ${ErrorSummary(t, list)}
    <h1>${t.scanTitle}</h1>
    ${result ? ScanOutcome(t, result) : ""}
    ${result ? html`<h2 class="next-heading">${t.nextBallot}</h2>` : html`<p class="lead">${t.scanIntro}</p>`}
    <form method="post" action="/scan" class="station-form" enctype="multipart/form-data" novalidate>
      ${CsrfField(csrf)} ${QrField(t, "qr", t.qrLabel, form?.qr, errors, list.length === 0)}
      <div class="camera" data-camera hidden>
        <button type="button" class="button button-secondary" data-camera-start>${t.cameraStart}</button>
        <button type="button" class="button button-secondary" data-camera-stop hidden>${t.cameraStop}</button>
        <video class="camera-view" data-camera-view muted playsinline hidden></video>
        <p class="camera-status" data-camera-status role="status"></p>
        <template
          id="camera-texts"
          data-looking="${t.cameraLooking}"
          data-found="${t.cameraFound}"
          data-unavailable="${t.cameraUnavailable}"
        ></template>
      </div>
      <div class="${fieldClass(errors["image"])}">
        <label for="image">${t.imageLabel}</label>
        <p class="hint" id="image-hint">${t.imageHint}</p>
        ${FieldError(t, "image", errors["image"])}
        <input
          id="image"
          name="image"
          type="file"
          accept="image/png,image/jpeg"
          ${describedBy("image", true, errors["image"])}
        />
      </div>
      <div class="${fieldClass(errors["envelope"])}">
        <label for="envelope">${t.envelopeLabel}</label>
        <p class="hint" id="envelope-hint">${t.envelopeHint}</p>
        ${FieldError(t, "envelope", errors["envelope"])}
        ${
          envelopes.length > 0
            ? html`<select id="envelope" name="envelope" ${describedBy("envelope", true, errors["envelope"])}>
                <option value="">${t.envelopeNone}</option>
                ${envelopes.map(
                  (e) => html`<option value="${e}" ${e === envelopeValue ? html`selected` : ""}>${e}</option>`,
                )}
              </select>`
            : html`<input
                id="envelope"
                name="envelope"
                type="text"
                class="input-envelope"
                value="${envelopeValue}"
                autocomplete="off"
                autocapitalize="characters"
                spellcheck="false"
                maxlength="16"
                ${describedBy("envelope", true, errors["envelope"])}
              />`
        }
      </div>
      ${
        status.districtIds.length > 1
          ? html`<div class="${fieldClass(errors["districtId"])}">
              <label for="districtId">${t.districtLabel}</label>
              <p class="hint" id="districtId-hint">${t.districtHint}</p>
              ${FieldError(t, "districtId", errors["districtId"])}
              <select id="districtId" name="districtId" ${describedBy("districtId", true, errors["districtId"])}>
                <option value="">${t.districtAny}</option>
                ${status.districtIds.map(
                  (d) => html`<option value="${d}" ${d === form?.districtId ? html`selected` : ""}>${d}</option>`,
                )}
              </select>
            </div>`
          : ""
      }
      <button type="submit" class="button button-big">${t.scanSubmit}</button>
    </form>
  `;
  return Layout({ t, title: t.scanTitle, current: "scan", status, children: body, hasErrors: list.length > 0 });
}

// ---- Cancel -------------------------------------------------------------------------------------

export interface CancelForm {
  readonly serial: string;
  readonly qr: string;
  readonly reason: "spoiled" | "void";
}

function CancelOutcome(t: Messages, result: CancelResult): Html {
  if (result.outcome === "refused") {
    return html`<div
      class="answer answer-refused"
      role="status"
      data-outcome="refused"
      data-error-code="${result.code}"
    >
      <h2 class="answer-title">${t.cancelRefusedTitle}</h2>
      <p class="answer-text">${plainError(t, result)}</p>
      <p class="hint">${t.refusedCode(result.code)}</p>
    </div>`;
  }
  return html`<div class="answer answer-issue" role="status" data-outcome="${result.outcome}">
    <h2 class="answer-title">${t.cancelDoneTitle(result.serial)}</h2>
    <p class="answer-text">${result.outcome === "accepted" ? t.cancelDone : t.cancelQueued}</p>
  </div>`;
}

export function CancelPage(props: {
  readonly t: Messages;
  readonly status: StationStatus;
  readonly csrf: string;
  readonly form?: CancelForm;
  readonly errors?: FieldErrors;
  readonly result?: CancelResult;
}): Html {
  const { t, status, csrf, form, errors = {}, result } = props;
  const list = errorList(errors, ["serial", "cancelQr", "reason"]);
  const reason = form?.reason ?? "spoiled";
  const body = html`
    ${ErrorSummary(t, list)}
    <h1>${t.cancelTitle}</h1>
    ${result ? CancelOutcome(t, result) : ""}
    <p class="lead">${t.cancelIntro}</p>
    <form method="post" action="/cancel" class="station-form" novalidate>
      ${CsrfField(csrf)} ${QrField(t, "cancelQr", t.cancelQrLabel, form?.qr, errors, list.length === 0)}
      <div class="${fieldClass(errors["serial"])}">
        <label for="serial">${t.serialLabel}</label>
        <p class="hint" id="serial-hint">${t.serialHint}</p>
        ${FieldError(t, "serial", errors["serial"])}
        <input
          id="serial"
          name="serial"
          type="text"
          inputmode="numeric"
          class="input-serial"
          value="${form?.serial ?? ""}"
          autocomplete="off"
          maxlength="12"
          ${describedBy("serial", true, errors["serial"])}
        />
      </div>
      <fieldset class="${fieldClass(errors["reason"])}" id="reason">
        <legend>${t.reasonLegend}</legend>
        ${FieldError(t, "reason", errors["reason"])}
        ${RadioOption("reason", "reason-spoiled", "spoiled", t.reasonSpoiled, reason)}
        ${RadioOption("reason", "reason-void", "void", t.reasonVoid, reason)}
      </fieldset>
      <button type="submit" class="button button-big button-warning">${t.cancelSubmit}</button>
    </form>
  `;
  return Layout({ t, title: t.cancelTitle, current: "cancel", status, children: body, hasErrors: list.length > 0 });
}

// ---- Outbox -------------------------------------------------------------------------------------

function kindLabel(t: Messages, kind: OutboxKind): string {
  switch (kind) {
    case "check-in":
      return t.kindCheckIn;
    case "scan":
      return t.kindScan;
    case "cancellation":
      return t.kindCancellation;
    case "result-sheet":
      return t.kindResultSheet;
  }
}

function stateLabel(t: Messages, state: OutboxItem["state"]): string {
  return state === "pending" ? t.statePending : state === "done" ? t.stateDone : t.stateFailed;
}

/** The outbox table; the script replaces it in place while the page is open. */
export function OutboxTable(t: Messages, items: readonly OutboxItem[]): Html {
  if (items.length === 0) return html`<p class="empty">${t.outboxEmpty}</p>`;
  return html`<div class="table-scroll" role="region" aria-labelledby="outbox-caption" tabindex="0">
    <table class="results-table outbox-table">
      <caption id="outbox-caption" class="visually-hidden">
        ${t.outboxCaption}
      </caption>
      <thead>
        <tr>
          <th scope="col" class="num">${t.colNumber}</th>
          <th scope="col">${t.colWhat}</th>
          <th scope="col">${t.colState}</th>
          <th scope="col" class="num">${t.colAttempts}</th>
          <th scope="col">${t.colLastAttempt}</th>
          <th scope="col">${t.colReason}</th>
        </tr>
      </thead>
      <tbody>
        ${items.map(
          (item) =>
            html`<tr data-seq="${item.seq}" data-state="${item.state}">
              <td class="num">${item.seq}</td>
              <th scope="row">${kindLabel(t, item.kind)}<span class="hint">${item.summary}</span></th>
              <td><span class="state state-${item.state}">${stateLabel(t, item.state)}</span></td>
              <td class="num">${item.attempts}</td>
              <td>${item.lastAttemptAt ? formatTime(item.lastAttemptAt) : "–"}</td>
              <td>${reasonCell(t, item)}</td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

function reasonCell(t: Messages, item: OutboxItem): Html | string {
  if (!item.error) return "";
  if (item.state === "pending" && item.error.code === "network_error") return t.pendingNetwork;
  return html`${plainError(t, item.error)} <span class="hint">${t.refusedCode(item.error.code)}</span>`;
}

export function OutboxPage(props: {
  readonly t: Messages;
  readonly status: StationStatus;
  readonly csrf: string;
  readonly items: readonly OutboxItem[];
  readonly notice?: string;
}): Html {
  const { t, status, csrf, items, notice } = props;
  const body = html`
    <h1>${t.outboxTitle}</h1>
    ${Notice(notice)}
    <p class="lead">${t.outboxIntro}</p>
    <form method="post" action="/outbox/sync" class="inline-form">
      ${CsrfField(csrf)}
      <button type="submit" class="button">${t.syncNow}</button>
    </form>
    <div id="outbox" data-live-outbox>${OutboxTable(t, items)}</div>
  `;
  return Layout({ t, title: t.outboxTitle, current: "outbox", status, children: body });
}

// ---- Result sheet -------------------------------------------------------------------------------

export function ResultSheetPage(props: {
  readonly t: Messages;
  readonly status: StationStatus;
  readonly csrf: string;
  readonly sheet?: ResultSheet;
  readonly refusal?: { readonly code: string; readonly message: string };
}): Html {
  const { t, status, csrf, sheet, refusal } = props;
  const body = sheet
    ? html`
        <h1>${t.sheetTitle}</h1>
        <p class="lead">${t.sheetIntro}</p>
        <dl class="facts">
          <dt>${t.stationLabel}</dt>
          <dd>${status.stationId}</dd>
          <dt>${t.electionLabel}</dt>
          <dd>${status.electionId}</dd>
          <dt>${t.districtsLabel}</dt>
          <dd>${status.districtIds.join(", ")}</dd>
        </dl>
        <dl class="figures">
          ${Figure(t.sheetVoters, sheet.votersCheckedIn)} ${Figure(t.sheetBallots, sheet.ballotsCast)}
        </dl>
        ${sheet.contests.map(
          (contest) =>
            html`<div class="table-scroll sheet-contest">
              <table class="results-table">
                <caption>
                  ${contest.name}
                </caption>
                <thead>
                  <tr>
                    <th scope="col">${t.sheetOption}</th>
                    <th scope="col" class="num">${t.sheetVotes}</th>
                  </tr>
                </thead>
                <tbody>
                  ${contest.options.map(
                    (o) =>
                      html`<tr>
                        <th scope="row">${o.label}</th>
                        <td class="num">${o.votes}</td>
                      </tr>`,
                  )}
                  <tr>
                    <th scope="row">${t.sheetWriteIns}</th>
                    <td class="num">${contest.writeIns}</td>
                  </tr>
                  <tr>
                    <th scope="row">${t.sheetBlanks}</th>
                    <td class="num">${contest.blanks}</td>
                  </tr>
                </tbody>
              </table>
            </div>`,
        )}
        <figure class="sheet-qr">
          <img src="/result-sheet.svg" alt="${t.sheetQrAlt(sheet.sequence)}" width="360" height="360" />
          <figcaption>${t.sheetQrHint}</figcaption>
        </figure>
        ${status.resultSheet ? html`<p class="sheet-state" data-sheet-state="${status.resultSheet.state}">${t.sheetState(stateLabel(t, status.resultSheet.state))}</p>` : ""}
        <p class="no-print hint">${t.sheetPrint}</p>
      `
    : html`
        <h1>${t.sheetTitle}</h1>
        ${
          refusal
            ? html`<div
                class="answer answer-refused"
                role="status"
                data-outcome="refused"
                data-error-code="${refusal.code}"
              >
                <h2 class="answer-title">${t.sheetRefusedTitle}</h2>
                <p class="answer-text">${plainError(t, refusal)}</p>
              </div>`
            : ""
        }
        <p class="lead">${t.sheetIntro}</p>
        <form method="post" action="/result-sheet" class="inline-form">
          ${CsrfField(csrf)}
          <p class="hint" id="sheet-hint">${t.sheetMakeHint}</p>
          <button type="submit" class="button" aria-describedby="sheet-hint">${t.sheetMake}</button>
        </form>
      `;
  return Layout({ t, title: t.sheetTitle, current: "result-sheet", status, children: body });
}

// ---- Errors -------------------------------------------------------------------------------------

export function MessagePage(t: Messages, status: StationStatus, title: string, text: string, code?: string): Html {
  const body = html`<h1 ${code ? html`data-error-code="${code}"` : ""}>${title}</h1>
    <p class="lead">${text}</p>
    <p><a href="/">${t.backHome}</a></p>`;
  return Layout({ t, title, current: null, status, children: body });
}
