/**
 * Where the auditor reads a log from: a base URL (the gateway's /v1/logs/<election>/, or a public
 * bucket's logs/<election>/) or a local copy (a directory with the same layout: checkpoint,
 * verifier-key, tile/...). Everything read is untrusted until checked against a signed root.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import { readAtMost } from "../../lib/bounded-read.ts";

export class SourceError extends Error {}

export interface LogSource {
  /** Printed in messages: the URL or directory. */
  readonly where: string;
  /** The bytes at a path relative to the log (checkpoint, tile/0/000), or undefined if absent. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** Every tile path the source holds, where it can list them (a directory); else undefined. */
  listTiles(): Promise<string[] | undefined>;
  /** For a gateway URL (.../v1/logs/<election>/): the API's origin and the election id. */
  readonly api?: { readonly origin: string; readonly electionId: string };
}

export const MAX_OBJECT_BYTES = 16 * 1024 * 1024;

export function isUrl(text: string): boolean {
  return /^https?:\/\//i.test(text);
}

export function openSource(location: string): LogSource {
  return isUrl(location) ? httpSource(location) : directorySource(location);
}

function httpSource(url: string): LogSource {
  const base = new URL(url.endsWith("/") ? url : `${url}/`);
  const api = /^\/v1\/logs\/([a-z0-9-]+)\/$/.exec(base.pathname);
  return {
    where: base.toString(),
    ...(api?.[1] ? { api: { origin: base.origin, electionId: api[1] } } : {}),
    async read(path) {
      return fetchBytes(new URL(path, base).toString());
    },
    async listTiles() {
      return undefined;
    },
  };
}

/**
 * A fetch that answers nothing for this long fails: a hostile or broken mirror must not hang an
 * audit. Long enough for a 16 MiB object on a slow link.
 */
const FETCH_TIMEOUT_MS = 60_000;

/**
 * GET a URL's bytes; undefined on 404, an error on anything else that is not 200. The body is read
 * as a stream and abandoned as soon as it passes MAX_OBJECT_BYTES, so a hostile mirror cannot
 * make the auditor hold more than that (security review L6).
 */
export async function fetchBytes(url: string, timeoutMs = FETCH_TIMEOUT_MS): Promise<Uint8Array | undefined> {
  const signal = AbortSignal.timeout(timeoutMs);
  const failed = (error: unknown): SourceError =>
    new SourceError(
      signal.aborted
        ? `${url} did not answer within ${timeoutMs / 1000} s`
        : `cannot fetch ${url}: ${error instanceof Error ? error.message : String(error)}`,
    );
  let res: Response;
  try {
    res = await fetch(url, { redirect: "error", signal });
  } catch (error) {
    throw failed(error);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new SourceError(`${url} answered ${res.status}`);
  }
  const tooLarge = (): SourceError => new SourceError(`${url} is larger than ${MAX_OBJECT_BYTES} bytes`);
  if (Number(res.headers.get("content-length") ?? 0) > MAX_OBJECT_BYTES) {
    await res.body?.cancel();
    throw tooLarge();
  }
  if (!res.body) return new Uint8Array(0);
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readAtMost(res.body, MAX_OBJECT_BYTES);
  } catch (error) {
    throw failed(error);
  }
  if (!bytes) throw tooLarge();
  return bytes;
}

function directorySource(dir: string): LogSource {
  const root = resolve(dir);
  return {
    where: root,
    async read(path) {
      const file = resolve(root, path);
      // Paths come from our own code, but a path that leaves the copy is never read.
      if (!file.startsWith(root + sep)) throw new SourceError(`${path} is outside ${root}`);
      try {
        return new Uint8Array(await readFile(file));
      } catch (error) {
        if (error instanceof Error && "code" in error && (error.code === "ENOENT" || error.code === "ENOTDIR"))
          return undefined;
        throw new SourceError(`cannot read ${file}: ${error instanceof Error ? error.message : String(error)}`);
      }
    },
    async listTiles() {
      const tiles = join(root, "tile");
      let files: string[];
      try {
        files = await readdir(tiles, { recursive: true });
      } catch {
        return [];
      }
      return files.map((f) => relative(root, join(tiles, f)).split(sep).join("/"));
    },
  };
}
