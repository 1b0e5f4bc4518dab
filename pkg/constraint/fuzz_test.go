package constraint

import "testing"

// FuzzParse: no input makes Parse or Allows panic, and a parsed constraint
// answers for any version string.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{"~1.4", ">= 1.2, < 2", "1.2 - 1.4.5", "^0.0.3 || 1.x-rc.1", "*", "v1.2.3+build", "1||2 - 3"} {
		f.Add(seed, "1.4.2")
	}
	f.Fuzz(func(t *testing.T, constraint, version string) {
		set, err := Parse(constraint)
		if err != nil {
			return
		}
		set.Allows(version)
	})
}
