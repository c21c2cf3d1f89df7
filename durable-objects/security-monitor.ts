/**
 * SecurityMonitor: one per election (name "<election id>"), the security monitor of DESIGN 3.7
 * and docs/MONITORING.md. CONTRACT STUB: the methods below are the interface the gateway, the
 * consumer and the console build against; their bodies are being written.
 */
import { DurableObject } from "cloudflare:workers";
import type { Alert, MonitorStatus } from "../lib/monitor/alerts.ts";
import type { MonitorSignalInput } from "../lib/monitor/signals.ts";
import type { Result } from "../lib/result.ts";

/** Why an official's acknowledgement or closing was refused (lib/errors.ts codes). */
export type AlertRefusal = "alert_not_found" | "alert_closed";

export class SecurityMonitor extends DurableObject<Env> {
  /** Counts and events for the election's windows; rules run on them at once. */
  async observe(electionId: string, signals: readonly MonitorSignalInput[]): Promise<void> {
    void electionId;
    void signals;
    throw new Error("SecurityMonitor.observe: not built yet");
  }

  /** The alerts not closed, newest first (the live channel's snapshot). */
  async openAlerts(): Promise<Alert[]> {
    throw new Error("SecurityMonitor.openAlerts: not built yet");
  }

  async acknowledge(alertId: string, officialId: string, note: string): Promise<Result<Alert, AlertRefusal>> {
    void alertId;
    void officialId;
    void note;
    throw new Error("SecurityMonitor.acknowledge: not built yet");
  }

  async close(alertId: string, officialId: string, note: string): Promise<Result<Alert, AlertRefusal>> {
    void alertId;
    void officialId;
    void note;
    throw new Error("SecurityMonitor.close: not built yet");
  }

  /** Runs the timer's rules now (tests and drills do not wait for the tick) and answers the status. */
  async evaluateNow(electionId: string): Promise<MonitorStatus> {
    void electionId;
    throw new Error("SecurityMonitor.evaluateNow: not built yet");
  }

  async status(electionId: string): Promise<MonitorStatus> {
    void electionId;
    throw new Error("SecurityMonitor.status: not built yet");
  }

  /** The officials' live alert channel: a WebSocket upgrade at `/live?election=<id>` (lib/monitor/alerts.ts). */
  override async fetch(request: Request): Promise<Response> {
    void request;
    return new Response("not built yet", { status: 501 });
  }
}
