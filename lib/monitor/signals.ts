/**
 * What the security monitor hears (durable-objects/security-monitor.ts): counts from the ballot
 * queues' consumer (ballots, retractions and check-ins, after they are durable and logged), and
 * events from the gateway (the security events of lib/events.ts, and the paper ballots that never
 * reach the queues: held ones and spoiled ones).
 *
 * A signal never names a voter. `voterTag` is a keyed tag of the voter (HMAC under the monitor's
 * own purpose key, truncated): the monitor counts one voter's repeated attempts under it, keeps it
 * only as long as its window, and never puts it in an alert's evidence.
 */
import * as z from "zod";
import { EVENTS, type SecurityEventName } from "../events.ts";
import { Channel, CountryCode } from "../vocabulary.ts";

const Id = z.string().min(1).max(128);
/** Milliseconds since the epoch: when the thing happened (its bucket is taken from this). */
const At = z.number().int().min(0).max(8.64e15);
const Count = z.number().int().min(1).max(1_000_000).default(1);

const SECURITY_EVENT_NAMES = Object.entries(EVENTS)
  .filter(([, spec]) => spec.kind === "security")
  .map(([name]) => name) as [SecurityEventName, ...SecurityEventName[]];
export const SecurityEventKind = z.enum(SECURITY_EVENT_NAMES);

export const MonitorSignal = z.discriminatedUnion("kind", [
  /** Accepted ballots (from the consumer), one district and channel; paper ones name their station. */
  z.object({
    kind: z.literal("ballot"),
    at: At,
    districtId: Id,
    channel: Channel,
    stationId: Id.optional(),
    count: Count,
  }),
  /** Ballots taken back out of the count (superseded online, cancelled by paper). */
  z.object({ kind: z.literal("retraction"), at: At, districtId: Id, count: Count }),
  /** Accepted check-ins at a station (from the consumer). */
  z.object({ kind: z.literal("check-in"), at: At, districtId: Id, stationId: Id, count: Count }),
  /** A scanned paper ballot held sealed for adjudication (it never reaches the queues until released). */
  z.object({ kind: z.literal("held"), at: At, stationId: Id, count: Count }),
  /** A checked-in voter's spoiled ballot, cancelled by the station (no ballot will be scanned for it). */
  z.object({ kind: z.literal("spoiled"), at: At, stationId: Id, count: Count }),
  /** A security event (lib/events.ts), with what the rules need to scope it. */
  z.object({
    kind: z.literal("security"),
    at: At,
    event: SecurityEventKind,
    stationId: Id.optional(),
    districtId: Id.optional(),
    country: CountryCode.optional(),
    /** The client address (IPv4 or IPv6 text), for per-address counts. */
    address: z.string().min(2).max(64).optional(),
    /** Its network: an IPv4 /24 or IPv6 /48 prefix in CIDR text. */
    network: z.string().min(2).max(64).optional(),
    /** The keyed voter tag, when the event concerns a known voter (never in evidence). */
    voterTag: z
      .string()
      .regex(/^[0-9a-f]{16,64}$/)
      .optional(),
    /** Why (the refusal's error code, or the limiter's name), for evidence. */
    reason: z.string().min(1).max(64).optional(),
    /** Figures the event carries (a result sheet's differences), for evidence. */
    figures: z.record(z.string().max(64), z.number().int()).optional(),
    count: Count,
  }),
]);
export type MonitorSignal = z.infer<typeof MonitorSignal>;
export type MonitorSignalInput = z.input<typeof MonitorSignal>;
