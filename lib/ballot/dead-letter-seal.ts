/**
 * Dead letters are kept encrypted to an offline key: a message that reached the ballots'
 * dead-letter queue may hold marks, write-in texts, a tracking code and a commitment, and none of
 * that may sit in D1 in clear (security review H4). The Worker holds only the public key
 * (DEAD_LETTER_PUBLIC_JWK, P-256); the private key stays with the operator, offline, and is used
 * only by the administrator's CLI (`admin dead-letters list --key <file>`), on the operator's
 * machine.
 *
 * The body is a compact JWE: ECDH-ES+A256KW key agreement, A256GCM content encryption, the
 * public key's `kid` in the protected header so an operator can tell which key opens it.
 */
import { CompactEncrypt, compactDecrypt, importJWK, type JWK } from "jose";
import * as z from "zod";

const KEY_ALG = "ECDH-ES+A256KW";
const ENC = "A256GCM";

/** The public half: what the Worker is configured with. A JWK with a private part is refused. */
export const DeadLetterPublicJwk = z
  .looseObject({
    kty: z.literal("EC"),
    crv: z.literal("P-256"),
    x: z.string().min(1),
    y: z.string().min(1),
    kid: z.string().min(1),
  })
  .refine((jwk) => !("d" in jwk), "DEAD_LETTER_PUBLIC_JWK must be the public key only (no d)");
export type DeadLetterPublicJwk = z.infer<typeof DeadLetterPublicJwk>;

/** The private half, as the operator keeps it in a file. */
export const DeadLetterPrivateJwk = z.looseObject({
  kty: z.literal("EC"),
  crv: z.literal("P-256"),
  x: z.string().min(1),
  y: z.string().min(1),
  d: z.string().min(1),
});

const encoder = new TextEncoder();

/** Encrypts a dead letter's body (its JSON text) to the offline public key. */
export async function sealDeadLetter(publicJwk: DeadLetterPublicJwk, bodyJson: string): Promise<string> {
  const key = await importJWK(publicJwk as JWK, KEY_ALG);
  return new CompactEncrypt(encoder.encode(bodyJson))
    .setProtectedHeader({ alg: KEY_ALG, enc: ENC, kid: publicJwk.kid })
    .encrypt(key);
}

/** Decrypts a sealed body with the private key; throws if the key does not open it. */
export async function openDeadLetter(privateJwk: z.infer<typeof DeadLetterPrivateJwk>, jwe: string): Promise<string> {
  const key = await importJWK(privateJwk as JWK, KEY_ALG);
  const { plaintext } = await compactDecrypt(jwe, key, {
    keyManagementAlgorithms: [KEY_ALG],
    contentEncryptionAlgorithms: [ENC],
  });
  return new TextDecoder().decode(plaintext);
}
