#!/usr/bin/env bash
# The useChat end-to-end tests (test/e2e/ai-sdk.e2e-spec.ts) again, driven by the AI SDK 7 client on
# Node 24, both from test/ai-sdk-v7 (AI SDK 7 needs Node 22 or later). The app under test runs in
# the same process, so this also runs the server on Node 24. Extra arguments go to Vitest.
set -euo pipefail
cd "$(dirname "$0")/.."
lane=test/ai-sdk-v7

# npm ci when the folder was never installed or its lockfile changed since.
if ! [ -x "$lane/node_modules/node/bin/node" ] || [ "$lane/package-lock.json" -nt "$lane/node_modules/.package-lock.json" ]; then
  npm ci --prefix "$lane" --no-audit --no-fund
fi
npm run build
AI_SDK_DIR="$lane" "$lane/node_modules/node/bin/node" node_modules/vitest/vitest.mjs run test/e2e/ai-sdk.e2e-spec.ts "$@"
