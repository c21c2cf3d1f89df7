/**
 * The console's one layout and its shared pieces: the page's language, the console's name and
 * station in the header, the task navigation, the connection banner on every page, a skip link to
 * the main landmark. Like the portal's layout (workers/gateway/pages/layout.tsx) it loads only its
 * stylesheet and script from the console's own origin, with no inline style or script, so the CSP
 * stays `'self'` only; every page works without the script.
 *
 * The pages are written with Hono's `html` template (escaped like JSX) instead of .tsx files
 * because the console runs under plain Node (`npm run station -- serve`), whose type stripping
 * reads .ts but not .tsx.
 */
import { html } from "hono/html";
import type { StationStatus } from "../operations.ts";
import type { Messages } from "./messages.ts";

export type Html = ReturnType<typeof html>;

export const STYLESHEET_PATH = "/assets/station-console.css";
export const SCRIPT_PATH = "/assets/station-console.js";

export type NavKey = "home" | "check-in" | "scan" | "cancel" | "outbox" | "result-sheet";

const NAV: readonly { key: NavKey; path: string; label: (t: Messages) => string }[] = [
  { key: "home", path: "/", label: (t) => t.navHome },
  { key: "check-in", path: "/check-in", label: (t) => t.navCheckIn },
  { key: "scan", path: "/scan", label: (t) => t.navScan },
  { key: "cancel", path: "/cancel", label: (t) => t.navCancel },
  { key: "outbox", path: "/outbox", label: (t) => t.navOutbox },
  { key: "result-sheet", path: "/result-sheet", label: (t) => t.navResultSheet },
];

/** A time for the official: the laptop's clock, hours and minutes (and the date when not today). */
export function formatTime(iso: string, now = new Date()): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const time = at.toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit", second: "2-digit" });
  if (at.toDateString() === now.toDateString()) return time;
  return `${at.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" })} ${time}`;
}

/**
 * The connection banner: online (short) or offline (what still works and what it means), with the
 * last sync and the outbox's counts. The script replaces it in place every two seconds (it is a
 * polite live region, so the change is announced once).
 */
export function ConnectionBanner(t: Messages, status: StationStatus): Html {
  const counts = html`<p class="connection-counts">
    ${status.lastSyncAt ? t.lastSync(formatTime(status.lastSyncAt)) : t.neverSynced}
    ${status.pending > 0 ? html` <strong>${t.pendingCount(status.pending)}.</strong>` : ""}
    ${status.failed > 0 ? html` <strong class="failed-count">${t.failedCount(status.failed)}.</strong>` : ""}
    ${status.pending > 0 || status.failed > 0 ? html` <a href="/outbox">${t.seeOutbox}</a>` : ""}
  </p>`;
  if (status.online) {
    return html`<div class="connection connection-online" data-connection="online">
      <p class="connection-title"><span class="connection-dot" aria-hidden="true"></span>${t.onlineTitle}</p>
      <p class="connection-text">${t.onlineText}</p>
      ${counts}
    </div>`;
  }
  return html`<div class="connection connection-offline" data-connection="offline">
    <p class="connection-title"><span class="connection-dot" aria-hidden="true"></span>${t.offlineTitle}</p>
    ${
      status.pollbook
        ? html`<p class="connection-text">${t.offlineText}</p>
            <p class="connection-text">${t.offlineEnvelopeText}</p>`
        : html`<p class="connection-text">${t.offlineNoPollbook}</p>`
    }
    ${status.lastError ? html`<p class="connection-text">${t.offlineLastError(plainError(t, status.lastError))}</p>` : ""}
    ${counts}
  </div>`;
}

/**
 * A refusal's or a failure's sentence for the official: a network failure in words, and without
 * the machine code some messages start with (the code is shown apart, or sits in an attribute).
 */
export function plainError(t: Messages, error: { readonly code: string; readonly message: string }): string {
  if (error.code === "network_error") return t.networkError;
  const prefix = `${error.code}: `;
  return error.message.startsWith(prefix) ? error.message.slice(prefix.length) : error.message;
}

/** The error summary of a form (as check.tsx): announced, first in focus order, each error linked to its field. */
export function ErrorSummary(t: Messages, errors: readonly { field: string; message: string }[]): Html {
  if (errors.length === 0) return html``;
  return html`<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1">
    <h2 id="error-summary-title">${t.errorSummaryTitle}</h2>
    <ul>
      ${errors.map((e) => html`<li><a href="#${e.field}">${e.message}</a></li>`)}
    </ul>
  </div>`;
}

/** A field's error line, named by the field's aria-describedby. */
export function FieldError(t: Messages, id: string, message: string | undefined): Html {
  if (!message) return html``;
  return html`<p class="error-message" id="${id}-error">
    <span class="visually-hidden">${t.errorPrefix}: </span>${message}
  </p>`;
}

/** A field's aria-describedby and aria-invalid attributes: its hint, and its error when it has one. */
export function describedBy(id: string, hint: boolean, error: string | undefined): Html {
  const ids = [hint ? `${id}-hint` : "", error ? `${id}-error` : ""].filter((s) => s !== "");
  return html`${ids.length > 0 ? html` aria-describedby="${ids.join(" ")}"` : ""}${error ? html` aria-invalid="true"` : ""}`;
}

/** The CSRF token every form carries (the server checks it on every POST). */
export function CsrfField(token: string): Html {
  return html`<input type="hidden" name="csrf" value="${token}" />`;
}

export function Layout(props: {
  readonly t: Messages;
  readonly title: string;
  readonly current: NavKey | null;
  readonly status: StationStatus;
  readonly children: Html;
  /** The page has a form with errors: the title says so first. */
  readonly hasErrors?: boolean;
}): Html {
  const { t, title, current, status, children, hasErrors = false } = props;
  const docTitle = `${hasErrors ? `${t.errorPrefix}: ` : ""}${title} – ${t.serviceName}`;
  return html`<!doctype html>
    <html lang="en" class="no-js">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>${docTitle}</title>
        <link rel="stylesheet" href="${STYLESHEET_PATH}" />
        <script type="module" src="${SCRIPT_PATH}"></script>
      </head>
      <body class="station">
        <a class="skip-link" href="#main">${t.skipToContent}</a>
        <header class="site-header">
          <div class="wrap">
            <a class="service-name" href="/">${t.serviceName}</a>
            <span class="station-name">${t.stationLabel} ${status.stationId}</span>
          </div>
        </header>
        <nav class="station-nav" aria-label="${t.navLabel}">
          <div class="wrap">
            <ul>
              ${NAV.map(
                (item) =>
                  html`<li>
                    <a href="${item.path}" ${item.key === current ? html`aria-current="page"` : ""}>${item.label(t)}</a>
                  </li>`,
              )}
            </ul>
          </div>
        </nav>
        <div class="wrap">
          <div id="connection" aria-live="polite" data-live-url="/live">${ConnectionBanner(t, status)}</div>
        </div>
        <main id="main" class="wrap" tabindex="-1">${children}</main>
        <footer class="site-footer">
          <div class="wrap"><p>${t.footerNote}</p></div>
        </footer>
      </body>
    </html>`;
}
