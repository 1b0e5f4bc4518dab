package commands

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// cleanOnFailure notes what the directory dest of a get holds before the get
// starts. The function it returns, deferred with the get's error, removes on
// failure everything the get created there (candidate.tgz, templates/,
// manifest.yml, … whatever the get writes, now or later) and dest itself if
// the get created it: a failed get leaves nothing that a later step could
// take for a fetched candidate. What was there before is left alone.
func cleanOnFailure(dest string) func(err *error) {
	before := map[string]bool{}
	entries, err := os.ReadDir(dest)
	existed := err == nil || !errors.Is(err, fs.ErrNotExist)
	listed := err == nil
	for _, e := range entries {
		before[e.Name()] = true
	}
	return func(failed *error) {
		if *failed == nil {
			return
		}
		if !existed {
			_ = os.RemoveAll(dest)
			return
		}
		if !listed {
			// dest could not be listed: remove the get's own files only.
			for _, name := range []string{tarballFile, versionFile, sha256File, passedFile, templatesDir, manifestFile, releasesFile} {
				_ = os.RemoveAll(filepath.Join(dest, name))
			}
			return
		}
		now, _ := os.ReadDir(dest)
		for _, e := range now {
			if !before[e.Name()] {
				_ = os.RemoveAll(filepath.Join(dest, e.Name()))
			}
		}
	}
}
