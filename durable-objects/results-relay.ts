/**
 * ResultsRelay: holds display sockets for one channel of one election and pushes each new
 * snapshot to them (docs/ARCHITECTURE.md, "Live results"). RESULTS_RELAYS relays per channel,
 * named `<electionId>/<channel>/<i>` (addresses.ts), form a tree: the election's aggregator calls
 * publish() on relay 0 alone, and relay i forwards to those of relays i*F+1 .. i*F+F that are
 * active. So the aggregator's work does not grow with the displays, and a display costs one relay
 * one send per update.
 *
 * Sockets are hibernatable (ctx.acceptWebSocket): the object may be evicted between updates while
 * its sockets stay open; the runtime answers a display's `ping` with `pong` itself
 * (setWebSocketAutoResponse) without waking it. Each socket's attachment names its election,
 * channel and when it connected. Updates flow one way: a socket that sends anything but `ping` is
 * closed.
 *
 * Invariants:
 * - A relay is active once a display has connected to it or to a relay below it, and stays so
 *   for its life and the next (the set of active children is in SQLite). Before its first socket
 *   is accepted, a relay registers with its parent (which registers with its own, up to the root,
 *   which is always active), so every later publish reaches it; a connect whose registration
 *   fails is refused with 503 and the gateway tries the next relay. A subtree no display ever
 *   came to gets no publish: with no displays, the tree costs one call per snapshot, not one per
 *   relay.
 * - A relay holds at most RESULTS_RELAY_SOCKETS sockets; a connect beyond that is refused with
 *   503 and Retry-After before anything is accepted, and the gateway tries the next relay.
 * - `latest` only grows: publish() ignores a version at or below the one held (the aggregator and
 *   a parent may repeat a publish after a failure), so sockets never see a version twice or go
 *   back. Every socket was sent `latest` when it connected or by the last push, so a push is the
 *   update from the previous latest (diffSnapshots), made and serialised once for all sockets.
 * - The last HISTORY versions are kept in memory, and in SQLite while the relay holds sockets,
 *   written before any socket sees them: a display that reconnects (this relay evicted,
 *   restarted, or its network dropped) with `since` gets `current` when it is up to date, the
 *   update from `since` when that version is held, and the whole snapshot otherwise; it loses
 *   nothing.
 * - A relay with no socket writes nothing and serialises nothing for a publish: it keeps the
 *   snapshot in memory, forwards it to its children and, if SQLite still holds versions from a
 *   time it had sockets, deletes them. So SQLite never holds a version older than the last one
 *   this relay received: an evicted relay comes back either with the latest it got or cold (and
 *   asks the aggregator), never with a stale snapshot to show a new display. Most relays of a
 *   tree hold no socket most of the time, and each of them used to write every snapshot.
 * - A relay that holds nothing asks the aggregator for the channel's current snapshot, once per
 *   life of the object (and again only when a display says it holds a newer version than this
 *   relay, at most once a second): a cold relay costs the aggregator one call, not one per display.
 * - A socket silent (no ping answered since it connected) for longer than HEARTBEAT_TIMEOUT_MS is closed
 *   on the next publish or on the alarm that runs every HEARTBEAT_INTERVAL_MS while sockets exist.
 * - A slow or failing child never holds up the others, nor the caller: publish() returns once
 *   this relay's own sockets have the update, and the children are called in parallel in the
 *   background. A failed one is retried from the alarm with the latest snapshot (a child that
 *   missed versions computes its own update from what it holds; one that gets an older version
 *   after a newer ignores it). The retry list is in memory: a relay evicted
 *   before it retries leaves that child to catch up at the next publish.
 *
 * Storage schema (SQLite, version 2):
 *   meta(key TEXT PRIMARY KEY, value)          -- 'schema', 'identity' (election, channel, index),
 *                                                 'registered' (1 once the parent forwards here)
 *   versions(version INTEGER PRIMARY KEY, snapshot_json TEXT)  -- the last HISTORY LiveSnapshots
 *   active_children(child INTEGER PRIMARY KEY)  -- children with a display in their subtree
 *                                                 (version 2)
 */
