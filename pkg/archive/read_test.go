package archive_test

import (
	"archive/tar"
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// hostile is a tarball a spec builds for a sandbox: paths outside the
// destination point into the sandbox, so a spec can see whether anything
// was created there.
type hostile struct {
	build  func(sandbox string) []byte
	limits archive.Limits
}

// ok are well-formed entries put first in hostile tarballs, so that refusing
// the tarball has something to clean up.
var ok = []tarEntry{dir("ok/"), file("ok/first.yml", "first: true\n"), execFile("ok/run.sh", "#!/bin/sh\n")}

func withOK(entries ...tarEntry) []tarEntry { return append(append([]tarEntry{}, ok...), entries...) }

// hostileEntries is the matrix of refused tarballs, each with the error it
// must give; Inspect and Unpack both run it.
var hostileEntries = []TableEntry{
	Entry("an absolute path", hostile{build: func(sandbox string) []byte {
		return tgz(withOK(file(filepath.Join(sandbox, "abs-evil"), "pwned"))...)
	}}, `entry "/.*/abs-evil": absolute paths are not allowed`),
	Entry("a path with ..", hostile{build: func(string) []byte {
		return tgz(withOK(file("../evil", "pwned"))...)
	}}, `entry "../evil": path escapes the candidate`),
	Entry("a .. deeper in the path", hostile{build: func(string) []byte {
		return tgz(withOK(file("ok/../../evil", "pwned"))...)
	}}, `entry "ok/../../evil": path escapes the candidate`),
	Entry("a directory named ..", hostile{build: func(string) []byte {
		return tgz(withOK(dir("ok/../../"))...)
	}}, `entry "ok/../../": path escapes the candidate`),
	Entry("a symlink leading out, then a file through it", hostile{build: func(sandbox string) []byte {
		return tgz(withOK(symlink("link", filepath.Join(sandbox, "outside")), file("link/evil", "pwned"))...)
	}}, `entry "link": symlinks are not allowed`),
	Entry("a relative symlink leading out", hostile{build: func(string) []byte {
		return tgz(withOK(symlink("ok/up", "../../outside"), file("ok/up/evil", "pwned"))...)
	}}, `entry "ok/up": symlinks are not allowed`),
	Entry("a hard link out", hostile{build: func(sandbox string) []byte {
		return tgz(withOK(hardlink("hard", filepath.Join(sandbox, "outside", "secret")))...)
	}}, `entry "hard": hard links are not allowed`),
	Entry("a hard link inside", hostile{build: func(string) []byte {
		return tgz(withOK(hardlink("hard", "ok/first.yml"))...)
	}}, `entry "hard": hard links are not allowed`),
	Entry("a char device", hostile{build: func(string) []byte {
		return tgz(withOK(special("null", tar.TypeChar))...)
	}}, `entry "null": device nodes are not allowed`),
	Entry("a block device", hostile{build: func(string) []byte {
		return tgz(withOK(special("sda", tar.TypeBlock))...)
	}}, `entry "sda": device nodes are not allowed`),
	Entry("a fifo", hostile{build: func(string) []byte {
		return tgz(withOK(special("pipe", tar.TypeFifo))...)
	}}, `entry "pipe": fifos are not allowed`),
	Entry("an old GNU sparse file", hostile{build: func(string) []byte {
		return gzipOf(concat(tarBody(ok...), rawGNUHeader("sparse", tar.TypeGNUSparse, 0), endOfArchive))
	}}, `entry "sparse": entry type "S" is not allowed \(only regular files and directories\)`),
	Entry("a duplicate file", hostile{build: func(string) []byte {
		return tgz(withOK(file("ok/first.yml", "second: true\n"))...)
	}}, `entry "ok/first.yml": duplicate entry`),
	Entry("a duplicate file spelt ./", hostile{build: func(string) []byte {
		return tgz(withOK(file("./ok/first.yml", "second: true\n"))...)
	}}, `entry "./ok/first.yml": duplicate entry`),
	Entry("a directory over a file", hostile{build: func(string) []byte {
		return tgz(withOK(dir("ok/first.yml/"))...)
	}}, `entry "ok/first.yml/": duplicate entry`),
	Entry("a file over a directory", hostile{build: func(string) []byte {
		return tgz(withOK(file("ok", "a file"))...)
	}}, `entry "ok": duplicate entry`),
	Entry("a file under a file", hostile{build: func(string) []byte {
		return tgz(withOK(file("ok/first.yml/inner", "x"))...)
	}}, `entry "ok/first.yml/inner": parent "ok/first.yml" is a file`),
	Entry("a file with no name", hostile{build: func(string) []byte {
		return tgz(withOK(file(".", "x"))...)
	}}, `entry ".": not a valid file name`),
	Entry("an empty name", hostile{build: func(string) []byte {
		return tgz(withOK(file("", "x"))...)
	}}, `entry "": empty name`),
	Entry("a name component longer than 255 bytes", hostile{build: func(string) []byte {
		return tgz(withOK(file("ok/"+strings.Repeat("n", 256), "x"))...)
	}}, `entry "ok/n{256}": a path component is longer than 255 bytes`),
	Entry("a decompression bomb (one 256 MiB file of zeros, 1 MiB allowed)", hostile{
		build:  func(string) []byte { return zeroBombTgz("bomb", 256<<20) },
		limits: archive.Limits{MaxBytes: 1 << 20},
	}, `candidate exceeds max_unpacked_bytes \(1048576\) at entry "bomb"`),
	Entry("many files adding up past max_unpacked_bytes", hostile{
		build: func(string) []byte {
			chunk := strings.Repeat("x", 400<<10)
			return tgz(withOK(file("a", chunk), file("b", chunk), file("c", chunk))...)
		},
		limits: archive.Limits{MaxBytes: 1 << 20},
	}, `candidate exceeds max_unpacked_bytes \(1048576\) at entry "c"`),
	Entry("a sparse file expanding far beyond its stored size", hostile{
		build: func(string) []byte {
			pax := paxRecord("GNU.sparse.major", "1") + paxRecord("GNU.sparse.minor", "0") +
				paxRecord("GNU.sparse.name", "sparse") + paxRecord("GNU.sparse.realsize", "1000000000000")
			return gzipOf(concat(
				rawHeader("PaxHeaders/sparse", tar.TypeXHeader, int64(len(pax))), padded(pax),
				rawHeader("sparse", tar.TypeReg, 512), padded("1\n1000000000000\n0\n"),
				endOfArchive))
		},
		limits: archive.Limits{MaxBytes: 1 << 20},
	}, `candidate exceeds max_unpacked_bytes \(1048576\) at entry "sparse"`),
	Entry("a bomb hidden in tar metadata (PAX headers and no file)", hostile{
		build: func(string) []byte {
			pax := paxRecord("comment", strings.Repeat("z", 512<<10))
			var parts [][]byte
			for range 40 {
				parts = append(parts, rawHeader("PaxHeaders/x", tar.TypeXHeader, int64(len(pax))), padded(pax))
			}
			return gzipOf(concat(append(parts, endOfArchive)...))
		},
		limits: archive.Limits{MaxBytes: 1 << 20, MaxEntries: 10},
	}, `candidate exceeds max_unpacked_bytes \(1048576\)`),
	Entry("more entries than max_entries", hostile{
		build: func(string) []byte {
			var entries []tarEntry
			for i := range 11 {
				entries = append(entries, file(strings.Repeat("f", i+1), "x"))
			}
			return tgz(entries...)
		},
		limits: archive.Limits{MaxEntries: 10},
	}, `candidate exceeds max_entries \(10\)`),
	Entry("plain text", hostile{build: func(string) []byte {
		return []byte("name: redis\ninstance_groups: []\n")
	}}, `candidate is not a gzip stream \(invalid header\)`),
	Entry("an uncompressed tar", hostile{build: func(string) []byte {
		return tarOf(ok...)
	}}, `candidate is not a gzip stream \(invalid header\)`),
	Entry("nothing at all", hostile{build: func(string) []byte {
		return nil
	}}, `candidate is not a gzip stream \(empty input\)`),
	Entry("gzip of something that is not a tar", hostile{build: func(string) []byte {
		return gzipOf(bytes.Repeat([]byte("not a tar archive\n"), 100))
	}}, `candidate is not a tar archive \(invalid tar header\)`),
	Entry("gzip of nothing", hostile{build: func(string) []byte {
		return gzipOf(nil)
	}}, `candidate is not a tar archive \(the gzip stream is empty\)`),
	Entry("a truncated tarball", hostile{build: func(string) []byte {
		whole := tgz(withOK(file("big", strings.Repeat("0123456789abcdef", 4096)))...)
		return whole[:len(whole)*3/4]
	}}, `candidate is truncated (at entry "big"|after entry "ok/run.sh")`),
	Entry("a tarball with a bad gzip checksum", hostile{build: func(string) []byte {
		whole := tgz(withOK(file("last.yml", "x"))...)
		whole[len(whole)-8] ^= 0xff // the CRC-32 of the gzip trailer
		return whole
	}}, `candidate is not a valid gzip stream after entry "last.yml" \(invalid checksum\)`),
	Entry("a tarball with trailing garbage", hostile{build: func(string) []byte {
		return append(tgz(ok...), []byte("garbage after the gzip stream")...)
	}}, `candidate is not a valid gzip stream after entry "ok/run.sh" \(invalid header\)`),
}

var _ = Describe("Inspect", func() {
	It("returns the template files, normalised, and ignores the others", func() {
		candidate := tgz(
			dir("./"),
			file("./manifest.yml", "name: redis\n"),
			dir("./ops/"),
			file("./ops/10-scale.yml", "- scale\n"),
			file("ops/20-net.yaml", "- net\n"),
			file("ops/notes.txt", "not a template"),
			file("ops/.yml", "no name"),
			file("ops/deeper/x.yml", "too deep"),
			file("environments/dev1/ops/net.yml", "- dev1 net\n"),
			file("environments/dev1/vars.yml", "host: dev1\n"),
			file("environments/dev1/other.yml", "not a template"),
			file("environments/staging/vars.yaml", "host: staging\n"),
			execFile("scripts/run.sh", "#!/bin/sh\n"),
			file("README.md", "# readme\n"),
		)

		fsys, err := archive.Inspect(bytes.NewReader(candidate), archive.Limits{})
		Expect(err).NotTo(HaveOccurred())

		Expect(fs.ReadFile(fsys, "manifest.yml")).To(Equal([]byte("name: redis\n")))
		Expect(fs.ReadFile(fsys, "environments/dev1/vars.yml")).To(Equal([]byte("host: dev1\n")))

		ops, err := fs.Glob(fsys, "ops/*.y*ml")
		Expect(err).NotTo(HaveOccurred())
		Expect(ops).To(Equal([]string{"ops/10-scale.yml", "ops/20-net.yaml"}))

		envs, err := fs.ReadDir(fsys, "environments")
		Expect(err).NotTo(HaveOccurred())
		var envNames []string
		for _, e := range envs {
			Expect(e.IsDir()).To(BeTrue())
			envNames = append(envNames, e.Name())
		}
		Expect(envNames).To(Equal([]string{"dev1", "staging"}))

		info, err := fs.Stat(fsys, "environments/dev1/ops/net.yml")
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Size()).To(Equal(int64(len("- dev1 net\n"))))

		var all []string
		Expect(fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				all = append(all, p)
			}
			return err
		})).To(Succeed())
		Expect(all).To(ConsistOf(
			"manifest.yml", "ops/10-scale.yml", "ops/20-net.yaml",
			"environments/dev1/ops/net.yml", "environments/dev1/vars.yml", "environments/staging/vars.yaml",
		))
	})

	DescribeTable("keeps exactly the template files",
		func(name string, kept bool) {
			fsys, err := archive.Inspect(bytes.NewReader(tgz(file(name, "x: 1\n"))), archive.Limits{})
			Expect(err).NotTo(HaveOccurred())
			_, err = fs.Stat(fsys, strings.TrimPrefix(name, "./"))
			if kept {
				Expect(err).NotTo(HaveOccurred())
			} else {
				Expect(err).To(MatchError(fs.ErrNotExist))
			}
		},
		Entry(nil, "manifest.yml", true),
		Entry(nil, "manifest.yaml", true),
		Entry(nil, "./manifest.yml", true),
		Entry(nil, "ops/a.yml", true),
		Entry(nil, "ops/a.yaml", true),
		Entry(nil, "environments/prod/ops/a.yml", true),
		Entry(nil, "environments/prod/ops/a.yaml", true),
		Entry(nil, "environments/prod/vars.yml", true),
		Entry(nil, "environments/prod/vars.yaml", true),
		Entry(nil, "manifest.yml.orig", false),
		Entry(nil, "Manifest.yml", false),
		Entry(nil, "ops/a.json", false),
		Entry(nil, "ops/sub/a.yml", false),
		Entry(nil, "environments/prod/a.yml", false),
		Entry(nil, "environments/prod/ops/sub/a.yml", false),
		Entry(nil, "environments/vars.yml", false),
		Entry(nil, "other/ops/a.yml", false),
		Entry(nil, "templates/manifest.yml", false),
	)

	It("reads the files it does not keep, counting them against the limits", func() {
		candidate := tgz(file("manifest.yml", "name: redis\n"), file("blob.bin", strings.Repeat("b", 2000)))
		_, err := archive.Inspect(bytes.NewReader(candidate), archive.Limits{MaxBytes: 1000})
		Expect(err).To(MatchError(`candidate exceeds max_unpacked_bytes (1000) at entry "blob.bin"`))
	})

	It("reads the stream to its end", func() {
		candidate := tgz(file("manifest.yml", "name: redis\n"))
		r := bytes.NewReader(candidate)
		_, err := archive.Inspect(r, archive.Limits{})
		Expect(err).NotTo(HaveOccurred())
		Expect(r.Len()).To(BeZero())
	})

	DescribeTable("refuses a hostile tarball, writing nothing",
		func(h hostile, message string) {
			sandbox := GinkgoT().TempDir()
			Expect(os.Mkdir(filepath.Join(sandbox, "outside"), 0o755)).To(Succeed())
			before := snapshot(sandbox)

			fsys, err := archive.Inspect(bytes.NewReader(h.build(sandbox)), h.limits)
			Expect(err).To(MatchError(MatchRegexp("^" + message + "$")))
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
			Expect(fsys).To(BeNil())
			Expect(snapshot(sandbox)).To(Equal(before))
		},
		hostileEntries,
	)
})

