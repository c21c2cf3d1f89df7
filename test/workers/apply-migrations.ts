import { applyD1Migrations, env } from "cloudflare:test";

// Setup files run before every test file; applied migrations are recorded, so this is idempotent.
await applyD1Migrations(env.DB, env.TEST_MIGRATIONS);
