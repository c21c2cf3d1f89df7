/**
 * The vectors and schemas others wrote (Merkle proofs, NIST schemas) live in `shared/`, beside
 * this repository, never copied in: the tests read them there. A checkout without it fails those
 * tests with this sentence rather than a bare ENOENT.
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";

const SHARED = resolve(import.meta.dirname, "../../../../shared");

/** A path under `shared/` beside the repository; throws saying what is missing when it is absent. */
export function sharedPath(relative: string): string {
  const path = resolve(SHARED, relative);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: these tests read the vectors and schemas in shared/, which sits beside this repository (../shared); check it out there`,
    );
  }
  return path;
}
