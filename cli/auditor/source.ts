/**
 * Where the auditor reads a log from: a base URL (the gateway's /v1/logs/<election>/, or a public
 * bucket's logs/<election>/) or a local copy (a directory with the same layout: checkpoint,
 * verifier-key, tile/...). Everything read is untrusted until checked against a signed root.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";

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

const MAX_OBJECT_BYTES = 16 * 1024 * 1024;

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

/** GET a URL's bytes; undefined on 404, an error on anything else that is not 200. */
export async function fetchBytes(url: string): Promise<Uint8Array | undefined> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: "error" });
  } catch (error) {
    throw new SourceError(`cannot fetch ${url}: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return undefined;
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new SourceError(`${url} answered ${res.status}`);
  }
  const bytes = new Uint8Array(await res.arrayBuffer());
  if (bytes.length > MAX_OBJECT_BYTES) throw new SourceError(`${url} is larger than ${MAX_OBJECT_BYTES} bytes`);
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