import { DurableObject } from "cloudflare:workers";
import { z } from "zod";
import { emitEvent } from "../lib/events.ts";
import {
  diffSnapshots,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_PING,
  HEARTBEAT_PONG,
  HEARTBEAT_TIMEOUT_MS,
  LIVE_PROTOCOL,
  LiveChannel,
  LiveSnapshot,
  type LiveMessage,
} from "../lib/results/live.ts";
import { relayChildren, relayParent, resultsAggregatorFor, resultsRelayFor } from "./addresses.ts";
import { configOf } from "./config.ts";
import { ensureSchema } from "./schema.ts";

/** How many versions a relay keeps to answer a reconnect with an update. */
export const RELAY_HISTORY = 64;

/** What a full relay tells the gateway (and through it the display) to wait, in seconds. */
export const RELAY_FULL_RETRY_AFTER_SECONDS = 5;

/** A relay asks the aggregator for the current snapshot at most this often. */
const ASK_INTERVAL_MS = 1_000;

/** Child relays that failed are retried after this long. */
const CHILD_RETRY_MS = 1_000;

const Identity = z.object({
  electionId: z.string().min(1).max(128),
  channel: LiveChannel,
  index: z.number().int().min(0).max(1_000_000),
});
type Identity = z.infer<typeof Identity>;

const Attachment = z.object({
  electionId: z.string(),
  channel: LiveChannel,
  connectedAt: z.number(),
});
type Attachment = z.infer<typeof Attachment>;

/** The gateway's connect request (workers/gateway/routes/live-results.ts `connectToRelay`). */
const ConnectQuery = z.object({
  electionId: Identity.shape.electionId,
  channel: LiveChannel,
  index: z.coerce.number().int().min(0).max(1_000_000),
  since: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});

/** The internal URL the gateway sends a display's upgrade to; only the query matters. */
export function relayConnectUrl(identity: Identity, since: number | undefined): string {
  const q = new URLSearchParams({
    electionId: identity.electionId,
    channel: identity.channel,
    index: String(identity.index),
  });
  if (since !== undefined) q.set("since", String(since));
  return `https://results-relay.internal/connect?${q.toString()}`;
}

export class ResultsRelay extends DurableObject<Env> {
  private readonly sql: SqlStorage;
  private identity: Identity | undefined;
  private readonly history = new Map<number, LiveSnapshot>();
  private latest: LiveSnapshot | undefined;
  private askedAggregatorAt: number | undefined;
  private readonly failedChildren = new Set<number>();
  /** Children with a display in their subtree: the only ones publishes are forwarded to. */
  private readonly activeChildren = new Set<number>();
  private registered = false;
  /** Whether SQLite holds versions (see the invariants: only while they end with the latest received). */
  private stored = false;

