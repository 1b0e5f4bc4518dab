package integration_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// Fail-closed inputs (docs/store.md, "The gates"; README "Safety";
// issue 9 items 7, 8, 9, 10 and 13): each refusal is one line on stderr, a
// non-zero exit, and nothing written to the store.

// inputsPut is a put's directory $1 beside a directory outside it that
// holds what must never be read or echoed.
type inputsPut struct {
	dir     string // $1
	outside string // beside $1
}

// outsideSecret is what the files outside $1 hold: it must never be printed.
const outsideSecret = "tc-outside-secret-content"

func newInputsPut() inputsPut {
	GinkgoHelper()
	base := GinkgoT().TempDir()
	p := inputsPut{dir: filepath.Join(base, "put"), outside: filepath.Join(base, "outside")}
	writeFiles(filepath.Join(p.dir, "templates"), redisTemplates("inputs"))
	writeFiles(filepath.Join(p.outside, "templates"), redisTemplates("outside"))
	writeFiles(p.outside, map[string]string{"hostname": outsideSecret + "\n", "version": outsideSecret + "\n"})
	makeTgz(filepath.Join(p.outside, "build", "outside.tgz"), redisTemplates("outside-tgz"), false)
	return p
}

func (p inputsPut) symlink(target, name string) {
	GinkgoHelper()
	link := filepath.Join(p.dir, filepath.FromSlash(name))
	Expect(os.MkdirAll(filepath.Dir(link), 0o755)).To(Succeed())
	Expect(os.Symlink(target, link)).To(Succeed())
}

// refusedPut runs out in $1 and checks the refusal: one line holding every
// fragment, nothing written to the bucket, no secret echoed.
func refusedPut(bucket, dir string, req map[string]any, fragments ...string) string {
	GinkgoHelper()
	before := bucketKeys(bucket)
	_, sess := out(dir, req)
	line := expectRefusal(sess, fragments...)
	Expect(string(sess.Err.Contents())).NotTo(ContainSubstring(outsideSecret), "a file's content was echoed")
	Expect(bucketKeys(bucket)).To(Equal(before), "a refused put must write nothing")
	return line
}

// runWithin runs a binary like run, but fails the spec as soon as the
// process outlives limit (and stops it), instead of waiting minutes for a
// process that hangs.
func runWithin(limit time.Duration, bin string, args []string, req any, env map[string]string) *gexec.Session {
	GinkgoHelper()
	sess := start(bin, args, req, env)
	select {
	case <-sess.Exited:
	case <-time.After(limit):
		sess.Kill().Wait()
		Fail(fmt.Sprintf("%s still ran after %s: it must give up in bounded time", filepath.Base(bin), limit))
	}
	return finish(sess)
}

// sparseFile makes a file of size bytes that takes no disk and no time.
func sparseFile(path string, size int64) {
	GinkgoHelper()
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	f, err := os.Create(path)
	Expect(err).NotTo(HaveOccurred())
	Expect(f.Truncate(size)).To(Succeed())
	Expect(f.Close()).To(Succeed())
}

