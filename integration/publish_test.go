package integration_test

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("out: publishing a candidate", func() {
	var (
		bucket string
		src    map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, nil)
	})

	sha := func(r Response) string {
		GinkgoHelper()
		v, ok := r.Meta("sha256")
		Expect(ok).To(BeTrue(), "out's metadata should have a sha256 entry: %+v", r.Metadata)
		Expect(v).To(MatchRegexp(`^[0-9a-f]{64}$`))
		return v
	}

	Describe("versioning", func() {
		It("gives 0.1.0 to the first candidate of an empty store, then the next patch", func() {
			Expect(publish(src, redisTemplates("one"), "").Version).To(Equal(ver("0.1.0")))
			Expect(publish(src, redisTemplates("two"), "").Version).To(Equal(ver("0.1.1")))
			Expect(publish(src, redisTemplates("three"), "").Version).To(Equal(ver("0.1.2")))

			versions, sess := check(map[string]any{"source": src, "version": ver("0.1.0")})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"0.1.0", "0.1.1", "0.1.2"}))
		})

		It("takes the next patch after the highest semantic version, not the lexically last", func() {
			publish(src, redisTemplates("nine"), "1.0.9")
			publish(src, redisTemplates("ten"), "1.0.10")
			Expect(publish(src, redisTemplates("next"), "").Version).To(Equal(ver("1.0.11")))
		})

		It("reads the version from params.version_file, relative to $1", func() {
			dir := GinkgoT().TempDir()
			writeFiles(filepath.Join(dir, "templates"), redisTemplates("from-file"))
			writeFiles(dir, map[string]string{"meta/version": "2.3.4\n"})
			resp, sess := out(dir, map[string]any{"source": src, "params": map[string]any{
				"directory": "templates", "version_file": "meta/version",
			}})
			succeeded(sess)
			Expect(resp.Version).To(Equal(ver("2.3.4")))
		})
	})

	Describe("params.tarball", func() {
		It("stores the one .tgz the glob matches byte for byte, ./ entries included", func() {
			dir := GinkgoT().TempDir()
			files := redisTemplates("tarball")
			makeTgz(filepath.Join(dir, "build", "redis-candidate.tgz"), files, true)
			want := sha256File(filepath.Join(dir, "build", "redis-candidate.tgz"))

			resp, sess := out(dir, map[string]any{"source": src, "params": map[string]any{
				"tarball": "build/*.tgz", "version": "1.2.0",
			}})
			succeeded(sess)
			Expect(resp.Version).To(Equal(ver("1.2.0")))
			Expect(sha(resp)).To(Equal(want))

			getDir, _ := get(src, ver("1.2.0"), nil)
			Expect(sha256File(filepath.Join(getDir, "cand", "candidate.tgz"))).To(Equal(want))
			got, err := os.ReadFile(filepath.Join(getDir, "cand", "templates", "manifest.yml"))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal(files["manifest.yml"]))
		})
	})

	Describe("immutability", func() {
		It("returns the existing candidate when the same content is published again (a retried put)", func() {
			first := publish(src, redisTemplates("same"), "1.0.0")
			keys := bucketKeys(bucket)

			second := publish(src, redisTemplates("same"), "1.0.0")
			Expect(second.Version).To(Equal(first.Version))
			Expect(sha(second)).To(Equal(sha(first)))

			Expect(keysUnder(bucket, "candidates/")).To(HaveLen(1))
			Expect(keysUnder(bucket, "claims/")).To(HaveLen(1))
			Expect(nonBlobKeys(bucketKeys(bucket))).To(Equal(nonBlobKeys(keys)))
		})

		It("refuses to publish different content under an existing version", func() {
			first := publish(src, redisTemplates("original"), "1.0.0")
			keys := nonBlobKeys(bucketKeys(bucket))

			dir := GinkgoT().TempDir()
			writeFiles(filepath.Join(dir, "templates"), redisTemplates("impostor"))
			_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version": "1.0.0"}})
			expectRefusal(sess, "1.0.0")

			Expect(nonBlobKeys(bucketKeys(bucket))).To(Equal(keys), "nothing but an orphan blob may be written")
			getDir, resp := get(src, ver("1.0.0"), nil)
			Expect(sha(resp)).To(Equal(sha(first)))
			Expect(readTrimmed(filepath.Join(getDir, "cand", "sha256"))).To(Equal(sha(first)))
		})

		It("lets exactly one of two concurrent publishes of one version with different content win", func() {
			var sessions []*gexec.Session
			for _, marker := range []string{"left", "right"} {
				dir := GinkgoT().TempDir()
				writeFiles(filepath.Join(dir, "templates"), redisTemplates(marker))
				sessions = append(sessions, start(cfg.Out, []string{dir}, map[string]any{
					"source": src, "params": map[string]any{"directory": "templates", "version": "3.0.0"},
				}, nil))
			}
			var winner Response
			wins := 0
			for _, s := range sessions {
				resp, s := decodeResponse(finish(s))
				if s.ExitCode() == 0 {
					wins++
					winner = resp
				} else {
					expectRefusal(s, "3.0.0")
				}
			}
			Expect(wins).To(Equal(1), "exactly one publish wins")
			Expect(keysUnder(bucket, "candidates/")).To(HaveLen(1))
			_, resp := get(src, ver("3.0.0"), map[string]any{"skip_download": true})
			Expect(sha(resp)).To(Equal(sha(winner)))
		})
	})

	Describe("concurrent publishes without a version", func() {
		DescribeTable("give each content its own version, all listed, each holding its own content",
			func(n int, base string) {
				if base != "" {
					publish(src, redisTemplates("base"), base)
				}
				var sessions []*gexec.Session
				for i := range n {
					dir := GinkgoT().TempDir()
					writeFiles(filepath.Join(dir, "templates"), redisTemplates(fmt.Sprintf("racer-%d", i)))
					sessions = append(sessions, start(cfg.Out, []string{dir}, map[string]any{
						"source": src, "params": map[string]any{"directory": "templates"},
					}, nil))
				}
				got := map[string]string{} // version -> sha256
				for _, s := range sessions {
					resp, s := decodeResponse(finish(s))
					succeeded(s)
					v := resp.Version["version"]
					Expect(got).NotTo(HaveKey(v), "two publishes got version %s", v)
					got[v] = sha(resp)
				}
				Expect(got).To(HaveLen(n))

				from := base
				if from == "" {
					from = "0.1.0" // the first version of an empty store: one of them got it
				}
				versions, sess := check(map[string]any{"source": src, "version": ver(from)})
				succeeded(sess)
				listed := versionsOf(versions)
				for v, digest := range got {
					Expect(listed).To(ContainElement(v))
					_, resp := get(src, ver(v), map[string]any{"skip_download": true})
					Expect(sha(resp)).To(Equal(digest), "version %s holds the content its publish reported", v)
				}
				Expect(keysUnder(bucket, "candidates/")).To(HaveLen(len(listed)))
			},
			Entry("two at once into an empty store", 2, ""),
			Entry("two at once after 1.4.2", 2, "1.4.2"),
			Entry("five at once", 5, ""),
		)
	})

	Describe("reproducible packing", func() {
		files := map[string]string{
			"manifest.yml":                       redisTemplates("repro")["manifest.yml"],
			"ops/10-scale.yml":                   redisTemplates("repro")["ops/10-scale.yml"],
			"ops/20-more.yml":                    "--- []\n",
			"environments/dev1/ops/network.yml":  redisTemplates("repro")["environments/dev1/ops/network.yml"],
			"environments/dev1/vars.yml":         "redis_hostname: dev1\n",
			"environments/staging/vars.yml":      "redis_hostname: staging\n",
			"environments/production/ops/0.yml":  "--- []\n",
			"environments/production/ops/10.yml": "--- []\n",
		}
		names := slices.Sorted(maps.Keys(files))

		// writeTree writes files in the given order with the given mode and
		// mtime, then stamps the directories with the mtime too.
		writeTree := func(root string, order []string, mode os.FileMode, mtime time.Time) {
			GinkgoHelper()
			for _, n := range order {
				p := filepath.Join(root, filepath.FromSlash(n))
				Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
				Expect(os.WriteFile(p, []byte(files[n]), mode)).To(Succeed())
				Expect(os.Chmod(p, mode)).To(Succeed())
				Expect(os.Chtimes(p, mtime, mtime)).To(Succeed())
			}
			Expect(filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
				if err == nil && info.IsDir() {
					err = os.Chtimes(p, mtime, mtime)
				}
				return err
			})).To(Succeed())
		}

		publishTree := func(root, version string) Response {
			GinkgoHelper()
			resp, sess := out(filepath.Dir(root), map[string]any{"source": src, "params": map[string]any{
				"directory": filepath.Base(root), "version": version,
			}})
			succeeded(sess)
			return resp
		}

		It("gives the same sha256 to the same files, whatever their mtimes, modes or creation order", func() {
			reversed := slices.Clone(names)
			slices.Reverse(reversed)

			a := filepath.Join(GinkgoT().TempDir(), "templates")
			writeTree(a, names, 0o644, time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC))
			b := filepath.Join(GinkgoT().TempDir(), "elsewhere")
			writeTree(b, reversed, 0o600, time.Date(2025, 6, 7, 8, 9, 10, 0, time.UTC))

			ra := publishTree(a, "1.0.0")
			rb := publishTree(b, "1.0.1")
			Expect(sha(rb)).To(Equal(sha(ra)))

			By("and so a retried publish from a fresh checkout is idempotent")
			c := filepath.Join(GinkgoT().TempDir(), "checkout")
			writeTree(c, reversed, 0o644, time.Now())
			Expect(sha(publishTree(c, "1.0.0"))).To(Equal(sha(ra)))

			By("and the stored tarball is the digest's bytes")
			getDir, _ := get(src, ver("1.0.1"), nil)
			Expect(sha256File(filepath.Join(getDir, "cand", "candidate.tgz"))).To(Equal(sha(ra)))
		})

		It("changes the sha256 when the executable bit changes", func() {
			a := filepath.Join(GinkgoT().TempDir(), "templates")
			writeTree(a, names, 0o644, time.Unix(1e9, 0))
			b := filepath.Join(GinkgoT().TempDir(), "templates")
			writeTree(b, names, 0o644, time.Unix(1e9, 0))
			Expect(os.Chmod(filepath.Join(b, "ops", "20-more.yml"), 0o755)).To(Succeed())

			Expect(sha(publishTree(b, "1.0.1"))).NotTo(Equal(sha(publishTree(a, "1.0.0"))))
		})
	})
})

// nonBlobKeys drops blobs/ keys: a refused or retried publish may leave an
// orphan blob, which is invisible by design.
func nonBlobKeys(keys []string) []string {
	var out []string
	for _, k := range keys {
		if !strings.Contains(k, "blobs/") {
			out = append(out, k)
		}
	}
	return out
}