var _ = Describe("Unpack", func() {
	var sandbox, dest string

	BeforeEach(func() {
		sandbox = GinkgoT().TempDir()
		Expect(os.Mkdir(filepath.Join(sandbox, "outside"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(sandbox, "outside", "secret"), []byte("secret"), 0o600)).To(Succeed())
		dest = filepath.Join(sandbox, "dest")
	})

	It("round-trips what Pack packed: names, contents and exec bits", func() {
		src := GinkgoT().TempDir()
		writeTree(src, templates, names(templates))
		Expect(archive.Unpack(bytes.NewReader(packed(src)), dest, archive.Limits{})).To(Succeed())
		Expect(snapshot(dest)).To(Equal(snapshot(src)))

		info, err := os.Stat(filepath.Join(dest, "scripts", "smoke-test.sh"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm() & 0o111).NotTo(BeZero())
		info, err = os.Stat(filepath.Join(dest, "manifest.yml"))
		Expect(err).NotTo(HaveOccurred())
		Expect(info.Mode().Perm() & 0o111).To(BeZero())
	})

	It("round-trips what Pack packed through Inspect too", func() {
		src := GinkgoT().TempDir()
		writeTree(src, templates, names(templates))
		fsys, err := archive.Inspect(bytes.NewReader(packed(src)), archive.Limits{})
		Expect(err).NotTo(HaveOccurred())
		Expect(fs.ReadFile(fsys, "ops/20-network.yml")).To(Equal([]byte(templates["ops/20-network.yml"])))
	})

	It("accepts what other tools write: ./ prefixes, a root entry, repeated directories, long names, PAX global headers, GNU format", func() {
		long := strings.Repeat("d", 120) + "/" + strings.Repeat("f", 150) + ".yml"
		candidate := tgz(
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, Name: "pax_global_header", PAXRecords: map[string]string{"comment": "0123abcd"}}},
			dir("./"),
			dir("./ops/"),
			file("./ops/a.yml", "a\n"),
			dir("ops/"),
			dir("./ops"),
			file("manifest.yml", "m\n"),
			file(long, "long\n"),
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "gnu/" + strings.Repeat("g", 200), Size: 2, Mode: 0o644, Format: tar.FormatGNU}, body: "g\n"},
			tarEntry{hdr: tar.Header{Typeflag: tar.TypeRegA, Name: "old-style", Size: 2, Mode: 0o644, Format: tar.FormatUSTAR}, body: "o\n"},
		)
		Expect(archive.Unpack(bytes.NewReader(candidate), dest, archive.Limits{})).To(Succeed())
		Expect(snapshot(dest)).To(Equal(map[string]treeFile{
			"ops":                             {Dir: true},
			"ops/a.yml":                       {Content: "a\n"},
			"manifest.yml":                    {Content: "m\n"},
			strings.Repeat("d", 120):          {Dir: true},
			long:                              {Content: "long\n"},
			"gnu":                             {Dir: true},
			"gnu/" + strings.Repeat("g", 200): {Content: "g\n"},
			"old-style":                       {Content: "o\n"},
		}))
	})

	It("unpacks into an empty directory that already exists", func() {
		Expect(os.Mkdir(dest, 0o755)).To(Succeed())
		Expect(archive.Unpack(bytes.NewReader(tgz(ok...)), dest, archive.Limits{})).To(Succeed())
		Expect(snapshot(dest)).To(HaveKey("ok/first.yml"))
	})

	It("creates missing parents of the destination", func() {
		deep := filepath.Join(dest, "a", "b")
		Expect(archive.Unpack(bytes.NewReader(tgz(ok...)), deep, archive.Limits{})).To(Succeed())
		Expect(snapshot(deep)).To(HaveKey("ok/run.sh"))
	})

	It("removes the missing parents it created when it fails", func() {
		deep := filepath.Join(dest, "a", "b")
		err := archive.Unpack(bytes.NewReader(tgz(withOK(file("../evil", "x"))...)), deep, archive.Limits{})
		Expect(err).To(MatchError(`entry "../evil": path escapes the candidate`))
		Expect(dest).NotTo(BeAnExistingFile())
	})

	It("refuses to run without a destination", func() {
		Expect(archive.Unpack(bytes.NewReader(tgz(ok...)), "", archive.Limits{})).To(MatchError("destination: no directory given"))
	})

	It("refuses a destination that is not empty, leaving it as it was", func() {
		Expect(os.Mkdir(dest, 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(dest, "mine"), []byte("keep"), 0o644)).To(Succeed())
		err := archive.Unpack(bytes.NewReader(tgz(ok...)), dest, archive.Limits{})
		Expect(err).To(MatchError(`destination "` + dest + `" is not empty`))
		Expect(snapshot(dest)).To(Equal(map[string]treeFile{"mine": {Content: "keep"}}))
	})

	It("refuses a destination that is a file", func() {
		Expect(os.WriteFile(dest, []byte("file"), 0o644)).To(Succeed())
		err := archive.Unpack(bytes.NewReader(tgz(ok...)), dest, archive.Limits{})
		Expect(err).To(MatchError(`destination "` + dest + `" is not a directory`))
	})

	It("accepts a candidate exactly at its limits", func() {
		candidate := tgz(dir("d/"), file("d/a", "12345"), file("d/b", "67890"))
		Expect(archive.Unpack(bytes.NewReader(candidate), dest, archive.Limits{MaxBytes: 10, MaxEntries: 3})).To(Succeed())
	})

	It("stops reading a decompression bomb at the limit", func() {
		bomb := zeroBombTgz("bomb", 1<<30)
		r := &countingReader{r: bytes.NewReader(bomb)}
		start := time.Now()
		err := archive.Unpack(r, dest, archive.Limits{MaxBytes: 1 << 20})
		Expect(err).To(MatchError(`candidate exceeds max_unpacked_bytes (1048576) at entry "bomb"`))
		Expect(r.n).To(BeNumerically("<", len(bomb)/10), "read %d of %d compressed bytes", r.n, len(bomb))
		Expect(time.Since(start)).To(BeNumerically("<", 5*time.Second))
		Expect(dest).NotTo(BeAnExistingFile())
	})

	It("reports a reader that fails", func() {
		err := archive.Unpack(io.MultiReader(bytes.NewReader(tgz(ok...)[:100]), failingReader{}), dest, archive.Limits{})
		Expect(err).To(MatchError(ContainSubstring("connection reset")))
		Expect(dest).NotTo(BeAnExistingFile())
	})

	DescribeTable("refuses a hostile tarball, touching nothing outside the destination and removing what it created",
		func(h hostile, message string) {
			before := snapshot(sandbox)
			candidate := h.build(sandbox)

			By("unpacking into a destination it creates")
			err := archive.Unpack(bytes.NewReader(candidate), dest, h.limits)
			Expect(err).To(MatchError(MatchRegexp("^" + message + "$")))
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
			Expect(snapshot(sandbox)).To(Equal(before), "the sandbox holds only what it held before")

			By("unpacking into an empty destination that exists")
			Expect(os.Mkdir(dest, 0o755)).To(Succeed())
			err = archive.Unpack(bytes.NewReader(candidate), dest, h.limits)
			Expect(err).To(MatchError(MatchRegexp("^" + message + "$")))
			Expect(snapshot(dest)).To(BeEmpty(), "the destination is empty again")
			Expect(os.Remove(dest)).To(Succeed())
			Expect(snapshot(sandbox)).To(Equal(before), "the sandbox holds only what it held before")
		},
		hostileEntries,
	)
})

var _ = Describe("Limits", func() {
	DescribeTable("WithDefaults fills in zero fields only",
		func(in, want archive.Limits) {
			Expect(in.WithDefaults()).To(Equal(want))
		},
		Entry("all zero", archive.Limits{}, archive.Limits{MaxBytes: 4 << 30, MaxEntries: 100000}),
		Entry("bytes set", archive.Limits{MaxBytes: 10}, archive.Limits{MaxBytes: 10, MaxEntries: 100000}),
		Entry("entries set", archive.Limits{MaxEntries: 7}, archive.Limits{MaxBytes: 4 << 30, MaxEntries: 7}),
		Entry("both set", archive.Limits{MaxBytes: 1, MaxEntries: 1}, archive.Limits{MaxBytes: 1, MaxEntries: 1}),
	)
})

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errConnReset }

var errConnReset = &os.SyscallError{Syscall: "read", Err: errString("connection reset by peer")}

type errString string

func (e errString) Error() string { return string(e) }
