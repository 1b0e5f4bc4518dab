package commands

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/Masterminds/semver/v3"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// firstVersion is what publishing without a version into an empty store gives.
const firstVersion = "0.1.0"

// parseVersion reads a strict semantic version (1.4.2, 2.0.0-rc.1).
func parseVersion(key, s string) (*semver.Version, error) {
	v, err := semver.StrictNewVersion(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%s: %q is not a semantic version (e.g. 1.4.2)", key, s)
	}
	if v.Metadata() != "" {
		return nil, fmt.Errorf("%s: %q has build metadata (+%s), which semver does not order: use a pre-release (-rc.1) or another version", key, s, v.Metadata())
	}
	return v, nil
}

// sortCandidates orders candidates by semantic version, dropping keys that
// are not versions.
func sortCandidates(candidates []store.Candidate) []store.Candidate {
	type parsed struct {
		c store.Candidate
		v *semver.Version
	}
	list := make([]parsed, 0, len(candidates))
	for _, c := range candidates {
		if v, err := semver.StrictNewVersion(c.Version); err == nil {
			list = append(list, parsed{c, v})
		}
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].v.LessThan(list[j].v) })
	out := make([]store.Candidate, len(list))
	for i, p := range list {
		out[i] = p.c
	}
	return out
}

// nextVersion is the next patch after the highest claimed version.
func nextVersion(claimed []string) string {
	var highest *semver.Version
	for _, s := range claimed {
		if v, err := semver.StrictNewVersion(s); err == nil && (highest == nil || v.GreaterThan(highest)) {
			highest = v
		}
	}
	if highest == nil {
		return firstVersion
	}
	next := highest.IncPatch()
	return next.String()
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
