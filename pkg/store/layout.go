package store

import (
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"
)

// Layout 2, under source.prefix (docs/store.md tells the whole design):
//
//	layout.json                            the layout's version; its create-only write is the probe
//	                                       that the store honours If-None-Match (first publish only)
//	policies/<seq>_<sha256>.json           the stored policy, one record per change; the highest seq rules
//	blobs/<random>.tgz                     tarball bytes; invisible until committed
//	claims/<descending version key>.json   the claim of a version (digest, blob, releases); the first
//	                                       writer wins; highest version first, so one key finds it
//	contents/<sha256>/<version key>        which versions hold this content (idempotent publishing)
//	candidates/<version key>_<seq>[_<mask>]
//	                                       the commit record, written last: the candidate exists. seq is
//	                                       the policy it was validated under, mask the environments of
//	                                       that policy whose manifest has a release that is not final
//	passes/<env>/<version key>/<time>_<random>.json
//	                                       one immutable record per pass
//	deploys/<env>/<time>_<random>_<version key>
//	                                       the same pass in time order, for live_in (written after the record)
//	candidates/<version key>_revoked       a revoked candidate: never admitted anywhere again
//
// Version keys sort in semver order (versionkey.go) and times are fixed width,
// so a check from a known version lists from that version's key on.
const Layout = 2

const (
	layoutKey     = "layout.json"
	policiesDir   = "policies"
	blobsDir      = "blobs"
	claimsDir     = "claims"
	contentsDir   = "contents"
	candidatesDir = "candidates"
	passesDir     = "passes"
	deploysDir    = "deploys"
)

// timeLayout is the fixed-width, sortable UTC time in pass and deployment keys.
const timeLayout = "20060102T150405.000000000Z"

// Store limits on keys (AWS S3; file-backed stores such as versitygw's posix
// backend add the segment limit of their file system).
const (
	maxKeyBytes     = 1024
	maxSegmentBytes = 255
)

// seqKey writes a policy sequence number in the sortable number form.
func seqKey(seq int) string {
	var b strings.Builder
	writeNumber(&b, strconv.Itoa(seq))
	return b.String()
}

func parseSeqKey(k string) (int, string, bool) {
	n, rest, ok := readNumber(k)
	if !ok {
		return 0, "", false
	}
	seq, err := strconv.Atoi(n)
	return seq, rest, err == nil && seq > 0
}

// policyClaimKey gives policy number seq to one policy: its body is that
// policy's digest.
func policyClaimKey(seq int) string { return path.Join(policiesDir, seqKey(seq)) }

func policyKey(seq int, digest string) string {
	return path.Join(policiesDir, seqKey(seq)+"_"+digest+".json")
}

func claimKey(vk string) string { return path.Join(claimsDir, descendingKey(vk)+".json") }

func contentKey(sha, vk string) string { return path.Join(contentsDir, sha, vk) }

func commitKey(vk string, seq int, mask string) string {
	name := vk + "_" + seqKey(seq)
	if mask != "" {
		name += "_" + mask
	}
	return path.Join(candidatesDir, name)
}

// parseCommitName reads "<version key>_<seq>[_<mask>]".
func parseCommitName(name string) (Candidate, bool) {
	vk, rest, ok := strings.Cut(name, "_")
	if !ok {
		return Candidate{}, false
	}
	version, err := ParseVersionKey(vk)
	if err != nil {
		return Candidate{}, false
	}
	seq, rest, ok := parseSeqKey(rest)
	if !ok {
		return Candidate{}, false
	}
	c := Candidate{Version: version, VersionKey: vk, PolicySeq: seq}
	if rest != "" {
		mask, ok := strings.CutPrefix(rest, "_")
		if !ok || !isMask(mask) {
			return Candidate{}, false
		}
		c.NonFinalMask = mask
	}
	return c, true
}

func passKey(env, vk string, t time.Time, nonce string) string {
	return path.Join(passesDir, env, vk, t.UTC().Format(timeLayout)+"_"+nonce+".json")
}

