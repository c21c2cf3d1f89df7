/**
 * `admin station ...`: polling stations (districts, device keys, BMD serial ranges), the election
 * authority's ballot-sheet keys, and station reconciliation.
 *
 *   admin station keygen <kid> <out>                         an Ed25519 device key pair
 *   admin station add <id> --name <name> --district <id>... --public-key <file> [--serials <first-last>...]
 *   admin station add-key <id> --public-key <file> [--role client|marking-device]
 *                                                            a new device, or key rotation
 *   admin station revoke-key <id> <kid>
 *   admin station revoke <id>
 *   admin station serials <id> <first-last>                  issue a further serial range (BMD prints
 *                                                            and pre-printed sheets scanned there)
 *   admin station list | show <id>
 *   admin station setup-file <id> --election <id> --api <origin> --out <file> [--force]
 *                                                            a laptop's setup file with a fresh client key
 *   admin station sheet-key add|list|revoke <electionId> ...  keys that sign pre-printed sheets
 *   admin station reconciliation <electionId> [--station <id>]
 */
import { randomBytes } from "node:crypto";
import { access, writeFile } from "node:fs/promises";
import { Command, InvalidArgumentError, Option } from "commander";
import * as z from "zod";
import { generateSigningKey } from "../../lib/identity/keys.ts";
import { Ed25519PublicJwk } from "../../lib/station/ids.ts";
import { StationKeyRole } from "../../lib/vocabulary.ts";
import { StationSetup } from "../../station/setup.ts";
import { ApiCallError, OfficialClient } from "../lib/api.ts";
import { keygenCommand, print, readPublicJwkFile } from "../lib/io.ts";

function readPublicJwk(path: string): Promise<Ed25519PublicJwk> {
  return readPublicJwkFile(path, Ed25519PublicJwk);
}

function serialRange(
  value: string,
  previous: { first: number; last: number }[] = [],
): { first: number; last: number }[] {
  const match = /^(\d+)-(\d+)$/.exec(value);
  const first = Number(match?.[1]);
  const last = Number(match?.[2]);
  if (!match || !Number.isSafeInteger(first) || !Number.isSafeInteger(last) || first > last) {
    throw new InvalidArgumentError("expected a serial range like 100000-199999");
  }
  return [...previous, { first, last }];
}

function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

const enc = encodeURIComponent;

