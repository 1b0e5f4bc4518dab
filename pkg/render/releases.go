package render

import (
	"fmt"

	semiver "github.com/cppforlife/go-semi-semantic/version"
	"gopkg.in/yaml.v2"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// Release is one entry of a manifest's releases, as written to releases.json:
// the policy's own type, since final_releases gates on it.
type Release = policy.Release

type manifestReleases struct {
	Releases []struct {
		Name string `yaml:"name"`
		// A YAML scalar is taken as written: version: 14.10 stays "14.10".
		Version string `yaml:"version"`
	} `yaml:"releases"`
}

// Releases lists the releases of a (rendered) manifest in manifest order,
// each with its finality. A manifest without releases has none (an empty,
// non-nil slice); a release without a name is an error.
func Releases(manifest []byte) ([]Release, error) {
	var m manifestReleases
	if err := yaml.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("reading releases of the manifest: %s", oneLine(err.Error()))
	}
	releases := make([]Release, 0, len(m.Releases))
	for i, r := range m.Releases {
		if r.Name == "" {
			return nil, fmt.Errorf("reading releases of the manifest: releases[%d] has no name", i)
		}
		releases = append(releases, Release{Name: r.Name, Version: r.Version, Final: IsFinal(r.Version)})
	}
	return releases, nil
}

// IsFinal tells whether a release version is final by BOSH's semi-semantic
// version rules (github.com/cppforlife/go-semi-semantic, as bosh-cli reads
// them): a version is final when it parses and has no post-release segment,
// the segment dev releases carry ("+dev.3"). "14" and "14.1.2" are final;
// "14+dev.3", "0+dev.1", "latest" (the director's keyword, not a version), a
// ((placeholder)) and "" are not.
func IsFinal(version string) bool {
	if version == "latest" {
		return false
	}
	v, err := semiver.NewVersionFromString(version)
	if err != nil {
		return false
	}
	return v.PostRelease.Empty()
}
