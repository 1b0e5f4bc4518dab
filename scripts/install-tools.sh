#!/usr/bin/env bash
# Installs the pinned tools the test suites need into a cache, once:
#   versitygw v1.8.0  the real S3 server the integration specs run against
#   bosh (bosh-cli as pinned in go.mod)  for the `bosh int` comparison specs; built
#                     from our module (tools/tools.go keeps its go.sum entries), never
#                     linked into the resource's binaries
# Prints the directory to put on PATH. Safe to run again (it skips what is there).
set -euo pipefail
tools="${TC_TOOLS:-$HOME/.cache/tc-tools/bin}"
mkdir -p "$tools"
versitygw_version=v1.8.0
if ! go version -m "$tools/versitygw" 2>/dev/null | grep -q "versitygw[[:space:]]*$versitygw_version"; then
  echo "installing versitygw $versitygw_version into $tools" >&2
  GOBIN="$tools" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
fi
bosh_version=$(cd "$(dirname "$0")/.." && go list -m -f '{{.Version}}' github.com/cloudfoundry/bosh-cli/v7)
if ! go version -m "$tools/bosh" 2>/dev/null | grep -q "bosh-cli/v7[[:space:]]*$bosh_version"; then
  echo "building the bosh CLI $bosh_version into $tools (a few minutes the first time)" >&2
  (cd "$(dirname "$0")/.." && go build -o "$tools/bosh" github.com/cloudfoundry/bosh-cli/v7)
fi
echo "$tools"
