/**
 * The cast path under load, one runtime instance at a time: fresh voters for every request
 * (first-wins, so each answer should be a receipt), the ballots left in flight at the end of a run
 * resolved by idempotent resend, the tally given time to catch up between runs (paced: a local
 * queue stops delivering while the CPU is saturated), and at the end the tally compared with the
 * receipts, in total and per president option.
 */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { z } from "zod";
import type { OfficialClient } from "../cli/lib/api.ts";
import {
  sampleLog,
  sequencingRate,
  startProofLatencyProbe,
  type ProofLatency,
  type SequencingRate,
} from "../bench/audit-log-metrics.ts";
import { ballotOf, PRESIDENT_CONTEST, PRESIDENT_OPTIONS, presidentChoiceOf } from "./ballots.ts";
import { idempotencyKeyOf, type LoadPhase } from "./load.ts";
import { runLoad, type Measured } from "./measure.ts";
import { mintSessions, type BenchVoter, type RollSessionOptions } from "./voters.ts";

export interface CastSessionOptions extends RollSessionOptions {
  readonly client: OfficialClient;
}

export interface CastRun extends Measured {
  /** In-flight ballots, and those refused with 429 or 503, resolved after the run by resending them. */
  readonly resolved: { readonly receipts: number; readonly refused: number };
  /** Ballots with a receipt not yet in the tally when the run ended, and how long they took. */
  readonly backlog: number;
  readonly drainSeconds: number | undefined;
  /** The election's audit log over the run and its drain (bench/audit-log-metrics.ts). */
  readonly log: SequencingRate;
  /** Acceptance to a receipt that names its log leaf, for casts sampled beside the load. */
  readonly proofLatency?: ProofLatency & {
    readonly roundMs: number;
    readonly sampled: number;
    readonly refused: number;
  };
}

const Results = z.object({
  turnout: z.object({ ballotsCounted: z.number().int() }),
  contests: z.array(
    z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), votes: z.number().int() })) }),
  ),
});
type Results = z.infer<typeof Results>;

export interface TallyCheck {
  readonly receipts: number;
  readonly counted: number;
  readonly president: { readonly option: string; readonly expected: number; readonly counted: number }[];
  readonly ok: boolean;
}

/** How long the tally may show no progress before the drain is given up (and reported). */
const STALL_SECONDS = 30;
const POLL_MS = 500;
const RESEND_CONCURRENCY = 8;
/**
 * The proof-latency probe's casts: one every 200 ms from voters of their own, beside the load
 * (bench/audit-log-metrics.ts asks for a few hundred spread over the run, so the probe measures
 * the log, not its own queueing).
 */
const PROBE_INTERVAL_MS = 200;

const TrackingCode = z.object({ trackingCode: z.string() });

export class CastSession {
  private next = 1;
  /** Voters holding a receipt: each exactly once, whether from a run or a resend. */
  private readonly receipts = new Set<number>();
  private readonly options: CastSessionOptions;

  constructor(options: CastSessionOptions) {
    this.options = options;
  }

  get votersUsed(): number {
    return this.next - 1;
  }

  get votersLeft(): number {
    return this.options.rollSize - this.votersUsed;
  }

  get receiptCount(): number {
    return this.receipts.size;
  }

