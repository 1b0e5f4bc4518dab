package commands

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// readCandidateDir reads the version and sha256 files a get wrote.
func readCandidateDir(key, dir, rel string) (version, digest string, err error) {
	read := func(name string) (string, error) {
		b, err := readCandidateFile(dir, name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("%s: %s is not the directory of a get of this resource (no %s file)", key, rel, name)
			}
			return "", fmt.Errorf("%s: %s/%w", key, rel, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if version, err = read(versionFile); err != nil {
		return "", "", err
	}
	if _, err := fileVersion(key, rel+"/version", version); err != nil {
		return "", "", err
	}
	if digest, err = read(sha256File); err != nil {
		return "", "", err
	}
	if b, err := hex.DecodeString(digest); err != nil || len(b) != sha256.Size || strings.ToLower(digest) != digest {
		return "", "", fmt.Errorf("%s: %s/sha256 does not hold a sha256 digest", key, rel)
	}
	return version, digest, nil
}
