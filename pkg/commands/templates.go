package commands

import (
	"fmt"
	"io/fs"
	"strings"

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
	manifests := make(map[string][]byte, len(pol))
	for _, env := range pol.Names() {
		manifest, rels, err := renderFor(templates, env)
		if err != nil {
			return nil, err
		}
		releases[env], manifests[env] = rels, manifest
	}
	for _, env := range pol.Names() {
		if err := checkParity(pol, env, manifests); err != nil {
			return nil, err
		}
	}
	return releases, nil
}

// checkParity refuses a manifest that differs from its parity partner's
// outside the rule's allowed paths, naming the first such path.
func checkParity(pol policy.Policy, env string, manifests map[string][]byte) error {
	par := pol[env].Parity
	if par == nil {
		return nil
	}
	diffs, err := render.Diff(manifests[par.With], manifests[env])
	if err != nil {
		return fmt.Errorf("parity of %s with %s: %w", env, par.With, err)
	}
	if d := render.Outside(diffs, par.Allow); d != nil {
		allowed := "none"
		if len(par.Allow) > 0 {
			allowed = strings.Join(par.Allow, ", ")
		}
		return fmt.Errorf("parity: the %s manifest differs from %s's at %s (%s has %s, %s has %s), outside the allowed paths (%s)",
			env, par.With, d.Path, par.With, describeValue(d.From), env, describeValue(d.To), allowed)
	}
	return nil
}

// parityDiff renders env's parity partner too and writes the differences
// between the two manifests, for a reviewer; nil when env has no parity rule.
func parityDiff(templates fs.FS, pol policy.Policy, env string, manifest []byte) ([]byte, error) {
	par := pol[env].Parity
	if par == nil {
		return nil, nil
	}
	partner, _, err := renderFor(templates, par.With)
	if err != nil {
		return nil, err
	}
	diffs, err := render.Diff(partner, manifest)
	if err != nil {
		return nil, err
	}
	return render.DiffText(par.With, env, diffs), nil
}

func describeValue(v any) string {
	if v == nil {
		return "nothing"
	}
	s := fmt.Sprint(v)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return fmt.Sprintf("%q", s)
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
