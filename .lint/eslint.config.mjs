// Type-aware checks `deno lint` does not have: a promise that nobody awaits,
// handles or owns ends the host process with an unhandled rejection.
// Run through run.sh, which installs this folder and generates deno.d.ts.
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import tseslint from "typescript-eslint";

const here = dirname(fileURLToPath(import.meta.url));

export default [
  {
    files: ["src/**/*.ts"],
    ignores: ["src/**/*_test.ts"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { project: "./tsconfig.json", tsconfigRootDir: here },
    },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    plugins: { "@typescript-eslint": tseslint.plugin },
    rules: {
      // `void p` is no handling: if p rejects, the process still sees it.
      "@typescript-eslint/no-floating-promises": ["error", {
        ignoreVoid: false,
      }],
      "@typescript-eslint/no-misused-promises": "error",
    },
  },
];