// parsePassName reads "<version key>/<time>_<random>.json".
func parsePassName(env, rel string) (PassKey, bool) {
	vk, file, ok := strings.Cut(rel, "/")
	if !ok || strings.Contains(file, "/") {
		return PassKey{}, false
	}
	version, err := ParseVersionKey(vk)
	if err != nil {
		return PassKey{}, false
	}
	stamp, rest, ok := strings.Cut(file, "_")
	if !ok || !strings.HasSuffix(rest, ".json") {
		return PassKey{}, false
	}
	t, err := time.Parse(timeLayout, stamp)
	if err != nil {
		return PassKey{}, false
	}
	return PassKey{Environment: env, Version: version, VersionKey: vk, Time: t}, true
}

func deployKey(env string, t time.Time, nonce, vk string) string {
	return path.Join(deploysDir, env, t.UTC().Format(timeLayout)+"_"+nonce+"_"+vk)
}

// parseDeployName reads "<time>_<random>_<version key>".
func parseDeployName(env, name string) (Deployment, bool) {
	parts := strings.SplitN(name, "_", 3)
	if len(parts) != 3 {
		return Deployment{}, false
	}
	t, err := time.Parse(timeLayout, parts[0])
	if err != nil {
		return Deployment{}, false
	}
	version, err := ParseVersionKey(parts[2])
	if err != nil {
		return Deployment{}, false
	}
	return Deployment{Environment: env, Version: version, Time: t}, true
}

// nonFinalMask writes, as hex digits, which of envs (a policy's environments
// in name order) are non-final: digit i covers envs 4i…4i+3, lowest bit
// first; trailing zero digits are dropped, so an all-final candidate has none.
func nonFinalMask(envs []string, nonFinal func(string) bool) string {
	digits := make([]byte, (len(envs)+3)/4)
	for i, env := range envs {
		if nonFinal(env) {
			digits[i/4] |= 1 << (i % 4)
		}
	}
	end := len(digits)
	for end > 0 && digits[end-1] == 0 {
		end--
	}
	var b strings.Builder
	for _, d := range digits[:end] {
		b.WriteByte("0123456789abcdef"[d])
	}
	return b.String()
}

// maskHas reports whether the mask marks the environment at index i.
func maskHas(mask string, i int) bool {
	if i/4 >= len(mask) {
		return false
	}
	d, err := strconv.ParseUint(mask[i/4:i/4+1], 16, 8)
	return err == nil && d&(1<<(i%4)) != 0
}

func isMask(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !strings.ContainsRune("0123456789abcdef", rune(s[i])) {
			return false
		}
	}
	return true
}

// checkKey refuses a key the store cannot hold, before anything is written:
// more than 1,024 bytes, or a path segment over 255 bytes.
func checkKey(full string) error {
	if len(full) > maxKeyBytes {
		return fmt.Errorf("the key %s… would be %d bytes, over the %d bytes S3 allows: use a shorter prefix, version or environment name", full[:64], len(full), maxKeyBytes)
	}
	for _, seg := range strings.Split(full, "/") {
		if len(seg) > maxSegmentBytes {
			return fmt.Errorf("a segment of the key %s… would be %d bytes, over the %d bytes file-backed stores allow: use a shorter prefix, version or environment name", full[:min(64, len(full))], len(seg), maxSegmentBytes)
		}
	}
	return nil
}

// CheckKeys refuses, before anything is written, a version or environment
// whose keys the store could not hold. envs are the environments a pass may
// be recorded for; policyEnvs is how many environments the policy declares
// (the commit key's mask grows with it).
func (s *Store) CheckKeys(version string, envs []string, policyEnvs int) error {
	vk, err := keyOf(version)
	if err != nil {
		return err
	}
	widest := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	nonce := strings.Repeat("f", nonceHex)
	keys := []string{
		claimKey(vk),
		contentKey(strings.Repeat("f", 64), vk),
		commitKey(vk, 999_999, strings.Repeat("f", (policyEnvs+3)/4)),
	}
	for _, env := range envs {
		keys = append(keys, passKey(env, vk, widest, nonce), deployKey(env, widest, nonce, vk))
	}
	for _, k := range keys {
		if err := checkKey(s.key(k)); err != nil {
			return err
		}
	}
	return nil
}

// ClaimKey is the key of a version's claim, relative to the prefix.
func ClaimKey(version string) string {
	vk, _ := VersionKey(version)
	return claimKey(vk)
}

// CommitKey is the key of a version's commit record under policy seq with
// the given non-final mask, relative to the prefix.
func CommitKey(version string, seq int, mask string) string {
	vk, _ := VersionKey(version)
	return commitKey(vk, seq, mask)
}