var _ = Describe("fail-closed inputs", func() {
	var (
		bucket string
		src    map[string]any
		put    inputsPut
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, map[string]any{"environments": redisPolicy()})
		put = newInputsPut()
	})

	Describe("publishing a directory", func() {
		publishDir := func(source map[string]any, files map[string]string) (Response, *gexec.Session) {
			GinkgoHelper()
			writeFiles(filepath.Join(put.dir, "bounded"), files)
			return out(put.dir, map[string]any{"source": source, "params": map[string]any{"directory": "bounded"}})
		}
		nFiles := func(n int) map[string]string {
			files := map[string]string{"manifest.yml": manifest}
			for i := 1; i < n; i++ {
				files[fmt.Sprintf("f%d.txt", i)] = "x"
			}
			return files
		}

		It("refuses more entries than max_entries, as a get of it would", func() {
			bounded := source(bucket, map[string]any{"environments": redisPolicy(), "max_entries": 5})
			writeFiles(filepath.Join(put.dir, "bounded"), nFiles(6))
			line := refusedPut(bucket, put.dir, map[string]any{"source": bounded, "params": map[string]any{"directory": "bounded"}},
				"params.directory: bounded: candidate exceeds max_entries (5)")
			fmt.Fprintln(GinkgoWriter, line)
			Expect(bucketKeys(bucket)).To(BeEmpty())
		})

		It("publishes exactly max_entries entries, and a get with the same bounds unpacks it", func() {
			bounded := source(bucket, map[string]any{"environments": redisPolicy(), "max_entries": 5})
			resp, sess := publishDir(bounded, nFiles(5))
			succeeded(sess)
			_, resp = get(bounded, resp.Version, nil)
			Expect(resp.Version).To(HaveKey("version"))
		})

		It("refuses file content past max_unpacked_bytes, naming the entry", func() {
			bounded := source(bucket, map[string]any{"environments": redisPolicy(), "max_unpacked_bytes": 4096})
			writeFiles(filepath.Join(put.dir, "bounded"), map[string]string{"manifest.yml": manifest, "files/big.bin": strings.Repeat("x", 8192)})
			refusedPut(bucket, put.dir, map[string]any{"source": bounded, "params": map[string]any{"directory": "bounded"}},
				`params.directory: bounded: candidate exceeds max_unpacked_bytes (4096) at entry "files/big.bin"`)
		})

		It("refuses a 100 MiB manifest.yml before reading it into memory", func() {
			sparseFile(filepath.Join(put.dir, "huge", "manifest.yml"), 100<<20)
			sess, peak := outPeakRSS(put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "huge"}})
			expectRefusal(sess, `params.directory: huge: entry "manifest.yml": template file larger than 16 MiB`)
			Expect(bucketKeys(bucket)).To(BeEmpty())
			Expect(peak).To(BeNumerically("<", 64<<20), "out read the manifest into memory")
		})

		It("refuses an ops file over 16 MiB, as for a tarball", func() {
			writeFiles(filepath.Join(put.dir, "huge"), map[string]string{"manifest.yml": manifest})
			sparseFile(filepath.Join(put.dir, "huge", "ops", "big.yml"), 17<<20)
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "huge"}},
				`params.directory: huge: entry "ops/big.yml": template file larger than 16 MiB`)
		})
	})

	Describe("folders under environments/", func() {
		typo := func() map[string]string {
			files := redisTemplates("typo")
			files["environments/prodution/ops/scale.yml"] = files["environments/production/ops/scale.yml"]
			delete(files, "environments/production/ops/scale.yml")
			return files
		}
		declared := "declared: dev1, dev2, production, staging, staging-tests"

		DescribeTable("must each be a declared environment: a typo refuses the publish, naming the folder and the declared environments",
			func(params func() map[string]any) {
				writeFiles(filepath.Join(put.dir, "typo"), typo())
				makeTgz(filepath.Join(put.dir, "build", "typo.tgz"), typo(), false)
				makeTgz(filepath.Join(put.dir, "dotslash", "typo.tgz"), typo(), true)
				line := refusedPut(bucket, put.dir, map[string]any{"source": src, "params": params()},
					"folder environments/prodution is not a declared environment", declared)
				fmt.Fprintln(GinkgoWriter, line)
			},
			Entry("a directory", func() map[string]any { return map[string]any{"directory": "typo"} }),
			Entry("a tarball", func() map[string]any { return map[string]any{"tarball": "build/*.tgz"} }),
			Entry("a tarball of ./ entries", func() map[string]any { return map[string]any{"tarball": "dotslash/*.tgz", "version": "1.0.0"} }),
		)

		It("refuses a folder that holds no template file at all", func() {
			files := redisTemplates("stray")
			files["environments/qa/README.md"] = "not yet\n"
			writeFiles(filepath.Join(put.dir, "stray"), files)
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "stray"}},
				"folder environments/qa is not a declared environment", declared)
		})
	})

	Describe("the promotion policy", func() {
		cyclic := map[string]any{"a": map[string]any{"requires_all": []string{"b"}}, "b": map[string]any{"requires_any": []string{"a"}}}
		long := strings.Repeat("e", 64)

		DescribeTable("is refused by check, in and out alike, with one line",
			func(environments map[string]any, want string) {
				bad := source(bucket, map[string]any{"environments": environments})
				expectRefusal(run(cfg.Check, nil, map[string]any{"source": bad}, nil), want)
				dest := filepath.Join(GinkgoT().TempDir(), "get")
				expectRefusal(run(cfg.In, []string{dest}, map[string]any{"source": bad, "version": ver("1.0.0")}, nil), want)
				expectNoSuccessFiles(dest)
				refusedPut(bucket, put.dir, map[string]any{"source": bad, "params": map[string]any{"directory": "templates"}}, want)
				Expect(bucketKeys(bucket)).To(BeEmpty())
			},
			Entry("requirements that form a cycle, naming it", cyclic, "source.environments: requirements form a cycle: a -> b -> a"),
			Entry("an environment name over 63 characters", map[string]any{long: map[string]any{}},
				`source.environments: "`+long+`" is longer than 63 characters (64)`),
		)
	})

	Describe("params.version", func() {
		It("refuses an explicitly empty version, which would otherwise mean the next patch", func() {
			publish(src, redisTemplates("first"), "1.0.0")
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version": ""}},
				`params.version: given but empty (""): give a version such as 1.4.2, or leave version out to publish the next patch`)
		})

		It("refuses an explicitly empty version_file", func() {
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version_file": ""}},
				`params.version_file: given but empty ("")`)
		})

		It("refuses a version whose next patch would overflow, when it is read", func() {
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version": "1.0.9223372036854775807"}},
				`params.version: "1.0.9223372036854775807": patch 9223372036854775807 is too large: major, minor and patch must each be below 9223372036854775807`)
		})

		It("refuses to publish without a version when the next patch would be too large", func() {
			publish(src, redisTemplates("edge"), "1.0.9223372036854775806")
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates"}},
				"the next patch would be 1.0.9223372036854775807, and patch 9223372036854775807 is too large", "give params.version")
		})
	})

	Describe("source.prefix", func() {
		DescribeTable("that is not canonical is refused before anything is written",
			func(prefix, why string) {
				bad := source(bucket, map[string]any{"environments": redisPolicy(), "prefix": prefix})
				refusedPut(bucket, put.dir, map[string]any{"source": bad, "params": map[string]any{"directory": "templates"}},
					fmt.Sprintf("source.prefix: %q is not a canonical key prefix: ", prefix), why)
				expectRefusal(run(cfg.Check, nil, map[string]any{"source": bad}, nil), "source.prefix")
				Expect(bucketKeys(bucket)).To(BeEmpty())
			},
			Entry("the root", "/", `must not start with "/"`),
			Entry("a leading slash", "/redis", `must not start with "/"`),
			Entry("an empty segment", "a//b", "an empty segment"),
			Entry("a .. segment", "x/../y", `a ".." segment`),
			Entry("a . segment", "./z", `a "." segment`),
			Entry("a . alone", ".", `a "." segment`),
		)

		It("means the same with or without its trailing slash", func() {
			publish(source(bucket, map[string]any{"environments": redisPolicy(), "prefix": "redis"}), redisTemplates("prefix"), "1.0.0")
			versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": redisPolicy(), "prefix": "redis/"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
			for _, k := range bucketKeys(bucket) {
				Expect(k).To(HavePrefix("redis/"))
			}
		})
	})

	Describe("param paths", func() {
		var getDir string // a get of candidate 1.0.0, outside $1

		BeforeEach(func() {
			publish(src, redisTemplates("paths"), "1.0.0")
			getDir, _ = get(src, ver("1.0.0"), map[string]any{"skip_download": true})
		})

		DescribeTable("that leave $1 are refused, naming the param, never echoing a file's content",
			func(setup func(), params map[string]any, want string) {
				if setup != nil {
					setup()
				}
				line := refusedPut(bucket, put.dir, map[string]any{"source": src, "params": params}, want)
				fmt.Fprintln(GinkgoWriter, line)
			},
			Entry("a directory through ..", nil, map[string]any{"directory": "../outside/templates"},
				`params.directory: "../outside/templates" leaves the put's directory (through "..")`),
			Entry("a directory that is a symlink to outside", func() { put.symlink(filepath.Join(put.outside, "templates"), "linked") },
				map[string]any{"directory": "linked"},
				`params.directory: "linked" leaves the put's directory through a symlink (linked)`),
			Entry("a directory inside a symlinked folder", func() { put.symlink(put.outside, "out") },
				map[string]any{"directory": "out/templates"},
				`params.directory: "out/templates" leaves the put's directory through a symlink (out)`),
			Entry("a tarball that is a symlink to outside", func() { put.symlink(filepath.Join(put.outside, "build", "outside.tgz"), "build/c.tgz") },
				map[string]any{"tarball": "build/*.tgz"},
				`params.tarball: "build/c.tgz" leaves the put's directory through a symlink (build/c.tgz)`),
			Entry("a tarball glob through a symlinked folder", func() { put.symlink(filepath.Join(put.outside, "build"), "build") },
				map[string]any{"tarball": "build/*.tgz"},
				`params.tarball: "build/outside.tgz" leaves the put's directory through a symlink (build)`),
			Entry("a tarball glob through ..", nil, map[string]any{"tarball": "../outside/build/*.tgz"},
				`params.tarball: "../outside/build/*.tgz" leaves the put's directory (through "..")`),
			Entry("a version_file through ..", nil, map[string]any{"directory": "templates", "version_file": "../../etc/hostname"},
				`params.version_file: "../../etc/hostname" leaves the put's directory (through "..")`),
			Entry("a version_file that is a symlink to outside", func() { put.symlink(filepath.Join(put.outside, "hostname"), "meta/version") },
				map[string]any{"directory": "templates", "version_file": "meta/version"},
				`params.version_file: "meta/version" leaves the put's directory through a symlink (meta/version)`),
			Entry("a candidate that is a symlink to outside", func() { put.symlink(filepath.Join(getDir, "cand"), "cand") },
				map[string]any{"candidate": "cand", "environment": "dev1"},
				`params.candidate: "cand" leaves the put's directory through a symlink (cand)`),
			Entry("a candidate through ..", nil, map[string]any{"candidate": "../outside", "environment": "dev1"},
				`params.candidate: "../outside" leaves the put's directory (through "..")`),
			Entry("a revoke directory that is a symlink to outside", func() { put.symlink(filepath.Join(getDir, "cand"), "cand") },
				map[string]any{"revoke": "cand", "reason": "a test"},
				`params.revoke: "cand" leaves the put's directory through a symlink (cand)`),
			Entry("a candidate whose version file is a symlink to outside", func() {
				writeFiles(filepath.Join(put.dir, "cand"), map[string]string{"sha256": readTrimmed(filepath.Join(getDir, "cand", "sha256")) + "\n"})
				put.symlink(filepath.Join(put.outside, "version"), "cand/version")
			}, map[string]any{"candidate": "cand", "environment": "dev1"},
				"params.candidate: cand/version leaves the candidate's directory through a symlink (version)"),
		)

		It("never echoes what a version_file in $1 holds when it is not a version", func() {
			writeFiles(put.dir, map[string]string{"meta/version": outsideSecret + "\n"})
			refusedPut(bucket, put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version_file": "meta/version"}},
				"params.version_file: meta/version does not hold a semantic version (e.g. 1.4.2)")
		})

		It("follows a symlink that stays in $1", func() {
			put.symlink("templates", "current")
			writeFiles(put.dir, map[string]string{"meta/v": "2.0.0\n"})
			put.symlink("v", "meta/version")
			resp, sess := out(put.dir, map[string]any{"source": src, "params": map[string]any{"directory": "current", "version_file": "meta/version"}})
			succeeded(sess)
			Expect(resp.Version).To(Equal(ver("2.0.0")))
		})
	})

	Describe("a get that fails", func() {
		It("leaves nothing behind when rendering from candidate.tgz fails after the download", func() {
			publish(src, redisTemplates("render"), "1.0.0")
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			tight := source(bucket, map[string]any{"environments": redisPolicy(), "max_unpacked_bytes": 64})
			_, sess := in(dest, map[string]any{"source": tight, "version": ver("1.0.0"), "params": map[string]any{"render": "dev1", "unpack": false}})
			expectRefusal(sess, "max_unpacked_bytes (64)")
			expectNoSuccessFiles(dest)
		})

		It("leaves nothing behind when its last write fails, after the download, the unpack and the render", func() {
			publish(src, redisTemplates("last-write"), "1.0.0")
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			// Something in the way of passed.json, the last file a get writes.
			Expect(os.MkdirAll(filepath.Join(dest, "passed.json"), 0o755)).To(Succeed())
			_, sess := in(dest, map[string]any{"source": src, "version": ver("1.0.0"), "params": map[string]any{"render": "production"}})
			expectRefusal(sess, "passed.json")
			entries, err := os.ReadDir(dest)
			Expect(err).NotTo(HaveOccurred())
			var left []string
			for _, e := range entries {
				left = append(left, e.Name())
			}
			Expect(left).To(Equal([]string{"passed.json"}), "only what was there before the get is left")
		})
	})

	Describe("params.note", func() {
		var getDir string

		BeforeEach(func() {
			publish(src, redisTemplates("notes"), "1.0.0")
			getDir, _ = get(src, ver("1.0.0"), map[string]any{"skip_download": true})
		})

		DescribeTable("over 4096 bytes as stored (JSON-escaped) is refused with one line before anything is written",
			func(note, want string) {
				line := refusedPut(bucket, getDir, map[string]any{"source": src, "params": map[string]any{"candidate": "cand", "environment": "dev1", "note": note}}, want)
				Expect(len(line)).To(BeNumerically("<", 300), "the line does not repeat the note")
			},
			Entry("1.1 MB", strings.Repeat("n", 1_100_000), "params.note: 1100000 bytes, over the 4096-byte limit"),
			Entry("180,000 '<' (1 MB as JSON)", strings.Repeat("<", 180_000), "params.note: 180000 bytes, over the 4096-byte limit"),
			Entry("700 '<' (700 bytes typed, 4200 stored)", strings.Repeat("<", 700), "params.note: 4200 bytes once escaped as JSON (700 given), over the 4096-byte limit"),
		)

		DescribeTable("bounds the other free text a put stores the same way",
			func(params map[string]any, want string) {
				refusedPut(bucket, getDir, map[string]any{"source": src, "params": params}, want)
			},
			Entry("a revocation's reason", map[string]any{"revoke": "1.0.0", "reason": strings.Repeat("<", 1000)},
				"params.reason: 6000 bytes once escaped as JSON (1000 given), over the 4096-byte limit"),
			Entry("a break-glass override", map[string]any{"candidate": "cand", "environment": "production", "override": strings.Repeat("o", 5000)},
				"params.override: 5000 bytes, over the 4096-byte limit"),
		)

		It("of 4096 bytes is recorded and read back whole", func() {
			note := strings.Repeat("n", 4096)
			_, sess := passEnv(src, getDir, "dev1", note, nil)
			succeeded(sess)
			fresh, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			b, err := os.ReadFile(filepath.Join(fresh, "cand", "passed.json"))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(b)).To(ContainSubstring(note))
		})
	})

	Describe("a store that stalls", func() {
		// Every time bound scaled to a tenth: a check gives up after 5s,
		// headers are awaited 1.5s, a connection may be silent 3s.
		scaled := map[string]string{"TEMPLATES_CANDIDATE_TIMEOUT_SCALE": "0.1"}
		var (
			proxy   *stallingProxy
			stalled map[string]any
		)

		BeforeEach(func() {
			proxy = startStallingProxy(cfg.Endpoint)
			stalled = source(bucket, map[string]any{"environments": redisPolicy(), "endpoint": proxy.URL})
		})

		It("makes a check give up within its bound with one line", func() {
			publish(src, redisTemplates("stall"), "1.0.0")
			proxy.Stall(&stallRule{Match: func(op string, _ *http.Request) bool { return op == "ListObjectsV2" }, Times: -1})
			started := time.Now()
			sess := runWithin(20*time.Second, cfg.Check, nil, map[string]any{"source": stalled}, scaled)
			took := time.Since(started)
			line := expectRefusal(sess, "check gave up after 5s: the S3 store did not answer in time")
			fmt.Fprintf(GinkgoWriter, "%s (after %s)\n", line, took)
			Expect(took).To(BeNumerically(">=", 5*time.Second))
			Expect(took).To(BeNumerically("<", 8*time.Second), "a check ends at its deadline")
			Expect(proxy.Stalls()).To(BeNumerically(">=", 2), "a stalled listing is cut and retried before the deadline")
		})

		It("retries a listing that stalled once, and the check succeeds", func() {
			publish(src, redisTemplates("stall-once"), "1.0.0")
			proxy.Stall(&stallRule{Match: func(op string, _ *http.Request) bool { return op == "ListObjectsV2" }, Times: 1})
			started := time.Now()
			sess := runWithin(20*time.Second, cfg.Check, nil, map[string]any{"source": stalled}, scaled)
			succeeded(sess)
			Expect(time.Since(started)).To(BeNumerically("<", 5*time.Second))
			Expect(string(sess.Out.Contents())).To(ContainSubstring(`"1.0.0"`))
			Expect(proxy.Stalls()).To(Equal(1))
		})

		It("resumes a download that stopped moving midway, and the get verifies it", func() {
			dir := GinkgoT().TempDir()
			bigTarball(filepath.Join(dir, "build", "big.tgz"), "stall-get", 4<<20)
			resp, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"}})
			succeeded(sess)
			proxy.Stall(&stallRule{Match: func(op string, _ *http.Request) bool { return op == "GetObject" }, MinResponseBytes: 1 << 20, AfterBytes: 1 << 20, Times: 1})

			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = decodeResponse(runWithin(30*time.Second, cfg.In, []string{dest}, map[string]any{"source": stalled, "version": ver("1.0.0"), "params": map[string]any{"unpack": false}}, scaled))
			succeeded(sess)
			Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(metaSHA(resp)))
			Expect(proxy.Stalls()).To(Equal(1))
		})

		It("retries a blob upload that was never answered, and the publish succeeds", func() {
			dir := GinkgoT().TempDir()
			bigTarball(filepath.Join(dir, "build", "big.tgz"), "stall-put", 2<<20)
			proxy.Stall(&stallRule{Match: func(op string, r *http.Request) bool {
				return (op == "PutObject" || op == "UploadPart") && r.ContentLength >= 1<<20
			}, Times: 1})
			resp, sess := decodeResponse(runWithin(30*time.Second, cfg.Out, []string{dir}, map[string]any{"source": stalled, "params": map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"}}, scaled))
			succeeded(sess)
			Expect(proxy.Stalls()).To(Equal(1))
			_, got := get(src, ver("1.0.0"), map[string]any{"unpack": false})
			Expect(metaSHA(got)).To(Equal(metaSHA(resp)))
		})
	})
})

