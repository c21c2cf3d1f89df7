/** Small helpers the Node tests share: running the auditor's CLI, and waiting for a condition. */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../../../scripts/system.ts";

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `npm run auditor -- ...args` the way an auditor would (the pinned Node), never rejecting. */
export function runAuditor(...args: readonly string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      join(ROOT, "node_modules", ".bin", "node"),
      [join(ROOT, "cli", "auditor.ts"), ...args],
      { cwd: ROOT, timeout: 120_000 },
      (error, stdout, stderr) => {
        resolve({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
      },
    );
  });
}

/** Polls `probe` until it returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(
  probe: () => Promise<T | undefined>,
  timeoutMs = 20_000,
  intervalMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
