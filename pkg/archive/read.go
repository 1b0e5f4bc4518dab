package archive

import (
	"archive/tar"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math"
	"path"
	"strings"

	"github.com/klauspost/compress/gzip"
)

// maxNameComponent is the longest path component accepted (NAME_MAX).
const maxNameComponent = 255

// metadataAllowance bounds the tar bytes that are not file content (headers,
// PAX and GNU long-name records, padding) that one entry may take, so that a
// stream of metadata alone cannot decompress without end.
const (
	metadataPerEntry = 16 << 10
	metadataFixed    = 1 << 20
)

// rawAllowance is how many decompressed bytes a candidate within limits may
// take: its file content plus a generous allowance of tar metadata per entry.
func rawAllowance(l Limits) int64 {
	meta := int64(metadataFixed)
	if n := int64(l.MaxEntries) + 1; n < (math.MaxInt64-meta)/metadataPerEntry {
		meta += n * metadataPerEntry
	} else {
		return math.MaxInt64 - 1
	}
	if l.MaxBytes > math.MaxInt64-1-meta {
		return math.MaxInt64 - 1
	}
	return l.MaxBytes + meta
}

// entry is one entry of a candidate that passed the safety rules.
type entry struct {
	name string // normalised: relative, slash-separated, no "./", no trailing "/"
	dir  bool
	exec bool      // a file with an exec bit set
	size int64     // the size the header announces (not trusted for limits)
	body io.Reader // the file's content, counted against MaxBytes; nil for a directory
}

// kind of a path already seen in a candidate.
type kind uint8

const (
	kindFile kind = iota + 1
	kindDir
	kindImplicitDir // the parent of an entry, with no entry of its own (yet)
)

// walkCandidate reads the .tgz stream r to its end, checks every entry
// against the safety rules and calls visit for each file and directory. The
// visitor may read e.body partly or not at all: what it leaves is read (and
// counted) before the next entry. Any error is one line naming the entry.
func walkCandidate(r io.Reader, limits Limits, visit func(e *entry) error) error {
	limits = limits.WithDefaults()

	gz, err := gzip.NewReader(r)
	if err != nil {
		if errors.Is(err, gzip.ErrHeader) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("candidate is not a gzip stream (%v)", describe(err))
		}
		return fmt.Errorf("reading candidate: %v", err)
	}
	defer gz.Close()

	// Everything the tar reader consumes is bounded, whatever it is.
	raw := &cappedReader{r: gz, left: rawAllowance(limits), limit: limits.MaxBytes}
	tr := tar.NewReader(raw)
	content := &budget{left: limits.MaxBytes, limit: limits.MaxBytes}
	seen := map[string]kind{}
	entries := 0
	last := ""

	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !(errors.Is(err, tar.ErrInsecurePath) && hdr != nil) {
			return streamError(err, after(last), entries == 0)
		}
		entries++
		if entries > limits.MaxEntries {
			return &limitError{key: "max_entries", limit: int64(limits.MaxEntries)}
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			// Archive-wide PAX records (git archive writes one); no file.
			continue
		}
		e, err := checkHeader(hdr, seen)
		if err != nil {
			return err
		}
		last = hdr.Name
		if e == nil {
			continue // the archive's root directory, "./"
		}
		var body *bodyReader
		if !e.dir {
			body = &bodyReader{r: tr, budget: content, name: hdr.Name}
			e.body = body
		}
		if err := visit(e); err != nil {
			if body != nil && body.err != nil {
				return streamError(body.err, at(hdr.Name), false)
			}
			return err
		}
		if body != nil {
			// Read what the visitor left: counted, never skipped unread.
			if _, err := io.Copy(io.Discard, body); err != nil {
				return streamError(err, at(hdr.Name), false)
			}
		}
	}
	if raw.n == 0 {
		return fmt.Errorf("candidate is not a tar archive (the gzip stream is empty)")
	}
	// Read to the end of the gzip stream: the checksum is verified there, and
	// the whole stream is consumed.
	if _, err := io.Copy(io.Discard, raw); err != nil {
		return streamError(err, after(last), false)
	}
	return nil
}

