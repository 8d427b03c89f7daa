#!/usr/bin/env bash
# Fails on a promise in src/ that nobody awaits, handles or owns
# (typescript-eslint's no-floating-promises and no-misused-promises, type-aware).
# Installs this folder's pinned packages, generates Deno's own declarations, makes
# sure TypeScript resolves every type the way Deno does (a module it cannot
# resolve is `any`, and a promise typed `any` is invisible to the rules), then lints.
set -euo pipefail
cd "$(dirname "$0")/.."

stamp=.lint/node_modules/.installed-lock.json
if ! cmp -s .lint/package-lock.json "$stamp" 2>/dev/null; then
  npm ci --prefix .lint --ignore-scripts --no-audit --no-fund --loglevel=error
  cp .lint/package-lock.json "$stamp"
fi

# Deno's internal libs are Deno's own; their contents are in this output already.
deno types | sed '/^\/\/\/ <reference lib="deno\./d' >.lint/deno.d.ts

if ! .lint/node_modules/.bin/tsc -p .lint/tsconfig.json; then
  echo "lint-promises: src/ does not type-check as .lint/tsconfig.json sees it" \
    "(a new import in deno.json needs its package in .lint/package.json and paths)" >&2
  exit 1
fi
.lint/node_modules/.bin/eslint --config .lint/eslint.config.mjs --max-warnings 0 "$@" src
