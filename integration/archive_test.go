package integration_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// tarEntry is one raw entry of a hand-made (possibly hostile) tarball.
type tarEntry struct {
	name     string
	typeflag byte
	body     string
	link     string
	mode     int64
}

func file(name, body string) tarEntry { return tarEntry{name: name, typeflag: tar.TypeReg, body: body} }

// rawTgz builds a .tgz from entries exactly as given, without any sanity.
func rawTgz(entries ...tarEntry) []byte {
	GinkgoHelper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		hdr := &tar.Header{Name: e.name, Typeflag: e.typeflag, Linkname: e.link, Mode: mode, ModTime: time.Unix(1e9, 0), Format: tar.FormatPAX}
		if e.typeflag == tar.TypeReg {
			hdr.Size = int64(len(e.body))
		}
		if e.typeflag == tar.TypeChar || e.typeflag == tar.TypeBlock {
			hdr.Devmajor, hdr.Devminor = 1, 3
		}
		Expect(tw.WriteHeader(hdr)).To(Succeed(), "header %q", e.name)
		if hdr.Size > 0 {
			_, err := tw.Write([]byte(e.body))
			Expect(err).NotTo(HaveOccurred())
		}
	}
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	return buf.Bytes()
}

// seedCandidate stores a tarball as committed candidate version, bypassing
// publish's checks, following the contract's key layout (as a compromised
// or buggy writer could).
func seedCandidate(bucket, version string, tgz []byte) string {
	GinkgoHelper()
	sum := sha256.Sum256(tgz)
	digest := hex.EncodeToString(sum[:])
	blob := "blobs/seeded-" + randomHex(8) + ".tgz"
	claim, err := json.Marshal(map[string]any{
		"version": version, "sha256": digest, "size": len(tgz), "blob": blob,
		"created_by": "integration-seed", "policy_seq": 1, "releases": map[string]any{},
	})
	Expect(err).NotTo(HaveOccurred())
	seedPolicy(bucket, "")
	putObject(bucket, blob, tgz)
	putObject(bucket, store.ClaimKey(version), claim)
	putObject(bucket, store.CommitKey(version, 1, ""), claim)
	return digest
}

// findNamed walks root and returns the paths whose base name is name.
func findNamed(root, name string) []string {
	GinkgoHelper()
	var found []string
	Expect(filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Name() == name {
			found = append(found, p)
		}
		return err
	})).To(Succeed())
	return found
}

var manifest = redisTemplates("hostile")["manifest.yml"]

