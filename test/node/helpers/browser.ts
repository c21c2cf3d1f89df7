/** Debian's Chromium driven by playwright-core: never a downloaded browser. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";

/** Headless, no sandbox (containers), and nothing that reaches the network on its own. */
export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-sync",
  "--disable-component-update",
  "--disable-quic",
];

/** A headless Chromium with a fresh user-data dir; close() also removes the dir. */
export async function launchBrowser(): Promise<BrowserContext & { dispose(): Promise<void> }> {
  const userDataDir = await mkdtemp(join(tmpdir(), "chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
  });
  return Object.assign(context, {
    async dispose(): Promise<void> {
      await context.close();
      await rm(userDataDir, { recursive: true, force: true });
    },
  });
}
