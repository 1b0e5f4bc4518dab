package commands

import (
	"fmt"
	"io/fs"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

// renderAll renders the templates for every declared environment, so a
// candidate that does not render is refused before anything is stored, and
// returns the releases of each environment's manifest. Every folder under
// environments/ must be a declared environment.
func renderAll(templates fs.FS, pol policy.Policy) (map[string][]policy.Release, error) {
	if err := checkEnvironmentFolders(templates, pol); err != nil {
		return nil, err
	}
	releases := make(map[string][]policy.Release, len(pol))
	for _, env := range pol.Names() {
		_, rels, err := renderFor(templates, env)
		if err != nil {
			return nil, err
		}
		releases[env] = rels
	}
	return releases, nil
}

// renderFor renders the manifest of one environment and reads its releases.
func renderFor(templates fs.FS, env string) ([]byte, []policy.Release, error) {
	manifest, err := render.Render(templates, env)
	if err != nil {
		return nil, nil, err
	}
	rels, err := render.Releases(manifest)
	if err != nil {
		return nil, nil, fmt.Errorf("rendering %s: %w", env, err)
	}
	return manifest, rels, nil
}
