/**
 * The Worker entry: it routes and nothing else. Domain decisions live in Durable Objects and
 * plain modules; the Durable Object classes are exported here so wrangler can bind them.
 */
import { createApp } from "./app.ts";

export { ReplayGuard } from "../../durable-objects/replay-guard.ts";

const app = createApp();

export default {
  fetch: (request, env, ctx) => app.fetch(request, env, ctx),
} satisfies ExportedHandler<Env>;