  constructor(ctx: DurableObjectState, env: Env) {
    super(ctx, env);
    this.sql = ctx.storage.sql;
    // Answered by the runtime without waking this object: the heartbeat costs nothing here.
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(HEARTBEAT_PING, HEARTBEAT_PONG));
    void ctx.blockConcurrencyWhile(async () => {
      ensureSchema(ctx.storage, {
        version: 2,
        create: (sql) => {
          sql.exec(`CREATE TABLE versions (version INTEGER PRIMARY KEY, snapshot_json TEXT NOT NULL)`);
          sql.exec(`CREATE TABLE active_children (child INTEGER PRIMARY KEY)`);
        },
        upgrades: [
          // A relay of version 1 forwarded to every child: its children are all taken as active,
          // so none that holds displays stops getting publishes.
          (sql) => {
            sql.exec(`CREATE TABLE active_children (child INTEGER PRIMARY KEY)`);
            const identity = sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'identity'`).toArray()[0];
            if (!identity) return;
            const { index } = Identity.parse(JSON.parse(identity.value));
            const { RESULTS_RELAY_FANOUT: fanout, RESULTS_RELAYS: relays } = configOf(env);
            for (const child of relayChildren(index, fanout, relays))
              sql.exec(`INSERT OR IGNORE INTO active_children (child) VALUES (?)`, child);
            sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('registered', '1')`);
          },
        ],
      });
      for (const row of this.sql.exec<{ child: number }>(`SELECT child FROM active_children`))
        this.activeChildren.add(row.child);
      this.registered =
        this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'registered'`).toArray().length > 0;
      const identity = this.sql.exec<{ value: string }>(`SELECT value FROM meta WHERE key = 'identity'`).toArray()[0];
      // Written by identify() after Identity accepted it, and by keep() from parsed snapshots.
      if (identity) this.identity = Identity.parse(JSON.parse(identity.value));
      for (const row of this.sql.exec<{ snapshot_json: string }>(
        `SELECT snapshot_json FROM versions ORDER BY version`,
      )) {
        const snapshot = LiveSnapshot.parse(JSON.parse(row.snapshot_json));
        this.history.set(snapshot.version, snapshot);
        this.latest = snapshot;
        this.stored = true;
      }
    });
  }

  /** The first call names the relay; a call meant for another relay is a routing bug. */
  private identify(identity: Identity): void {
    if (!this.identity) {
      this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('identity', ?)`, JSON.stringify(identity));
      this.identity = identity;
      return;
    }
    const held = this.identity;
    if (held.electionId !== identity.electionId || held.channel !== identity.channel || held.index !== identity.index) {
      throw new Error(`relay ${JSON.stringify(held)} was addressed as ${JSON.stringify(identity)}`);
    }
  }

  /**
   * Keeps `snapshot` as the latest (if newer) in memory, and in SQLite when `durable` (the relay
   * holds sockets, or one is being accepted); false when not newer. A version kept in memory only
   * clears what SQLite held, so SQLite never holds less than the latest.
   */
  private keep(snapshot: LiveSnapshot, durable: boolean): boolean {
    if (this.latest && snapshot.version <= this.latest.version) return false;
    if (durable) this.store(snapshot);
    else if (this.stored) {
      this.sql.exec(`DELETE FROM versions`);
      this.stored = false;
    }
    this.history.set(snapshot.version, snapshot);
    for (const version of this.history.keys()) {
      if (this.history.size <= RELAY_HISTORY) break;
      this.history.delete(version);
    }
    this.latest = snapshot;
    return true;
  }

  private store(snapshot: LiveSnapshot): void {
    this.sql.exec(
      `INSERT OR REPLACE INTO versions (version, snapshot_json) VALUES (?, ?)`,
      snapshot.version,
      JSON.stringify(snapshot),
    );
    this.sql.exec(
      `DELETE FROM versions WHERE version NOT IN (SELECT version FROM versions ORDER BY version DESC LIMIT ?)`,
      RELAY_HISTORY,
    );
    this.stored = true;
  }

  /**
   * A new snapshot from the aggregator (index 0) or the parent relay: kept, pushed to this
   * relay's sockets as the update from the previous latest, and forwarded to the children.
   */
  async publish(index: number, snapshot: LiveSnapshot): Promise<void> {
    const parsed = LiveSnapshot.parse(snapshot);
    this.identify({ electionId: parsed.electionId, channel: parsed.channel, index });
    const previous = this.latest;
    const sockets = this.ctx.getWebSockets().length > 0;
    if (this.keep(parsed, sockets) && sockets) {
      const message: LiveMessage = previous ? diffSnapshots(previous, parsed) : parsed;
      this.push(JSON.stringify(message));
    }
    if (sockets) this.dropSilent(Date.now());
    // In the background: the caller (the aggregator or the parent) is not held up by the subtree.
    const { RESULTS_RELAY_FANOUT: fanout, RESULTS_RELAYS: relays } = configOf(this.env);
    const children = relayChildren(index, fanout, relays).filter((child) => this.activeChildren.has(child));
    if (children.length > 0) this.ctx.waitUntil(this.forward(children));
  }

  /**
   * A child says a display came to its subtree: from now on it gets every publish. Idempotent;
   * this relay registers with its own parent first (up to the root), so the path is complete
   * before the child accepts the display. Answers with the latest snapshot this relay holds, so
   * the child starts from it without asking the aggregator.
   */
  async childActive(
    index: number,
    of: { readonly electionId: string; readonly channel: LiveChannel },
    child: number,
  ): Promise<LiveSnapshot | null> {
    const me = Identity.parse({ ...of, index });
    this.identify(me);
    const { RESULTS_RELAY_FANOUT: fanout, RESULTS_RELAYS: relays } = configOf(this.env);
    if (!relayChildren(index, fanout, relays).includes(child))
      throw new Error(`relay ${child} is not a child of relay ${index}`);
    await this.register(me);
    if (!this.activeChildren.has(child)) {
      this.sql.exec(`INSERT OR IGNORE INTO active_children (child) VALUES (?)`, child);
      this.activeChildren.add(child);
    }
    return this.latest ?? null;
  }

  /** Makes sure the parent forwards to this relay (the root is always called by the aggregator). */
  private async register(identity: Identity): Promise<void> {
    if (this.registered) return;
    const parent = relayParent(identity.index, configOf(this.env).RESULTS_RELAY_FANOUT);
    if (parent !== undefined) {
      const handed = await resultsRelayFor(this.env, identity.electionId, identity.channel, parent).childActive(
        parent,
        { electionId: identity.electionId, channel: identity.channel },
        identity.index,
      );
      if (handed) this.keep(LiveSnapshot.parse(handed), false);
    }
    this.sql.exec(`INSERT OR REPLACE INTO meta (key, value) VALUES ('registered', '1')`);
    this.registered = true;
  }

  private push(text: string): void {
    for (const ws of this.ctx.getWebSockets()) {
      try {
        ws.send(text);
      } catch {
        // A socket that cannot take a message is gone; the display reconnects with its version.
        this.closeQuietly(ws, 1011, "send failed");
      }
    }
  }

  /**
   * Forwards the latest snapshot to `children` in parallel; failures are retried by the alarm.
   * Never rejects: it runs in the background of publish().
   */
  private async forward(children: readonly number[]): Promise<void> {
    const latest = this.latest;
    const identity = this.identity;
    if (!latest || !identity || children.length === 0) return;
    const outcomes = await Promise.allSettled(
      children.map((i) => resultsRelayFor(this.env, identity.electionId, identity.channel, i).publish(i, latest)),
    );
    outcomes.forEach((outcome, k) => {
      const child = children[k];
      if (child === undefined) return;
      if (outcome.status === "fulfilled") {
        this.failedChildren.delete(child);
        return;
      }
      this.failedChildren.add(child);
      emitEvent("results_relay_forward_failed", {
        electionId: identity.electionId,
        channel: identity.channel,
        from: identity.index,
        to: child,
        version: latest.version,
        error: String(outcome.reason),
      });
    });
    if (this.failedChildren.size > 0) await this.armAlarm(Date.now() + CHILD_RETRY_MS).catch(() => undefined);
  }

  /** A display's WebSocket upgrade, sent on by the gateway (relayConnectUrl). */
  override async fetch(request: Request): Promise<Response> {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade", { status: 426 });
    }
    const query = ConnectQuery.safeParse(Object.fromEntries(new URL(request.url).searchParams));
    if (!query.success) return new Response("bad connect request", { status: 400 });
    const { electionId, channel, index, since } = query.data;
    this.identify({ electionId, channel, index });
    if (this.ctx.getWebSockets().length >= configOf(this.env).RESULTS_RELAY_SOCKETS) {
      return new Response("relay full", {
        status: 503,
        headers: { "retry-after": String(RELAY_FULL_RETRY_AFTER_SECONDS) },
      });
    }
    // Before anything else: from here on every publish comes here (file header).
    try {
      await this.register({ electionId, channel, index });
    } catch (error) {
      emitEvent("results_relay_register_failed", { electionId, channel, index, error: String(error) });
      return new Response("relay unavailable", {
        status: 503,
        headers: { "retry-after": String(RELAY_FULL_RETRY_AFTER_SECONDS) },
      });
    }
    // Before the socket is accepted, so that no publish can reach it ahead of its first message.
    await this.catchUp(since);
    // The first socket's relay starts keeping versions in SQLite, beginning with the one it shows.
    if (this.latest && !this.stored) this.store(this.latest);

    const pair = new WebSocketPair();
    const [client, server] = [pair[0], pair[1]];
    this.ctx.acceptWebSocket(server);
    const attachment: Attachment = { electionId, channel, connectedAt: Date.now() };
    server.serializeAttachment(attachment);
    const first = this.firstMessage(since);
    if (first) server.send(JSON.stringify(first));
    if ((await this.ctx.storage.getAlarm()) === null) await this.armAlarm(Date.now() + HEARTBEAT_INTERVAL_MS);

    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const headers = offered.includes(LIVE_PROTOCOL) ? { "sec-websocket-protocol": LIVE_PROTOCOL } : undefined;
    return new Response(null, { status: 101, webSocket: client, headers });
  }

  /** Asks the aggregator when this relay holds nothing, or less than the display says it holds. */
  private async catchUp(since: number | undefined): Promise<void> {
    const identity = this.identity;
    if (!identity) return;
    const now = Date.now();
    const mayAsk = this.askedAggregatorAt === undefined || now - this.askedAggregatorAt >= ASK_INTERVAL_MS;
    const cold = this.latest === undefined && this.askedAggregatorAt === undefined;
    const behind = since !== undefined && since > (this.latest?.version ?? 0) && mayAsk;
    if (!cold && !behind) return;
    this.askedAggregatorAt = now;
    try {
      const current = await resultsAggregatorFor(this.env, identity.electionId).current(identity.channel);
      if (current) this.keep(LiveSnapshot.parse(current), true);
    } catch {
      // Not fatal: the display is accepted all the same and gets the next publish.
    }
  }

  /** What a display gets first: its update, `current`, or the whole snapshot (file header). */
  private firstMessage(since: number | undefined): LiveMessage | undefined {
    const latest = this.latest;
    if (!latest) return undefined;
    if (since === undefined) return latest;
    if (since === latest.version) {
      return { type: "current", electionId: latest.electionId, channel: latest.channel, version: latest.version };
    }
    // Newer than anything here even after asking: the display keeps what it has until the next push.
    if (since > latest.version) return undefined;
    const held = this.history.get(since);
    return held ? diffSnapshots(held, latest) : latest;
  }

  /**
   * Closes every socket silent for longer than HEARTBEAT_TIMEOUT_MS at `now`: its last ping
   * answered by the runtime, else its connection. Returns how many were closed. Called on each
   * publish and from the alarm; tests call it with a later `now` instead of waiting a minute.
   */
  async sweep(now: number = Date.now()): Promise<number> {
    return this.dropSilent(now);
  }

  private dropSilent(now: number): number {
    let dropped = 0;
    for (const ws of this.ctx.getWebSockets()) {
      const attachment = Attachment.safeParse(ws.deserializeAttachment());
      const pinged = this.ctx.getWebSocketAutoResponseTimestamp(ws)?.getTime() ?? 0;
      const connected = attachment.success ? attachment.data.connectedAt : 0;
      if (now - Math.max(pinged, connected) > HEARTBEAT_TIMEOUT_MS) {
        this.closeQuietly(ws, 1001, "heartbeat timeout");
        dropped += 1;
      }
    }
    return dropped;
  }

  /** How many sockets this relay holds, and the version it is at: for the gateway's tests. */
  async status(): Promise<{ sockets: number; version: number }> {
    return { sockets: this.ctx.getWebSockets().length, version: this.latest?.version ?? 0 };
  }

  private closeQuietly(ws: WebSocket, code: number, reason: string): void {
    try {
      ws.close(code, reason);
    } catch {
      // Already closing or closed.
    }
  }

  private async armAlarm(at: number): Promise<void> {
    const current = await this.ctx.storage.getAlarm();
    if (current === null || current > at) await this.ctx.storage.setAlarm(at);
  }

  /** The heartbeat sweep while sockets exist, and the retry of children that failed. */
  override async alarm(): Promise<void> {
    this.dropSilent(Date.now());
    if (this.failedChildren.size > 0) await this.forward([...this.failedChildren]);
    if (this.ctx.getWebSockets().length > 0) await this.armAlarm(Date.now() + HEARTBEAT_INTERVAL_MS);
  }

  /**
   * A display says nothing but `ping`, which the runtime answers without waking this object.
   * Anything else is a client bug or an attempt to keep the relay busy: that socket is closed
   * (1008), and the display may reconnect with its version.
   */
  override async webSocketMessage(ws: WebSocket, _message: string | ArrayBuffer): Promise<void> {
    this.closeQuietly(ws, 1008, `only "${HEARTBEAT_PING}" is accepted`);
  }

  override async webSocketClose(ws: WebSocket, code: number, reason: string): Promise<void> {
    // Complete the closing handshake, echoing the display's code when a close frame may carry it.
    const echo = code === 1000 || code === 1001 || (code >= 3000 && code <= 4999);
    this.closeQuietly(ws, echo ? code : 1000, echo ? reason : "");
  }

  override async webSocketError(ws: WebSocket): Promise<void> {
    this.closeQuietly(ws, 1011, "socket error");
  }
}
