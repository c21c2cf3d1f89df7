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
  return () => issuer.close();
}
