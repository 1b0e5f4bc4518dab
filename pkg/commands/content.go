package commands

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

// content is a candidate to publish: a .tgz that can be streamed more than
// once (to hash it again for an idempotent retry), and the releases of each
// environment's manifest once its templates were validated.
type content struct {
	describe string
	open     func() (io.ReadCloser, error)
	releases map[string][]policy.Release
}

// candidateContent checks what params.directory or params.tarball names.
// A directory is checked and rendered for every environment at once; a
// tarball is checked while it streams (see checkedTarball).
func candidateContent(src string, p protocol.OutParams, lim archive.Limits, pol policy.Policy) (*content, error) {
	if p.Directory != "" {
		return directoryContent(src, p.Directory, lim, pol)
	}
	return tarballContent(src, p.Tarball, lim, pol)
}

// directoryContent checks a directory with the rules and bounds of a
// tarball (archive.InspectDir: max_entries, max_unpacked_bytes, the size of
// template files, before any is read) and renders it from what that read.
func directoryContent(src, rel string, lim archive.Limits, pol policy.Policy) (*content, error) {
	dir, err := inside(src, "directory", rel)
	if err != nil {
		return nil, err
	}
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		return nil, fmt.Errorf("params.directory: %s is not a directory", rel)
	}
	templates, err := archive.InspectDir(dir, lim)
	if err != nil {
		return nil, fmt.Errorf("params.directory: %s: %w", rel, err)
	}
	releases, err := renderAll(templates, pol)
	if err != nil {
		return nil, fmt.Errorf("params.directory: %s: %w", rel, err)
	}
	return &content{describe: rel, releases: releases, open: func() (io.ReadCloser, error) {
		pr, pw := io.Pipe()
		go func() {
			if err := archive.PackWithin(dir, pw, lim); err != nil {
				pw.CloseWithError(fmt.Errorf("params.directory: %s: %w", rel, err))
				return
			}
			pw.Close()
		}()
		return pr, nil
	}}, nil
}

func tarballContent(src, pattern string, lim archive.Limits, pol policy.Policy) (*content, error) {
	root, glob, err := insideGlob(src, "tarball", pattern)
	if err != nil {
		return nil, err
	}
	matches, err := filepath.Glob(glob)
	if err != nil {
		return nil, fmt.Errorf("params.tarball: bad glob %q: %v", pattern, err)
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("params.tarball: %q matches no file", pattern)
	case 1:
	default:
		rel := make([]string, len(matches))
		for i, m := range matches {
			rel[i], _ = filepath.Rel(root, m)
		}
		return nil, fmt.Errorf("params.tarball: %q matches %d files (%s); it must match exactly one", pattern, len(matches), strings.Join(rel, ", "))
	}
	name, _ := filepath.Rel(root, matches[0])
	if !strings.HasSuffix(name, ".tgz") && !strings.HasSuffix(name, ".tar.gz") {
		return nil, fmt.Errorf("params.tarball: %s is not a .tgz", name)
	}
	// The match may be, or go through, a symlink: what is read must be in $1.
	path, err := resolveParam(root, "tarball", name)
	if err != nil {
		return nil, err
	}
	if info, err := os.Stat(path); err != nil || !info.Mode().IsRegular() {
		return nil, fmt.Errorf("params.tarball: %s is not a regular file", name)
	}
	c := &content{describe: name}
	c.open = func() (io.ReadCloser, error) {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("params.tarball: %v", err)
		}
		return checkedTarball(f, lim, func(templates fs.FS) error {
			releases, err := renderAll(templates, pol)
			if err != nil {
				return fmt.Errorf("params.tarball: %s: %w", name, err)
			}
			c.releases = releases
			return nil
		}, func(err error) error {
			return fmt.Errorf("params.tarball: %s: %w", name, err)
		}), nil
	}
	return c, nil
}

// checkedTarball streams a tarball while a second goroutine inspects the
// same bytes (archive.Inspect: hostile entries, bounds) and checks the
// templates it holds. Its reader ends (io.EOF) only once both passed, and
// fails at once with the inspection's error: so an upload reading it never
// completes with a bad candidate (the transfer manager aborts the multipart
// upload on a read error), and the check costs no second pass over the file.
func checkedTarball(f *os.File, lim archive.Limits, check func(fs.FS) error, wrap func(error) error) io.ReadCloser {
	pr, pw := io.Pipe()
	verdict := make(chan error, 1)
	go func() {
		templates, err := archive.Inspect(pr, lim)
		if err != nil {
			err = wrap(err)
		} else {
			err = check(templates)
		}
		verdict <- err
		if err != nil {
			pr.CloseWithError(err)
			return
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	return &checkedReader{file: f, tee: io.TeeReader(f, pw), pw: pw, verdict: verdict}
}

type checkedReader struct {
	file    *os.File
	tee     io.Reader
	pw      *io.PipeWriter
	verdict chan error
	err     error
	done    bool
}

func (c *checkedReader) Read(b []byte) (int, error) {
	if c.done {
		return 0, c.finalErr()
	}
	n, err := c.tee.Read(b)
	if err == io.EOF {
		c.pw.Close()
		c.done = true
		c.err = <-c.verdict
		return n, c.finalErr()
	}
	return n, err
}

func (c *checkedReader) finalErr() error {
	if c.err != nil {
		return c.err
	}
	return io.EOF
}

func (c *checkedReader) Close() error {
	c.pw.CloseWithError(io.ErrClosedPipe)
	return c.file.Close()
}

// sourceReader remembers the first error of the content it reads, so that a
// failed upload reports the content's problem rather than the transfer's.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}
