package archive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var templates = map[string]string{
	"manifest.yml":                  "name: redis\ninstance_groups: []\n",
	"ops/10-scale.yml":              "- type: replace\n  path: /instance_groups/name=redis/instances\n  value: 3\n",
	"ops/20-network.yml":            "- type: replace\n  path: /networks\n  value: []\n",
	"environments/dev1/ops/net.yml": "- type: replace\n  path: /name\n  value: redis-dev1\n",
	"environments/dev1/vars.yml":    "hostname: dev1.example.com\n",
	"environments/staging/vars.yml": "hostname: staging.example.com\n",
	"scripts/smoke-test.sh*":        "#!/bin/sh\necho ok\n",
	"README.md":                     "# redis templates\n",
	"empty/":                        "",
	"a-very-long-directory-name-that-goes-on-and-on-and-on/and-on-and-on-and-on-and-on-and-on-and-on-and-on/file-with-a-long-name-too.yml": "long: true\n",
}

func names(m map[string]string) []string {
	var out []string
	for name := range m {
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// tarHeaders lists the headers of a .tgz, checking it reads cleanly with the
// standard library.
func tarHeaders(tgzBytes []byte) (*gzip.Reader, []*tar.Header) {
	gz, err := gzip.NewReader(bytes.NewReader(tgzBytes))
	Expect(err).NotTo(HaveOccurred())
	tr := tar.NewReader(gz)
	var headers []*tar.Header
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		Expect(err).NotTo(HaveOccurred())
		headers = append(headers, hdr)
	}
	_, err = io.Copy(io.Discard, gz)
	Expect(err).NotTo(HaveOccurred())
	return gz, headers
}

var _ = Describe("Pack", func() {
	var src string

	BeforeEach(func() {
		src = GinkgoT().TempDir()
		writeTree(src, templates, names(templates))
	})

	Describe("reproducibility", func() {
		It("gives the same bytes for the same names, contents and exec bits, whatever the mtimes, permissions, owners and creation order", func() {
			other := GinkgoT().TempDir()
			order := names(templates)
			slices.Reverse(order)
			writeTree(other, templates, order)

			setTimes(src, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC))
			setTimes(other, time.Now())
			// Permissions other than the exec bits do not count.
			Expect(os.Chmod(filepath.Join(other, "README.md"), 0o600)).To(Succeed())
			Expect(os.Chmod(filepath.Join(other, "scripts/smoke-test.sh"), 0o700)).To(Succeed())
			Expect(os.Chmod(filepath.Join(other, "empty"), 0o700)).To(Succeed())
			if os.Geteuid() == 0 {
				Expect(os.Lchown(filepath.Join(other, "manifest.yml"), 1234, 5678)).To(Succeed())
			}

			first := packed(src)
			Expect(sha256Hex(packed(other))).To(Equal(sha256Hex(first)))
			Expect(sha256Hex(packed(src))).To(Equal(sha256Hex(first)), "packing twice")
		})

		DescribeTable("changes the digest when what counts changes",
			func(change func(dir string)) {
				before := sha256Hex(packed(src))
				change(src)
				Expect(sha256Hex(packed(src))).NotTo(Equal(before))
			},
			Entry("an exec bit is set", func(dir string) {
				Expect(os.Chmod(filepath.Join(dir, "README.md"), 0o744)).To(Succeed())
			}),
			Entry("an exec bit is cleared", func(dir string) {
				Expect(os.Chmod(filepath.Join(dir, "scripts/smoke-test.sh"), 0o644)).To(Succeed())
			}),
			Entry("a content changes", func(dir string) {
				Expect(os.WriteFile(filepath.Join(dir, "manifest.yml"), []byte("name: redis2\n"), 0o644)).To(Succeed())
			}),
			Entry("a file is renamed", func(dir string) {
				Expect(os.Rename(filepath.Join(dir, "README.md"), filepath.Join(dir, "README.txt"))).To(Succeed())
			}),
			Entry("an empty directory is added", func(dir string) {
				Expect(os.Mkdir(filepath.Join(dir, "more"), 0o755)).To(Succeed())
			}),
		)

		It("is unpacked and packed again into the very same bytes", func() {
			first := packed(src)
			dest := filepath.Join(GinkgoT().TempDir(), "out")
			Expect(archive.Unpack(bytes.NewReader(first), dest, archive.Limits{})).To(Succeed())
			Expect(packed(dest)).To(Equal(first))
		})
	})

	Describe("the tarball", func() {
		It("holds sorted relative entries with fixed modes, owners and times", func() {
			gz, headers := tarHeaders(packed(src))

			Expect(gz.Name).To(BeEmpty())
			Expect(gz.Comment).To(BeEmpty())
			Expect(gz.ModTime.IsZero()).To(BeTrue(), "gzip mtime is %v", gz.ModTime)

			var got []string
			for _, hdr := range headers {
				got = append(got, hdr.Name)
				Expect(hdr.Name).NotTo(HavePrefix("./"))
				Expect(hdr.Name).NotTo(HavePrefix("/"))
				Expect(hdr.Uid).To(BeZero())
				Expect(hdr.Gid).To(BeZero())
				Expect(hdr.Uname).To(BeEmpty())
				Expect(hdr.Gname).To(BeEmpty())
				Expect(hdr.ModTime.Unix()).To(BeZero())
				switch hdr.Typeflag {
				case tar.TypeDir:
					Expect(hdr.Name).To(HaveSuffix("/"))
					Expect(hdr.Mode).To(Equal(int64(0o755)))
				case tar.TypeReg:
					if hdr.Name == "scripts/smoke-test.sh" {
						Expect(hdr.Mode).To(Equal(int64(0o755)))
					} else {
						Expect(hdr.Mode).To(Equal(int64(0o644)), hdr.Name)
					}
				default:
					Fail("unexpected entry type for " + hdr.Name)
				}
			}
			Expect(slices.IsSortedFunc(got, func(a, b string) int {
				return strings.Compare(strings.TrimSuffix(a, "/"), strings.TrimSuffix(b, "/"))
			})).To(BeTrue(), "%v", got)
			Expect(got).To(ContainElements("empty/", "environments/", "environments/dev1/ops/", "manifest.yml", "scripts/smoke-test.sh"))
		})

		It("packs an empty directory into a valid, empty tarball", func() {
			_, headers := tarHeaders(packed(GinkgoT().TempDir()))
			Expect(headers).To(BeEmpty())
		})

		It("is read by GNU tar the same way", func() {
			tarBin, err := exec.LookPath("tar")
			if err != nil {
				Skip("no tar on PATH")
			}
			out := GinkgoT().TempDir()
			tarball := filepath.Join(GinkgoT().TempDir(), "candidate.tgz")
			Expect(os.WriteFile(tarball, packed(src), 0o644)).To(Succeed())
			cmd := exec.Command(tarBin, "xzf", tarball, "-C", out)
			output, err := cmd.CombinedOutput()
			Expect(err).NotTo(HaveOccurred(), string(output))
			Expect(snapshot(out)).To(Equal(snapshot(src)))
		})
	})

	Describe("refusals", func() {
		It("refuses a symlink, naming its relative path", func() {
			Expect(os.Symlink("../manifest.yml", filepath.Join(src, "ops", "link.yml"))).To(Succeed())
			err := archive.Pack(src, io.Discard)
			Expect(err).To(MatchError(`entry "ops/link.yml": symlinks are not allowed`))
		})

		It("refuses a symlink to a directory", func() {
			Expect(os.Symlink(GinkgoT().TempDir(), filepath.Join(src, "elsewhere"))).To(Succeed())
			Expect(archive.Pack(src, io.Discard)).To(MatchError(`entry "elsewhere": symlinks are not allowed`))
		})

		It("refuses a fifo", func() {
			Expect(syscall.Mkfifo(filepath.Join(src, "ops", "pipe"), 0o644)).To(Succeed())
			Expect(archive.Pack(src, io.Discard)).To(MatchError(`entry "ops/pipe": fifos are not allowed`))
		})

		It("refuses a socket", func() {
			sock := filepath.Join(src, "s.sock")
			if len(sock) > 100 {
				Skip("temp dir path too long for a unix socket")
			}
			l, err := net.Listen("unix", sock)
			Expect(err).NotTo(HaveOccurred())
			defer l.Close()
			Expect(archive.Pack(src, io.Discard)).To(MatchError(`entry "s.sock": sockets are not allowed`))
		})

		It("refuses a device node", func() {
			if os.Geteuid() != 0 {
				Skip("mknod needs root")
			}
			err := syscall.Mknod(filepath.Join(src, "null"), syscall.S_IFCHR|0o644, 1<<8|3)
			if err != nil {
				Skip("mknod not permitted here: " + err.Error())
			}
			Expect(archive.Pack(src, io.Discard)).To(MatchError(`entry "null": device nodes are not allowed`))
		})

		It("refuses a directory that does not exist, naming it", func() {
			missing := filepath.Join(src, "missing")
			Expect(archive.Pack(missing, io.Discard)).To(MatchError(`directory "` + missing + `" does not exist`))
		})

		It("refuses a path that is not a directory, naming it", func() {
			f := filepath.Join(src, "manifest.yml")
			Expect(archive.Pack(f, io.Discard)).To(MatchError(`"` + f + `" is not a directory`))
		})

		It("reports a writer that fails", func() {
			Expect(archive.Pack(src, failingWriter{})).To(MatchError(ContainSubstring("disk full")))
		})
	})
})
