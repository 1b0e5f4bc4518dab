package archive

import (
	"bytes"
	"fmt"
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
// Every folder under environments/ shows as a directory, even one holding
// no template file. The returned FS supports fs.ReadFile, fs.Glob, fs.ReadDir
// and fs.Stat.
//
// Template files are held in memory, so each is bounded by MaxTemplateBytes
// and all of them together by four times that, whatever the limits.
func Inspect(r io.Reader, limits Limits) (fs.FS, error) {
	files := fstest.MapFS{}
	var kept int64
	err := walkCandidate(r, limits, func(e *entry) error {
		markEnvironment(files, e.name, e.dir)
		if e.dir || !isTemplate(e.name) {
			return nil
		}
		var buf bytes.Buffer
		// The header's size is a hint only: the budget bounds what is read.
		buf.Grow(int(min(max(e.size, 0), 1<<20)))
		if _, err := buf.ReadFrom(io.LimitReader(e.body, MaxTemplateBytes+1)); err != nil {
			return err
		}
		if buf.Len() > MaxTemplateBytes {
			return fmt.Errorf("entry %q: template file larger than %d MiB", e.name, MaxTemplateBytes>>20)
		}
		kept += int64(buf.Len())
		if kept > maxTemplatesBytes {
			return fmt.Errorf("entry %q: template files exceed %d MiB in all", e.name, maxTemplatesBytes>>20)
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

// markEnvironment records, as a directory of files, the folder under
// environments/ that the entry name (normalised) is or is in, so that every
// such folder shows, even one holding no template file: each must be a
// declared environment. A plain file directly under environments/ is no
// folder and is not recorded.
func markEnvironment(files fstest.MapFS, name string, dir bool) {
	parts := strings.SplitN(name, "/", 3)
	if len(parts) < 2 || parts[0] != "environments" || (len(parts) == 2 && !dir) {
		return
	}
	folder := parts[0] + "/" + parts[1]
	if _, ok := files[folder]; !ok {
		files[folder] = &fstest.MapFile{Mode: fs.ModeDir | 0o755}
	}
}

// MaxTemplateBytes bounds one template file (a manifest, an ops file, a vars
// file) read into memory by Inspect; real ones are kilobytes.
const MaxTemplateBytes = 16 << 20

const maxTemplatesBytes = 4 * MaxTemplateBytes

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
