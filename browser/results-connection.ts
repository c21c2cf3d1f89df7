/**
 * How the results page keeps its figures current, as pure decisions (no DOM, no timers, no
 * sockets): browser/results.ts feeds it what happened and does what it says, and a node test
 * (test/node/results-connection.test.ts) checks the decisions without a browser.
 *
 * - The page holds a WebSocket to the results relays. A socket that drops is reopened by itself
 *   after a growing, jittered pause (so a relay restart does not bring every display back in the
 *   same millisecond), with `since` = the version it holds.
 * - After SOCKET_FAILURES_BEFORE_POLLING failures in a row it polls the HTTP "latest" pointer
 *   every POLL_INTERVAL_MS instead, and still tries the socket every SOCKET_RETRY_WHILE_POLLING_MS.
 * - Polls that keep failing make it `offline` (said so on the page), still retrying with backoff.
 * - The state shown to people changes only on these transitions, so the polite live region that
 *   shows it speaks rarely.
 */

export type LinkState = "connecting" | "live" | "reconnecting" | "polling" | "offline";

export const SOCKET_FAILURES_BEFORE_POLLING = 3;
export const POLL_INTERVAL_MS = 5_000;
export const SOCKET_RETRY_WHILE_POLLING_MS = 60_000;
export const POLL_FAILURES_BEFORE_OFFLINE = 2;
export const FIRST_BACKOFF_MS = 1_000;
export const MAX_BACKOFF_MS = 30_000;

export interface Connection {
  readonly state: LinkState;
  /** Socket attempts that failed since the last one that worked. */
  readonly socketFailures: number;
  /** Polls that failed since the last one that worked. */
  readonly pollFailures: number;
}

/** What the page does next; several may be due at once (poll now and try the socket later). */
export type Action =
  { readonly kind: "open-socket"; readonly afterMs: number } | { readonly kind: "poll"; readonly afterMs: number };

export interface Decision {
  readonly connection: Connection;
  readonly actions: readonly Action[];
}

export function initialConnection(): Connection {
  return { state: "connecting", socketFailures: 0, pollFailures: 0 };
}

/**
 * The pause before attempt `attempt` (1 = the first retry): doubling from FIRST_BACKOFF_MS up to
 * MAX_BACKOFF_MS, times a factor between 0.5 and 1 from `random` (0 ≤ random < 1).
 */
export function backoffMs(attempt: number, random: number): number {
  const ceiling = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling * (0.5 + Math.min(Math.max(random, 0), 1) / 2));
}

/** The socket delivered a valid message: live, and every failure count starts again. */
export function socketWorks(_connection: Connection): Decision {
  return { connection: { state: "live", socketFailures: 0, pollFailures: 0 }, actions: [] };
}

/** The socket closed, failed to open, or went silent past the heartbeat timeout. */
export function socketLost(connection: Connection, random: number): Decision {
  const socketFailures = connection.socketFailures + 1;
  const polling = connection.state === "polling" || connection.state === "offline";
  if (polling) {
    // Already polling: the polls go on as they were, the socket is tried again later.
    return {
      connection: { ...connection, socketFailures },
      actions: [{ kind: "open-socket", afterMs: SOCKET_RETRY_WHILE_POLLING_MS }],
    };
  }
  if (socketFailures < SOCKET_FAILURES_BEFORE_POLLING) {
    return {
      connection: { state: "reconnecting", socketFailures, pollFailures: 0 },
      actions: [{ kind: "open-socket", afterMs: backoffMs(socketFailures, random) }],
    };
  }
  return {
    connection: { state: "polling", socketFailures, pollFailures: 0 },
    actions: [
      { kind: "poll", afterMs: 0 },
      { kind: "open-socket", afterMs: SOCKET_RETRY_WHILE_POLLING_MS },
    ],
  };
}

/** A poll answered (`ok`) or failed. Ignored once the socket is back. */
export function pollDone(connection: Connection, ok: boolean, random: number): Decision {
  if (connection.state !== "polling" && connection.state !== "offline") return { connection, actions: [] };
  if (ok) {
    return {
      connection: { ...connection, state: "polling", pollFailures: 0 },
      actions: [{ kind: "poll", afterMs: POLL_INTERVAL_MS }],
    };
  }
  const pollFailures = connection.pollFailures + 1;
  return {
    connection: {
      ...connection,
      state: pollFailures >= POLL_FAILURES_BEFORE_OFFLINE ? "offline" : connection.state,
      pollFailures,
    },
    actions: [{ kind: "poll", afterMs: Math.max(POLL_INTERVAL_MS, backoffMs(pollFailures, random)) }],
  };
}

/** The browser says the network is gone: nothing will work until it says it is back. */
export function browserOffline(connection: Connection): Decision {
  return { connection: { ...connection, state: "offline" }, actions: [] };
}

/** The network is back: try the socket at once, as if from the start. */
export function browserOnline(_connection: Connection): Decision {
  return { connection: initialConnection(), actions: [{ kind: "open-socket", afterMs: 0 }] };
}
