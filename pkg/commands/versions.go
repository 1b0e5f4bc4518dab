package commands

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"
)

// firstVersion is what publishing without a version into an empty store gives.
const firstVersion = "0.1.0"

// parseVersion reads a strict semantic version (1.4.2, 2.0.0-rc.1): three
// numbers, no "v", no build metadata (semver does not order it).
func parseVersion(key, s string) (string, error) {
	s = strings.TrimSpace(s)
	if _, meta, ok := strings.Cut(s, "+"); ok && isVersion(strings.TrimSuffix(s, "+"+meta)) {
		return "", fmt.Errorf("%s: %q has build metadata (+%s), which semver does not order: use a pre-release (-rc.1) or another version", key, s, meta)
	}
	if !isVersion(s) {
		return "", fmt.Errorf("%s: %q is not a semantic version (e.g. 1.4.2)", key, s)
	}
	if err := checkVersionBounds(key, s); err != nil {
		return "", err
	}
	return s, nil
}

// isVersion reports whether s is a full semantic version without build
// metadata: x/mod's semver wants a "v" and accepts shorthands ("v1.2"),
// which its canonical form fills in, so a strict one is its own canonical form.
func isVersion(s string) bool {
	return semver.IsValid("v"+s) && semver.Canonical("v"+s) == "v"+s
}

func compareVersions(a, b string) int { return semver.Compare("v"+a, "v"+b) }

// nextVersion is the next patch after the highest claimed version; after a
// pre-release (1.0.0-rc.1) it is that release (1.0.0).
func nextVersion(claimed []string) (string, error) {
	highest := ""
	for _, v := range claimed {
		if isVersion(v) && (highest == "" || compareVersions(v, highest) > 0) {
			highest = v
		}
	}
	if highest == "" {
		return firstVersion, nil
	}
	release, prerelease, _ := strings.Cut(highest, "-")
	if prerelease != "" {
		return release, nil
	}
	parts := strings.Split(release, ".")
	patch, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || patch == math.MaxInt64 {
		return "", fmt.Errorf("the next patch after %s would overflow: publish with an explicit version", highest)
	}
	return fmt.Sprintf("%s.%s.%d", parts[0], parts[1], patch+1), nil
}
