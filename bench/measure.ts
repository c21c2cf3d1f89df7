/**
 * One load run: bench/load.ts in a child process (the load generator never shares a process with
 * the runtime it measures), with the CPU both used over the run.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { LoadResult, type LoadSpec } from "./load.ts";
import { cpuSecondsOf, machineBusySeconds, otherLoad } from "./cpu.ts";

const LOAD_SCRIPT = join(import.meta.dirname, "load.ts");

export interface Measured extends LoadResult {
  readonly label: string;
  /** Cores used over the run (CPU seconds over wall seconds); undefined off Linux. */
  readonly runtimeCores: number | undefined;
  readonly loadGeneratorCores: number;
  /** Cores other processes on the machine kept busy over the run (0 on a quiet machine). */
  readonly otherCores: number | undefined;
}

/** Children still running, so an interrupted bench can stop them. */
export const runningChildren = new Set<ChildProcess>();

/**
 * Other processes' load above which a run waits (cores), and how long a whole bench may wait in
 * total: on a shared machine (a developer's, CI's) another job's burst would otherwise land in one
 * run's figures. A machine that never quiets down costs at most the budget; every run's line says
 * what other processes used during it either way.
 */
const QUIET_CORES = 0.25;
const QUIET_WAIT_PER_RUN_S = 30;
let quietBudgetSeconds = 60;

export function setQuietBudget(seconds: number): void {
  quietBudgetSeconds = seconds;
}

export async function waitForQuiet(label: string, runtimePids: readonly number[]): Promise<void> {
  const started = performance.now();
  let other = await otherLoad(runtimePids, 500);
  while (other !== undefined && other > QUIET_CORES) {
    const waited = (performance.now() - started) / 1000;
    if (waited >= QUIET_WAIT_PER_RUN_S || waited >= quietBudgetSeconds) break;
    other = await otherLoad(runtimePids, 1_000);
  }
  const waited = (performance.now() - started) / 1000;
  if (waited > 1) {
    quietBudgetSeconds = Math.max(0, quietBudgetSeconds - waited);
    console.log(
      `    (${label}: waited ${waited.toFixed(0)} s for other processes to quiet down; they now use ${other?.toFixed(2) ?? "?"} cores)`,
    );
  }
}

export async function runLoad(
  label: string,
  spec: Omit<LoadSpec, "resultFile">,
  workDir: string,
  runtimePids: readonly number[],
): Promise<Measured> {
  await waitForQuiet(label, runtimePids);
  const resultFile = join(workDir, `load-${process.hrtime.bigint()}.json`);
  const fullSpec: LoadSpec = { ...spec, resultFile };
  const child = spawn(process.execPath, [LOAD_SCRIPT, JSON.stringify(fullSpec)], {
    stdio: ["ignore", "inherit", "inherit"],
  });
  runningChildren.add(child);
  const started = performance.now();
  const runtimeBefore = cpuSecondsOf(runtimePids);
  const machineBefore = machineBusySeconds();
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  runningChildren.delete(child);
  const seconds = (performance.now() - started) / 1000;
  const runtimeAfter = cpuSecondsOf(runtimePids);
  const machineAfter = machineBusySeconds();
  if (code !== 0) throw new Error(`the load generator failed (exit ${code}) on ${label}`);
  const result = LoadResult.parse(JSON.parse(await readFile(resultFile, "utf8")));
  await rm(resultFile, { force: true });
  const runtimeCores =
    runtimeBefore !== undefined && runtimeAfter !== undefined ? (runtimeAfter - runtimeBefore) / seconds : undefined;
  const loadGeneratorCores = result.cpuSeconds / result.uptimeSeconds;
  const machineCores =
    machineBefore !== undefined && machineAfter !== undefined ? (machineAfter - machineBefore) / seconds : undefined;
  return {
    ...result,
    label,
    runtimeCores,
    loadGeneratorCores,
    // This process (the bench) is idle during a run; what remains is other processes' load.
    otherCores:
      machineCores !== undefined && runtimeCores !== undefined
        ? Math.max(0, machineCores - runtimeCores - loadGeneratorCores)
        : undefined,
  };
}
