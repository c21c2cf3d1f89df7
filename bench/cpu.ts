/**
 * CPU time of the processes in a run, from /proc (Linux; elsewhere the figures are absent): the
 * runtime (workerd, started by Miniflare as a child of this process) and the load generator. Shown
 * as cores used over the run, so the report can say whether the runtime or the machine was the
 * limit: on a 2-core machine the two together cannot exceed 2.
 */
import { readdirSync, readFileSync } from "node:fs";

/** Linux's USER_HZ: clock ticks per second in /proc/<pid>/stat. 100 on every mainstream kernel. */
const TICKS_PER_SECOND = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly command: string;
  /** utime + stime, in seconds. */
  readonly cpuSeconds: number;
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command sits in parentheses and may itself hold spaces or parentheses.
    const close = text.lastIndexOf(")");
    const command = text.slice(text.indexOf("(") + 1, close);
    const fields = text.slice(close + 2).split(" ");
    // After the command: state(0) ppid(1) ... utime(11) stime(12).
    return {
      pid,
      ppid: Number(fields[1]),
      command,
      cpuSeconds: (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND,
    };
  } catch {
    return undefined;
  }
}

/** The workerd processes under `parent` (Miniflare may wrap workerd in a shell on some systems). */
export function workerdPids(parent = process.pid): number[] {
  let entries: string[];
  try {
    entries = readdirSync("/proc").filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const stats = entries.map((e) => readStat(Number(e))).filter((s): s is ProcStat => s !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const s of stats) children.set(s.ppid, [...(children.get(s.ppid) ?? []), s]);
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const child of children.get(pid) ?? []) {
      if (child.command.includes("workerd")) found.push(child.pid);
      walk(child.pid);
    }
  };
  walk(parent);
  return found;
}

export function cpuSecondsOf(pids: readonly number[]): number | undefined {
  let total = 0;
  for (const pid of pids) {
    const stat = readStat(pid);
    if (!stat) return undefined;
    total += stat.cpuSeconds;
  }
  return pids.length > 0 ? total : undefined;
}

/**
 * CPU seconds the whole machine spent busy so far (all cores: user, nice, system, irq, softirq,
 * steal), from the first line of /proc/stat. Over a run, what is left after the runtime and the
 * load generator is other processes' load: a run that shared the machine says so.
 */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
    const [label, user, nice, system, _idle, _iowait, irq, softirq, steal] = line.trim().split(/\s+/);
    if (label !== "cpu") return undefined;
    return [user, nice, system, irq, softirq, steal].reduce((total, v) => total + Number(v ?? 0), 0) / TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/**
 * Cores other processes keep busy right now: the machine's busy time over `sampleMs` less what the
 * runtime and this process used. Undefined where /proc is not there.
 */
export async function otherLoad(runtimePids: readonly number[], sampleMs = 1_000): Promise<number | undefined> {
  const machine0 = machineBusySeconds();
  const runtime0 = cpuSecondsOf(runtimePids);
  const self0 = process.cpuUsage();
  await new Promise((resolve) => setTimeout(resolve, sampleMs));
  const machine1 = machineBusySeconds();
  const runtime1 = cpuSecondsOf(runtimePids);
  const self = process.cpuUsage(self0);
  if (machine0 === undefined || machine1 === undefined || runtime0 === undefined || runtime1 === undefined)
    return undefined;
  const seconds = sampleMs / 1000;
  return Math.max(0, (machine1 - machine0 - (runtime1 - runtime0) - (self.user + self.system) / 1e6) / seconds);
}
