package commands

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("param paths", func() {
	var (
		put     string // $1
		outside string // a directory beside it, holding a secret
	)

	BeforeEach(func() {
		base := GinkgoT().TempDir()
		put = filepath.Join(base, "put")
		outside = filepath.Join(base, "outside")
		for _, d := range []string{filepath.Join(put, "templates", "ops"), filepath.Join(put, "meta"), outside} {
			Expect(os.MkdirAll(d, 0o755)).To(Succeed())
		}
		Expect(os.WriteFile(filepath.Join(put, "meta", "version"), []byte("1.2.3\n"), 0o644)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(outside, "secret"), []byte("s3cr3t-content\n"), 0o644)).To(Succeed())
		Expect(os.Symlink(outside, filepath.Join(put, "out-dir"))).To(Succeed())
		Expect(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(put, "meta", "out-file"))).To(Succeed())
		Expect(os.Symlink("../templates", filepath.Join(put, "meta", "in-dir"))).To(Succeed())
		Expect(os.Symlink(filepath.Join(outside, "nothing"), filepath.Join(put, "dangling"))).To(Succeed())
	})

	real := func(p string) string {
		GinkgoHelper()
		r, err := filepath.EvalSymlinks(p)
		Expect(err).NotTo(HaveOccurred())
		return r
	}

	DescribeTable("that stay in $1 resolve to the path read",
		func(rel, want string) {
			got, err := inside(put, "directory", rel)
			Expect(err).NotTo(HaveOccurred())
			Expect(got).To(Equal(filepath.Join(real(put), want)))
		},
		Entry("a folder", "templates", "templates"),
		Entry("a nested file", "meta/version", "meta/version"),
		Entry("with a ./ prefix and a trailing slash", "./templates/", "templates"),
		Entry("with a .. that stays inside", "meta/../templates", "templates"),
		Entry("$1 itself", ".", ""),
		Entry("a symlink that stays inside", "meta/in-dir", "templates"),
		Entry("through a symlink that stays inside", "meta/in-dir/ops", "templates/ops"),
		Entry("a path that does not exist (the caller says so)", "nope/deeper", "nope/deeper"),
	)

	It("resolves from $1's own real path when $1 is reached through a symlink", func() {
		link := filepath.Join(GinkgoT().TempDir(), "put-link")
		Expect(os.Symlink(put, link)).To(Succeed())
		got, err := inside(link, "directory", "templates")
		Expect(err).NotTo(HaveOccurred())
		Expect(got).To(Equal(filepath.Join(real(put), "templates")))
	})

	DescribeTable("that leave $1 are refused, naming the param and the path",
		func(key, rel, want string) {
			_, err := inside(put, key, rel)
			Expect(err).To(MatchError(want))
		},
		Entry("an absolute path", "directory", "/etc", `params.directory: "/etc" must be relative to the put's directory`),
		Entry("a .. out", "directory", "../secret", `params.directory: "../secret" leaves the put's directory (through "..")`),
		Entry("a .. out further down", "version_file", "../../etc/hostname", `params.version_file: "../../etc/hostname" leaves the put's directory (through "..")`),
		Entry("a .. out after going in", "candidate", "templates/../../outside", `params.candidate: "templates/../../outside" leaves the put's directory (through "..")`),
		Entry("a symlinked directory", "directory", "out-dir", `params.directory: "out-dir" leaves the put's directory through a symlink (out-dir)`),
		Entry("through a symlinked directory", "version_file", "out-dir/secret", `params.version_file: "out-dir/secret" leaves the put's directory through a symlink (out-dir)`),
		Entry("a symlinked file", "version_file", "meta/out-file", `params.version_file: "meta/out-file" leaves the put's directory through a symlink (meta/out-file)`),
		Entry("a symlink to nothing", "directory", "dangling", `params.directory: "dangling" goes through a symlink (dangling) that resolves to nothing`),
		Entry("through a symlink to nothing", "directory", "dangling/x", `params.directory: "dangling/x" goes through a symlink (dangling) that resolves to nothing`),
	)

	Describe("a tarball glob", func() {
		It("is checked by its text, and its match resolved like any param path", func() {
			root, glob, err := insideGlob(put, "tarball", "build/*.tgz")
			Expect(err).NotTo(HaveOccurred())
			Expect(root).To(Equal(real(put)))
			Expect(glob).To(Equal(filepath.Join(real(put), "build", "*.tgz")))
			_, err = resolveParam(root, "tarball", "out-dir/secret")
			Expect(err).To(MatchError(ContainSubstring("leaves the put's directory through a symlink (out-dir)")))
		})

		It("that leaves $1 by its text is refused", func() {
			_, _, err := insideGlob(put, "tarball", "../*/*.tgz")
			Expect(err).To(MatchError(`params.tarball: "../*/*.tgz" leaves the put's directory (through "..")`))
		})
	})

	Describe("params.version_file", func() {
		write := func(name, content string) {
			GinkgoHelper()
			Expect(os.WriteFile(filepath.Join(put, "meta", name), []byte(content), 0o644)).To(Succeed())
		}

		It("reads the version a file in $1 holds", func() {
			Expect(readVersionFile(put, "meta/version")).To(Equal("1.2.3"))
		})

		DescribeTable("is refused with one line that never repeats what the file holds",
			func(setup func(), rel, want string) {
				if setup != nil {
					setup()
				}
				_, err := readVersionFile(put, rel)
				Expect(err).To(MatchError(want))
				Expect(err.Error()).NotTo(ContainSubstring("s3cr3t"))
				Expect(err.Error()).NotTo(ContainSubstring("\n"))
			},
			Entry("outside $1 through ..", nil, "../outside/secret", `params.version_file: "../outside/secret" leaves the put's directory (through "..")`),
			Entry("outside $1 through a symlink", nil, "meta/out-file", `params.version_file: "meta/out-file" leaves the put's directory through a symlink (meta/out-file)`),
			Entry("holding something else", func() { write("bad", "s3cr3t-content\nline two\n") }, "meta/bad",
				"params.version_file: meta/bad does not hold a semantic version (e.g. 1.4.2)"),
			Entry("holding a version with build metadata", func() { write("meta", "1.0.0+s3cr3t") }, "meta/meta",
				"params.version_file: meta/meta holds a version with build metadata (+...), which semver does not order: use a pre-release (-rc.1) or another version"),
			Entry("holding a version too large", func() { write("big", "1.0.9223372036854775807") }, "meta/big",
				"params.version_file: meta/big holds a version with a number too large (major, minor and patch must each be below 9223372036854775807)"),
			Entry("empty", func() { write("empty", " \n") }, "meta/empty", "params.version_file: meta/empty is empty"),
			Entry("larger than a version could be", func() { write("large", strings.Repeat("s3cr3t", 1000)) }, "meta/large",
				"params.version_file: meta/large is larger than 1024 bytes: it must hold only a version"),
			Entry("missing", nil, "meta/nope", "params.version_file: meta/nope does not exist"),
			Entry("a directory", nil, "templates", "params.version_file: templates is not a regular file"),
			Entry("a fifo (without blocking on it)", func() {
				Expect(syscall.Mkfifo(filepath.Join(put, "meta", "fifo"), 0o644)).To(Succeed())
			}, "meta/fifo", "params.version_file: meta/fifo is not a regular file"),
		)
	})

	Describe("the files of params.candidate", func() {
		It("are refused when they lead out of the candidate's directory, without their content", func() {
			cand := filepath.Join(put, "cand")
			Expect(os.MkdirAll(cand, 0o755)).To(Succeed())
			Expect(os.Symlink(filepath.Join(outside, "secret"), filepath.Join(cand, "version"))).To(Succeed())
			_, _, err := readCandidateDir("params.candidate", real(cand), "cand")
			Expect(err).To(MatchError("params.candidate: cand/version leaves the candidate's directory through a symlink (version)"))
		})

		It("never repeat a version file's content", func() {
			cand := filepath.Join(put, "cand")
			Expect(os.MkdirAll(cand, 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(cand, "version"), []byte("s3cr3t-content\n"), 0o644)).To(Succeed())
			_, _, err := readCandidateDir("params.candidate", real(cand), "cand")
			Expect(err).To(MatchError("params.candidate: cand/version does not hold a semantic version (e.g. 1.4.2)"))
		})
	})
})
