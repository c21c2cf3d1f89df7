import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { buildAssets } from "./scripts/build-assets.ts";

// Miniflare would otherwise fetch request.cf from the internet; tests pass explicit cf values.
process.env["CLOUDFLARE_CF_FETCH_ENABLED"] ??= "false";
process.env["WRANGLER_LOG_PATH"] ??= ".wrangler/logs";

// The portal's static assets (wrangler.toml [assets]): the Worker under test serves them, and a
// fresh clone has none until they are built.
await buildAssets();

/** End-to-end tests that load the system for minutes: the "load" project below. */
const LOAD_TESTS = ["test/node/drills.test.ts", "test/node/normal-day.test.ts"];

export default defineConfig({
  test: {
    // Coverage is a root-only option in vitest 5 and the workers pool cannot collect it, so it is
    // off here and `npm run test:coverage` (part of `npm test`) turns it on for the Merkle tests
    // alone: V8 block coverage slows hash-heavy tests several times over.
    coverage: {
      provider: "v8",
      include: ["lib/tlog/merkle.ts"],
      thresholds: { lines: 100 },
      reporter: ["text"],
    },
    projects: [
      {
        // Everything that runs inside workerd: the Worker, its Durable Objects, D1, R2, queues.
        plugins: [
          cloudflareTest(async ({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              bindings: {
                // The dev issuer listens on loopback http, which production configuration refuses.
                ENVIRONMENT: "development",
                EID_ISSUER: inject("eidIssuerUrl"),
                EID_JWKS_URL: `${inject("eidIssuerUrl")}/jwks.json`,
                EID_AUTHORIZE_URL: `${inject("eidIssuerUrl")}/authorize`,
                EID_CLIENT_ID: "mixed-election-test",
                ROLL_HASH_KEY: "test-roll-hash-key-0123456789abcdef",
                SESSION_SIGNING_KEY: "test-session-signing-key-0123456789abcdef",
                BALLOT_LINK_KEY: "test-ballot-link-key-0123456789abcdef",
                BOOTSTRAP_ADMIN_JWK: inject("adminPublicJwk"),
                RECEIPT_SIGNING_JWK: inject("receiptPrivateJwk"),
                LOG_SIGNING_JWK: inject("logPrivateJwk"),
                DEAD_LETTER_PUBLIC_JWK: inject("deadLetterPublicJwk"),
                // Test-only: the operator's offline key, to check that dead letters open with it.
                TEST_DEAD_LETTER_PRIVATE_JWK: inject("deadLetterPrivateJwk"),
                // A receipt key from before a rotation (its private half: TEST_RETIRED_RECEIPT_PRIVATE_JWK).
                RECEIPT_RETIRED_KEYS: JSON.stringify([
                  {
                    kty: "OKP",
                    crv: "Ed25519",
                    x: "vvhPBbKCjQvDwt0UuTKMZ4CCw-Vup-4g2LrfsGnfiiI",
                    kid: "receipt-test-retired-1",
                  },
                ]),
                TEST_RETIRED_RECEIPT_PRIVATE_JWK: JSON.stringify({
                  kty: "OKP",
                  crv: "Ed25519",
                  x: "vvhPBbKCjQvDwt0UuTKMZ4CCw-Vup-4g2LrfsGnfiiI",
                  d: "1MQ2axfLRP2COc63TtGmVmQDQIAnrI8JmhuS6dnbcuI",
                  kid: "receipt-test-retired-1",
                }),
                // Test-only: lets the audit log's fault-injection test break its steps.
                LOG_FAULT_INJECTION: "enabled",
                // Test-only: the grace after the close before cast vote records are published (ten minutes in production).
                LOG_CVR_GRACE_MS: "4000",
                // Test-only: a small relay tree (3 relays, two children each, 3 sockets per relay) so
                // that the live results tests fill a relay and cross the tree with a few sockets.
                RESULTS_RELAYS: "3",
                RESULTS_RELAY_FANOUT: "2",
                RESULTS_RELAY_SOCKETS: "3",
                // Test-only: lets tests sign ID tokens as the dev issuer and calls as the admin.
                TEST_EID_PRIVATE_JWK: inject("eidPrivateJwk"),
                TEST_ADMIN_PRIVATE_JWK: inject("adminPrivateJwk"),
                TEST_MIGRATIONS: await readD1Migrations("./migrations"),
              },
            },
          })),
        ],
        test: {
          name: "workers",
          include: ["test/workers/**/*.test.ts"],
          globalSetup: ["./test/global-setup.ts"],
          setupFiles: ["./test/workers/apply-migrations.ts"],
          testTimeout: 30_000,
        },
      },
      {
        // Plain Node: runtime-free modules, the CLIs, and end-to-end runs over real HTTP.
        test: {
          name: "node",
          include: ["test/node/**/*.test.ts"],
          exclude: LOAD_TESTS,
          environment: "node",
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
      {
        // The tests that keep the system busy for minutes (the attack drills, a compressed
        // election day): `npm test` runs them after the others, one file at a time. On a
        // two-core machine the local queue stops delivering under CPU saturation, so minutes of
        // their load beside another end-to-end file would make that file's waits depend on
        // them, and their own 2-second deadlines on the other file.
        test: {
          name: "load",
          include: LOAD_TESTS,
          environment: "node",
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 180_000,
        },
      },
    ],
  },
});
