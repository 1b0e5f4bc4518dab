package archive

import (
	"archive/tar"
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/klauspost/compress/gzip"
)

// packLevel is the gzip level Pack uses. It is part of the reproducibility
// contract: changing it (or the compressor) changes the bytes, hence the
// sha256, of every packed candidate.
const packLevel = gzip.DefaultCompression

// packModTime is the modification time of every entry Pack writes.
var packModTime = time.Unix(0, 0)

// packEntry is one path found under the directory being packed.
type packEntry struct {
	rel string // slash-separated, relative, no "./" prefix
	dir bool
}

// Pack writes a reproducible .tgz of dir to w.
//
// Entries are sorted by path (slash-separated, relative, no "./" prefix);
// directories get mode 0755, regular files 0755 if any exec bit is set and
// 0644 otherwise; uid/gid are 0 with no user or group names; every mtime is
// the Unix epoch; the gzip header has no name and a zero mtime. The same
// names, contents and exec bits give the same bytes, whatever the mtimes,
// owners or directory listing order. Symlinks, sockets, devices and fifos are
// refused with an error naming their relative path. File contents are
// streamed, never held whole in memory.
func Pack(dir string, w io.Writer) error {
	return pack(dir, w, nil)
}

// PackWithin is Pack bounded as a tarball is on unpack: it fails, naming
// the source key, as soon as dir holds more than limits.MaxEntries entries or
// more than limits.MaxBytes bytes of file content, so a directory that
// changed after it was inspected (InspectDir) still never packs into a
// candidate that a get would refuse.
func PackWithin(dir string, w io.Writer, limits Limits) error {
	limits = limits.WithDefaults()
	return pack(dir, w, &limits)
}

func pack(dir string, w io.Writer, limits *Limits) error {
	entries, err := tree(dir)
	if err != nil {
		return err
	}
	var content *budget
	if limits != nil {
		if len(entries) > limits.MaxEntries {
			return &limitError{key: "max_entries", limit: int64(limits.MaxEntries)}
		}
		content = &budget{left: limits.MaxBytes, limit: limits.MaxBytes}
	}

	bw := bufio.NewWriterSize(w, 1<<20)
	gz, err := gzip.NewWriterLevel(bw, packLevel)
	if err != nil {
		return err
	}
	// No name, no comment, and a zero mtime: klauspost/compress writes the
	// zero time.Time as a non-zero value, so the epoch is set explicitly.
	gz.Header = gzip.Header{ModTime: time.Unix(0, 0), OS: 255}
	tw := tar.NewWriter(gz)

	buf := getBuffer()
	defer putBuffer(buf)

	for _, e := range entries {
		if e.dir {
			err = tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeDir,
				Name:     e.rel + "/",
				Mode:     0o755,
				ModTime:  packModTime,
			})
			if err != nil {
				return fmt.Errorf("entry %q: %w", e.rel, err)
			}
			continue
		}
		if err := packFile(tw, dir, e.rel, *buf, content); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("writing candidate: %w", err)
	}
	if err := gz.Close(); err != nil {
		return fmt.Errorf("writing candidate: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing candidate: %w", err)
	}
	return nil
}

// CheckDir applies Pack's rules to dir without packing it: dir is a
// directory holding only directories and regular files. It lets a publish
// refuse a bad directory before anything is stored.
func CheckDir(dir string) error {
	_, err := tree(dir)
	return err
}

// tree checks that dir is a directory and lists it (see listTree).
func tree(dir string) ([]packEntry, error) {
	info, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("directory %q does not exist", dir)
	case err != nil:
		return nil, fmt.Errorf("directory %q: %w", dir, unwrapPathError(err))
	case !info.IsDir():
		return nil, fmt.Errorf("%q is not a directory", dir)
	}
	return listTree(dir)
}

