/**
 * What every attack drill needs from the running system (scripts/drill.ts, docs/MONITORING.md):
 * an election of its own, voters who log in and cast through the dev eID issuer, stations with
 * their keys and serials, and a way to wait for the alert the drill should raise.
 *
 * A drill never touches the demo election: it loads a copy of the demo definition under a fresh
 * election id, with its own district ids (stations are registered per district, and the districts
 * of an election whose polls are open can no longer get stations), its own small roll and its own
 * monitoring thresholds, so an operator can run drills beside the demo and see each alert alone.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { OfficialClient } from "../../cli/lib/api.ts";
import type { ContestMarks } from "../../lib/ballot/messages.ts";
import { parseDefinition } from "../../lib/election/definition.ts";
import type { CompiledElection } from "../../lib/election/model.ts";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { Alert } from "../../lib/monitor/alerts.ts";
import type { RuleId } from "../../lib/monitor/rules.ts";
import { qrSignerFromJwk } from "../../lib/qr/keys.ts";
import { encodeMarkedBallot, encodeResultSheet } from "../../lib/qr/payload.ts";
import { StationClient } from "../../lib/station-client/client.ts";
import { ROOT } from "../system.ts";

/** Where the system runs and who plays the administrator. */
export interface DrillContext {
  /** The Worker's origin, e.g. http://127.0.0.1:8787. */
  readonly api: string;
  /** The dev national-eID issuer's origin, e.g. http://127.0.0.1:8788. */
  readonly issuer: string;
  readonly admin: OfficialClient;
}

/** What a drill election may change from the demo's settings. */
export interface DrillElectionOptions {
  /** Names the election: `drill-<name>-<random>`. */
  readonly name: string;
  readonly crossChannelPolicy?: "first-wins" | "paper-supersedes";
  readonly geofence?: { readonly allowedCountries: readonly string[]; readonly outside: "refuse" | "flag" };
  /** The election's `monitoring` settings (lib/monitor/rules.ts); defaults for what is absent. */
  readonly monitoring?: Record<string, unknown>;
  /** Voters per district (north, south, east), 40 each unless given. */
  readonly voters?: { readonly north?: number; readonly south?: number; readonly east?: number };
  /** Take the demo roll instead (elections/demo/voters.csv, 1,000 voters), in this election's districts. */
  readonly demoRoll?: boolean;
  /** Stations to register, each serving the districts named (short names: north, south, east). */
  readonly stations?: readonly (readonly DistrictName[])[];
  /** When the polls close, counted from their opening; a week unless given. */
  readonly closesAfterMs?: number;
}

export type DistrictName = "north" | "south" | "east";

export interface DrillVoter {
  readonly nationalId: string;
  readonly district: DistrictName;
}

export interface DrillStation {
  readonly id: string;
  readonly districts: readonly DistrictName[];
  readonly client: StationClient;
  /** Prints a marked ballot of `district`'s style with the station's ballot-marking device. */
  print(district: DistrictName, serial: number): Promise<string>;
  /** Its result sheet, signed by its device key, with the counts given. */
  sheet(votersCheckedIn: number, ballotsCast: number): Promise<string>;
  /** Its serials: first .. first + 999. */
  readonly firstSerial: number;
}

export interface DrillElection {
  readonly id: string;
  readonly election: CompiledElection;
  /** The election's own id for each district. */
  readonly districtIds: Readonly<Record<DistrictName, string>>;
  readonly voters: readonly DrillVoter[];
  readonly stations: readonly DrillStation[];
  /** When the polls open and close (epoch ms). */
  readonly opensAtMs: number;
  readonly closesAtMs: number;
  /** The next unused voters of a district, each handed out once. */
  take(district: DistrictName, n: number): DrillVoter[];
}

const DISTRICTS: readonly DistrictName[] = ["north", "south", "east"];

function randomTag(length: number): string {
  const alphabet = "abcdefghijkmnpqrstuvwxyz23456789";
  return Array.from(crypto.getRandomValues(new Uint8Array(length)), (b) => alphabet[b % alphabet.length]).join("");
}

