/**
 * `npm run build`: the portal's static assets, into dist/portal/ (git-ignored), which
 * wrangler.toml's `[assets]` serves. wrangler's `[build] command` runs this before every
 * `wrangler dev` and `deploy`; `npm start`, `npm test`, `npm run bench` and the vitest config run
 * it too, so a fresh clone never serves a missing or stale asset.
 *
 * - browser/enhance.ts, bundled by esbuild (pinned to wrangler's own version) for current
 *   browsers, as an ES module with no source map (no inline code: the CSP allows 'self' only).
 *   What it imports dynamically (the receipt check's verification, browser/check.ts) is split
 *   into a chunk of its own (assets/chunks/), so only the page that needs it downloads it.
 * - browser/results.ts, the results page's live figures, an entry of its own (assets/results.js)
 *   that only that page loads; what it shares with enhance.js (zod) lands in a shared chunk.
 * - browser/portal.css, the one stylesheet, copied as it is.
 * - browser/console.ts and browser/console.css, the officials' console's script (key import,
 *   signing, live alerts and results) and its additions to portal.css, which only /console loads.
 * - _headers: the same security headers the Worker sets on its own answers, since Workers Static
 *   Assets serve these files without running the Worker. Short caching: the file names do not
 *   change between deploys, and the platform's ETag revalidation makes a repeat visit cheap.
 *
 * And the station console's, into dist/station/ (served by station/console/server.ts on the
 * station's laptop): browser/station-console.ts with jsQR bundled in (nothing third-party is
 * fetched at run time), and one stylesheet, portal.css followed by station-console.css, so the
 * console looks like the portal without a second request.
 */
import { build } from "esbuild";
import { copyFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
export const ASSETS_DIR = join(ROOT, "dist", "portal");
export const STATION_ASSETS_DIR = join(ROOT, "dist", "station");

const HEADERS = `/assets/*
  Cache-Control: public, max-age=300
  X-Content-Type-Options: nosniff
  X-Frame-Options: DENY
  Referrer-Policy: no-referrer
  Content-Security-Policy: default-src 'none'; base-uri 'none'; frame-ancestors 'none'
`;

export async function buildAssets(): Promise<void> {
  const out = join(ASSETS_DIR, "assets");
  await rm(ASSETS_DIR, { recursive: true, force: true });
  await mkdir(out, { recursive: true });
  await build({
    entryPoints: [
      join(ROOT, "browser", "enhance.ts"),
      join(ROOT, "browser", "results.ts"),
      join(ROOT, "browser", "console.ts"),
    ],
    outdir: out,
    entryNames: "[name]",
    chunkNames: "chunks/[name]-[hash]",
    splitting: true,
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    tsconfig: join(ROOT, "browser", "tsconfig.json"),
    logLevel: "warning",
  });
  await copyFile(join(ROOT, "browser", "portal.css"), join(out, "portal.css"));
  await copyFile(join(ROOT, "browser", "console.css"), join(out, "console.css"));
  await writeFile(join(ASSETS_DIR, "_headers"), HEADERS);
  await buildStationAssets();
}

async function buildStationAssets(): Promise<void> {
  await rm(STATION_ASSETS_DIR, { recursive: true, force: true });
  await mkdir(STATION_ASSETS_DIR, { recursive: true });
  await build({
    entryPoints: [join(ROOT, "browser", "station-console.ts")],
    outdir: STATION_ASSETS_DIR,
    entryNames: "[name]",
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    tsconfig: join(ROOT, "browser", "tsconfig.json"),
    logLevel: "warning",
  });
  const css = await Promise.all(
    ["portal.css", "station-console.css"].map((f) => readFile(join(ROOT, "browser", f), "utf8")),
  );
  await writeFile(join(STATION_ASSETS_DIR, "station-console.css"), css.join("\n"));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildAssets();
