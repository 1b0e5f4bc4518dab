package commands

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// maxVersionNumber is the bound every number of a version (major, minor,
// patch) must stay below, so that the next patch (patch+1) still fits an
// int64 and never wraps around to a negative number.
const maxVersionNumber = math.MaxInt64

// versionNumbers names the numbers of a version's release part.
var versionNumbers = [3]string{"major", "minor", "patch"}

// checkVersionBounds refuses a semantic version one of whose numbers is not
// below maxVersionNumber. s is a version already (see isVersion).
func checkVersionBounds(key, s string) error {
	if name, n, ok := tooLarge(s); ok {
		return fmt.Errorf("%s: %q: %s %s is too large: major, minor and patch must each be below %d", key, s, name, n, uint64(maxVersionNumber))
	}
	return nil
}

// tooLarge finds the first number of s's release part that is not below
// maxVersionNumber.
func tooLarge(s string) (name, number string, found bool) {
	release, _, _ := strings.Cut(s, "-")
	release, _, _ = strings.Cut(release, "+")
	for i, part := range strings.SplitN(release, ".", 3) {
		n, err := strconv.ParseUint(part, 10, 64)
		if err != nil || n >= maxVersionNumber {
			return versionNumbers[i], part, true
		}
	}
	return "", "", false
}

// nextPatch is nextVersion, refused when the next patch would itself be too
// large: a candidate stored under it could never be fetched.
func nextPatch(claimed []string) (string, error) {
	next, err := nextVersion(claimed)
	if err != nil {
		return "", err
	}
	if name, n, ok := tooLarge(next); ok {
		return "", fmt.Errorf("publishing without a version: the next patch would be %s, and %s %s is too large (major, minor and patch must each be below %d): give params.version", next, name, n, uint64(maxVersionNumber))
	}
	return next, nil
}
