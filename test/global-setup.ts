/**
 * Runs once in Node before the workers tests: starts the dev eID issuer on a free port and makes
 * fresh secrets, so the Worker under test verifies real ID tokens fetched over real HTTP.
 */
import type { TestProject } from "vitest/node";
import { exportJWK, generateKeyPair } from "jose";
import { startDevEidIssuer } from "../dev/eid-issuer/issuer.ts";

declare module "vitest" {
  export interface ProvidedContext {
    eidIssuerUrl: string;
    eidPrivateJwk: string;
    adminPrivateJwk: string;
    adminPublicJwk: string;
    receiptPrivateJwk: string;
    logPrivateJwk: string;
    deadLetterPublicJwk: string;
    deadLetterPrivateJwk: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const issuer = await startDevEidIssuer({ port: 0, clientId: "mixed-election-test" });
  const { privateKey, publicKey } = await generateKeyPair("EdDSA", { extractable: true });
  const kid = "bootstrap-admin-test";
  project.provide("eidIssuerUrl", issuer.url);
  project.provide("eidPrivateJwk", JSON.stringify(issuer.privateJwk));
  project.provide("adminPrivateJwk", JSON.stringify({ ...(await exportJWK(privateKey)), kid, alg: "EdDSA" }));
  project.provide("adminPublicJwk", JSON.stringify({ ...(await exportJWK(publicKey)), kid, alg: "EdDSA" }));
  const receipt = await generateKeyPair("EdDSA", { extractable: true });
  project.provide(
    "receiptPrivateJwk",
    JSON.stringify({ ...(await exportJWK(receipt.privateKey)), kid: "receipt-test", alg: "EdDSA" }),
  );
  const log = await generateKeyPair("EdDSA", { extractable: true });
  project.provide(
    "logPrivateJwk",
    JSON.stringify({ ...(await exportJWK(log.privateKey)), kid: "log-test", alg: "EdDSA" }),
  );
  // The offline key pair dead letters are encrypted to: the Worker gets the public half only.
  const deadLetter = await generateKeyPair("ECDH-ES+A256KW", { crv: "P-256", extractable: true });
  project.provide(
    "deadLetterPublicJwk",
    JSON.stringify({ ...(await exportJWK(deadLetter.publicKey)), kid: "dead-letter-test" }),
  );
  project.provide(
    "deadLetterPrivateJwk",
    JSON.stringify({ ...(await exportJWK(deadLetter.privateKey)), kid: "dead-letter-test" }),
  );
  return () => issuer.close();
}