// checkHeader applies the safety rules to one header and records its path in
// seen. It returns nil, nil for the archive's root directory entry.
func checkHeader(hdr *tar.Header, seen map[string]kind) (*entry, error) {
	var dir bool
	switch hdr.Typeflag {
	case tar.TypeReg:
	case tar.TypeDir:
		dir = true
	case tar.TypeSymlink:
		return nil, fmt.Errorf("entry %q: symlinks are not allowed", hdr.Name)
	case tar.TypeLink:
		return nil, fmt.Errorf("entry %q: hard links are not allowed", hdr.Name)
	case tar.TypeChar, tar.TypeBlock:
		return nil, fmt.Errorf("entry %q: device nodes are not allowed", hdr.Name)
	case tar.TypeFifo:
		return nil, fmt.Errorf("entry %q: fifos are not allowed", hdr.Name)
	default:
		return nil, fmt.Errorf("entry %q: entry type %q is not allowed (only regular files and directories)", hdr.Name, string(hdr.Typeflag))
	}

	name, err := normaliseName(hdr.Name)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if dir {
			return nil, nil
		}
		return nil, fmt.Errorf("entry %q: not a valid file name", hdr.Name)
	}

	if k, ok := seen[name]; ok && (!dir || k == kindFile) {
		return nil, fmt.Errorf("entry %q: duplicate entry", hdr.Name)
	}
	if dir {
		seen[name] = kindDir
	} else {
		seen[name] = kindFile
	}
	// Register the parents, deepest first; stop at one already known.
	for p := path.Dir(name); p != "."; p = path.Dir(p) {
		k, ok := seen[p]
		if !ok {
			seen[p] = kindImplicitDir
			continue
		}
		if k == kindFile {
			return nil, fmt.Errorf("entry %q: parent %q is a file", hdr.Name, p)
		}
		break
	}

	return &entry{name: name, dir: dir, exec: hdr.Mode&0o111 != 0, size: hdr.Size}, nil
}

// normaliseName turns a tar entry name into a relative slash-separated path
// with no "." or empty components, refusing absolute paths and "..".
func normaliseName(raw string) (string, error) {
	if raw == "" {
		return "", fmt.Errorf("entry %q: empty name", raw)
	}
	if strings.HasPrefix(raw, "/") {
		return "", fmt.Errorf("entry %q: absolute paths are not allowed", raw)
	}
	parts := strings.Split(raw, "/")
	kept := parts[:0]
	for _, p := range parts {
		switch {
		case p == "" || p == ".":
			continue
		case p == "..":
			return "", fmt.Errorf("entry %q: path escapes the candidate", raw)
		case len(p) > maxNameComponent:
			return "", fmt.Errorf("entry %q: a path component is longer than %d bytes", raw, maxNameComponent)
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "/"), nil
}

// at and after say where in the stream an error was met.
func at(name string) string { return fmt.Sprintf(" at entry %q", name) }

func after(name string) string {
	if name == "" {
		return ""
	}
	return fmt.Sprintf(" after entry %q", name)
}

// streamError turns an error met while reading the stream into one line;
// where says where (see at and after). first is true when no entry has been
// read yet.
func streamError(err error, where string, first bool) error {
	var le *limitError
	var corrupt flate.CorruptInputError
	switch {
	case errors.As(err, &le):
		return le
	case errors.Is(err, gzip.ErrChecksum), errors.Is(err, gzip.ErrHeader), errors.As(err, &corrupt):
		return fmt.Errorf("candidate is not a valid gzip stream%s (%v)", where, describe(err))
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, tar.ErrHeader), errors.Is(err, tar.ErrFieldTooLong):
		if first {
			return fmt.Errorf("candidate is not a tar archive (%v)", describe(err))
		}
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("candidate is truncated%s", where)
		}
		return fmt.Errorf("candidate is not a valid tar archive%s (%v)", where, describe(err))
	default:
		return fmt.Errorf("reading candidate%s: %v", where, err)
	}
}

// describe gives a short lowercase reason for a stream error.
func describe(err error) string {
	switch {
	case errors.Is(err, io.EOF):
		return "empty input"
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "unexpected end of input"
	}
	var corrupt flate.CorruptInputError
	if errors.As(err, &corrupt) {
		return fmt.Sprintf("corrupt deflate data at byte %d", int64(corrupt))
	}
	s := err.Error()
	s = strings.TrimPrefix(s, "gzip: ")
	s = strings.TrimPrefix(s, "archive/tar: ")
	return s
}

// budget is the file content still allowed (MaxBytes), shared by all entries.
type budget struct {
	left  int64
	limit int64
}

// bodyReader reads one file's content and charges it to the budget. It never
// reads more than one byte past the limit, so a bomb stops at the limit.
type bodyReader struct {
	r      io.Reader
	budget *budget
	name   string
	err    error // the first read error other than io.EOF
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	p = clip(p, b.budget.left)
	n, err := b.r.Read(p)
	b.budget.left -= int64(n)
	if b.budget.left < 0 {
		b.err = &limitError{key: "max_unpacked_bytes", limit: b.budget.limit, entry: b.name}
		return 0, b.err
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// cappedReader bounds everything read from the decompressed stream, file
// content and tar metadata alike, and counts it.
type cappedReader struct {
	r     io.Reader
	left  int64
	limit int64 // MaxBytes, for the message
	n     int64
}

func (c *cappedReader) Read(p []byte) (int, error) {
	p = clip(p, c.left)
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.left -= int64(n)
	if c.left < 0 {
		return 0, &limitError{key: "max_unpacked_bytes", limit: c.limit}
	}
	return n, err
}

// clip shortens p to at most left+1 bytes: enough to notice a limit crossed,
// never more.
func clip(p []byte, left int64) []byte {
	if left < int64(len(p)) {
		return p[:max(left, 0)+1]
	}
	return p
}