  /**
   * One run of `seconds` with up to `voters` voters. With `probe`, a few more voters cast one
   * ballot every PROBE_INTERVAL_MS from this process during the run, and the time from each of
   * their receipts to its log inclusion is measured. With `ratePerSecond`, the load generator
   * holds that rate instead of going as fast as the connections allow. With `phases`, it holds
   * each phase's rate in turn (bench/load.ts); `seconds` is then their total.
   */
  async run(
    label: string,
    seconds: number,
    voters: number,
    {
      probe = false,
      ratePerSecond,
      phases,
    }: { readonly probe?: boolean; readonly ratePerSecond?: number; readonly phases?: readonly LoadPhase[] } = {},
  ): Promise<CastRun> {
    const { options } = this;
    const probeCount = probe ? Math.ceil((seconds * 1000) / PROBE_INTERVAL_MS) + 5 : 0;
    const probeVoters = probe ? await this.take(probeCount) : [];
    const from = this.next;
    const to = Math.min(options.rollSize, from + voters - 1);
    if (to < from) throw new Error(`no voters left for ${label}`);
    this.next = to + 1;
    const pool = await mintSessions(options.vars, options.electionId, options.prefix, options.rollSize, from, to);
    const poolFile = join(options.workDir, `voters-${from}.tsv`);
    await writeFile(poolFile, pool.map((v) => `${v.n}\t${v.district}\t${v.token}`).join("\n") + "\n", { mode: 0o600 });
    const idempotencyPrefix = `bench-${label.replace(/[^A-Za-z0-9_-]/g, "-")}`;

    const logBefore = await sampleLog(options.client, options.electionId);
    const prober = probe ? this.startProbing(probeVoters, `${idempotencyPrefix}-probe`) : undefined;
    const measured = await runLoad(
      label,
      {
        url: `${options.baseUrl}/v1/elections/${options.electionId}/ballots`,
        method: "POST",
        connections: phases ? Math.max(...phases.map((p) => p.connections)) : options.connections,
        durationSeconds: seconds,
        timeoutSeconds: options.timeoutSeconds,
        ...(ratePerSecond ? { ratePerSecond } : {}),
        ...(phases ? { phases: [...phases] } : {}),
        cast: { poolFile, idempotencyPrefix },
      },
      options.workDir,
      options.runtimePids,
    );
    const cast = measured.cast;
    if (!cast) throw new Error("the load generator returned no cast outcome");
    // Voters minted but never sent go back to the roll for the next run: for per-voter ledgers
    // only voters that cast create objects, and the budget counts those.
    this.next = from + cast.used;
    for (const n of cast.accepted) this.receipts.add(n);

    const byNumber = new Map(pool.map((v) => [v.n, v]));
    // Told "not now" (429, 503: nothing was acknowledged), a voter's device tries again later with
    // the same idempotency key, as it does for a request whose answer never came.
    const notNow = cast.refused.filter(([, status]) => status === 429 || status === 503).map(([n]) => n);
    const resolved = await this.resend(
      [...cast.unanswered, ...notNow].map((n) => byNumber.get(n)).filter((v): v is BenchVoter => v !== undefined),
      idempotencyPrefix,
    );
    const probed = await prober?.stop();
    const backlog = this.receipts.size - (await this.results()).turnout.ballotsCounted;
    const drainSeconds = await this.drain();
    const log = sequencingRate(logBefore, await sampleLog(options.client, options.electionId));
    const proofLatency = probed
      ? { ...(await probed.latency()), sampled: probed.sampled, refused: probed.refused }
      : undefined;
    return { ...measured, resolved, backlog, drainSeconds, log, ...(proofLatency ? { proofLatency } : {}) };
  }

  /** The next `count` voters of the roll, minted, for this process's own casts. */
  private async take(count: number): Promise<BenchVoter[]> {
    const { options } = this;
    const from = this.next;
    const to = Math.min(options.rollSize, from + count - 1);
    this.next = to + 1;
    return to < from ? [] : mintSessions(options.vars, options.electionId, options.prefix, options.rollSize, from, to);
  }

