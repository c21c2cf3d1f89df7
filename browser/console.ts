/**
 * The officials' console's script (its own bundle, assets/console.js; scripts/build-assets.ts).
 * Every console page works without it (sign in by pasting an assertion the CLI made, Refresh
 * links); with it:
 *
 * - Signing in with the key file: the official's private Ed25519 JWK is imported with WebCrypto
 *   as NON-extractable and the CryptoKey is kept in IndexedDB, so the file is read once and no
 *   script (this one included) can read the key back; the next visit offers "Sign in as …". The
 *   assertion is the CLI's (lib/identity/assertion.ts, the same function), posted to
 *   /console/session, which exchanges it at the API.
 * - Before the access token expires the script signs a new assertion silently and takes the new
 *   session's CSRF token into the page's forms.
 * - Alerts arrive live over the console's WebSocket (the monitor's channel): the list is brought
 *   up to date from the server's own rendering of the page (so cards and forms are the server's),
 *   new alerts are announced in a polite live region, and the connection comes back after a drop.
 *   The overview's audit-log health follows the channel's status messages. Exact results follow
 *   the official results channel the same way.
 */
import { officialAssertion } from "../lib/identity/assertion.ts";

document.documentElement.classList.remove("no-js");
document.documentElement.classList.add("js");

// ---- The key store -------------------------------------------------------------------------

interface StoredKey {
  readonly officialId: string;
  readonly kid: string;
  readonly key: CryptoKey;
}

const DB_NAME = "officials-console";
const STORE = "keys";
const KEY_SLOT = "official";

function openDb(): Promise<IDBDatabase> {
  return new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => request.result.createObjectStore(STORE);
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error ?? new Error("IndexedDB unavailable"));
  });
}

async function withStore<T>(mode: IDBTransactionMode, use: (store: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await openDb();
  try {
    return await new Promise<T>((resolve, reject) => {
      const request = use(db.transaction(STORE, mode).objectStore(STORE));
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error ?? new Error("IndexedDB request failed"));
    });
  } finally {
    db.close();
  }
}

async function storedKey(): Promise<StoredKey | undefined> {
  try {
    const value: unknown = await withStore("readonly", (s) => s.get(KEY_SLOT));
    if (typeof value !== "object" || value === null) return undefined;
    const { officialId, kid, key } = value as Record<string, unknown>;
    return typeof officialId === "string" && typeof kid === "string" && key instanceof CryptoKey
      ? { officialId, kid, key }
      : undefined;
  } catch {
    return undefined;
  }
}

function keepKey(stored: StoredKey): Promise<IDBValidKey> {
  return withStore("readwrite", (s) => s.put(stored, KEY_SLOT));
}

function forgetKey(): Promise<undefined> {
  return withStore("readwrite", (s) => s.delete(KEY_SLOT));
}

/** The key file's private Ed25519 JWK, imported non-extractable for signing only. */
async function importKeyFile(text: string): Promise<{ key: CryptoKey; kid: string } | undefined> {
  let jwk: unknown;
  try {
    jwk = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof jwk !== "object" || jwk === null) return undefined;
  const { kty, crv, x, d, kid } = jwk as Record<string, unknown>;
  if (kty !== "OKP" || crv !== "Ed25519" || typeof x !== "string" || typeof d !== "string" || typeof kid !== "string") {
    return undefined;
  }
  try {
    // Only the key's own members: an `alg` or `key_ops` from the file need not match WebCrypto's.
    const key = await crypto.subtle.importKey("jwk", { kty, crv, x, d }, { name: "Ed25519" }, false, ["sign"]);
    return { key, kid };
  } catch {
    return undefined;
  }
}

function assertionWith(stored: StoredKey): Promise<string> {
  return officialAssertion(stored.key, { alg: "EdDSA", kid: stored.kid }, stored.officialId, location.origin);
}

// ---- The sign-in page ----------------------------------------------------------------------

