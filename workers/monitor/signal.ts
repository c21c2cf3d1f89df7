/**
 * How the rest of the Worker tells an election's security monitor what happened
 * (durable-objects/security-monitor.ts). Advisory: a failure is an operational event and never
 * fails the request or the batch that noticed it (the tally, the log and the security_events rows
 * do not depend on the monitor).
 */
import { securityMonitorFor } from "../../durable-objects/addresses.ts";
import { configOf } from "../../durable-objects/config.ts";
import { emitEvent } from "../../lib/events.ts";
import { keyedDigestHex, purposeKey } from "../../lib/keys.ts";
import type { MonitorSignalInput } from "../../lib/monitor/signals.ts";

export async function signalMonitor(
  env: Env,
  electionId: string,
  signals: readonly MonitorSignalInput[],
): Promise<void> {
  if (signals.length === 0) return;
  try {
    await securityMonitorFor(env, electionId).observe(electionId, [...signals]);
  } catch (error) {
    emitEvent("monitor_signal_failed", { electionId, signals: signals.length, error: String(error) });
  }
}

/**
 * Runs the monitor's timer rules now and keeps its timer going: after an election is loaded (so
 * the timer runs from the polls' opening, traffic or not) and after a dead letter of the election
 * is recorded (so it is an alert within a second, not at the next tick). Advisory, like a signal.
 */
export async function wakeMonitor(env: Env, electionId: string): Promise<void> {
  try {
    await securityMonitorFor(env, electionId).evaluateNow(electionId);
  } catch (error) {
    emitEvent("monitor_signal_failed", { electionId, signals: 0, error: String(error) });
  }
}

/**
 * The monitor's tag of a voter: HMAC of the voter key under the election's monitor-voter key,
 * 16 bytes in hex. Nothing outside the monitor's windows holds it.
 */
export async function monitorVoterTag(env: Env, electionId: string, voterKey: string): Promise<string> {
  const key = await purposeKey(configOf(env).BALLOT_LINK_KEY, "monitor-voter", electionId);
  const tag = await keyedDigestHex(key, voterKey);
  return tag.slice(0, 32);
}

/** A client address's network: its IPv4 /24 or IPv6 /48 prefix, as CIDR text. */
export function networkOf(address: string): string | undefined {
  const v4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.\d{1,3}$/.exec(address);
  if (v4) return `${v4[1]}.${v4[2]}.${v4[3]}.0/24`;
  if (!address.includes(":")) return undefined;
  const [head] = address.split("::");
  const groups = (head ?? "").split(":").filter((g) => g.length > 0);
  const prefix = [...groups, "0", "0", "0"].slice(0, 3).map((g) => g.toLowerCase().replace(/^0+(?=.)/, ""));
  return `${prefix.join(":")}::/48`;
}
