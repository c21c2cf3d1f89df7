/**
 * The results page's live figures (/elections/{id}/results), bundled as assets/results.js and
 * loaded by that page only. It runs only where the enhancement script ran before it (`html.js`),
 * so a page whose portal script is refused behaves as a page without scripts.
 *
 * It reads what the server put in the page's data attributes (the frame, the snapshot it
 * rendered, the words of its states), parses each with zod, opens the public WebSocket channel
 * (`/v1/elections/{id}/results/live?since=<version>&display=<id>`), and patches the figures in
 * place as snapshots and updates arrive: the same figures, computed by the same code
 * (lib/results/display.ts), as the server's render. It never moves focus nor rebuilds an element
 * a reader may be on; it announces only the connection state (a polite live region), and only
 * when that state changes.
 *
 * When the socket keeps failing it polls the HTTP "latest" pointer and the immutable snapshots,
 * and tries the socket again now and then (browser/results-connection.ts decides when).
 */
import * as z from "zod";
import { asOfClock, DisplayFrame, displayFigures, releaseKind, updatedAgo } from "../lib/results/display.ts";
import {
  applyUpdate,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  HEARTBEAT_TIMEOUT_MS,
  LatestPointer,
  LiveMessage,
  LiveSnapshot,
} from "../lib/results/live.ts";
import {
  browserOffline,
  browserOnline,
  initialConnection,
  pollDone,
  socketLost,
  socketWorks,
  type Action,
  type Connection,
  type Decision,
} from "./results-connection.ts";

const Words = z.record(z.string(), z.string());

/** A display's id, kept across visits so a relay sees the same display come back. */
const DISPLAY_ID_KEY = "results-display-id";

function displayId(): string {
  try {
    const kept = localStorage.getItem(DISPLAY_ID_KEY);
    if (kept && /^[0-9a-f-]{36}$/.test(kept)) return kept;
    const made = crypto.randomUUID();
    localStorage.setItem(DISPLAY_ID_KEY, made);
    return made;
  } catch {
    // Storage refused (a private window's policy): a new id for this visit.
    return crypto.randomUUID();
  }
}

function parseJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? "");
  } catch {
    return undefined;
  }
}

