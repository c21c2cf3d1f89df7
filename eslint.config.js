// The linter: typescript-eslint with type information, so rules that need the compiler's view of a
// value (is this a Promise? is this switch over every member of the union?) see the real types,
// including the RPC stubs of Durable Objects, whose methods all return promises.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: ["node_modules/", ".wrangler/", ".dev/", "coverage/", "dist/", "worker-configuration.d.ts", "migrations/"],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      // A promise nobody awaits breaks a Durable Object's output gate and loses errors.
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      // A switch over a union names every member, so a new value is a compile-time question.
      "@typescript-eslint/switch-exhaustiveness-check": [
        "error",
        { considerDefaultExhaustiveForUnions: true, requireDefaultForNonUnion: false },
      ],
      "@typescript-eslint/no-explicit-any": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "no-console": "off",
      // TypeScript's noFallthroughCasesInSwitch checks this with types: it knows fail() and
      // assertNever() return never, which this rule cannot see.
      "no-fallthrough": "off",
    },
  },
  {
    // The Worker, the objects and the shared code report through the one event registry
    // (lib/events.ts `emitEvent`), so every line an operator can see is a registered event.
    files: ["lib/**/*.ts", "db/**/*.ts", "durable-objects/**/*.ts", "workers/**/*.ts"],
    ignores: ["lib/events.ts"],
    rules: { "no-console": "error" },
  },
  {
    // Code that may be bundled for the pages imports zod as a namespace: `import { z }` takes the
    // re-exported namespace whole (every locale: 450 KB), `import * as z` lets the bundler keep
    // only what is used (the results page's script went from 463 KB to 107 KB).
    files: ["lib/**/*.ts", "browser/**/*.ts"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "ImportDeclaration[source.value='zod'] > ImportSpecifier[imported.name='z']",
          message: 'Use `import * as z from "zod"` in code the pages may bundle.',
        },
      ],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs", "**/*.cjs"],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ["**/*.cjs"],
    languageOptions: { sourceType: "commonjs", globals: { module: "writable", require: "readonly" } },
  },
);
