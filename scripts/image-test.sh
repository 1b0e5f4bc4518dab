#!/usr/bin/env bash
# image-test: build the resource image from Dockerfile with buildah (no Docker
# daemon, no registry: FROM scratch), export it as an OCI layout, unpack it with
# umoci, then run the image's own /opt/resource/{out,check,in} with chroot into
# the unpacked rootfs, through the Concourse protocol, against versitygw on
# 127.0.0.1 over TLS (the image's CA bundle must be what the binaries trust):
# publish -> check -> get. Prints the image size and fails above 40 MB.
#
# Needs (Debian): buildah umoci jq openssl, and versitygw v1.8.0
#   apt-get install -y --no-install-recommends buildah umoci jq openssl
#   GOBIN=$HOME/.cache/tc-tools/bin go install github.com/versity/versitygw/cmd/versitygw@v1.8.0
# Runs as root. With CI=true a missing tool is a failure; otherwise missing apt
# packages are installed and a missing versitygw is `go install`ed.
#
# Environment: VERSITYGW (path to versitygw), IMAGE_MAX_BYTES (default 40000000),
#              KEEP_TMP=1 (keep the temp dir for debugging).
# Everything it creates (buildah storage, OCI layout, rootfs, S3 data) lives in
# one temp dir, removed at exit with the versitygw process it started.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

IMAGE=templates-candidate-resource:test
IMAGE_MAX_BYTES=${IMAGE_MAX_BYTES:-40000000}
VERSITYGW_VERSION=v1.8.0
start_s=$(date +%s)
tmp=
gw_pid=
passed=0

log() { echo "image-test: $*" >&2; }
fail() { log "FAIL: $*"; exit 1; }