/**
 * The demo definition with every GpUnit id replaced: the district ids are quoted strings in the
 * JSON (GpUnit ids, ballot styles' GpUnitIds, contests' ElectionDistrictId), never parts of other
 * ids, so replacing the quoted strings renames exactly them.
 */
async function definitionFor(
  electionId: string,
  tag: string,
): Promise<{ json: unknown; districtIds: Record<DistrictName, string> }> {
  let text = await readFile(join(ROOT, "elections", "demo", "election.json"), "utf8");
  const districtIds = {} as Record<DistrictName, string>;
  for (const d of DISTRICTS) {
    districtIds[d] = `${tag}-${d}`;
    text = text.replaceAll(`"district-${d}"`, `"${districtIds[d]}"`);
  }
  text = text.replaceAll(`"demo-republic"`, `"${tag}-nation"`);
  const json = z.looseObject({ settings: z.looseObject({ electionId: z.string() }) }).parse(JSON.parse(text));
  json.settings.electionId = electionId;
  return { json, districtIds };
}

const MARKS: Readonly<Record<DistrictName, readonly ContestMarks[]>> = {
  north: [
    { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
    { contestId: "contest-parliament-north", optionIds: [] },
    { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-no"] },
  ],
  south: [
    { contestId: "contest-president", optionIds: ["sel-president-liis-kask"] },
    { contestId: "contest-parliament-south", optionIds: [] },
    { contestId: "contest-referendum-voting-age", optionIds: ["sel-referendum-voting-age-yes"] },
  ],
  east: [
    { contestId: "contest-president", optionIds: [] },
    { contestId: "contest-council-east", optionIds: [] },
    { contestId: "contest-referendum-voting-age", optionIds: [] },
  ],
};

/** The demo roll's voters, by the short name of their district. */
async function demoRoll(): Promise<DrillVoter[]> {
  const lines = (await readFile(join(ROOT, "elections", "demo", "voters.csv"), "utf8")).split(/\r?\n/).slice(1);
  return lines
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const [nationalId = "", district = ""] = line.split(",");
      const short = district.replace(/^district-/, "");
      if (!DISTRICTS.includes(short as DistrictName)) throw new Error(`the demo roll names a district ${district}`);
      return { nationalId, district: short as DistrictName };
    });
}

