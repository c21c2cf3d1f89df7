/**
 * `/check`, enhanced: the voter's browser verifies their ballot's inclusion proof itself, with
 * the same lib/ code as the auditor CLI (lib/audit/receipt-proof.ts, lib/tlog), and says the
 * outcome in the page's live region. Loaded by enhance.ts only on a page that asks for it.
 *
 * What it checks, from what this origin serves: the proof bundle's checkpoint is signed by the
 * log's verifier key and has its origin; the leaf hash, recomputed from the ballot entry the
 * proof carries, leads by the proof's path to that checkpoint's root; the entry is a ballot whose
 * commitment gives the tracking code the voter typed; and the log's latest signed checkpoint is
 * the same tree or one that extends it (a consistency proof from the log's tiles), so the voter
 * is not shown a record of their own. What it cannot check: that the key is the election
 * authority's. The key comes from the same server, so the page shows it and says where auditors
 * compare it; the words never claim more.
 *
 * The page supplies the URLs (data attributes on the region) and the texts (templates), so no
 * script is inline and the words stay in the server's message catalogue.
 */
import { verifyReceiptProof } from "../lib/audit/receipt-proof.ts";
import { base64Encode } from "../lib/bytes.ts";
import { openCheckpoint, type Checkpoint } from "../lib/tlog/checkpoint.ts";
import { parseVerifierKey } from "../lib/tlog/note.ts";
import { proveExtends } from "../lib/tlog/tiles.ts";

/** The server did not give what the check needs: no verdict on the record, try later. */
class Unavailable extends Error {}

async function fetchOrUndefined(url: string): Promise<Response | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { credentials: "omit", redirect: "error" });
  } catch (error) {
    throw new Unavailable(`${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (res.status === 404) return undefined;
  if (!res.ok) throw new Unavailable(`${url}: HTTP ${res.status}`);
  return res;
}

async function fetchText(url: string): Promise<string> {
  const res = await fetchOrUndefined(url);
  if (!res) throw new Unavailable(`${url}: HTTP 404`);
  return res.text();
}

interface Verified {
  readonly verifierKey: string;
  readonly keyName: string;
  readonly keyId: string;
  readonly leafIndex: number;
  readonly checkpoint: Checkpoint;
}

type Outcome = { readonly ok: true; readonly value: Verified } | { readonly ok: false; readonly reason: string };

async function verify(region: HTMLElement): Promise<Outcome> {
  const { verifyReceipt: code, proofUrl, checkpointUrl, logUrl, verifierKeyUrl } = region.dataset;
  if (!code || !proofUrl || !checkpointUrl || !logUrl || !verifierKeyUrl)
    throw new Unavailable("the page does not say where the proof, checkpoint and key are");
  const [keyText, bundle, latestNote] = await Promise.all([
    fetchText(verifierKeyUrl),
    fetchText(proofUrl),
    fetchText(checkpointUrl),
  ]);
  const verifierKey = keyText.trim();
  const proven = await verifyReceiptProof(code, bundle, verifierKey);
  if (!proven.ok) return { ok: false, reason: proven.error };
  const { origin, checkpoint, index } = proven.value;
  const latest = await openCheckpoint(latestNote, [verifierKey], origin);
  if (!latest.ok) return { ok: false, reason: `the log's latest checkpoint does not verify: ${latest.error}` };
  // One history for everyone: the proof's tree and the log's latest are the same or one extends
  // the other (the auditor's `prove` checks the same).
  const proofs = { c: checkpoint, n: "the proof's checkpoint" };
  const logs = { c: latest.value.checkpoint, n: "the log's latest checkpoint" };
  const [older, newer] = proofs.c.size <= logs.c.size ? [proofs, logs] : [logs, proofs];
  const extended = await proveExtends(
    older.c,
    newer.c,
    async (path) => {
      const res = await fetchOrUndefined(new URL(path, new URL(logUrl, location.href)).toString());
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    { older: older.n, newer: newer.n, source: logUrl },
  );
  if (!extended.ok) return { ok: false, reason: extended.error };
  const key = parseVerifierKey(verifierKey);
  const keyId = key.ok ? key.value.keyHash.toString(16).padStart(8, "0") : "";
  return { ok: true, value: { verifierKey, keyName: origin, keyId, leafIndex: index, checkpoint } };
}

/** The template's content, with each `data-slot` element's text set from `slots`. */
function fill(templateId: string, slots: Readonly<Record<string, string>>): DocumentFragment | undefined {
  const template = document.getElementById(templateId);
  if (!(template instanceof HTMLTemplateElement)) return undefined;
  const content = template.content.cloneNode(true) as DocumentFragment;
  for (const element of content.querySelectorAll<HTMLElement>("[data-slot]")) {
    element.textContent = slots[element.dataset["slot"] ?? ""] ?? "";
  }
  return content;
}

function show(region: HTMLElement, templateId: string, slots: Readonly<Record<string, string>> = {}): void {
  const content = fill(templateId, slots);
  if (content) region.replaceChildren(content);
}

export async function verifyOnPage(region: HTMLElement): Promise<void> {
  show(region, "verify-checking");
  try {
    const outcome = await verify(region);
    if (outcome.ok) {
      const v = outcome.value;
      show(region, "verify-ok", {
        "key-name": v.keyName,
        "key-id": v.keyId,
        "verifier-key": v.verifierKey,
        "leaf-index": String(v.leafIndex),
        "tree-size": String(v.checkpoint.size),
        root: base64Encode(v.checkpoint.root),
      });
    } else {
      show(region, "verify-failed", { reason: outcome.reason });
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    show(region, error instanceof Unavailable ? "verify-unavailable" : "verify-failed", { reason });
  }
}