export function stationCommands(): Command {
  const station = new Command("station").description(
    "Polling stations, their device keys, ballot-sheet keys and reconciliation.",
  );

  station.addCommand(
    keygenCommand(
      "Make a station device's Ed25519 key pair: <out>.jwk.json (private, stays on the device) and <out>.pub.json (register it).",
    ),
  );

  station
    .command("add")
    .description("Register a polling station with its districts and first device key.")
    .argument("<id>", "the station's id")
    .requiredOption("--name <name>", "display name")
    .requiredOption("--district <id>", "a district the station serves (repeat for more)", collect)
    .requiredOption("--public-key <file>", "the device's public JWK file")
    .option(
      "--serials <first-last>",
      "a range of ballot serials issued to it: its ballot-marking devices' prints and the pre-printed sheets it gets (repeatable)",
      serialRange,
    )
    .action(
      async (
        id: string,
        opts: { name: string; district: string[]; publicKey: string; serials?: { first: number; last: number }[] },
      ) => {
        const publicJwk = await readPublicJwk(opts.publicKey);
        print(
          await OfficialClient.fromEnv().call("POST", "/v1/admin/stations", {
            json: {
              id,
              name: opts.name,
              districtIds: opts.district,
              publicJwk,
              ...(opts.serials ? { serialRanges: opts.serials } : {}),
            },
          }),
        );
      },
    );

  station
    .command("add-key")
    .description("Add a device key to a station (a further device, or rotation: add the new key, then revoke the old).")
    .argument("<id>")
    .requiredOption("--public-key <file>", "the new public JWK file")
    .addOption(
      new Option(
        "--role <role>",
        "client (the station's console: signs requests and result sheets) or marking-device (a ballot-marking device: signs marked ballots only)",
      )
        .choices(StationKeyRole.options)
        .default("client"),
    )
    .action(async (id: string, opts: { publicKey: string; role: StationKeyRole }) => {
      print(
        await OfficialClient.fromEnv().call("POST", `/v1/admin/stations/${enc(id)}/keys`, {
          json: { publicJwk: await readPublicJwk(opts.publicKey), role: opts.role },
        }),
      );
    });

  station
    .command("revoke-key")
    .description("Revoke one device key of a station.")
    .argument("<id>")
    .argument("<kid>")
    .action(async (id: string, kid: string) => {
      print(await OfficialClient.fromEnv().call("DELETE", `/v1/admin/stations/${enc(id)}/keys/${enc(kid)}`));
    });

  station
    .command("revoke")
    .description("Revoke a station: none of its keys is accepted any more.")
    .argument("<id>")
    .action(async (id: string) => {
      print(await OfficialClient.fromEnv().call("DELETE", `/v1/admin/stations/${enc(id)}`));
    });

  station
    .command("serials")
    .description(
      "Issue a further range of ballot serials to a station: its BMDs print them, and pre-printed sheets scanned there must carry them.",
    )
    .argument("<id>")
    .argument("<first-last>", "e.g. 200000-299999")
    .action(async (id: string, range: string) => {
      const [parsed] = serialRange(range);
      print(
        await OfficialClient.fromEnv().call("POST", `/v1/admin/stations/${enc(id)}/serial-ranges`, { json: parsed }),
      );
    });

  station
    .command("list")
    .description("List stations with their districts, keys and serial ranges.")
    .action(async () => {
      print(await OfficialClient.fromEnv().call("GET", "/v1/admin/stations"));
    });

  station
    .command("show")
    .description("Show one station.")
    .argument("<id>")
    .action(async (id: string) => {
      print(await OfficialClient.fromEnv().call("GET", `/v1/admin/stations/${enc(id)}`));
    });

  station
    .command("setup-file")
    .description(
      "Make a polling station laptop's setup file: a fresh Ed25519 key pair, its public half registered as the station's client key, the private half written to <file> (mode 0600). Only before the polls open: keys cannot be added after.",
    )
    .argument("<id>", "the station's id")
    .requiredOption("--election <id>", "the election the laptop serves")
    .requiredOption("--api <origin>", "the origin the laptop calls, e.g. https://vote.example.gov")
    .requiredOption("--out <file>", "where to write the setup file")
    .option("--force", "overwrite an existing file")
    .action(async (id: string, opts: { election: string; api: string; out: string; force?: boolean }) => {
      const exists = await access(opts.out).then(
        () => true,
        () => false,
      );
      if (exists && opts.force !== true) {
        throw new InvalidArgumentError(
          `${opts.out} exists; pass --force to replace it (its key stays registered: revoke it)`,
        );
      }
      const api = OfficialClient.fromEnv();
      const stored = z
        .object({ name: z.string(), districtIds: z.array(z.string()) })
        .loose()
        .parse(await api.call("GET", `/v1/admin/stations/${enc(id)}`));
      const origin = opts.api.replace(/\/$/, "");
      const res = await fetch(`${origin}/v1/elections/${enc(opts.election)}`);
      if (!res.ok)
        throw new InvalidArgumentError(`${origin} does not know election ${opts.election} (HTTP ${res.status})`);
      const election = z
        .object({ districts: z.array(z.object({ id: z.string() }).loose()) })
        .loose()
        .parse(await res.json());
      const inElection = new Set(election.districts.map((d) => d.id));
      const districtIds = stored.districtIds.filter((d) => inElection.has(d));
      if (districtIds.length === 0) {
        throw new InvalidArgumentError(`station ${id} serves no district of election ${opts.election}`);
      }
      const kid = `${id}-c${randomBytes(4).toString("hex")}`;
      const { privateJwk, publicJwk } = await generateSigningKey(kid);
      const setup = StationSetup.parse({
        v: 1,
        stationId: id,
        name: stored.name,
        apiOrigin: origin,
        electionId: opts.election,
        districtIds,
        deviceKey: privateJwk,
      });
      try {
        await api.call("POST", `/v1/admin/stations/${enc(id)}/keys`, { json: { publicJwk, role: "client" } });
      } catch (error) {
        if (error instanceof ApiCallError && error.code === "authority_locked") {
          console.error(
            `authority_locked: the polls of election ${opts.election} have opened, so no key can be added to station ${id} any more. A setup file is made before the polls open; use one made then.`,
          );
          process.exitCode = 1;
          return;
        }
        throw error;
      }
      await writeFile(opts.out, JSON.stringify(setup, null, 2) + "\n", { mode: 0o600 });
      console.log(`wrote ${opts.out} (private: keep it on the station's laptop only); key ${kid} registered for ${id}`);
    });

  const sheetKey = station
    .command("sheet-key")
    .description("The election authority's keys that sign an election's pre-printed ballot sheets.");
  sheetKey
    .command("add")
    .description("Register the public half of the key `admin sheets print --key` signs with.")
    .argument("<electionId>")
    .requiredOption("--public-key <file>", "the authority's public JWK file")
    .action(async (electionId: string, opts: { publicKey: string }) => {
      print(
        await OfficialClient.fromEnv().call("POST", `/v1/admin/elections/${enc(electionId)}/sheet-keys`, {
          json: { publicJwk: await readPublicJwk(opts.publicKey) },
        }),
      );
    });
  sheetKey
    .command("list")
    .argument("<electionId>")
    .action(async (electionId: string) => {
      print(await OfficialClient.fromEnv().call("GET", `/v1/admin/elections/${enc(electionId)}/sheet-keys`));
    });
  sheetKey
    .command("revoke")
    .description("Revoke a sheet key: sheets it signed are refused from now on.")
    .argument("<electionId>")
    .argument("<kid>")
    .action(async (electionId: string, kid: string) => {
      print(
        await OfficialClient.fromEnv().call("DELETE", `/v1/admin/elections/${enc(electionId)}/sheet-keys/${enc(kid)}`),
      );
    });

  station
    .command("reconciliation")
    .description("Each station's result sheet against the ballots it scanned and the voters it checked in, as of now.")
    .argument("<electionId>")
    .option("--station <id>", "one station only")
    .action(async (electionId: string, opts: { station?: string }) => {
      const path = `/v1/admin/elections/${enc(electionId)}/reconciliation${opts.station ? `/${enc(opts.station)}` : ""}`;
      print(await OfficialClient.fromEnv().call("GET", path));
    });

  return station;
}
