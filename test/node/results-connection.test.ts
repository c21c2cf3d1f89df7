/**
 * The results page's connection decisions (browser/results-connection.ts), without a browser:
 * reconnect with growing jittered pauses, fall back to polling after repeated socket failures
 * while still trying the socket now and then, say `offline` when polls keep failing, and go back
 * to live as soon as the socket delivers again.
 */
import { describe, expect, it } from "vitest";
import {
  backoffMs,
  browserOffline,
  browserOnline,
  initialConnection,
  MAX_BACKOFF_MS,
  POLL_INTERVAL_MS,
  pollDone,
  SOCKET_FAILURES_BEFORE_POLLING,
  SOCKET_RETRY_WHILE_POLLING_MS,
  socketLost,
  socketWorks,
  type Connection,
} from "../../browser/results-connection.ts";

describe("the results page's connection", () => {
  it("backs off from one second, doubling to a ceiling, with jitter between half and all of it", () => {
    expect(backoffMs(1, 0)).toBe(500);
    expect(backoffMs(1, 0.999999)).toBe(1_000);
    expect(backoffMs(2, 0.999999)).toBe(2_000);
    expect(backoffMs(3, 0.5)).toBe(3_000);
    expect(backoffMs(20, 0.999999)).toBe(MAX_BACKOFF_MS);
    expect(backoffMs(20, 0)).toBe(MAX_BACKOFF_MS / 2);
  });

  it("reconnects by itself, then polls after repeated failures and keeps trying the socket", () => {
    let c: Connection = initialConnection();
    expect(c.state).toBe("connecting");
    for (let i = 1; i < SOCKET_FAILURES_BEFORE_POLLING; i += 1) {
      const d = socketLost(c, 0.999999);
      c = d.connection;
      expect(c.state).toBe("reconnecting");
      expect(d.actions).toEqual([{ kind: "open-socket", afterMs: backoffMs(i, 0.999999) }]);
    }
    const fallback = socketLost(c, 0.5);
    c = fallback.connection;
    expect(c.state).toBe("polling");
    expect(fallback.actions).toEqual([
      { kind: "poll", afterMs: 0 },
      { kind: "open-socket", afterMs: SOCKET_RETRY_WHILE_POLLING_MS },
    ]);

    // A poll that answers: poll again at the interval, still `polling`.
    const polled = pollDone(c, true, 0.5);
    expect(polled.connection.state).toBe("polling");
    expect(polled.actions).toEqual([{ kind: "poll", afterMs: POLL_INTERVAL_MS }]);

    // A socket retry that fails while polling: the polls go on, the socket waits its turn.
    const retry = socketLost(polled.connection, 0.5);
    expect(retry.connection.state).toBe("polling");
    expect(retry.actions).toEqual([{ kind: "open-socket", afterMs: SOCKET_RETRY_WHILE_POLLING_MS }]);

    // The socket delivering again: live, every count reset.
    expect(socketWorks(retry.connection)).toEqual({
      connection: { state: "live", socketFailures: 0, pollFailures: 0 },
      actions: [],
    });
  });

  it("says offline when polls keep failing, and retries them no faster than the poll interval", () => {
    let c: Connection = { state: "polling", socketFailures: SOCKET_FAILURES_BEFORE_POLLING, pollFailures: 0 };
    const first = pollDone(c, false, 0);
    expect(first.connection.state).toBe("polling");
    expect(first.actions).toEqual([{ kind: "poll", afterMs: POLL_INTERVAL_MS }]);
    c = first.connection;
    const second = pollDone(c, false, 0.999999);
    expect(second.connection.state).toBe("offline");
    c = second.connection;
    // Many failures later the pause reaches the backoff ceiling, no further.
    for (let i = 0; i < 10; i += 1) c = pollDone(c, false, 0.999999).connection;
    expect(pollDone(c, false, 0.999999).actions).toEqual([{ kind: "poll", afterMs: MAX_BACKOFF_MS }]);
    // One answer and it is polling again.
    expect(pollDone(c, true, 0).connection.state).toBe("polling");
  });

  it("ignores a poll that finishes after the socket came back", () => {
    const live = socketWorks(initialConnection()).connection;
    expect(pollDone(live, false, 0)).toEqual({ connection: live, actions: [] });
  });

  it("follows the browser's own offline and online events", () => {
    const live = socketWorks(initialConnection()).connection;
    expect(browserOffline(live)).toEqual({ connection: { ...live, state: "offline" }, actions: [] });
    expect(browserOnline({ state: "offline", socketFailures: 7, pollFailures: 3 })).toEqual({
      connection: initialConnection(),
      actions: [{ kind: "open-socket", afterMs: 0 }],
    });
  });
});
