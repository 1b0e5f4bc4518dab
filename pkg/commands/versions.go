package commands

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/mod/semver"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
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

// sortCandidates orders candidates by semantic version, dropping keys that
// are not versions.
func sortCandidates(candidates []store.Candidate) []store.Candidate {
	out := make([]store.Candidate, 0, len(candidates))
	for _, c := range candidates {
		if isVersion(c.Version) {
			out = append(out, c)
		}
	}
	slices.SortStableFunc(out, func(a, b store.Candidate) int { return compareVersions(a.Version, b.Version) })
	return out
}

// nextVersion is the next patch after the highest claimed version; after a
// pre-release (1.0.0-rc.1) it is that release (1.0.0).
func nextVersion(claimed []string) string {
	highest := ""
	for _, v := range claimed {
		if isVersion(v) && withinBounds(v) && (highest == "" || compareVersions(v, highest) > 0) {
			highest = v
		}
	}
	if highest == "" {
		return firstVersion
	}
	release, prerelease, _ := strings.Cut(highest, "-")
	if prerelease != "" {
		return release
	}
	parts := strings.Split(release, ".")
	patch, _ := strconv.Atoi(parts[2])
	return fmt.Sprintf("%s.%s.%d", parts[0], parts[1], patch+1)
}

// listedReleases gives the policy what a listing knows of a candidate's
// releases: whether the manifest of an environment has one that is not final.
func listedReleases(c store.Candidate) func(string) ([]policy.Release, error) {
	return func(env string) ([]policy.Release, error) {
		if slices.Contains(c.NonFinal, env) {
			return []policy.Release{{Name: "a release of the " + env + " manifest", Version: "not final"}}, nil
		}
		return nil, nil
	}
}
