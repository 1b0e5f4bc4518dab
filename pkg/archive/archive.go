// Package archive packs a directory of templates into a reproducible .tgz and
// reads candidate tarballs back safely.
//
// Pack depends only on the names, the contents and the executable bit of the
// files: never on mtimes, owners or the order the filesystem lists entries.
//
// Inspect and Unpack share one set of safety rules: only regular files and
// directories; no absolute paths, no ".." components, no symlinks, hard links,
// devices or fifos; no duplicate entries; at most Limits.MaxEntries entries and
// Limits.MaxBytes bytes of file content, counted as they are read, so a
// decompression bomb is refused as soon as it crosses the limit.
package archive

import (
	"fmt"
	"sync"
)

const (
	// defaultMaxBytes is the default bound on the total bytes of file content
	// in a candidate (source key max_unpacked_bytes).
	defaultMaxBytes int64 = 4 << 30
	// defaultMaxEntries is the default bound on the number of entries in a
	// candidate (source key max_entries).
	defaultMaxEntries = 100000
)

// Limits bound unpacking; zero fields mean the defaults (4 GiB, 100000 entries).
type Limits struct {
	MaxBytes   int64
	MaxEntries int
}

// WithDefaults returns l with every zero (or negative) field replaced by its
// default.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = defaultMaxBytes
	}
	if l.MaxEntries <= 0 {
		l.MaxEntries = defaultMaxEntries
	}
	return l
}

// limitError reports that a candidate crossed one of its Limits. Its message
// names the source key that sets the limit.
type limitError struct {
	key   string // max_unpacked_bytes or max_entries
	limit int64
	entry string // the entry being read when the limit was crossed, if any
}

func (e *limitError) Error() string {
	if e.entry == "" {
		return fmt.Sprintf("candidate exceeds %s (%d)", e.key, e.limit)
	}
	return fmt.Sprintf("candidate exceeds %s (%d) at entry %q", e.key, e.limit, e.entry)
}

// copyBufferSize is the size of the buffers used to stream file contents.
const copyBufferSize = 256 << 10

var bufferPool = sync.Pool{New: func() any {
	b := make([]byte, copyBufferSize)
	return &b
}}

func getBuffer() *[]byte  { return bufferPool.Get().(*[]byte) }
func putBuffer(b *[]byte) { bufferPool.Put(b) }