// ---------------------------------------------------------------------------
// A proxy that stalls

// stallRule makes the proxy stall the requests it matches: it takes the
// request and then never answers (AfterBytes 0), or relays the answer's
// headers and AfterBytes of its body and then goes silent. The connection
// stays open until the client gives up on it.
type stallRule struct {
	Match func(op string, r *http.Request) bool
	Times int // how many matching requests to stall; negative: all of them
	// AfterBytes of the answer are relayed before the stall (0: no answer).
	AfterBytes int64
	// MinResponseBytes: stall only answers at least this long (a blob, not a record).
	MinResponseBytes int64

	hits int
}

type stallingProxy struct {
	URL string

	target    *url.URL
	transport *http.Transport
	release   chan struct{}

	mu     sync.Mutex
	rules  []*stallRule
	stalls int
}

func startStallingProxy(backend string) *stallingProxy {
	GinkgoHelper()
	target, err := url.Parse(backend)
	Expect(err).NotTo(HaveOccurred())
	p := &stallingProxy{target: target, transport: &http.Transport{}, release: make(chan struct{})}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		// The client's Host stays: SigV4 signs it.
		r.Out.URL.Scheme, r.Out.URL.Host = target.Scheme, target.Host
	}, Transport: p.transport}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := s3Operation(r)
		p.mu.Lock()
		var rule *stallRule
		for _, candidate := range p.rules {
			if (candidate.Times < 0 || candidate.hits < candidate.Times) && candidate.Match(op, r) {
				rule = candidate
				break
			}
		}
		// A rule on the answer's size counts a hit once it has seen the answer.
		counted := rule != nil && rule.MinResponseBytes == 0
		if counted {
			rule.hits++
			p.stalls++
		}
		p.mu.Unlock()
		switch {
		case rule == nil:
			rp.ServeHTTP(w, r)
		case rule.AfterBytes == 0 && counted:
			p.wait(r) // the request is taken, never answered
		default:
			p.relayThenStall(rule, counted, w, r)
		}
	}))
	DeferCleanup(srv.Close)
	DeferCleanup(p.transport.CloseIdleConnections)
	DeferCleanup(func() { close(p.release) }) // first: lets every stalled handler end
	p.URL = srv.URL
	return p
}

// Stall adds a rule; rules are tried in the order added.
func (p *stallingProxy) Stall(rule *stallRule) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.rules = append(p.rules, rule)
}

// Stalls is how many requests were stalled.
func (p *stallingProxy) Stalls() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stalls
}

// wait holds a handler until its client hangs up or the spec ends.
func (p *stallingProxy) wait(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.release:
	}
}

func (p *stallingProxy) relayThenStall(rule *stallRule, counted bool, w http.ResponseWriter, r *http.Request) {
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		w.WriteHeader(http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	stall := counted
	if !counted {
		p.mu.Lock()
		stall = resp.ContentLength >= rule.MinResponseBytes && (rule.Times < 0 || rule.hits < rule.Times)
		if stall {
			rule.hits++
			p.stalls++
		}
		p.mu.Unlock()
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	if !stall {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	_, _ = io.CopyN(w, resp.Body, rule.AfterBytes)
	_ = http.NewResponseController(w).Flush()
	p.wait(r)
}
