#!/usr/bin/env bash
# Installs the pinned tools the test suites need into a cache, once:
#   versitygw v1.8.0  the real S3 server the integration specs run against
#   weed (SeaweedFS, pinned below)  the second S3 server they run against
#                     (TC_S3_STORE=seaweedfs); `go install` refuses its module for
#                     its replace directives, so it is built in a scratch module
#   bosh (bosh-cli as pinned in go.mod)  for the `bosh int` comparison specs; built
#                     from our module (tools/tools.go keeps its go.sum entries), never
#                     linked into the resource's binaries
#   chromium (Debian's package)  renders the status view's HTML page in its spec;
#                     installed with apt-get when missing and this runs as root
# Prints the directory to put on PATH. Safe to run again (it skips what is there).
set -euo pipefail
tools="${TC_TOOLS:-$HOME/.cache/tc-tools/bin}"
mkdir -p "$tools"
versitygw_version=v1.8.0
if ! go version -m "$tools/versitygw" 2>/dev/null | grep -q "versitygw[[:space:]]*$versitygw_version"; then
  echo "installing versitygw $versitygw_version into $tools" >&2
  GOBIN="$tools" go install "github.com/versity/versitygw/cmd/versitygw@$versitygw_version"
fi
# SeaweedFS (README "Stores"): the module proxy's pseudo-version of the pinned commit.
seaweedfs_version=v0.0.0-20261109003541-7506e5f91cd6
if ! go version -m "$tools/weed" 2>/dev/null | grep -q "seaweedfs/seaweedfs[[:space:]]*$seaweedfs_version"; then
  echo "building SeaweedFS (weed) $seaweedfs_version into $tools (many minutes the first time)" >&2
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  (
    cd "$scratch"
    go mod init tc-tools-seaweedfs >/dev/null 2>&1
    go get "github.com/seaweedfs/seaweedfs/weed@$seaweedfs_version" >&2
    go build -o "$tools/weed.tmp" github.com/seaweedfs/seaweedfs/weed
  )
  mv "$tools/weed.tmp" "$tools/weed"
  rm -rf "$scratch"
  trap - EXIT
fi
bosh_version=$(cd "$(dirname "$0")/.." && go list -m -f '{{.Version}}' github.com/cloudfoundry/bosh-cli/v7)
if ! go version -m "$tools/bosh" 2>/dev/null | grep -q "bosh-cli/v7[[:space:]]*$bosh_version"; then
  echo "building the bosh CLI $bosh_version into $tools (a few minutes the first time)" >&2
  (cd "$(dirname "$0")/.." && go build -o "$tools/bosh" github.com/cloudfoundry/bosh-cli/v7)
fi
if ! command -v chromium >/dev/null; then
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing chromium (Debian's package) for the status page's spec" >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >&2
  else
    echo "chromium is missing: the status page's spec needs it (Debian: apt-get install chromium)" >&2
  fi
fi
echo "$tools"
