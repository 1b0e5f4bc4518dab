package archive

import (
	"bytes"
	"io"
	"io/fs"
	"path"
	"strings"
	"testing/fstest"
)

// Inspect reads a .tgz stream fully, applying exactly the safety rules of
// Unpack, writing nothing to disk, and returns an in-memory fs.FS holding the
// template YAML files it found: "manifest.yml", "ops/*.yml",
// "environments/<env>/ops/*.yml" and "environments/<env>/vars.yml" (".yaml"
// too). Names are normalised ("./manifest.yml" is "manifest.yml"). Other
// files are read and counted against the limits, but not kept.
//
// The returned FS supports fs.ReadFile, fs.Glob, fs.ReadDir and fs.Stat.
func Inspect(r io.Reader, limits Limits) (fs.FS, error) {
	files := fstest.MapFS{}
	err := walkCandidate(r, limits, func(e *entry) error {
		if e.dir || !isTemplate(e.name) {
			return nil
		}
		var buf bytes.Buffer
		// The header's size is a hint only: the budget bounds what is read.
		buf.Grow(int(min(max(e.size, 0), 1<<20)))
		if _, err := buf.ReadFrom(e.body); err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if e.exec {
			mode = 0o755
		}
		files[e.name] = &fstest.MapFile{Data: buf.Bytes(), Mode: mode}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return files, nil
}

// isTemplate reports whether name is one of the template files a candidate
// is made of.
func isTemplate(name string) bool {
	parts := strings.Split(name, "/")
	switch len(parts) {
	case 1: // manifest.yml
		return parts[0] == "manifest.yml" || parts[0] == "manifest.yaml"
	case 2: // ops/<name>.yml
		return parts[0] == "ops" && isYAML(parts[1])
	case 3: // environments/<env>/vars.yml
		return parts[0] == "environments" && (parts[2] == "vars.yml" || parts[2] == "vars.yaml")
	case 4: // environments/<env>/ops/<name>.yml
		return parts[0] == "environments" && parts[2] == "ops" && isYAML(parts[3])
	}
	return false
}

func isYAML(base string) bool {
	ext := path.Ext(base)
	return (ext == ".yml" || ext == ".yaml") && len(base) > len(ext)
}
