/**
 * The HMAC key behind every voter key (lib/identity/national-id.ts), imported once per isolate
 * and per secret value: importing it per request would cost a WebCrypto call per roll chunk and
 * per login.
 */
import { importVoterKeySecret } from "../../../lib/identity/national-id.ts";
import { configOf } from "../../../durable-objects/config.ts";

const secrets = new Map<string, Promise<CryptoKey>>();

export function rollHashSecret(env: Env): Promise<CryptoKey> {
  const raw = configOf(env).ROLL_HASH_KEY;
  let key = secrets.get(raw);
  if (!key) {
    key = importVoterKeySecret(raw);
    secrets.set(raw, key);
  }
  return key;
}
