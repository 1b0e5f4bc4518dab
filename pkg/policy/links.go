package policy

import (
	"fmt"

	"github.com/cppforlife/go-patch/patch"
)

// validateLinks checks the fields of a rule that name another environment
// or a manifest path: upgrade_tested_in and parity.
func (p Policy) validateLinks(env string, rule Rule) error {
	key := "source.environments." + env
	if u := rule.UpgradeTestedIn; u != "" {
		if _, ok := p[u]; !ok {
			return fmt.Errorf("%s.upgrade_tested_in: environment %q is not declared in source.environments", key, u)
		}
		if u == env {
			return fmt.Errorf("%s.upgrade_tested_in: an environment cannot test its own upgrades", key)
		}
	}
	if par := rule.Parity; par != nil {
		if par.With == "" {
			return fmt.Errorf("%s.parity.with: required (the environment whose manifest this one must equal)", key)
		}
		if _, ok := p[par.With]; !ok {
			return fmt.Errorf("%s.parity.with: environment %q is not declared in source.environments", key, par.With)
		}
		if par.With == env {
			return fmt.Errorf("%s.parity.with: an environment cannot be compared with itself", key)
		}
		for i, path := range par.Allow {
			if _, err := patch.NewPointerFromString(path); err != nil || path == "" || path == "/" {
				return fmt.Errorf("%s.parity.allow[%d]: %q is not a go-patch path below the root (e.g. /instance_groups/name=redis/networks)", key, i, path)
			}
		}
	}
	return nil
}
