/**
 * Reading a stream whose sender is not trusted: to its end, but never holding more than a limit.
 * Used for request bodies (workers/gateway/body.ts) and for what the auditor downloads
 * (cli/auditor/source.ts).
 */
import { concatBytes } from "./bytes.ts";

/**
 * The stream's bytes, or undefined as soon as they pass `maxBytes` (the stream is then cancelled,
 * so the sender is not read any further). A stream that fails rejects with its error.
 */
export async function readAtMost(
  stream: ReadableStream<Uint8Array>,
  maxBytes: number,
): Promise<Uint8Array | undefined> {
  const reader = stream.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return concatBytes(...parts);
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    parts.push(value);
  }
}
