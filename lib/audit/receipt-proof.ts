/**
 * A receipt's inclusion proof, checked one way everywhere: by the auditor CLI (`auditor prove`)
 * and by the portal's receipt check in the voter's browser (browser/check.ts). Runtime-free and
 * free of zod, so the browser bundles this very code.
 *
 * The proof (c2sp.org/tlog-proof, `GET /v1/receipts/{code}/proof`) carries the ballot entry in its
 * unauthenticated `extra` line. Nothing in it is taken on trust: the leaf hash is recomputed from
 * those entry bytes, the proof must lead from it to the root of a checkpoint signed by the
 * verifier key (whose name is the log's origin), the bytes must decode as a ballot entry, and
 * that entry's commitment must hash to the tracking code the voter holds. So a proof that
 * verifies says: the election's signed log holds, at this index, a ballot with this receipt.
 * It proves nothing about the key itself: whoever gives the key must be trusted for it, which is
 * why both callers show it and say where to compare it.
 */
import { err, ok, type Result } from "../result.ts";
import { trackingCodeOf } from "../ballot/commitment.ts";
import type { Checkpoint } from "../tlog/checkpoint.ts";
import { parseVerifierKey } from "../tlog/note.ts";
import { parseInclusionProof, verifyInclusionBundle, type InclusionProofBundle } from "../tlog/proof.ts";
import { decodeEntry } from "./entry-codec.ts";
import type { LogEntryOf } from "./entries.ts";

export interface ProvenReceipt {
  /** The ballot entry the proof carries, now authenticated. */
  readonly entry: LogEntryOf<"ballot">;
  readonly index: number;
  /** The signed checkpoint the proof leads to. */
  readonly checkpoint: Checkpoint;
  /** The log's origin: the verifier key's name. */
  readonly origin: string;
}

/**
 * Checks that the proof bundle proves a ballot with tracking code `trackingCode` in the log whose
 * verifier key is `verifierKey`. The error says, for an auditor, which step failed and why.
 */
export async function verifyReceiptProof(
  trackingCode: string,
  bundle: string | InclusionProofBundle,
  verifierKey: string,
): Promise<Result<ProvenReceipt, string>> {
  const key = parseVerifierKey(verifierKey);
  if (!key.ok) return err(`the verifier key does not parse: ${key.error}`);
  const parsed = typeof bundle === "string" ? parseInclusionProof(bundle) : ok(bundle);
  if (!parsed.ok) return err(`the proof bundle does not parse: ${parsed.error}`);
  const extra = parsed.value.extraData;
  if (!extra) return err("the proof bundle carries no entry (its extra line)");
  const decoded = decodeEntry(extra);
  if (!decoded.ok || decoded.value.type !== "ballot") {
    return err(
      `the proof's entry is not a ballot entry${decoded.ok ? ` (it is ${decoded.value.type})` : `: ${decoded.error}`}`,
    );
  }
  const entry = decoded.value;
  const verified = await verifyInclusionBundle(parsed.value, extra, [verifierKey], key.value.name);
  if (!verified.ok) return err(`the inclusion proof does not verify: ${verified.error}`);
  const entryCode = await trackingCodeOf(entry.commitment);
  if (entryCode !== trackingCode)
    return err(`the proven entry is the ballot with tracking code ${entryCode}, not ${trackingCode}`);
  return ok({ entry, index: verified.value.index, checkpoint: verified.value.checkpoint, origin: key.value.name });
}