finish() {
  local rc=$?
  set +e
  if [[ -n "$gw_pid" ]]; then
    kill "$gw_pid" 2>/dev/null
    wait "$gw_pid" 2>/dev/null
  fi
  if [[ -n "$tmp" && -d "$tmp" ]]; then
    if [[ "${KEEP_TMP:-}" == 1 ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  fi
  echo "image-test: took $(( $(date +%s) - start_s ))s"
  if [[ $rc -eq 0 && $passed -eq 1 ]]; then
    echo "image-test: 1 passed, 0 failed"
    exit 0
  fi
  echo "image-test: 0 passed, 1 failed"
  exit 1
}
trap finish EXIT
trap 'exit 130' INT TERM

# ---- tools -----------------------------------------------------------------
in_ci() { [[ "${CI:-}" == true || "${CI:-}" == 1 ]]; }

[[ $(id -u) -eq 0 ]] || fail "needs root (buildah with vfs storage and chroot into the unpacked rootfs)"

missing=()
for t in buildah umoci jq openssl; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
if ((${#missing[@]})); then
  if in_ci; then
    fail "missing ${missing[*]} (CI must install them: apt-get install -y --no-install-recommends buildah umoci jq openssl)"
  fi
  if command -v apt-get >/dev/null 2>&1; then
    log "installing ${missing[*]} with apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    fail "missing ${missing[*]}: install buildah umoci jq openssl"
  fi
fi
for t in buildah umoci jq chroot; do command -v "$t" >/dev/null 2>&1 || fail "$t not found"; done
chroot_bin=$(command -v chroot)

gw=${VERSITYGW:-}
if [[ -z "$gw" ]]; then
  if command -v versitygw >/dev/null 2>&1; then gw=$(command -v versitygw)
  elif [[ -x "$HOME/.cache/tc-tools/bin/versitygw" ]]; then gw=$HOME/.cache/tc-tools/bin/versitygw
  elif in_ci; then fail "versitygw not found (CI must install it: GOBIN=\$HOME/.cache/tc-tools/bin go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION)"
  else
    log "installing versitygw $VERSITYGW_VERSION into $HOME/.cache/tc-tools/bin"
    GOBIN=$HOME/.cache/tc-tools/bin go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" >&2
    gw=$HOME/.cache/tc-tools/bin/versitygw
  fi
fi
[[ -x "$gw" ]] || fail "versitygw '$gw' is not executable"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/image-test.XXXXXX")

# ---- build -----------------------------------------------------------------
log "building the image with buildah (storage in $tmp/storage)"
IMAGE=$IMAGE BUILDER=buildah BUILDAH_STORAGE_DRIVER=vfs \
  BUILDAH_ROOT="$tmp/storage" BUILDAH_RUNROOT="$tmp/runroot" OCI_DIR="$tmp/oci" \
  make --no-print-directory -C "$root" image >&2 || fail "make image failed"

umoci unpack --image "$tmp/oci:test" "$tmp/bundle" >&2 || fail "umoci unpack failed"
rootfs=$tmp/bundle/rootfs

# ---- image contents and size -------------------------------------------------
for b in check in out; do
  [[ -f "$rootfs/opt/resource/$b" && -x "$rootfs/opt/resource/$b" ]] || fail "/opt/resource/$b missing or not executable"
done
[[ -s "$rootfs/etc/ssl/certs/ca-certificates.crt" ]] || fail "CA bundle missing"
grep -q 'BEGIN CERTIFICATE' "$rootfs/etc/ssl/certs/ca-certificates.crt" || fail "CA bundle holds no certificate"
[[ $(stat -c %a "$rootfs/tmp") == 1777 ]] || fail "/tmp mode is $(stat -c %a "$rootfs/tmp"), want 1777"
mapfile -t image_env < <(jq -r '.process.env[]' "$tmp/bundle/config.json")
printf '%s\n' "${image_env[@]}" | grep -qx 'SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
  || fail "image env lacks SSL_CERT_FILE: ${image_env[*]}"

rootfs_bytes=$(find "$rootfs" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
blob_bytes=$(find "$tmp/oci/blobs" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
log "rootfs:"; (cd "$rootfs" && find . -mindepth 1 -printf '    %M %9s %p\n' | sort -k3) >&2
for b in check in out; do
  log "  /opt/resource/$b: $(stat -c %s "$rootfs/opt/resource/$b") bytes"
done
echo "image size: $rootfs_bytes bytes"
echo "image size compressed (OCI blobs): $blob_bytes bytes"
(( rootfs_bytes <= IMAGE_MAX_BYTES )) || fail "image is $rootfs_bytes bytes, above the limit of $IMAGE_MAX_BYTES"

# ---- S3 server over TLS, with a test CA ----------------------------------------
# The image must trust what its CA bundle holds: the test CA is appended to the
# unpacked rootfs's bundle (standing in for a public CA that signs AWS's
# certificates), after checking that the resource refuses the server without it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=image-test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign" \
  -keyout "$tmp/ca.key" -out "$tmp/ca.pem" 2>/dev/null || fail "openssl: test CA"
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" \
  -keyout "$tmp/server.key" -out "$tmp/server.csr" 2>/dev/null || fail "openssl: server key"
printf 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n' >"$tmp/server.ext"
openssl x509 -req -in "$tmp/server.csr" -CA "$tmp/ca.pem" -CAkey "$tmp/ca.key" -CAcreateserial \
  -days 2 -extfile "$tmp/server.ext" -out "$tmp/server.pem" 2>/dev/null || fail "openssl: server certificate"

access_key=imagetestaccess
secret_key=imagetest-secret-$RANDOM$RANDOM
bucket=image-test
mkdir -p "$tmp/s3"
port=
for _attempt in 1 2 3 4 5; do
  p=$(( 20000 + RANDOM % 30000 )); ap=$(( p + 1 ))
  ROOT_ACCESS_KEY=$access_key ROOT_SECRET_KEY=$secret_key \
    "$gw" --port "127.0.0.1:$p" --cert "$tmp/server.pem" --key "$tmp/server.key" \
    --admin-port "127.0.0.1:$ap" --admin-cert "$tmp/server.pem" --admin-cert-key "$tmp/server.key" \
    --quiet posix "$tmp/s3" \
    >"$tmp/versitygw.log" 2>&1 &
  gw_pid=$!
  for _ in $(seq 1 100); do
    if ! kill -0 "$gw_pid" 2>/dev/null; then break; fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && (exec 3<>"/dev/tcp/127.0.0.1/$ap") 2>/dev/null; then
      port=$p; break
    fi
    sleep 0.1
  done
  [[ -z "$port" ]] || break
  kill "$gw_pid" 2>/dev/null || true; wait "$gw_pid" 2>/dev/null || true; gw_pid=
done
[[ -n "$port" ]] || { cat "$tmp/versitygw.log" >&2; fail "versitygw did not start"; }
log "versitygw on https://127.0.0.1:$port (pid $gw_pid)"
"$gw" admin --access "$access_key" --secret "$secret_key" --endpoint-url "https://127.0.0.1:$ap" --allow-insecure \
  create-bucket --owner "$access_key" --bucket "$bucket" >&2 || fail "could not create bucket $bucket"

# ---- the resource, run from the image's rootfs --------------------------------
source_json=$(jq -nc --arg b "$bucket" --arg e "https://127.0.0.1:$port" --arg a "$access_key" --arg s "$secret_key" \
  '{bucket:$b, endpoint:$e, use_path_style:true, region_name:"us-east-1", access_key_id:$a, secret_access_key:$s, environments:{dev1:{}}}')

# run NAME REQUEST ARG...: run /opt/resource/NAME in the rootfs with only the
# image's environment plus Concourse's build metadata; stdout -> $tmp/NAME.out
run() {
  local name=$1 req=$2; shift 2
  local rc=0
  env -i "${image_env[@]}" \
    BUILD_ID=42 BUILD_NAME=7 BUILD_JOB_NAME=image-test BUILD_PIPELINE_NAME=image-test \
    BUILD_TEAM_NAME=main ATC_EXTERNAL_URL=http://127.0.0.1:8080 \
    "$chroot_bin" "$rootfs" "/opt/resource/$name" "$@" \
    <<<"$req" >"$tmp/$name.out" 2>"$tmp/$name.err" || rc=$?
  if grep -qF "$secret_key" "$tmp/$name.out" "$tmp/$name.err"; then
    fail "$name printed the secret access key"
  fi
  return $rc
}
show() { log "$1 stdout: $(cat "$tmp/$1.out")"; log "$1 stderr:"; sed 's/^/    /' "$tmp/$1.err" >&2; }

# TLS: refused while the image's CA bundle lacks the test CA, trusted once it has it
req=$(jq -nc --argjson s "$source_json" '{source:$s, version:null}')
t0=$(date +%s%N)
if run check "$req"; then show check; fail "check trusted a server whose CA is not in the image's bundle"; fi
log "untrusted server refused in $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(tail -n 1 "$tmp/check.err")"
cat "$tmp/ca.pem" >>"$rootfs/etc/ssl/certs/ca-certificates.crt"

# publish (out)
mkdir -p "$rootfs/tmp/put/templates"
cat >"$rootfs/tmp/put/templates/manifest.yml" <<'EOF'
---
name: redis
releases:
- name: redis
  version: "14"
stemcells:
- alias: default
  os: ubuntu-jammy
  version: latest
instance_groups:
- name: redis
  instances: 1
  azs: [z1]
  vm_type: default
  stemcell: default
  networks: [{name: default}]
  jobs:
  - name: redis
    release: redis
    properties:
      password: ((redis_password))
update:
  canaries: 1
  max_in_flight: 1
  canary_watch_time: 1000-30000
  update_watch_time: 1000-30000
EOF
req=$(jq -nc --argjson s "$source_json" '{source:$s, params:{directory:"templates", version:"1.0.0"}}')
run out "$req" /tmp/put || { show out; fail "out (publish) exited non-zero"; }
show out
jq -e '.version == {"version":"1.0.0"}' "$tmp/out.out" >/dev/null || fail "out: unexpected version: $(cat "$tmp/out.out")"
sha=$(jq -r '.metadata[] | select(.name=="sha256") | .value' "$tmp/out.out")
[[ "$sha" =~ ^[0-9a-f]{64}$ ]] || fail "out: metadata has no sha256: $(cat "$tmp/out.out")"

# check, no version: only the newest
req=$(jq -nc --argjson s "$source_json" '{source:$s, version:null}')
run check "$req" || { show check; fail "check exited non-zero"; }
show check
jq -e '. == [{"version":"1.0.0"}]' "$tmp/check.out" >/dev/null || fail "check: want [{\"version\":\"1.0.0\"}], got $(cat "$tmp/check.out")"

# check from that version: starts with it
req=$(jq -nc --argjson s "$source_json" '{source:$s, version:{version:"1.0.0"}}')
run check "$req" || { show check; fail "check from 1.0.0 exited non-zero"; }
jq -e '.[0] == {"version":"1.0.0"}' "$tmp/check.out" >/dev/null || fail "check from 1.0.0: got $(cat "$tmp/check.out")"

# get (in)
req=$(jq -nc --argjson s "$source_json" '{source:$s, version:{version:"1.0.0"}, params:{}}')
run in "$req" /tmp/get || { show in; fail "in (get) exited non-zero"; }
show in
jq -e '.version == {"version":"1.0.0"}' "$tmp/in.out" >/dev/null || fail "in: unexpected version: $(cat "$tmp/in.out")"
get=$rootfs/tmp/get
for f in candidate.tgz version sha256 passed.json templates/manifest.yml; do
  [[ -e "$get/$f" ]] || fail "in: $f not written (dest has: $(cd "$get" && find . | sort | tr '\n' ' '))"
done
[[ $(tr -d '[:space:]' <"$get/version") == 1.0.0 ]] || fail "in: version file holds '$(cat "$get/version")'"
[[ $(tr -d '[:space:]' <"$get/sha256") == "$sha" ]] || fail "in: sha256 file '$(cat "$get/sha256")' != published $sha"
[[ $(sha256sum "$get/candidate.tgz" | cut -d' ' -f1) == "$sha" ]] || fail "in: candidate.tgz digest differs from $sha"
cmp -s "$get/templates/manifest.yml" "$rootfs/tmp/put/templates/manifest.yml" || fail "in: templates/manifest.yml differs from the published one"
jq -e 'type == "array"' "$get/passed.json" >/dev/null || fail "in: passed.json is not a JSON array"

# a bad request fails with one clear line
req=$(jq -nc --argjson s "$source_json" '{source:($s + {bucket_typo:"x"}), version:null}')
if run check "$req"; then show check; fail "check accepted an unknown source key"; fi
last=$(tail -n 1 "$tmp/check.err")
[[ "$last" == *bucket_typo* ]] || { show check; fail "check: last stderr line does not name the unknown key: $last"; }
log "unknown key refused: $last"

passed=1