function setupSignIn(form: HTMLFormElement): void {
  const noScript = document.querySelector<HTMLElement>("[data-no-script-sign-in]");
  const storedSection = document.querySelector<HTMLElement>("[data-stored-key]");
  const status = form.querySelector<HTMLElement>("[data-sign-in-status]");
  const fileInput = form.querySelector<HTMLInputElement>("#key-file");
  const idInput = form.querySelector<HTMLInputElement>("#official-id");
  const assertionInput = form.querySelector<HTMLInputElement>('input[name="assertion"]');
  const messages = form.dataset;
  form.hidden = false;
  if (noScript) noScript.hidden = true;

  const submitWith = async (stored: StoredKey): Promise<void> => {
    if (!assertionInput) return;
    if (status) status.textContent = messages["signingIn"] ?? "";
    assertionInput.value = await assertionWith(stored);
    form.submit();
  };

  void storedKey().then((stored) => {
    if (!stored || !storedSection) return;
    storedSection.hidden = false;
    const name = storedSection.querySelector<HTMLElement>("[data-stored-official]");
    if (name) name.textContent = stored.officialId;
    const button = storedSection.querySelector<HTMLButtonElement>("[data-sign-in-stored]");
    if (button) {
      button.textContent = `${button.dataset["label"] ?? button.textContent ?? ""}${stored.officialId}`;
      button.addEventListener("click", () => void submitWith(stored));
    }
    storedSection.querySelector<HTMLButtonElement>("[data-forget-key]")?.addEventListener("click", () => {
      void forgetKey().then(() => {
        storedSection.hidden = true;
        idInput?.focus();
      });
    });
  });

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    void (async () => {
      const officialId = idInput?.value.trim() ?? "";
      const file = fileInput?.files?.[0];
      const problem = !officialId
        ? { input: idInput, text: messages["officialIdMissing"] }
        : !file
          ? { input: fileInput, text: messages["keyFileMissing"] }
          : undefined;
      const imported = !problem && file ? await importKeyFile(await file.text()) : undefined;
      const failure = problem ?? (imported ? undefined : { input: fileInput, text: messages["keyFileUnreadable"] });
      if (failure || !imported) {
        if (status) status.textContent = failure?.text ?? "";
        failure?.input?.setAttribute("aria-invalid", "true");
        failure?.input?.focus();
        return;
      }
      const stored = { officialId, kid: imported.kid, key: imported.key };
      await keepKey(stored);
      await submitWith(stored);
    })();
  });
}

// ---- Silent re-signing ---------------------------------------------------------------------

/** How long before the access token expires the script signs in again. */
const RESIGN_MARGIN_MS = 90_000;

function scheduleResign(signOut: HTMLFormElement): void {
  const official = signOut.dataset["official"];
  const expiresAt = Number(signOut.dataset["expiresAt"]);
  if (!official || !Number.isFinite(expiresAt)) return;
  const delay = Math.max(5_000, expiresAt * 1000 - Date.now() - RESIGN_MARGIN_MS);
  window.setTimeout(() => {
    void (async () => {
      const stored = await storedKey();
      if (!stored || stored.officialId !== official) return;
      const res = await fetch("/console/session", {
        method: "POST",
        headers: { "content-type": "application/x-www-form-urlencoded", "x-console-refresh": "1" },
        body: new URLSearchParams({ assertion: await assertionWith(stored) }).toString(),
        credentials: "same-origin",
      });
      if (!res.ok) return;
      const body: unknown = await res.json();
      const { csrf, expiresAt: next } = (body ?? {}) as { csrf?: unknown; expiresAt?: unknown };
      if (typeof csrf !== "string" || typeof next !== "number") return;
      // The new session has its own CSRF token: every form on the page takes it.
      for (const input of document.querySelectorAll<HTMLInputElement>('input[name="csrf"]')) input.value = csrf;
      for (const holder of document.querySelectorAll<HTMLElement>("[data-csrf]")) holder.dataset["csrf"] = csrf;
      signOut.dataset["expiresAt"] = String(next);
      scheduleResign(signOut);
    })();
  }, delay);
}

// ---- Live channels -------------------------------------------------------------------------

