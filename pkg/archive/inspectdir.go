package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing/fstest"
)

// InspectDir is Inspect for a directory about to be packed: it applies the
// rules Pack applies (only regular files and directories) and the bounds a
// tarball meets on publish and on unpack, so a directory publishes only what
// a get can unpack:
//
//   - at most limits.MaxEntries entries, counted as Pack writes them (every
//     file and directory under dir, dir itself excluded), so the count stops
//     at the first entry past the limit, however large the tree;
//   - at most limits.MaxBytes bytes of file content, from the sizes the
//     filesystem reports, before any file is read;
//   - template files (see Inspect) of at most MaxTemplateBytes each and
//     4 × MaxTemplateBytes in all, checked by size before they are read and
//     read no further than the bound.
//
// It returns the template files in memory, as Inspect does, with a directory
// entry for each folder under environments/, so that rendering sees exactly
// what it would see in the packed tarball.
func InspectDir(dir string, limits Limits) (fs.FS, error) {
	limits = limits.WithDefaults()
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("directory %q does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("directory %q: %w", dir, unwrapPathError(err))
	case !info.IsDir():
		return nil, fmt.Errorf("%q is not a directory", dir)
	}
	d := &dirInspection{root: dir, limits: limits, files: fstest.MapFS{}, left: limits.MaxBytes}
	if err := d.walk(""); err != nil {
		return nil, err
	}
	// In the order Pack writes them, so a bound names the same entry here
	// as in the packed tarball.
	slices.SortFunc(d.entries, func(a, b dirEntry) int { return strings.Compare(a.rel, b.rel) })
	for _, e := range d.entries {
		markEnvironment(d.files, e.rel, e.info.IsDir())
		if !e.info.IsDir() {
			if err := d.file(e.rel, e.info); err != nil {
				return nil, err
			}
		}
	}
	return d.files, nil
}

type dirInspection struct {
	root    string
	limits  Limits
	files   fstest.MapFS
	entries []dirEntry
	left    int64 // content bytes still allowed
	kept    int64 // template bytes held in memory
}

type dirEntry struct {
	rel  string
	info fs.FileInfo
}

// walk lists the tree under rel, stopping at the first entry past
// MaxEntries: a huge tree is refused without being listed whole.
func (d *dirInspection) walk(rel string) error {
	list, err := readDir(d.root, rel)
	if err != nil {
		return err
	}
	for _, de := range list {
		child := de.Name()
		if rel != "" {
			child = rel + "/" + child
		}
		if len(d.entries) >= d.limits.MaxEntries {
			return &limitError{key: "max_entries", limit: int64(d.limits.MaxEntries)}
		}
		t := de.Type()
		if !t.IsDir() && !t.IsRegular() {
			return refuseType(child, t)
		}
		info, err := de.Info()
		if err != nil {
			return fmt.Errorf("entry %q: %w", child, unwrapPathError(err))
		}
		d.entries = append(d.entries, dirEntry{rel: child, info: info})
		if t.IsDir() {
			if err := d.walk(child); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *dirInspection) file(rel string, info fs.FileInfo) error {
	d.left -= info.Size()
	if d.left < 0 {
		return &limitError{key: "max_unpacked_bytes", limit: d.limits.MaxBytes, entry: rel}
	}
	if !isTemplate(rel) {
		return nil
	}
	if info.Size() > MaxTemplateBytes {
		return fmt.Errorf("entry %q: template file larger than %d MiB", rel, MaxTemplateBytes>>20)
	}
	// Opened as Pack opens it: no symlink, no blocking on a fifo swapped in.
	f, err := os.OpenFile(filepath.Join(d.root, filepath.FromSlash(rel)), os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return fmt.Errorf("entry %q: symlinks are not allowed", rel)
		}
		return fmt.Errorf("entry %q: %w", rel, unwrapPathError(err))
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() {
		if err != nil {
			return fmt.Errorf("entry %q: %w", rel, unwrapPathError(err))
		}
		return refuseType(rel, st.Mode().Type())
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxTemplateBytes+1))
	if err != nil {
		return fmt.Errorf("entry %q: %w", rel, unwrapPathError(err))
	}
	if len(data) > MaxTemplateBytes {
		return fmt.Errorf("entry %q: template file larger than %d MiB", rel, MaxTemplateBytes>>20)
	}
	d.kept += int64(len(data))
	if d.kept > maxTemplatesBytes {
		return fmt.Errorf("entry %q: template files exceed %d MiB in all", rel, maxTemplatesBytes>>20)
	}
	mode := fs.FileMode(0o644)
	if info.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	d.files[rel] = &fstest.MapFile{Data: data, Mode: mode}
	return nil
}
