package commands

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

// checkEnvironmentFolders refuses templates with a folder under environments/
// that is not a declared environment: a typo (environments/prodution) would
// otherwise be ignored, and production would render the bare base manifest.
// With no environment declared nothing is rendered, so nothing is checked.
func checkEnvironmentFolders(templates fs.FS, pol policy.Policy) error {
	if len(pol) == 0 {
		return nil
	}
	entries, err := fs.ReadDir(templates, render.EnvironmentsDir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s: %w", render.EnvironmentsDir, err)
	}
	var undeclared []string
	for _, e := range entries { // in name order
		if _, ok := pol[e.Name()]; e.IsDir() && !ok {
			undeclared = append(undeclared, path.Join(render.EnvironmentsDir, e.Name()))
		}
	}
	switch len(undeclared) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("folder %s is not a declared environment (declared: %s): rename the folder or declare the environment in source.environments",
			undeclared[0], strings.Join(pol.Names(), ", "))
	default:
		return fmt.Errorf("folders %s are not declared environments (declared: %s): rename the folders or declare the environments in source.environments",
			strings.Join(undeclared, ", "), strings.Join(pol.Names(), ", "))
	}
}
