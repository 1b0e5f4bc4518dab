package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"

	. "github.com/onsi/gomega"
)

// tarEntry is one entry of a tarball built by a spec.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func execFile(name, body string) tarEntry {
	e := file(name, body)
	e.hdr.Mode = 0o755
	return e
}

func dir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

func special(name string, typeflag byte) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: typeflag, Name: name, Mode: 0o644, Devmajor: 1, Devminor: 3}}
}

// tarOf builds an uncompressed tar of the entries, in order.
func tarOf(entries ...tarEntry) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		Expect(tw.WriteHeader(&hdr)).To(Succeed())
		if e.body != "" {
			_, err := io.WriteString(tw, e.body)
			Expect(err).NotTo(HaveOccurred())
		}
	}
	Expect(tw.Close()).To(Succeed())
	return buf.Bytes()
}

// tarBody is tarOf without the end-of-archive blocks, to append to.
func tarBody(entries ...tarEntry) []byte {
	b := tarOf(entries...)
	return b[:len(b)-len(endOfArchive)]
}

// gzipOf compresses b with the standard library's gzip.
func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	_, err := gz.Write(b)
	Expect(err).NotTo(HaveOccurred())
	Expect(gz.Close()).To(Succeed())
	return buf.Bytes()
}

// tgz builds a .tgz of the entries, in order.
func tgz(entries ...tarEntry) []byte { return gzipOf(tarOf(entries...)) }

// rawHeader is a hand-made ustar header block, for what archive/tar refuses
// to write (PAX headers with chosen records).
func rawHeader(name string, typeflag byte, size int64) []byte {
	return rawHeaderMagic(name, typeflag, size, "ustar\x0000")
}

// rawGNUHeader is a hand-made header block in the old GNU format.
func rawGNUHeader(name string, typeflag byte, size int64) []byte {
	return rawHeaderMagic(name, typeflag, size, "ustar  \x00")
}

func rawHeaderMagic(name string, typeflag byte, size int64, magic string) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], "0000644\x00")
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], "00000000000\x00")
	b[156] = typeflag
	copy(b[257:265], magic)
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// padded pads data with zeros to a multiple of 512 bytes.
func padded(data string) []byte {
	b := []byte(data)
	if r := len(b) % 512; r != 0 {
		b = append(b, make([]byte, 512-r)...)
	}
	return b
}

// paxRecord encodes one PAX record, "<len> key=value\n".
func paxRecord(key, value string) string {
	rest := " " + key + "=" + value + "\n"
	n := len(rest)
	for {
		rec := fmt.Sprintf("%d%s", n, rest)
		if len(rec) == n {
			return rec
		}
		n = len(rec)
	}
}

// endOfArchive is the two zero blocks that end a tar.
var endOfArchive = make([]byte, 1024)

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

var bombs = map[string][]byte{}

// zeroBombTgz is a .tgz holding one file of size zero bytes (made once).
func zeroBombTgz(name string, size int64) []byte {
	key := fmt.Sprintf("%s/%d", name, size)
	if b, ok := bombs[key]; ok {
		return b
	}
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	Expect(err).NotTo(HaveOccurred())
	tw := tar.NewWriter(gz)
	Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size})).To(Succeed())
	_, err = io.CopyN(tw, zeros{}, size)
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	bombs[key] = buf.Bytes()
	return buf.Bytes()
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// failingWriter fails every write.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, fmt.Errorf("disk full") }

// writeTree creates files (relative path -> content) under root; a name
// ending in "*" is made executable, a name ending in "/" is a directory.
func writeTree(root string, files map[string]string, order []string) {
	for _, name := range order {
		content := files[name]
		if strings.HasSuffix(name, "/") {
			Expect(os.MkdirAll(filepath.Join(root, name), 0o755)).To(Succeed())
			continue
		}
		mode := fs.FileMode(0o644)
		if strings.HasSuffix(name, "*") {
			name = strings.TrimSuffix(name, "*")
			mode = 0o755
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		Expect(os.WriteFile(p, []byte(content), mode)).To(Succeed())
		Expect(os.Chmod(p, mode)).To(Succeed())
	}
}

// treeFile describes one path under a directory, for comparing trees.
type treeFile struct {
	Dir     bool
	Exec    bool
	Content string
}

// snapshot lists every path under root (root excluded) with its kind, exec
// bit and content. Symlinks are recorded, never followed.
func snapshot(root string) map[string]treeFile {
	tree := map[string]treeFile{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		Expect(err).NotTo(HaveOccurred())
		rel = filepath.ToSlash(rel)
		info, err := d.Info()
		Expect(err).NotTo(HaveOccurred())
		switch {
		case d.IsDir():
			tree[rel] = treeFile{Dir: true}
		case info.Mode().IsRegular():
			content, err := os.ReadFile(p)
			Expect(err).NotTo(HaveOccurred())
			tree[rel] = treeFile{Exec: info.Mode().Perm()&0o111 != 0, Content: string(content)}
		default:
			tree[rel] = treeFile{Content: "<" + info.Mode().Type().String() + ">"}
		}
		return nil
	})
	Expect(err).NotTo(HaveOccurred())
	return tree
}

// packed packs dir and returns the bytes.
func packed(dir string) []byte {
	var buf bytes.Buffer
	Expect(archive.Pack(dir, &buf)).To(Succeed())
	return buf.Bytes()
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// setTimes gives every path under root the modification time t.
func setTimes(root string, t time.Time) {
	Expect(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		Expect(err).NotTo(HaveOccurred())
		return os.Chtimes(p, t, t)
	})).To(Succeed())
}
