package commands

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// Param paths (params.directory, params.tarball, params.version_file,
// params.candidate) are relative to the put's directory $1 and must stay in
// it: neither ".." nor a symlink (in any component, the last included) may
// lead out of it. Paths are resolved here once, every symlink followed, and
// the resolved path is what the caller reads: so what is checked is what is
// read. No error repeats what a file holds.

// inside resolves params.<key>, the path rel relative to the put's directory
// src, to the path it names with every symlink resolved, refusing one that
// leaves src. A path that does not exist (yet) is resolved as far as it
// exists, so the caller reports it missing in its own words.
func inside(src, key, rel string) (string, error) {
	root, err := putRoot(src)
	if err != nil {
		return "", err
	}
	return resolveParam(root, key, rel)
}

// putRoot is the put's directory with its own symlinks resolved.
func putRoot(src string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", fmt.Errorf("the put's directory %s: %w", src, err)
	}
	root, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", fmt.Errorf("the put's directory %s: %w", src, unwrapPath(err))
	}
	return root, nil
}

// resolveParam resolves rel under root (already resolved) for params.<key>.
func resolveParam(root, key, rel string) (string, error) {
	clean, err := localPath(key, rel)
	if err != nil {
		return "", err
	}
	resolved, err := resolveWithin(root, clean, putDirectory)
	if err != nil {
		return "", fmt.Errorf("params.%s: %q %w", key, rel, err)
	}
	return resolved, nil
}

// localPath checks, by its text alone, that rel stays inside the directory
// it is relative to, and returns it cleaned, in the OS's form.
func localPath(key, rel string) (string, error) {
	if filepath.IsAbs(rel) || strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("params.%s: %q must be relative to the put's directory", key, rel)
	}
	clean := filepath.Clean(filepath.FromSlash(rel))
	if !filepath.IsLocal(clean) {
		return "", fmt.Errorf("params.%s: %q leaves %s (through \"..\")", key, rel, putDirectory)
	}
	return clean, nil
}

// putDirectory names $1 in messages.
const putDirectory = "the put's directory"

// resolveWithin follows clean (a local path) from root (named rootName in
// messages) one component at a time, resolving each symlink met and
// insisting that where it leads is still under root. It stops at the first component that does not exist and
// returns the resolved path joined with the rest. A symlink that resolves
// nowhere is refused: what it would point at later cannot be checked now.
func resolveWithin(root, clean, rootName string) (string, error) {
	cur := root
	parts := strings.Split(clean, string(filepath.Separator))
	for i, part := range parts {
		if part == "." {
			continue
		}
		next := filepath.Join(cur, part)
		info, err := os.Lstat(next)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return filepath.Join(append([]string{next}, parts[i+1:]...)...), nil
		case err != nil:
			return "", fmt.Errorf("cannot be resolved: %w", unwrapPath(err))
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(next)
			if err != nil {
				return "", fmt.Errorf("goes through a symlink (%s) that resolves to nothing", filepath.Join(parts[:i+1]...))
			}
			if !within(root, target) {
				return "", fmt.Errorf("leaves %s through a symlink (%s)", rootName, filepath.Join(parts[:i+1]...))
			}
			next = target
		}
		cur = next
	}
	return cur, nil
}

// within reports whether path is root or under it; both are resolved paths.
func within(root, path string) bool {
	rel, err := filepath.Rel(root, path)
	return err == nil && filepath.IsLocal(rel)
}

// insideGlob checks a params.<key> glob pattern by its text and returns the
// resolved put directory and the pattern under it. Each match must then be
// resolved with resolveParam: a match may be (or go through) a symlink.
func insideGlob(src, key, pattern string) (root, glob string, err error) {
	clean, err := localPath(key, pattern)
	if err != nil {
		return "", "", err
	}
	if root, err = putRoot(src); err != nil {
		return "", "", err
	}
	return root, filepath.Join(root, clean), nil
}

// maxVersionFileBytes bounds a file that holds a version (params.version_file,
// a get's version and sha256 files): a version is a few dozen bytes.
const maxVersionFileBytes = 1024

// readSmall reads a regular file of at most limit bytes. It never blocks on
// a fifo or a device, never follows a symlink (paths here are resolved
// already), and its errors never hold the file's content. They read after
// the file's name ("<name> is not a regular file"), but for a missing file:
// the *fs.PathError itself, so that errors.Is(err, fs.ErrNotExist) holds.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, err
	case errors.Is(err, syscall.ELOOP):
		return nil, errors.New("is a symlink")
	case err != nil:
		return nil, fmt.Errorf("cannot be read: %w", unwrapPath(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %w", unwrapPath(err))
	}
	if !info.Mode().IsRegular() {
		return nil, errors.New("is not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %w", unwrapPath(err))
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("is larger than %d bytes: it must hold only a version", limit)
	}
	return b, nil
}

// readVersionFile reads params.version_file: a file in the put's directory
// holding a version and nothing else.
func readVersionFile(src, rel string) (string, error) {
	path, err := inside(src, "version_file", rel)
	if err != nil {
		return "", err
	}
	b, err := readSmall(path, maxVersionFileBytes)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("params.version_file: %s does not exist", rel)
	case err != nil:
		return "", fmt.Errorf("params.version_file: %s %w", rel, err)
	}
	return fileVersion("params.version_file", rel, string(b))
}

// readCandidateFile reads a small file of a get's directory dir (resolved),
// refusing one that is a symlink out of dir. Its errors read after the
// directory's name ("<dir>/version is not a regular file").
func readCandidateFile(dir, name string) ([]byte, error) {
	path, err := resolveWithin(dir, name, "the candidate's directory")
	if err != nil {
		return nil, fmt.Errorf("%s %w", name, err)
	}
	b, err := readSmall(path, maxVersionFileBytes)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s %w", name, err)
	}
	return b, err
}

// fileVersion parses the version a file holds; its errors name the file
// (rel) and the problem, never the content.
func fileVersion(key, rel, content string) (string, error) {
	v, err := parseVersion(key, content)
	if err == nil {
		return v, nil
	}
	s := strings.TrimSpace(content)
	release, _, hasMeta := strings.Cut(s, "+")
	why := "does not hold a semantic version (e.g. 1.4.2)"
	switch {
	case s == "":
		why = "is empty"
	case isVersion(s):
		why = fmt.Sprintf("holds a version with a number too large (major, minor and patch must each be below %d)", uint64(maxVersionNumber))
	case hasMeta && isVersion(release):
		why = "holds a version with build metadata (+...), which semver does not order: use a pre-release (-rc.1) or another version"
	}
	return "", fmt.Errorf("%s: %s %s", key, rel, why)
}

// unwrapPath drops the path an *fs.PathError carries: messages here name
// the param's own relative path instead.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
