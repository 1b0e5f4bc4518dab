package archive

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
)

// Unpack extracts the .tgz stream r into dest, refusing unsafe entries with
// the same rules as Inspect.
//
// dest is created if absent (with any missing parents) and must be an empty
// directory if present. Files are created with O_CREATE|O_EXCL, mode 0755 if
// the entry has an exec bit and 0644 otherwise (subject to the umask);
// directories get 0755. Every path is resolved inside dest through an
// os.Root, so nothing outside dest is created or touched. On any error
// everything Unpack created is removed (dest too, if Unpack created it), and
// the error names the entry and the rule it broke.
func Unpack(r io.Reader, dest string, limits Limits) (err error) {
	created, err := prepareDest(dest)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			cleanDest(dest, created)
		}
	}()

	root, err := os.OpenRoot(dest)
	if err != nil {
		return fmt.Errorf("destination %q: %w", dest, unwrapPathError(err))
	}
	defer root.Close()

	u := &unpacker{root: root, dirs: map[string]bool{}}
	buf := getBuffer()
	defer putBuffer(buf)
	u.buf = *buf
	return walkCandidate(r, limits, u.visit)
}

type unpacker struct {
	root *os.Root
	dirs map[string]bool // directories known to exist under root
	buf  []byte
}

func (u *unpacker) visit(e *entry) error {
	if e.dir {
		return u.mkdirAll(e.name)
	}
	if err := u.mkdirAll(path.Dir(e.name)); err != nil {
		return err
	}
	perm := fs.FileMode(0o644)
	if e.exec {
		perm = 0o755
	}
	f, err := u.root.OpenFile(e.name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, unwrapPathError(err))
	}
	// onlyWriter hides os.File.ReadFrom so the pooled buffer is used.
	_, err = io.CopyBuffer(onlyWriter{f}, e.body, u.buf)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("entry %q: %w", e.name, unwrapPathError(err))
	}
	return nil
}

func (u *unpacker) mkdirAll(dir string) error {
	if dir == "." || u.dirs[dir] {
		return nil
	}
	if err := u.root.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("entry %q: %w", dir, unwrapPathError(err))
	}
	for d := dir; d != "." && !u.dirs[d]; d = path.Dir(d) {
		u.dirs[d] = true
	}
	return nil
}

// prepareDest makes sure dest is an empty directory. When it creates dest it
// returns the directories it created, dest first then any missing parents,
// deepest first: what to remove on failure. It returns nil when dest already
// existed.
func prepareDest(dest string) ([]string, error) {
	if dest == "" {
		return nil, fmt.Errorf("destination: no directory given")
	}
	info, err := os.Stat(dest)
	if err == nil {
		if !info.IsDir() {
			return nil, fmt.Errorf("destination %q is not a directory", dest)
		}
		d, err := os.Open(dest)
		if err != nil {
			return nil, fmt.Errorf("destination %q: %w", dest, unwrapPathError(err))
		}
		defer d.Close()
		names, err := d.Readdirnames(1)
		if len(names) > 0 {
			return nil, fmt.Errorf("destination %q is not empty", dest)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("destination %q: %w", dest, unwrapPathError(err))
		}
		return nil, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("destination %q: %w", dest, unwrapPathError(err))
	}

	abs, err := filepath.Abs(dest)
	if err != nil {
		return nil, fmt.Errorf("destination %q: %w", dest, err)
	}
	var parents []string
	for p := filepath.Dir(abs); p != filepath.Dir(p); p = filepath.Dir(p) {
		if _, err := os.Lstat(p); err == nil {
			break
		}
		parents = append(parents, p)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return nil, fmt.Errorf("destination %q: %w", dest, unwrapPathError(err))
	}
	// Mkdir, not MkdirAll: dest is then surely ours to remove on failure.
	if err := os.Mkdir(abs, 0o755); err != nil {
		return nil, fmt.Errorf("destination %q: %w", dest, unwrapPathError(err))
	}
	return append([]string{abs}, parents...), nil
}

// cleanDest removes what Unpack created: dest and the parents it made for
// it (each only if empty), or else everything inside dest, which was empty
// before.
func cleanDest(dest string, created []string) {
	if len(created) > 0 {
		_ = os.RemoveAll(created[0])
		for _, parent := range created[1:] {
			_ = os.Remove(parent)
		}
		return
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return
	}
	defer root.Close()
	d, err := root.Open(".")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	for _, name := range names {
		_ = root.RemoveAll(name)
	}
}