function start(root: HTMLElement): void {
  const frame = DisplayFrame.safeParse(parseJson(root.dataset["frame"]));
  const words = Words.safeParse(parseJson(root.dataset["words"]));
  const language = root.dataset["language"] ?? "en";
  if (!frame.success || !words.success) return;
  const say = (key: string): string => words.data[key] ?? "";
  const choicesBeforeClose = root.dataset["choicesBeforeClose"] === "true";
  const initial = LiveSnapshot.safeParse(parseJson(root.dataset["snapshot"]));
  let current: LiveSnapshot | null = initial.success ? initial.data : null;

  const slots = new Map<string, HTMLElement[]>();
  for (const el of root.querySelectorAll<HTMLElement>("[data-slot]")) {
    const key = el.dataset["slot"] ?? "";
    slots.set(key, [...(slots.get(key) ?? []), el]);
  }
  const bars = new Map<string, SVGRectElement[]>();
  for (const el of root.querySelectorAll<SVGRectElement>("rect[data-bar]")) {
    const key = el.dataset["bar"] ?? "";
    bars.set(key, [...(bars.get(key) ?? []), el]);
  }
  const kindEl = root.querySelector<HTMLElement>("[data-release-kind]");
  const updatedEl = root.querySelector<HTMLElement>("[data-updated]");
  const notYetEl = root.querySelector<HTMLElement>("[data-not-yet]");
  const timeEl = root.querySelector<HTMLTimeElement>("time[data-as-of]") ?? root.querySelector("time");
  const clockEl = root.querySelector<HTMLElement>("[data-as-of-clock]");
  const stateEl = root.querySelector<HTMLElement>("[data-link-state]");
  const choiceSections = [...root.querySelectorAll<HTMLElement>("[data-choices]")];

  /** Patches only what changed: an unchanged text node is left alone, so nothing re-reads. */
  const render = (snapshot: LiveSnapshot): void => {
    const figures = displayFigures(frame.data, snapshot.totals, language);
    for (const [key, text] of figures.texts) {
      for (const el of slots.get(key) ?? []) if (el.textContent !== text) el.textContent = text;
    }
    for (const [key, length] of figures.bars) {
      for (const el of bars.get(key) ?? []) {
        if (el.getAttribute("width") !== String(length)) el.setAttribute("width", String(length));
      }
    }
    const kind = releaseKind(snapshot, choicesBeforeClose);
    if (kindEl && kindEl.dataset["releaseKind"] !== kind) {
      kindEl.dataset["releaseKind"] = kind;
      kindEl.textContent = say(kind);
    }
    for (const section of choiceSections) section.hidden = !snapshot.choices;
    if (timeEl) {
      timeEl.dateTime = new Date(snapshot.asOf).toISOString();
      timeEl.dataset["asOf"] = String(snapshot.asOf);
    }
    if (clockEl) clockEl.textContent = say("asOf").replace("{time}", asOfClock(language, snapshot.asOf));
    if (updatedEl) updatedEl.hidden = false;
    if (notYetEl) notYetEl.hidden = true;
    tick();
    root.dataset["version"] = String(snapshot.version);
  };

  /** "Updated 12 seconds ago": not a live region, so ticking it announces nothing. */
  const tick = (): void => {
    const asOf = Number(timeEl?.dataset["asOf"]);
    if (!timeEl || !Number.isFinite(asOf) || asOf <= 0) return;
    const text = updatedAgo(language, asOf, Date.now());
    if (timeEl.textContent !== text) timeEl.textContent = text;
  };
  setInterval(tick, 1_000);

  /** A newer release replaces the one shown; an older or repeated one is ignored. */
  const accept = (snapshot: LiveSnapshot): void => {
    if (snapshot.electionId !== frame.data.electionId || snapshot.channel !== "public") return;
    if (current && snapshot.version <= current.version) return;
    current = snapshot;
    render(snapshot);
  };

  // The connection: decisions from results-connection.ts, carried out here.
  let connection: Connection = initialConnection();
  let socket: WebSocket | undefined;
  let socketTimer: ReturnType<typeof setTimeout> | undefined;
  let pollTimer: ReturnType<typeof setTimeout> | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let lastHeard = 0;
  /** Updates in a row that did not apply: a relay that keeps sending them is treated as lost. */
  let resyncs = 0;
  const display = displayId();
  const base = `/v1/elections/${encodeURIComponent(frame.data.electionId)}/results`;

  const showState = (): void => {
    if (!stateEl || stateEl.dataset["linkState"] === connection.state) return;
    stateEl.dataset["linkState"] = connection.state;
    stateEl.textContent = say(connection.state);
  };

  const decide = (decision: Decision): void => {
    connection = decision.connection;
    showState();
    for (const action of decision.actions) schedule(action);
  };

  const schedule = (action: Action): void => {
    if (action.kind === "open-socket") {
      clearTimeout(socketTimer);
      socketTimer = setTimeout(openSocket, action.afterMs);
    } else {
      clearTimeout(pollTimer);
      pollTimer = setTimeout(() => void poll(), action.afterMs);
    }
  };

  const dropSocket = (): void => {
    clearInterval(heartbeat);
    if (!socket) return;
    const old = socket;
    socket = undefined;
    old.onopen = old.onmessage = old.onclose = old.onerror = null;
    if (old.readyState === WebSocket.CONNECTING || old.readyState === WebSocket.OPEN) old.close();
  };

  const lost = (): void => {
    dropSocket();
    decide(socketLost(connection, Math.random()));
  };

  const openSocket = (): void => {
    dropSocket();
    const url = new URL(`${base}/live`, location.href);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
    if (current) url.searchParams.set("since", String(current.version));
    url.searchParams.set("display", display);
    let ws: WebSocket;
    try {
      ws = new WebSocket(url);
    } catch {
      lost();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      lastHeard = Date.now();
      heartbeat = setInterval(() => {
        if (Date.now() - lastHeard > HEARTBEAT_TIMEOUT_MS) lost();
        else ws.send(HEARTBEAT_PING);
      }, HEARTBEAT_INTERVAL_MS);
    };
    ws.onmessage = (event: MessageEvent<unknown>) => {
      lastHeard = Date.now();
      if (typeof event.data !== "string" || event.data === HEARTBEAT_PONG) return;
      const message = LiveMessage.safeParse(parseJson(event.data));
      if (!message.success) return;
      const m = message.data;
      if (m.electionId !== frame.data.electionId || m.channel !== "public") return;
      if (connection.state !== "live") {
        clearTimeout(pollTimer);
        clearTimeout(socketTimer);
        decide(socketWorks(connection));
      }
      if (m.type === "snapshot") {
        resyncs = 0;
        accept(m);
      } else if (m.type === "update") {
        if (current && m.version <= current.version) return;
        const next = current ? applyUpdate(current, m) : undefined;
        // An update that does not apply to what the page holds: ask again from its version (a
        // few times at once; then with the backoff of a lost socket).
        if (next) {
          resyncs = 0;
          accept(next);
        } else if (resyncs < 3) {
          resyncs += 1;
          openSocket();
        } else {
          resyncs = 0;
          lost();
        }
      }
    };
    ws.onerror = () => lost();
    ws.onclose = () => lost();
  };

  const poll = async (): Promise<void> => {
    let ok = false;
    try {
      const res = await fetch(`${base}/latest`, { headers: { accept: "application/json" } });
      const pointer = res.ok ? LatestPointer.safeParse(await res.json()) : undefined;
      if (pointer?.success) {
        ok = true;
        const { version } = pointer.data;
        if (version > 0 && (!current || version > current.version)) {
          const snap = await fetch(`${base}/snapshots/${version}`, { headers: { accept: "application/json" } });
          const parsed = snap.ok ? LiveSnapshot.safeParse(await snap.json()) : undefined;
          if (parsed?.success) accept(parsed.data);
          else ok = false;
        }
      }
    } catch {
      ok = false;
    }
    decide(pollDone(connection, ok, Math.random()));
  };

  addEventListener("offline", () => {
    dropSocket();
    decide(browserOffline(connection));
  });
  addEventListener("online", () => decide(browserOnline(connection)));

  showState();
  openSocket();
}

const root = document.querySelector<HTMLElement>("[data-results]");
if (root && document.documentElement.classList.contains("js")) start(root);
