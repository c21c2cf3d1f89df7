import type { D1Migration } from "@cloudflare/vitest-plugin";

declare global {
  namespace Cloudflare {
    interface Env {
      TEST_EID_PRIVATE_JWK: string;
      TEST_ADMIN_PRIVATE_JWK: string;
      TEST_DEAD_LETTER_PRIVATE_JWK: string;
      TEST_RETIRED_RECEIPT_PRIVATE_JWK: string;
      TEST_MIGRATIONS: D1Migration[];
    }
  }
}
