#!/usr/bin/env bash
# Installs the pinned tools the test suites need into a cache, once:
#   versitygw v1.8.0  the real S3 server the integration specs run against
# Prints the directory to put on PATH. Safe to run again (it skips what is there).
set -euo pipefail
tools="${TC_TOOLS:-$HOME/.cache/tc-tools/bin}"
mkdir -p "$tools"
versitygw_version=v1.8.0
if ! go version -m "$tools/versitygw" 2>/dev/null | grep -q "versitygw[[:space:]]*$versitygw_version"; then
  echo "installing versitygw $versitygw_version into $tools" >&2
  GOBIN="$tools" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
fi
echo "$tools"