/** Loads a drill election (polls not yet open), its roll and stations, then opens its polls. */
export async function drillElection(ctx: DrillContext, options: DrillElectionOptions): Promise<DrillElection> {
  const tag = randomTag(6);
  const id = `drill-${options.name}-${tag}`;
  const { json, districtIds } = await definitionFor(id, tag);
  const definition = json as { settings: Record<string, unknown> };
  const now = Date.now();
  // Loaded first with polls a week long from an hour ahead (stations and the roll are set up
  // before the polls open); the close the drill asks for is set when the polls open below.
  const week = 7 * 24 * 3600_000;
  Object.assign(definition.settings, {
    crossChannelPolicy: options.crossChannelPolicy ?? "first-wins",
    // Local runs all come from one placeholder country (the local runtime's request.cf says US): a drill's
    // geofence is open unless the drill is about countries.
    geofence: options.geofence ?? { allowedCountries: [], outside: "flag" },
    ...(options.monitoring ? { monitoring: options.monitoring } : {}),
    polls: { opensAt: new Date(now + 3600_000).toISOString(), closesAt: new Date(now + 3600_000 + week).toISOString() },
  });
  await ctx.admin.call("POST", "/v1/admin/elections", { json: definition });

  const voters: DrillVoter[] = options.demoRoll ? await demoRoll() : [];
  const prefix = tag.toUpperCase();
  for (const d of options.demoRoll ? [] : DISTRICTS) {
    const n = options.voters?.[d] ?? 40;
    for (let i = 1; i <= n; i += 1) voters.push({ nationalId: `${prefix}-${d.toUpperCase()}-${i}`, district: d });
  }
  const csv = ["national_id,district", ...voters.map((v) => `${v.nationalId},${districtIds[v.district]}`)].join("\n");
  await ctx.admin.call("POST", `/v1/admin/elections/${id}/roll?firstLine=2`, {
    text: `${csv}\n`,
    contentType: "text/csv",
  });

  const stations: DrillStation[] = [];
  // Serials are unique across every station of the deployment: a random block per drill.
  let serial = 10_000_000 + Math.floor(Math.random() * 80_000) * 1000;
  for (const [k, districts] of (options.stations ?? []).entries()) {
    const stationId = `${id}-s${k + 1}`;
    const client = await generateSigningKey(`${stationId}-k1`);
    const bmd = await generateSigningKey(`${stationId}-bmd1`);
    const firstSerial = serial;
    serial += 1000;
    await ctx.admin.call("POST", "/v1/admin/stations", {
      json: {
        id: stationId,
        name: `Drill station ${k + 1}`,
        districtIds: districts.map((d) => districtIds[d]),
        publicJwk: client.publicJwk,
        serialRanges: [{ first: firstSerial, last: firstSerial + 999 }],
      },
    });
    await ctx.admin.call("POST", `/v1/admin/stations/${stationId}/keys`, {
      json: { publicJwk: bmd.publicJwk, role: "marking-device" },
    });
    stations.push({
      id: stationId,
      districts,
      firstSerial,
      client: new StationClient({ baseUrl: ctx.api, stationId, privateJwk: client.privateJwk }),
      print: async (district, at) => {
        const signer = await qrSignerFromJwk(bmd.privateJwk);
        if (!signer.ok) throw new Error(signer.error.message);
        const encoded = await encodeMarkedBallot(
          {
            electionId: id,
            ballotStyleId: `bs-${district}`,
            serial: at,
            contests: MARKS[district].map((c) => ({ ...c })),
          },
          election(),
          signer.value,
        );
        if (!encoded.ok) throw new Error(encoded.error.message);
        return encoded.value.text;
      },
      sheet: async (votersCheckedIn, ballotsCast) => {
        const signer = await qrSignerFromJwk(client.privateJwk);
        if (!signer.ok) throw new Error(signer.error.message);
        const encoded = await encodeResultSheet(
          {
            electionId: id,
            stationId,
            sequence: 1,
            closedAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString().replace(".000", ""),
            votersCheckedIn,
            ballotsCast,
            contests: [],
          },
          election(),
          signer.value,
        );
        if (!encoded.ok) throw new Error(encoded.error.message);
        return encoded.value.text;
      },
    });
  }

  // Open the polls a second ago: the same definition, loaded again before anything opened.
  const opensAtMs = Date.now() - 1000;
  const closesAtMs = opensAtMs + (options.closesAfterMs ?? week);
  definition.settings["polls"] = {
    opensAt: new Date(opensAtMs).toISOString(),
    closesAt: new Date(closesAtMs).toISOString(),
  };
  await ctx.admin.call("POST", "/v1/admin/elections", { json: definition });
  const parsed = parseDefinition(definition);
  if (!parsed.ok) throw new Error(`the drill definition does not parse: ${JSON.stringify(parsed.error)}`);
  const compiled = parsed.value.election;
  function election(): CompiledElection {
    return compiled;
  }

  const next = new Map<DistrictName, number>();
  return {
    id,
    election: compiled,
    districtIds,
    voters,
    stations,
    opensAtMs,
    closesAtMs,
    take(district, n) {
      const all = voters.filter((v) => v.district === district);
      const from = next.get(district) ?? 0;
      next.set(district, from + n);
      const taken = all.slice(from, from + n);
      if (taken.length < n) throw new Error(`the drill roll has too few ${district} voters`);
      return taken;
    },
  };
}