// packFile streams one regular file into tw. The file is opened without
// following symlinks and without blocking, and checked again with fstat, so
// a file swapped for a symlink or a fifo after the walk is refused too.
//
// content, when not nil, is charged the file's size before anything of it is
// written.
func packFile(tw *tar.Writer, root, rel string, buf []byte, content *budget) error {
	f, err := os.OpenFile(filepath.Join(root, filepath.FromSlash(rel)),
		os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		if errors.Is(err, syscall.ELOOP) {
			return fmt.Errorf("entry %q: symlinks are not allowed", rel)
		}
		return fmt.Errorf("entry %q: %w", rel, unwrapPathError(err))
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return fmt.Errorf("entry %q: %w", rel, unwrapPathError(err))
	}
	if !info.Mode().IsRegular() {
		return refuseType(rel, info.Mode())
	}
	mode := int64(0o644)
	if info.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	size := info.Size()
	if content != nil {
		if content.left -= size; content.left < 0 {
			return &limitError{key: "max_unpacked_bytes", limit: content.limit, entry: rel}
		}
	}
	err = tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     rel,
		Size:     size,
		Mode:     mode,
		ModTime:  packModTime,
	})
	if err != nil {
		return fmt.Errorf("entry %q: %w", rel, err)
	}
	// onlyWriter hides tar.Writer.ReadFrom so the pooled buffer is used.
	n, err := io.CopyBuffer(onlyWriter{tw}, io.LimitReader(f, size), buf)
	if err != nil {
		return fmt.Errorf("entry %q: %w", rel, unwrapPathError(err))
	}
	if n != size {
		return fmt.Errorf("entry %q: file shrank while it was being packed", rel)
	}
	if m, _ := f.Read(buf[:1]); m != 0 {
		return fmt.Errorf("entry %q: file grew while it was being packed", rel)
	}
	return nil
}

// readDir lists the directory rel under root, naming it in its error.
func readDir(root, rel string) ([]fs.DirEntry, error) {
	d, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", displayRel(rel), unwrapPathError(err))
	}
	defer d.Close()
	list, err := d.ReadDir(-1)
	if err != nil {
		return nil, fmt.Errorf("entry %q: %w", displayRel(rel), unwrapPathError(err))
	}
	return list, nil
}

// listTree returns every directory and file under root (root itself
// excluded), sorted by relative slash-separated path. Anything that is not a
// regular file or a directory is refused.
func listTree(root string) ([]packEntry, error) {
	var entries []packEntry
	var walk func(rel string) error
	walk = func(rel string) error {
		list, err := readDir(root, rel)
		if err != nil {
			return err
		}
		for _, de := range list {
			child := de.Name()
			if rel != "" {
				child = rel + "/" + child
			}
			switch t := de.Type(); {
			case t.IsDir():
				entries = append(entries, packEntry{rel: child, dir: true})
				if err := walk(child); err != nil {
					return err
				}
			case t.IsRegular():
				entries = append(entries, packEntry{rel: child})
			default:
				return refuseType(child, t)
			}
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	slices.SortFunc(entries, func(a, b packEntry) int { return strings.Compare(a.rel, b.rel) })
	return entries, nil
}

// refuseType explains why a file of type t cannot be in a candidate.
func refuseType(rel string, t fs.FileMode) error {
	var why string
	switch {
	case t&fs.ModeSymlink != 0:
		why = "symlinks are not allowed"
	case t&fs.ModeNamedPipe != 0:
		why = "fifos are not allowed"
	case t&fs.ModeSocket != 0:
		why = "sockets are not allowed"
	case t&fs.ModeDevice != 0:
		why = "device nodes are not allowed"
	default:
		why = "only regular files and directories are allowed"
	}
	return fmt.Errorf("entry %q: %s", rel, why)
}

func displayRel(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// unwrapPathError drops the absolute path an *fs.PathError carries, since
// the messages here name the entry themselves.
func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// onlyWriter hides every method of an io.Writer but Write.
type onlyWriter struct{ w io.Writer }

func (o onlyWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
