/**
 * The import rule (docs/ARCHITECTURE.md "Layers"), checked by `npm run lint:imports` in `npm test`.
 *
 *   lib/              runtime-free: imports only lib/ and standards/ data (no cloudflare:, no node:)
 *   db/               D1 schema and stores: lib/ and db/; the only importers of drizzle-orm
 *   durable-objects/  the objects, their addresses, config, keys: lib/ and durable-objects/
 *   workers/          the Worker: anything below it (lib/, db/, durable-objects/); inside it the
 *                     gateway (HTTP) sits on top: voting/, tally/ and audit/ never import it
 *   browser/          code bundled for the pages: lib/ only
 *   station/          the polling station's console (Node): lib/ and station/
 *   cli/, dev/, scripts/, bench/, test/   tools around the system: anything but each other's insides
 *
 * No module cycles, and no cycles between folders.
 */
const LAYERS_BELOW_WORKERS = "^(lib|db|durable-objects)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "lib-imports-only-lib",
      comment: "lib/ is runtime-free and shared by the Worker, the CLIs, the station console and the browser.",
      severity: "error",
      from: { path: "^lib/" },
      to: { pathNot: ["^lib/", "^standards/", "^node_modules/"] },
    },
    {
      name: "lib-is-runtime-free",
      comment: "lib/ runs in workerd, Node and the browser: no cloudflare: or node: modules.",
      severity: "error",
      from: { path: "^lib/" },
      to: { dependencyTypes: ["core"] },
    },
    {
      name: "db-imports-lib-and-db",
      comment: "Stores take a D1Database and know nothing of the Worker or the objects.",
      severity: "error",
      from: { path: "^db/" },
      to: { pathNot: ["^db/", "^lib/", "^node_modules/"] },
    },
    {
      name: "durable-objects-import-lib-and-durable-objects",
      comment: "The objects are the core: they never reach back into the Worker, the stores or the tools.",
      severity: "error",
      from: { path: "^durable-objects/" },
      to: { pathNot: ["^durable-objects/", "^lib/", "^node_modules/", "^cloudflare:"] },
    },
    {
      name: "workers-import-what-is-below",
      comment: "The Worker may import lib/, db/, durable-objects/ and itself, never the tools around it.",
      severity: "error",
      from: { path: "^workers/" },
      to: { pathNot: ["^workers/", LAYERS_BELOW_WORKERS, "^node_modules/", "^cloudflare:"] },
    },
    {
      name: "gateway-is-the-top",
      comment: "The gateway (HTTP) sits on top of voting/, tally/ and audit/; they never import it or the entry.",
      severity: "error",
      from: { path: "^workers/(voting|tally|audit)/" },
      to: { path: ["^workers/gateway/", "^workers/index\\.ts$"] },
    },
    {
      name: "only-the-entry-imports-the-entry",
      comment:
        "Nothing but tests (which call its queue handler) and the chaos campaign's Worker (which wraps it with faults, bench/chaos-worker.ts) imports the Worker entry.",
      severity: "error",
      from: { pathNot: ["^test/", "^bench/chaos-worker\\.ts$"] },
      to: { path: "^workers/index\\.ts$" },
    },
    {
      name: "browser-imports-only-lib",
      comment: "Browser code is bundled into static assets: it shares lib/ and nothing Worker-side.",
      severity: "error",
      from: { path: "^browser/" },
      to: { pathNot: ["^browser/", "^lib/", "^node_modules/"] },
    },
    {
      name: "station-imports-lib-and-station",
      comment:
        "The station console runs on a laptop: lib/ and its own code only (and Node's built-ins: node:sqlite, node:fs).",
      severity: "error",
      from: { path: "^station/" },
      to: { pathNot: ["^station/", "^lib/", "^node_modules/"], dependencyTypesNot: ["core"] },
    },
    {
      name: "only-stores-touch-drizzle",
      comment: "SQL lives behind the stores in db/: routes parse, call a store or an object, and map the outcome.",
      severity: "error",
      from: { pathNot: ["^db/", "^drizzle\\.config\\.ts$"] },
      to: { path: ["^node_modules/drizzle-orm/", "^db/schema\\.ts$"] },
    },
    {
      name: "no-module-cycles",
      comment: "Type-only imports (a stub typed by its class) erase at build time and may close a loop.",
      severity: "error",
      from: {},
      to: { circular: true, viaOnly: { dependencyTypesNot: ["type-only"] } },
    },
    {
      name: "no-folder-cycles",
      comment: "Folders form layers: two folders never import each other, directly or around a loop.",
      severity: "error",
      scope: "folder",
      from: {},
      to: { circular: true },
    },
    {
      name: "no-unresolvable",
      severity: "error",
      from: {},
      to: { couldNotResolve: true, pathNot: ["^cloudflare:"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: ["^worker-configuration\\.d\\.ts$", "^coverage/", "^dist/", "^\\.wrangler/", "^\\.dev/"] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: {
      exportsFields: ["exports"],
      conditionNames: ["import", "require", "node", "default", "types"],
      extensions: [".ts", ".tsx", ".js", ".json", ".d.ts"],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
