/**
 * Measuring the audit log, for `npm run bench` (scripts/bench.ts can call these; nothing here
 * starts or loads anything itself):
 *
 * - Sequencing rate: sampleLog before and after a cast run, then sequencingRate(before, after):
 *   `entriesPerSecond` is what the log published per second of wall time over the run (bounded
 *   by what was cast), `capacityPerSecond` is entries per second of the sequencer's busy time
 *   (build, staging, swap, tiles, checkpoint): what one election's log could take if the
 *   producers kept its pool full. Samples come from GET /v1/admin/elections/{id}/log.
 * - Acceptance-to-inclusion-proof latency: startProofLatencyProbe(baseUrl), then add() each
 *   sampled receipt as its cast is answered (`acceptedAtMs` = Date.now() at the 201), then
 *   finish(): p50/p99 of the time until the receipt check names a leaf index (its proof is then
 *   servable). Sample a few hundred casts made beside the load run (say 5 a second from their own
 *   voters), so the probe measures the log, not its own queueing.
 */
import { z } from "zod";
import type { OfficialClient } from "../cli/lib/api.ts";

const Status = z.object({
  size: z.number(),
  publishedSize: z.number(),
  pooled: z.number(),
  sequencing: z.object({ entries: z.number(), steps: z.number(), busyMs: z.number() }),
});

export interface LogSample {
  readonly atMs: number;
  readonly publishedSize: number;
  readonly pooled: number;
  readonly sequencing: { readonly entries: number; readonly steps: number; readonly busyMs: number };
}

export async function sampleLog(client: OfficialClient, electionId: string): Promise<LogSample> {
  const status = Status.parse(await client.call("GET", `/v1/admin/elections/${electionId}/log`));
  return {
    atMs: Date.now(),
    publishedSize: status.publishedSize,
    pooled: status.pooled,
    sequencing: status.sequencing,
  };
}

export interface SequencingRate {
  readonly entries: number;
  readonly seconds: number;
  readonly entriesPerSecond: number;
  /** Entries per second of sequencer busy time; undefined when nothing was sequenced (or it restarted). */
  readonly capacityPerSecond: number | undefined;
  readonly steps: number;
  /** Entries still pooled at the end: above zero, the log was the bottleneck. */
  readonly backlog: number;
}

export function sequencingRate(before: LogSample, after: LogSample): SequencingRate {
  const entries = after.publishedSize - before.publishedSize;
  const seconds = (after.atMs - before.atMs) / 1000;
  const sequenced = after.sequencing.entries - before.sequencing.entries;
  const busyMs = after.sequencing.busyMs - before.sequencing.busyMs;
  return {
    entries,
    seconds,
    entriesPerSecond: seconds > 0 ? entries / seconds : 0,
    capacityPerSecond: sequenced > 0 && busyMs > 0 ? (sequenced / busyMs) * 1000 : undefined,
    steps: after.sequencing.steps - before.sequencing.steps,
    backlog: after.pooled,
  };
}

export interface TimedReceipt {
  readonly trackingCode: string;
  /** Date.now() when the cast's 201 arrived. */
  readonly acceptedAtMs: number;
}

export interface ProofLatency {
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Receipts that named no leaf within the timeout. */
  readonly missing: number;
}

const Receipt = z.object({ log: z.object({ leafIndex: z.number() }).optional() });

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

export interface ProofLatencyProbe {
  /** A receipt just answered: its latency is measured from `acceptedAtMs`. */
  add(receipt: TimedReceipt): void;
  /** Stops taking receipts, waits for the pending ones (or their timeout) and reports. */
  finish(): Promise<ProofLatency & { readonly roundMs: number }>;
}

/**
 * Starts polling receipts as they are added: in rounds every `pollMs` (25 ms), `concurrency`
 * requests at a time, each for up to `timeoutMs` after it was accepted. A receipt's latency is
 * the start of the round that first saw its leaf index, so the error is at most one round
 * (reported as `roundMs`): add a few hundred receipts spread over the run, not thousands at once.
 */
export function startProofLatencyProbe(
  baseUrl: string,
  options: { pollMs?: number; timeoutMs?: number; concurrency?: number } = {},
): ProofLatencyProbe {
  const pollMs = options.pollMs ?? 25;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const concurrency = options.concurrency ?? 16;
  const latencies: number[] = [];
  let pending: TimedReceipt[] = [];
  let missing = 0;
  let roundMs = 0;
  let finishing = false;
  const loop = (async (): Promise<void> => {
    while (!finishing || pending.length > 0) {
      const started = Date.now();
      const queue = pending;
      pending = [];
      const still: TimedReceipt[] = [];
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          for (let r = queue.shift(); r; r = queue.shift()) {
            const res = await fetch(`${baseUrl}/v1/receipts/${r.trackingCode}`);
            // 404 until the tally consumer recorded it; then 200, with `log` once sequenced.
            const logged =
              res.status === 200
                ? Receipt.parse(await res.json()).log !== undefined
                : (await res.body?.cancel(), false);
            if (logged) latencies.push(Math.max(0, started - r.acceptedAtMs));
            else {
              if (Date.now() - r.acceptedAtMs > timeoutMs) missing += 1;
              else still.push(r);
            }
          }
        }),
      );
      roundMs = Math.max(roundMs, Date.now() - started);
      pending.push(...still);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  })();
  return {
    add(receipt) {
      pending.push(receipt);
    },
    async finish() {
      finishing = true;
      await loop;
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        samples: sorted.length,
        p50Ms: percentile(sorted, 50),
        p99Ms: percentile(sorted, 99),
        maxMs: sorted[sorted.length - 1] ?? Number.NaN,
        missing,
        roundMs,
      };
    },
  };
}
