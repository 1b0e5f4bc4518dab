package archive_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("inspecting a directory before it is packed", func() {
	var root string

	BeforeEach(func() {
		root = GinkgoT().TempDir()
	})

	// tree writes files under root: "a/b.yml" -> content; a name ending in
	// "/" is a directory.
	tree := func(files map[string]string) {
		GinkgoHelper()
		writeTree(root, files, names(files))
	}

	nFiles := func(n int) map[string]string {
		files := map[string]string{"manifest.yml": "name: redis\n"}
		for i := 1; i < n; i++ {
			files[fmt.Sprintf("files/%03d", i)] = ""
		}
		return files
	}

	It("returns the template files, as Inspect does with the packed tarball", func() {
		tree(templates)
		got, err := archive.InspectDir(root, archive.Limits{})
		Expect(err).NotTo(HaveOccurred())
		want, err := archive.Inspect(bytes.NewReader(packed(root)), archive.Limits{})
		Expect(err).NotTo(HaveOccurred())
		for _, fsys := range []fs.FS{got, want} {
			manifest, err := fs.ReadFile(fsys, "manifest.yml")
			Expect(err).NotTo(HaveOccurred())
			Expect(string(manifest)).To(Equal(templates["manifest.yml"]))
			Expect(fs.Glob(fsys, "ops/*.yml")).To(Equal([]string{"ops/10-scale.yml", "ops/20-network.yml"}))
			_, err = fs.Stat(fsys, "README.md")
			Expect(err).To(MatchError(fs.ErrNotExist), "not a template: counted, not kept")
		}
	})

	It("shows every folder under environments/, even one without a template file", func() {
		tree(map[string]string{
			"manifest.yml":                     "name: redis\n",
			"environments/dev1/vars.yml":       "a: 1\n",
			"environments/prodution/README.md": "typo\n",
			"environments/empty/":              "",
			"environments/notes.txt":           "a file, not a folder\n",
		})
		packedFS, err := archive.Inspect(bytes.NewReader(packed(root)), archive.Limits{})
		Expect(err).NotTo(HaveOccurred())
		dirFS, err := archive.InspectDir(root, archive.Limits{})
		Expect(err).NotTo(HaveOccurred())
		for _, fsys := range []fs.FS{dirFS, packedFS} {
			entries, err := fs.ReadDir(fsys, "environments")
			Expect(err).NotTo(HaveOccurred())
			var folders []string
			for _, e := range entries {
				Expect(e.IsDir()).To(BeTrue(), e.Name())
				folders = append(folders, e.Name())
			}
			Expect(folders).To(Equal([]string{"dev1", "empty", "prodution"}))
		}
	})

	Describe("bounds, the same as a tarball's", func() {
		It("refuses more entries than max_entries, counting as Pack writes them", func() {
			tree(nFiles(6))
			_, err := archive.InspectDir(root, archive.Limits{MaxEntries: 5})
			Expect(err).To(MatchError("candidate exceeds max_entries (5)"))
		})

		It("accepts exactly max_entries entries", func() {
			tree(nFiles(4)) // manifest.yml, files/, 3 files
			_, err := archive.InspectDir(root, archive.Limits{MaxEntries: 5})
			Expect(err).NotTo(HaveOccurred())
		})

		DescribeTable("agrees with a get of the packed directory on every bound",
			func(files map[string]string, limits archive.Limits) {
				tree(files)
				_, dirErr := archive.InspectDir(root, limits)
				_, tarErr := archive.Inspect(bytes.NewReader(packed(root)), limits)
				unpackErr := archive.Unpack(bytes.NewReader(packed(root)), filepath.Join(GinkgoT().TempDir(), "t"), limits)
				if tarErr == nil {
					Expect(dirErr).NotTo(HaveOccurred())
					Expect(unpackErr).NotTo(HaveOccurred())
				} else {
					Expect(dirErr).To(HaveOccurred())
					Expect(unpackErr).To(HaveOccurred())
					Expect(dirErr.Error()).To(HavePrefix(strings.SplitN(tarErr.Error(), " at entry", 2)[0]))
				}
			},
			Entry("6 files, max 5", nFiles(6), archive.Limits{MaxEntries: 5}),
			Entry("5 entries, max 5", nFiles(4), archive.Limits{MaxEntries: 5}),
			Entry("6 entries, max 6", nFiles(5), archive.Limits{MaxEntries: 6}),
			Entry("empty directories count", map[string]string{"manifest.yml": "x", "a/": "", "a/b/": "", "c/": ""}, archive.Limits{MaxEntries: 4}),
			Entry("empty directories count, one over", map[string]string{"manifest.yml": "x", "a/": "", "a/b/": "", "c/": "", "d/": ""}, archive.Limits{MaxEntries: 4}),
			Entry("content at max_unpacked_bytes", map[string]string{"manifest.yml": "12345", "f": "67890"}, archive.Limits{MaxBytes: 10}),
			Entry("content one byte past max_unpacked_bytes", map[string]string{"manifest.yml": "12345", "f": "678901"}, archive.Limits{MaxBytes: 10}),
		)

		It("refuses file content past max_unpacked_bytes, naming the entry", func() {
			tree(map[string]string{"manifest.yml": "name: redis\n", "big.bin": strings.Repeat("x", 100)})
			_, err := archive.InspectDir(root, archive.Limits{MaxBytes: 50})
			Expect(err).To(MatchError(`candidate exceeds max_unpacked_bytes (50) at entry "big.bin"`))
		})

		It("refuses a 100 MiB manifest.yml by its size, without reading it into memory", func() {
			f, err := os.Create(filepath.Join(root, "manifest.yml"))
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Truncate(100 << 20)).To(Succeed()) // sparse: no disk, no time
			Expect(f.Close()).To(Succeed())

			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err = archive.InspectDir(root, archive.Limits{})
			runtime.ReadMemStats(&after)
			Expect(err).To(MatchError(`entry "manifest.yml": template file larger than 16 MiB`))
			Expect(after.TotalAlloc-before.TotalAlloc).To(BeNumerically("<", 1<<20), "bytes allocated while refusing")
		})

		It("accepts a non-template file of any size within max_unpacked_bytes", func() {
			tree(map[string]string{"manifest.yml": "name: redis\n"})
			f, err := os.Create(filepath.Join(root, "blob.bin"))
			Expect(err).NotTo(HaveOccurred())
			Expect(f.Truncate(100 << 20)).To(Succeed())
			Expect(f.Close()).To(Succeed())
			_, err = archive.InspectDir(root, archive.Limits{})
			Expect(err).NotTo(HaveOccurred())
		})

		It("refuses template files of more than 64 MiB in all", func() {
			tree(map[string]string{"manifest.yml": "name: redis\n", "ops/": ""})
			for i := range 5 { // 15 MiB each (sparse): each within bounds, 75 MiB in all
				f, err := os.Create(filepath.Join(root, "ops", fmt.Sprintf("%d.yml", i)))
				Expect(err).NotTo(HaveOccurred())
				Expect(f.Truncate(15 << 20)).To(Succeed())
				Expect(f.Close()).To(Succeed())
			}
			_, err := archive.InspectDir(root, archive.Limits{})
			Expect(err).To(MatchError(`entry "ops/4.yml": template files exceed 64 MiB in all`))
		})
	})

	Describe("the rules of Pack", func() {
		It("refuses a symlink, naming it", func() {
			tree(map[string]string{"manifest.yml": "name: redis\n"})
			Expect(os.Symlink("/etc/passwd", filepath.Join(root, "ops.yml"))).To(Succeed())
			_, err := archive.InspectDir(root, archive.Limits{})
			Expect(err).To(MatchError(`entry "ops.yml": symlinks are not allowed`))
		})

		It("refuses a fifo without blocking on it", func() {
			tree(map[string]string{"manifest.yml": "name: redis\n", "ops/": ""})
			Expect(syscall.Mkfifo(filepath.Join(root, "ops", "a.yml"), 0o644)).To(Succeed())
			_, err := archive.InspectDir(root, archive.Limits{})
			Expect(err).To(MatchError(`entry "ops/a.yml": fifos are not allowed`))
		})

		It("refuses a path that is not a directory", func() {
			tree(map[string]string{"manifest.yml": "name: redis\n"})
			_, err := archive.InspectDir(filepath.Join(root, "manifest.yml"), archive.Limits{})
			Expect(err).To(MatchError(ContainSubstring("is not a directory")))
		})
	})
})

var _ = Describe("packing a directory within bounds", func() {
	It("packs exactly what Pack packs when within the bounds", func() {
		root := GinkgoT().TempDir()
		writeTree(root, templates, names(templates))
		var buf bytes.Buffer
		Expect(archive.PackWithin(root, &buf, archive.Limits{})).To(Succeed())
		Expect(buf.Bytes()).To(Equal(packed(root)))
	})

	DescribeTable("fails, naming the source key, when the directory is past a bound (it changed after it was inspected)",
		func(limits archive.Limits, want string) {
			root := GinkgoT().TempDir()
			writeTree(root, map[string]string{"manifest.yml": "name: redis\n", "a": "1234567890", "b": "1234567890"}, []string{"manifest.yml", "a", "b"})
			Expect(archive.PackWithin(root, &bytes.Buffer{}, limits)).To(MatchError(want))
		},
		Entry("entries", archive.Limits{MaxEntries: 2}, "candidate exceeds max_entries (2)"),
		Entry("bytes", archive.Limits{MaxBytes: 15}, `candidate exceeds max_unpacked_bytes (15) at entry "b"`),
	)
})