var _ = Describe("hostile tarballs", func() {
	var (
		bucket string
		src    map[string]any
		root   string // everything a spec writes lives under root
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, nil)
		root = GinkgoT().TempDir()
		Expect(os.MkdirAll(filepath.Join(root, "outside"), 0o755)).To(Succeed())
		Expect(os.WriteFile(filepath.Join(root, "outside", "target.yml"), []byte("untouched\n"), 0o644)).To(Succeed())
	})

	// The outside directory sits beside the put/get directories: a path
	// that escapes templates/ twice lands there.
	hostile := func() map[string][]tarEntry {
		out := filepath.Join(root, "outside")
		return map[string][]tarEntry{
			"an absolute path":   {file("manifest.yml", manifest), file(filepath.Join(out, "pwned.yml"), "x")},
			"a .. path":          {file("manifest.yml", manifest), file("../../outside/pwned.yml", "x")},
			"a .. inside a path": {file("manifest.yml", manifest), file("ops/../../../outside/pwned.yml", "x")},
			"a symlink leading out, then a file through it": {
				file("manifest.yml", manifest),
				{name: "ops", typeflag: tar.TypeSymlink, link: out},
				file("ops/pwned.yml", "x"),
			},
			"a hard link to a file outside": {
				file("manifest.yml", manifest),
				{name: "ops/pwned.yml", typeflag: tar.TypeLink, link: filepath.Join(out, "target.yml")},
			},
			"a device node":     {file("manifest.yml", manifest), {name: "ops/pwned.yml", typeflag: tar.TypeChar}},
			"a block device":    {file("manifest.yml", manifest), {name: "ops/pwned.yml", typeflag: tar.TypeBlock}},
			"a fifo":            {file("manifest.yml", manifest), {name: "ops/pwned.yml", typeflag: tar.TypeFifo}},
			"duplicate entries": {file("manifest.yml", manifest), file("manifest.yml", "name: other\n")},
			"a symlink pointing outside": {
				file("manifest.yml", manifest),
				{name: "ops/pwned.yml", typeflag: tar.TypeSymlink, link: filepath.Join(out, "target.yml")},
			},
			"a .. hidden in a PAX long name": {
				file("manifest.yml", manifest),
				file(strings.Repeat("deep/", 30)+strings.Repeat("../", 33)+"outside/pwned.yml", "x"),
			},
		}
	}

	// What the one-line reason must say for each hostile tarball.
	reasons := map[string]string{
		"an absolute path":   "absolute",
		"a .. path":          "escapes",
		"a .. inside a path": "escapes",
		"a symlink leading out, then a file through it": "symlink",
		"a hard link to a file outside":                 "hard link",
		"a device node":                                 "device",
		"a block device":                                "device",
		"a fifo":                                        "fifo",
		"duplicate entries":                             "duplicate",
		"a symlink pointing outside":                    "symlink",
		"a .. hidden in a PAX long name":                "escapes",
	}

	expectOutsideUntouched := func() {
		GinkgoHelper()
		Expect(findNamed(root, "pwned.yml")).To(BeEmpty(), "nothing may be written outside the destination")
		Expect(readTrimmed(filepath.Join(root, "outside", "target.yml"))).To(Equal("untouched"))
	}

	for _, name := range []string{
		"an absolute path", "a .. path", "a .. inside a path",
		"a symlink leading out, then a file through it", "a hard link to a file outside",
		"a device node", "a block device", "a fifo", "duplicate entries",
		"a symlink pointing outside", "a .. hidden in a PAX long name",
	} {
		It("refuses "+name+" on publish, writing nothing", func() {
			dir := filepath.Join(root, "put")
			Expect(os.MkdirAll(filepath.Join(dir, "build"), 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, "build", "c.tgz"), rawTgz(hostile()[name]...), 0o644)).To(Succeed())

			_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"}})
			expectRefusal(sess, "build/c.tgz", reasons[name])
			Expect(bucketKeys(bucket)).To(BeEmpty())
			expectOutsideUntouched()
		})

		It("refuses "+name+" on unpack, touching nothing outside the destination", func() {
			seedCandidate(bucket, "6.6.6", rawTgz(hostile()[name]...))
			dest := filepath.Join(root, "get", "cand")
			_, sess := in(dest, map[string]any{"source": src, "version": ver("6.6.6")})
			expectRefusal(sess, "6.6.6", reasons[name])
			expectOutsideUntouched()
			Expect(filepath.Join(dest, "templates")).NotTo(BeADirectory(), "partial output is removed")
			expectNoSuccessFiles(dest)
		})
	}

	Describe("decompression bombs", func() {
		// Small limits in source keep these quick; the mechanism is the one
		// the defaults (4 GiB, 100000 entries) use, see below.
		small := map[string]any{"max_unpacked_bytes": 8 << 20, "max_entries": 1000}
		bombs := map[string]func() []byte{
			"256 MiB of zeros in one file":      func() []byte { return bombTgz("files/zeros.bin", 256<<20, 0) },
			"256 MiB of comments in a template": func() []byte { return bombTgz("ops/bomb.yml", 256<<20, '#') },
			"5000 empty files":                  func() []byte { return manyEntriesTgz(5000) },
		}
		reason := map[string]string{
			"256 MiB of zeros in one file":      "max_unpacked_bytes (8388608)",
			"256 MiB of comments in a template": "max_unpacked_bytes (8388608)",
			"5000 empty files":                  "max_entries (1000)",
		}

		for _, name := range []string{"256 MiB of zeros in one file", "256 MiB of comments in a template", "5000 empty files"} {
			It("refuses "+name+" on publish, naming the limit, writing nothing", func() {
				tgz := bombs[name]()
				Expect(len(tgz)).To(BeNumerically("<", 1<<20), "a bomb is small")
				dir := filepath.Join(root, "put")
				Expect(os.MkdirAll(filepath.Join(dir, "build"), 0o755)).To(Succeed())
				Expect(os.WriteFile(filepath.Join(dir, "build", "bomb.tgz"), tgz, 0o644)).To(Succeed())

				_, sess := out(dir, map[string]any{"source": source(bucket, small), "params": map[string]any{"tarball": "build/*.tgz"}})
				expectRefusal(sess, "build/bomb.tgz", reason[name])
				Expect(bucketKeys(bucket)).To(BeEmpty())
			})

			It("refuses "+name+" on unpack, naming the limit, leaving nothing behind", func() {
				seedCandidate(bucket, "6.6.6", bombs[name]())
				dest := filepath.Join(root, "get", "cand")
				_, sess := in(dest, map[string]any{"source": source(bucket, small), "version": ver("6.6.6")})
				expectRefusal(sess, "6.6.6", reason[name])
				expectNoSuccessFiles(dest)
				Expect(filepath.Join(dest, "templates")).NotTo(BeADirectory())
			})
		}

		Context("with the default limits", func() {
			publishBomb := func(tgz []byte) (*gexec.Session, int64) {
				GinkgoHelper()
				dir := filepath.Join(root, "put")
				Expect(os.MkdirAll(filepath.Join(dir, "build"), 0o755)).To(Succeed())
				Expect(os.WriteFile(filepath.Join(dir, "build", "bomb.tgz"), tgz, 0o644)).To(Succeed())
				return outPeakRSS(dir, map[string]any{"source": src, "params": map[string]any{"tarball": "build/*.tgz"}})
			}

			It("refuses a 4 MiB tarball holding 4 GiB + 64 MiB of zeros past max_unpacked_bytes (4 GiB), in bounded memory", func() {
				tgz := bombTgz("files/zeros.bin", 4<<30+64<<20, 0)
				Expect(len(tgz)).To(BeNumerically("<", 8<<20))
				sess, peak := publishBomb(tgz)
				expectRefusal(sess, "max_unpacked_bytes (4294967296)")
				Expect(bucketKeys(bucket)).To(BeEmpty())
				Expect(peak).To(BeNumerically("<", 256<<20), "refusing a bomb takes bounded memory")
			})

			It("refuses a tarball of 100001 entries past max_entries (100000)", func() {
				sess, _ := publishBomb(manyEntriesTgz(100_000)) // and the manifest
				expectRefusal(sess, "max_entries (100000)")
				Expect(bucketKeys(bucket)).To(BeEmpty())
			})
		})

		// Inspect holds template files in memory: each is bounded on its own,
		// whatever max_unpacked_bytes allows.
		It("refuses a bomb hidden in a template file in bounded memory", func() {
			tgz := bombTgz("ops/bomb.yml", 400<<20, '#')
			dir := filepath.Join(root, "put")
			Expect(os.MkdirAll(filepath.Join(dir, "build"), 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, "build", "bomb.tgz"), tgz, 0o644)).To(Succeed())
			sess, peak := outPeakRSS(dir, map[string]any{
				"source": source(bucket, map[string]any{"max_unpacked_bytes": 384 << 20}),
				"params": map[string]any{"tarball": "build/*.tgz"},
			})
			expectRefusal(sess, "build/bomb.tgz")
			Expect(bucketKeys(bucket)).To(BeEmpty())
			Expect(peak).To(BeNumerically("<", 256<<20), "out held the template file in memory")
		})
	})

	Describe("limits", func() {
		files := redisTemplates("limits") // 5 files in 4 directories

		DescribeTable("refuse to unpack past a bound, naming it, and remove the partial output",
			func(limit map[string]any, key string) {
				publish(src, files, "1.0.0")
				dest := filepath.Join(root, "get")
				_, sess := in(dest, map[string]any{"source": source(bucket, limit), "version": ver("1.0.0")})
				expectRefusal(sess, key)
				Expect(filepath.Join(dest, "templates")).NotTo(BeADirectory())
			},
			Entry("max_entries", map[string]any{"max_entries": 3}, "max_entries"),
			Entry("max_unpacked_bytes", map[string]any{"max_unpacked_bytes": 100}, "max_unpacked_bytes"),
		)

		It("refuses to publish a decompression bomb past max_unpacked_bytes, writing nothing", func() {
			bomb := rawTgz(file("manifest.yml", manifest), file("ops/bomb.yml", "# "+strings.Repeat("0", 4<<20)+"\n"))
			Expect(len(bomb)).To(BeNumerically("<", 64<<10), "it compresses well")
			dir := filepath.Join(root, "put")
			Expect(os.MkdirAll(filepath.Join(dir, "build"), 0o755)).To(Succeed())
			Expect(os.WriteFile(filepath.Join(dir, "build", "bomb.tgz"), bomb, 0o644)).To(Succeed())

			_, sess := out(dir, map[string]any{
				"source": source(bucket, map[string]any{"max_unpacked_bytes": 1 << 20}),
				"params": map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"},
			})
			expectRefusal(sess, "max_unpacked_bytes")
			Expect(bucketKeys(bucket)).To(BeEmpty())
		})
	})
})
