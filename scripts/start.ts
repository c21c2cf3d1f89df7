/**
 * `npm start`: the whole system on the local runtime with local persistence (.dev/), the demo
 * election loaded, and the URLs and demo credentials printed. Ctrl-C stops it; state survives.
 */
import { join } from "node:path";
import { OfficialClient } from "../cli/lib/api.ts";
import { DEMO_ELECTION_ID, demoVoters, loadDemo } from "./demo.ts";
import { ROOT, startSystem } from "./system.ts";

process.env["CLOUDFLARE_CF_FETCH_ENABLED"] ??= "false";

const port = Number(process.env["PORT"] ?? 8787);
const issuerPort = Number(process.env["EID_PORT"] ?? 8788);
const stateDir = join(ROOT, ".dev");

const voters = await demoVoters();
console.log("Starting the dev national-eID issuer and the Worker (wrangler dev)...");
const system = await startSystem({
  stateDir,
  port,
  issuerPort,
  demoVoters: voters.map((v) => ({ nationalId: v.nationalId, label: `${v.nationalId} (${v.districtId})` })),
  verbose: process.env["VERBOSE"] === "1",
});

const client = new OfficialClient({
  baseUrl: system.baseUrl,
  officialId: "bootstrap-admin",
  keyFile: system.adminKeyFile,
});
const demo = await loadDemo(client);
const first = voters[0]?.nationalId ?? "DEMO-0001";

console.log(`
The mixed election system is running (state in .dev/; Ctrl-C to stop).

  Voter portal       ${system.baseUrl}/      <- open this first: the elections, voting, checking a receipt
  Live results       ${system.baseUrl}/elections/${DEMO_ELECTION_ID}/results   (wall screen: ?view=kiosk)
  Officials' console ${system.baseUrl}/console   (official id bootstrap-admin, key file ${system.adminKeyFile})
  Attack drills      npm run drill -- list   (then e.g. npm run drill -- ballot-stuffing, and watch the console)

  API                ${system.baseUrl}
  OpenAPI document   ${system.baseUrl}/openapi.json
  Demo election      ${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}   (${demo.election})
  Voter login        ${system.baseUrl}/v1/auth/login?electionId=${DEMO_ELECTION_ID}
  Dev eID issuer     ${system.issuer.url}   (JWKS ${system.issuer.jwksUrl})

Demo voters: national ids DEMO-0001 ... DEMO-1000 (elections/demo/voters.csv).
  A voter by API:
    TOKEN=$(curl -s -X POST ${system.issuer.url}/dev/id-token -H 'content-type: application/json' -d '{"nationalId":"${first}"}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).id_token')
    SESSION=$(curl -s -X POST ${system.baseUrl}/v1/auth/voter-session -H 'content-type: application/json' -d "{\\"electionId\\":\\"${DEMO_ELECTION_ID}\\",\\"idToken\\":\\"$TOKEN\\"}" | node -pe 'JSON.parse(require("fs").readFileSync(0)).sessionToken')
    curl -s ${system.baseUrl}/v1/elections/${DEMO_ELECTION_ID}/ballot -H "authorization: Bearer $SESSION"

Auditor: the public log is at ${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}/
  npm run auditor -- verify --log ${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}/ --key '<the verifier key the election authority published>'
  An auditor takes the key from the authority's own publication, never from the server audited. Here you are the
  authority: your publication is ${system.baseUrl}/v1/logs/${DEMO_ELECTION_ID}/verifier-key

Administrator (official id bootstrap-admin, private key ${system.adminKeyFile}):
  ELECTION_API=${system.baseUrl} ELECTION_OFFICIAL_KEY=${system.adminKeyFile} npm run admin -- official list
  ELECTION_API=${system.baseUrl} ELECTION_OFFICIAL_KEY=${system.adminKeyFile} npm run admin -- roll summary ${DEMO_ELECTION_ID}
  ELECTION_API=${system.baseUrl} ELECTION_OFFICIAL_KEY=${system.adminKeyFile} npm run admin -- election polls ${DEMO_ELECTION_ID}
`);

const shutdown = async (): Promise<void> => {
  await system.stop();
  process.exit(0);
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