/** An ID token for the voter from the dev eID issuer. */
export async function idToken(ctx: DrillContext, nationalId: string): Promise<string> {
  const res = await fetch(`${ctx.issuer}/dev/id-token`, { method: "POST", body: JSON.stringify({ nationalId }) });
  if (!res.ok) throw new Error(`the dev eID issuer answered ${res.status}`);
  return z.object({ id_token: z.string() }).parse(await res.json()).id_token;
}

/**
 * An ID token of the voter's, spoilt on the way (its signature's last characters replaced): what a
 * forger or a broken client sends. The gateway refuses it (voter-login-failed).
 */
export async function forgedIdToken(ctx: DrillContext, nationalId: string): Promise<string> {
  return (await idToken(ctx, nationalId)).replace(/.{6}$/, "AAAAAA");
}

/** A login with a forged ID token; the refusal's body is dropped. */
export async function forgedLogin(ctx: DrillContext, electionId: string, token: string): Promise<void> {
  await (await login(ctx, electionId, token)).body?.cancel();
}

/** Logs the voter in: the answer of POST /v1/auth/voter-session, whatever it is. */
export async function login(ctx: DrillContext, electionId: string, token: string): Promise<Response> {
  return fetch(`${ctx.api}/v1/auth/voter-session`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ electionId, idToken: token }),
  });
}

/** A logged-in voter's Authorization header. */
export async function voterAuth(ctx: DrillContext, electionId: string, nationalId: string): Promise<string> {
  const res = await login(ctx, electionId, await idToken(ctx, nationalId));
  if (res.status !== 200) throw new Error(`voter login failed: ${res.status} ${await res.text()}`);
  return `Bearer ${z.object({ sessionToken: z.string() }).parse(await res.json()).sessionToken}`;
}

const BallotView = z.object({
  contests: z.array(
    z.object({ id: z.string(), options: z.array(z.object({ id: z.string(), isWriteIn: z.boolean() })) }),
  ),
});

/** Casts the first named option of every contest; the cast's response, whatever it is. */
export async function cast(ctx: DrillContext, electionId: string, authorization: string): Promise<Response> {
  const ballot = BallotView.parse(
    await (await fetch(`${ctx.api}/v1/elections/${electionId}/ballot`, { headers: { authorization } })).json(),
  );
  return fetch(`${ctx.api}/v1/elections/${electionId}/ballots`, {
    method: "POST",
    headers: { authorization, "content-type": "application/json" },
    body: JSON.stringify({
      idempotencyKey: crypto.randomUUID(),
      contests: ballot.contests.map((c) => ({
        contestId: c.id,
        optionIds: [c.options.find((o) => !o.isWriteIn)?.id ?? ""],
      })),
    }),
  });
}

/** Logs the voter in and casts; throws unless the ballot was accepted. */
export async function vote(ctx: DrillContext, electionId: string, nationalId: string): Promise<void> {
  const res = await cast(ctx, electionId, await voterAuth(ctx, electionId, nationalId));
  if (res.status !== 201) throw new Error(`cast failed: ${res.status} ${await res.text()}`);
}

const Alerts = z.object({ alerts: z.array(Alert) });

/** The election's alerts, every state. */
export async function alertsOf(ctx: DrillContext, electionId: string): Promise<Alert[]> {
  return Alerts.parse(await ctx.admin.call("GET", `/v1/admin/elections/${electionId}/alerts?state=all`)).alerts;
}

/**
 * Waits for an alert of `rule` to be raised, reading the alerts every 100 ms for at most
 * `timeoutMs`; its alert and how long after `sinceMs` it was there, or undefined.
 */
export async function waitForAlert(
  ctx: DrillContext,
  electionId: string,
  rule: RuleId,
  sinceMs: number,
  timeoutMs = 15_000,
): Promise<{ alert: Alert; afterMs: number } | undefined> {
  for (;;) {
    const found = (await alertsOf(ctx, electionId)).find((a) => a.rule === rule);
    if (found) return { alert: found, afterMs: Date.now() - sinceMs };
    if (Date.now() - sinceMs > timeoutMs) return undefined;
    await new Promise((r) => setTimeout(r, 100));
  }
}
