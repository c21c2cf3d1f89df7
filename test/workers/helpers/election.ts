/**
 * The demo election (elections/demo/election.json) for tests inside workerd, loaded through the
 * real admin route as the bootstrap administrator.
 *
 * D1 is shared by the tests of a file: give each election its own `electionId`. A load after
 * that election's polls opened is refused (409 election_locked), and the demo's polls are open
 * from 2026-01-01 until 2030-12-31 unless you say otherwise.
 */
import { SELF } from "cloudflare:test";
import demo from "../../../elections/demo/election.json";
import type { ElectionSettings } from "../../../lib/election/settings.ts";
import { adminToken, BASE } from "./auth.ts";

/** A fresh deep copy of the demo definition document, to change at will. */
export function demoDefinition(): unknown {
  return structuredClone(demo);
}

/** Loads the demo election with `settings` laid over the demo's own (polls replace as a whole). */
export async function loadDemoElection(settings: Partial<ElectionSettings> = {}): Promise<void> {
  const definition = structuredClone(demo);
  const res = await SELF.fetch(`${BASE}/v1/admin/elections`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${await adminToken()}` },
    body: JSON.stringify({ ...definition, settings: { ...definition.settings, ...settings } }),
  });
  if (res.status !== 200 && res.status !== 201) {
    throw new Error(`loading the demo election failed: ${res.status} ${await res.text()}`);
  }
}

/**
 * Loads the demo election open since a minute ago and closing `closesInMs` from now, with
 * `settings` laid over; returns the close (epoch ms). For tests that vote and then watch what the
 * close publishes.
 */
export async function loadClosingSoonDemo(
  electionId: string,
  closesInMs: number,
  settings: Partial<ElectionSettings> = {},
): Promise<number> {
  const now = Date.now();
  const closesAt = now + closesInMs;
  await loadDemoElection({
    electionId,
    polls: { opensAt: new Date(now - 60_000).toISOString(), closesAt: new Date(closesAt).toISOString() },
    ...settings,
  });
  return closesAt;
}