/** A WebSocket to `path` that comes back after a drop (1 s, doubling to 30 s) and pings every 20 s. */
function liveChannel(
  path: string,
  protocol: string,
  onMessage: (data: unknown) => void,
  onState: (connected: boolean) => void,
): void {
  let backoff = 1000;
  const connect = (): void => {
    const url = new URL(path, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(url, protocol);
    let ping: number | undefined;
    socket.addEventListener("open", () => {
      backoff = 1000;
      onState(true);
      ping = window.setInterval(() => socket.send("ping"), 20_000);
    });
    socket.addEventListener("message", (event) => {
      if (event.data === "pong" || typeof event.data !== "string") return;
      try {
        onMessage(JSON.parse(event.data));
      } catch {
        // Not a message of the channel's protocol: ignored.
      }
    });
    socket.addEventListener("close", () => {
      window.clearInterval(ping);
      onState(false);
      window.setTimeout(connect, backoff);
      backoff = Math.min(backoff * 2, 30_000);
    });
  };
  connect();
}

/** The server's current rendering of this page, for the parts a live message changed. */
async function freshPage(): Promise<Document | undefined> {
  const res = await fetch(location.href, { credentials: "same-origin", headers: { accept: "text/html" } });
  if (!res.ok) return undefined;
  return new DOMParser().parseFromString(await res.text(), "text/html");
}

function cardKey(card: Element): string {
  return `${card.getAttribute("data-alert-state") ?? ""}|${card.querySelector(".alert-summary")?.textContent ?? ""}|${
    card.textContent?.length ?? 0
  }`;
}

/** Brings the alert list up to date from the server's page; announces alerts it had not shown. */
async function refreshAlerts(list: HTMLElement, announce: (text: string) => void): Promise<void> {
  const fresh = await freshPage();
  const next = fresh?.querySelector<HTMLElement>("[data-alert-list]");
  if (!fresh || !next) return;
  const current = new Map(
    [...list.querySelectorAll<HTMLElement>("[data-alert-id]")].map((c) => [c.dataset["alertId"], c]),
  );
  const cards = [...next.querySelectorAll<HTMLElement>("[data-alert-id]")];
  let anchor: Element | null = null;
  for (const card of cards) {
    const id = card.dataset["alertId"];
    const shown = current.get(id);
    current.delete(id);
    // A card that did not change stays as it is (an official may be typing a note in it).
    const node: Element = shown && cardKey(shown) === cardKey(card) ? shown : document.importNode(card, true);
    if (shown && node !== shown) shown.replaceWith(node);
    if (!shown) {
      const severity = card.querySelector(".severity")?.textContent ?? "";
      const summary = card.querySelector(".alert-summary")?.textContent ?? "";
      announce(`${list.dataset["announcePrefix"] ?? ""}${severity}. ${summary}`);
    }
    const wanted: Element | null = anchor ? anchor.nextElementSibling : list.firstElementChild;
    if (wanted !== node) {
      if (anchor) anchor.after(node);
      else list.prepend(node);
    }
    anchor = node;
  }
  for (const gone of current.values()) gone?.remove();
  const empty = document.querySelector<HTMLElement>("[data-alerts-empty]");
  if (empty) empty.hidden = cards.length > 0;
}

interface LogFigures {
  readonly size: number;
  readonly publishedSize: number;
  readonly backlog: number;
  readonly checkpointAgeSeconds: number | null;
  readonly halted: string | null;
}

function updateLogHealth(section: HTMLElement, status: unknown): void {
  const log = (status as { log?: LogFigures | null } | undefined)?.log;
  if (!log) return;
  const set = (name: string, text: string): void => {
    const cell = section.querySelector<HTMLElement>(`[data-log="${name}"]`);
    if (cell) cell.textContent = text;
  };
  set("size", String(log.size));
  set("published", String(log.publishedSize));
  set("backlog", String(log.backlog));
  const words = section.dataset;
  if (log.checkpointAgeSeconds !== null) {
    const age = Math.round(log.checkpointAgeSeconds);
    set("checkpoint-age", `${age} ${(age === 1 ? words["secondWord"] : words["secondsWord"]) ?? ""}`.trim());
  }
  set("halted", log.halted ?? words["notHalted"] ?? "");
}

function setupAlerts(list: HTMLElement): void {
  const status = document.querySelector<HTMLElement>("[data-live-status]");
  const electionId = list.dataset["alertList"];
  if (!electionId || list.dataset["liveAlerts"] !== "on") return;
  // Announcements go to their own polite region so the connection state does not interrupt them.
  const announcer = document.querySelector<HTMLElement>("[data-alert-announcer]");
  let pending: Promise<void> = Promise.resolve();
  liveChannel(
    `/console/elections/${encodeURIComponent(electionId)}/alerts/live`,
    "alerts.v1",
    (message) => {
      const type = (message as { type?: unknown }).type;
      if (type !== "alert" && type !== "snapshot") return;
      pending = pending
        .then(() =>
          refreshAlerts(list, (text) => {
            if (announcer) announcer.textContent = text;
          }),
        )
        .catch(() => undefined);
    },
    (connected) => {
      if (status) status.textContent = (connected ? status.dataset["connected"] : status.dataset["reconnecting"]) ?? "";
    },
  );
}

function setupLogHealth(section: HTMLElement): void {
  const electionId = section.dataset["liveLog"];
  if (!electionId) return;
  liveChannel(
    `/console/elections/${encodeURIComponent(electionId)}/alerts/live`,
    "alerts.v1",
    (message) => {
      const m = message as { type?: unknown; status?: unknown };
      if (m.type === "status" || m.type === "snapshot") updateLogHealth(section, m.status);
    },
    () => undefined,
  );
}

function setupResults(region: HTMLElement): void {
  const electionId = region.dataset["consoleResults"];
  if (!electionId) return;
  let pending: Promise<void> = Promise.resolve();
  liveChannel(
    `/console/elections/${encodeURIComponent(electionId)}/results/live`,
    "results.v1",
    () => {
      pending = pending
        .then(async () => {
          const next = (await freshPage())?.querySelector<HTMLElement>("[data-console-results]");
          if (next) region.replaceChildren(...[...next.childNodes].map((n) => document.importNode(n, true)));
        })
        .catch(() => undefined);
    },
    () => undefined,
  );
}

// ---- Start ---------------------------------------------------------------------------------

const signInForm = document.querySelector<HTMLFormElement>("[data-key-sign-in]");
if (signInForm) setupSignIn(signInForm);
const signOutForm = document.querySelector<HTMLFormElement>("form.sign-out[data-official]");
if (signOutForm) scheduleResign(signOutForm);
const alertList = document.querySelector<HTMLElement>("[data-alert-list]");
if (alertList) setupAlerts(alertList);
const logHealth = document.querySelector<HTMLElement>("[data-live-log]");
if (logHealth) setupLogHealth(logHealth);
const results = document.querySelector<HTMLElement>("[data-console-results]");
if (results) setupResults(results);