  /**
   * Casts one probe ballot every PROBE_INTERVAL_MS until stopped; each receipt goes to the
   * proof-latency probe with the time its 201 arrived, and counts as a receipt for the tally.
   */
  private startProbing(
    voters: readonly BenchVoter[],
    idempotencyPrefix: string,
  ): {
    stop(): Promise<{
      sampled: number;
      refused: number;
      latency: () => ReturnType<ReturnType<typeof startProofLatencyProbe>["finish"]>;
    }>;
  } {
    const probe = startProofLatencyProbe(this.options.baseUrl);
    const queue = [...voters];
    let stopped = false;
    let sampled = 0;
    let refused = 0;
    const loop = (async (): Promise<void> => {
      while (!stopped) {
        const tick = sleep(PROBE_INTERVAL_MS);
        const voter = queue.shift();
        if (!voter) break;
        const res = await this.castRequest(voter, idempotencyPrefix).catch(() => undefined);
        if (res?.status === 201) {
          const acceptedAtMs = Date.now();
          this.receipts.add(voter.n);
          probe.add({ trackingCode: TrackingCode.parse(await res.json()).trackingCode, acceptedAtMs });
          sampled += 1;
        } else {
          // Not resent: a probe voter without a receipt only leaves the sample one short.
          await res?.arrayBuffer();
          refused += 1;
        }
        await tick;
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await loop;
        return { sampled, refused, latency: () => probe.finish() };
      },
    };
  }

  private castRequest(voter: BenchVoter, idempotencyPrefix: string): Promise<Response> {
    const { options } = this;
    return fetch(`${options.baseUrl}/v1/elections/${options.electionId}/ballots`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${voter.token}` },
      body: JSON.stringify({
        idempotencyKey: idempotencyKeyOf(idempotencyPrefix, voter.n),
        contests: ballotOf(voter.district, voter.n),
      }),
    });
  }

  /**
   * Sends again, with the same idempotency key, every ballot whose answer the run dropped or that
   * was told to come back later: the ledger returns the original receipt (200) if it had accepted
   * it, or accepts it now (201).
   */
  private async resend(
    voters: readonly BenchVoter[],
    idempotencyPrefix: string,
  ): Promise<{ receipts: number; refused: number }> {
    let receipts = 0;
    let refused = 0;
    const queue = [...voters];
    const worker = async (): Promise<void> => {
      for (let voter = queue.shift(); voter; voter = queue.shift()) {
        const status = await this.castOnce(voter, idempotencyPrefix);
        if (status === 200 || status === 201) {
          this.receipts.add(voter.n);
          receipts += 1;
        } else refused += 1;
      }
    };
    await Promise.all(Array.from({ length: RESEND_CONCURRENCY }, worker));
    return { receipts, refused };
  }

  private async castOnce(voter: BenchVoter, idempotencyPrefix: string): Promise<number> {
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.castRequest(voter, idempotencyPrefix);
        await res.arrayBuffer();
        if (res.status < 500 || attempt >= 5) return res.status;
      } catch (error) {
        if (attempt >= 5) throw error;
      }
      await sleep(200 * 2 ** attempt);
    }
  }

  private async results(): Promise<Results> {
    return Results.parse(
      await this.options.client.call("GET", `/v1/admin/elections/${this.options.electionId}/results`),
    );
  }

  /** Waits until the tally counts every receipt; undefined if it stalls (the check will say). */
  async drain(): Promise<number | undefined> {
    const started = performance.now();
    let last = -1;
    let lastProgress = performance.now();
    for (;;) {
      const counted = (await this.results()).turnout.ballotsCounted;
      if (counted >= this.receipts.size) return (performance.now() - started) / 1000;
      if (counted !== last) {
        last = counted;
        lastProgress = performance.now();
      } else if (performance.now() - lastProgress > STALL_SECONDS * 1000) {
        return undefined;
      }
      await sleep(POLL_MS);
    }
  }

  /** The tally against the receipts: the number of ballots and each president option's votes. */
  async check(): Promise<TallyCheck> {
    const results = await this.results();
    const expected = new Map<string, number>(PRESIDENT_OPTIONS.map((o) => [o, 0]));
    for (const n of this.receipts) {
      const option = presidentChoiceOf(n);
      expected.set(option, (expected.get(option) ?? 0) + 1);
    }
    const contest = results.contests.find((c) => c.id === PRESIDENT_CONTEST);
    const president = PRESIDENT_OPTIONS.map((option) => ({
      option,
      expected: expected.get(option) ?? 0,
      counted: contest?.options.find((o) => o.id === option)?.votes ?? 0,
    }));
    const counted = results.turnout.ballotsCounted;
    return {
      receipts: this.receipts.size,
      counted,
      president,
      ok: counted === this.receipts.size && president.every((p) => p.expected === p.counted),
    };
  }
}
