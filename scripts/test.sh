#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run it.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -x -q -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "== installing Debian's chromium for the browser tests"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "== /usr/bin/chromium is missing and this is not root: browser tests will be skipped" >&2
  fi
fi

echo "== installing the package with its test, Keras, demo and Milvus extras (builds the Word2Vec tab)"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet ".[test,keras,demo,milvus]"
# The real Milvus standalone server for the Milvus tests (started by their fixture on free ports).
python -m pip install --quiet "milvus>=2.3,<2.4"

if [ -f frontend/package.json ]; then
  echo "== frontend type check (tsc --noEmit, strict) and unit tests"
  (cd frontend && npm ci --no-audit --no-fund --silent && npm run typecheck --silent && npm test --silent)
fi

echo "== lint"
python -m ruff check .

echo "== tests"
python -m pytest "$@"
