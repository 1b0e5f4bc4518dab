package integration_test

import (
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("faults between the resource and S3", func() {
	var (
		bucket   string
		proxy    *countingProxy
		direct   map[string]any
		viaProxy map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		proxy = startCountingProxy(cfg.Endpoint)
		direct = source(bucket, map[string]any{"environments": redisPolicy()})
		viaProxy = source(bucket, map[string]any{"environments": redisPolicy(), "endpoint": proxy.URL})
	})

	It("retries transient 503 SlowDown answers: publish, pass, check and in all succeed", func() {
		proxy.FailFirstAttempts()

		published := publish(viaProxy, redisTemplates("flaky"), "")
		Expect(published.Version).To(Equal(ver("0.1.0")))
		mustPass(viaProxy, "0.1.0", "dev1")

		versions, sess := check(map[string]any{"source": viaProxy})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{"0.1.0"}))

		dest := filepath.Join(GinkgoT().TempDir(), "get")
		_, sess = in(dest, map[string]any{"source": viaProxy, "version": ver("0.1.0")})
		succeeded(sess)
		digest, _ := published.Meta("sha256")
		Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(digest))
		fresh, _ := get(viaProxy, ver("0.1.0"), map[string]any{"skip_download": true})
		Expect(passedEnvironments(fresh)).To(Equal([]string{"dev1"}))

		Expect(proxy.Injected()).To(BeNumerically(">=", 5), "faults were injected: %v", proxy.Counts())
		Expect(keysUnder(bucket, "passes/dev1/")).To(HaveLen(1), "a retried create-only write is kept once")
		Expect(keysUnder(bucket, "candidates/")).To(HaveLen(1))
	})

	It("reports a persistent 500 clearly and in bounded time, committing nothing", func() {
		proxy.FailAll(http.StatusInternalServerError)

		startedAt := time.Now()
		_, sess := check(map[string]any{"source": viaProxy})
		expectRefusal(sess)
		Expect(time.Since(startedAt)).To(BeNumerically("<", time.Minute))

		dir := GinkgoT().TempDir()
		writeFiles(filepath.Join(dir, "templates"), redisTemplates("doomed"))
		_, sess = out(dir, map[string]any{"source": viaProxy, "params": map[string]any{"directory": "templates", "version": "1.0.0"}})
		expectRefusal(sess)
		Expect(bucketKeys(bucket)).To(BeEmpty())

		versions, sess := check(map[string]any{"source": direct})
		succeeded(sess)
		Expect(versions).To(BeEmpty())
	})

	It("gives up on a server that answers 503 SlowDown to everything within a minute, with one line, writing nothing", func() {
		publish(direct, redisTemplates("before"), "1.0.0")
		getDir, _ := get(direct, ver("1.0.0"), map[string]any{"skip_download": true})
		putDir := GinkgoT().TempDir()
		writeFiles(filepath.Join(putDir, "templates"), redisTemplates("doomed"))
		before := bucketKeys(bucket)
		proxy.FailAll(http.StatusServiceUnavailable)

		runs := []struct {
			name string
			bin  string
			args []string
			req  map[string]any
		}{
			{"check", cfg.Check, nil, map[string]any{"source": viaProxy}},
			{"in", cfg.In, []string{filepath.Join(GinkgoT().TempDir(), "get")}, map[string]any{"source": viaProxy, "version": ver("1.0.0")}},
			{"out (publish)", cfg.Out, []string{putDir}, map[string]any{"source": viaProxy, "params": map[string]any{"directory": "templates", "version": "1.0.1"}}},
			{"out (pass)", cfg.Out, []string{getDir}, map[string]any{"source": viaProxy, "params": map[string]any{"candidate": "cand", "environment": "dev1"}}},
		}
		// All at once: each backs off for seconds before giving up.
		startedAt := time.Now()
		sessions := make([]*gexec.Session, len(runs))
		for i, r := range runs {
			sessions[i] = start(r.bin, r.args, r.req, nil)
		}
		for i, r := range runs {
			By(r.name)
			sess := finish(sessions[i])
			took := time.Since(startedAt)
			line := expectRefusal(sess, "SlowDown")
			Expect(took).To(BeNumerically("<", time.Minute), "%s must give up in bounded time", r.name)
			Expect(line).To(MatchRegexp(`gave up after [2-9]\d* attempts`), "%s must retry before giving up", r.name)
			fmt.Fprintf(GinkgoWriter, "%s gave up within %s\n", r.name, took)
			if r.bin == cfg.In {
				expectNoSuccessFiles(r.args[0])
			}
		}
		Expect(proxy.Injected()).To(BeNumerically(">=", 2*len(runs)))
		Expect(bucketKeys(bucket)).To(Equal(before))
	})

	Describe("a connection cut in the middle of a large upload", func() {
		const size = 40 << 20
		var (
			dir    string
			digest string
		)

		BeforeEach(func() {
			dir = GinkgoT().TempDir()
			bigTarball(filepath.Join(dir, "build", "big.tgz"), "big", size)
			digest = sha256File(filepath.Join(dir, "build", "big.tgz"))
		})

		putReq := func(src map[string]any) map[string]any {
			return map[string]any{"source": src, "params": map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"}}
		}

		expectStored := func() {
			GinkgoHelper()
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess := in(dest, map[string]any{"source": direct, "version": ver("1.0.0"), "params": map[string]any{"unpack": false}})
			succeeded(sess)
			Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(digest), "the stored bytes are the tarball's")
		}

		DescribeTable("is retried: the put succeeds, and the candidate is listed only once its bytes are all stored",
			func(mode cutMode) {
				proxy.Cut(&connFault{Name: "upload", Mode: mode, Match: isBlobUpload, Times: 2, AfterBytes: 1 << 20})
				sess := start(cfg.Out, []string{dir}, putReq(viaProxy), nil)
				watched := watchStore(bucket, direct, sess.Exited)
				resp, sess := decodeResponse(finish(sess))
				succeeded(sess)
				Expect(resp.Version).To(Equal(ver("1.0.0")))
				Expect(metaSHA(resp)).To(Equal(digest))
				Expect(proxy.Hits("upload")).To(Equal(2))

				events := proxy.Events()
				_, parts := firstEvent(events, func(e proxyEvent) bool { return e.Op == "UploadPart" })
				Expect(parts).To(BeTrue(), "a 40 MB candidate is uploaded in parts")
				complete, ok := firstEvent(events, func(e proxyEvent) bool { return e.Op == "CompleteMultipartUpload" && e.Status == http.StatusOK })
				Expect(ok).To(BeTrue(), "the upload completed: %v", events)
				claim, ok := firstEvent(events, func(e proxyEvent) bool { return e.Op == "PutObject" && strings.HasPrefix(e.Key, "claims/") })
				Expect(ok).To(BeTrue())
				commit, ok := firstEvent(events, func(e proxyEvent) bool { return e.Op == "PutObject" && strings.HasPrefix(e.Key, "candidates/") })
				Expect(ok).To(BeTrue())
				// The proxy logs End just after relaying the answer: allow the
				// next request to overtake the log by a hair.
				const hair = 20 * time.Millisecond
				Expect(claim.Start).To(BeTemporally(">=", complete.End.Add(-hair)), "the version is claimed only after the blob is whole")
				Expect(commit.Start).To(BeTemporally(">=", claim.End.Add(-hair)), "the candidate is committed only after the claim")

				during := 0
				for _, o := range <-watched {
					Expect(o.Err).NotTo(HaveOccurred())
					if o.Done.Before(complete.End) {
						during++
						Expect(o.Keys).To(BeEmpty(), "no claim or commit while the upload runs")
						Expect(o.Check).To(Equal("[]"), "check lists nothing while the upload runs")
					}
				}
				Expect(during).To(BeNumerically(">", 0), "the store was watched during the upload")

				expectStored()
				By("re-running the same put: the same candidate, nothing new")
				keys := nonBlobKeys(bucketKeys(bucket))
				resp, sess = out(dir, putReq(viaProxy))
				succeeded(sess)
				Expect(metaSHA(resp)).To(Equal(digest))
				Expect(nonBlobKeys(bucketKeys(bucket))).To(Equal(keys))
			},
			Entry("the request cut after 1 MiB of its body", cutRequest),
			Entry("the server's answer lost", dropResponse),
		)

		It("fails clearly when every attempt is cut, leaving no claim or commit; the same put then succeeds", func() {
			proxy.Cut(&connFault{Name: "upload", Mode: cutRequest, Match: isBlobUpload, Times: -1, AfterBytes: 1 << 20})
			startedAt := time.Now()
			_, sess := out(dir, putReq(viaProxy))
			expectRefusal(sess, "uploading")
			Expect(time.Since(startedAt)).To(BeNumerically("<", time.Minute))
			Expect(proxy.Hits("upload")).To(BeNumerically(">", 1), "the cut parts were retried")
			Expect(keysUnder(bucket, "claims/")).To(BeEmpty(), "no half candidate: no claim")
			Expect(keysUnder(bucket, "candidates/")).To(BeEmpty(), "no half candidate: no commit")
			versions, sess := check(map[string]any{"source": direct})
			succeeded(sess)
			Expect(versions).To(BeEmpty())

			By("re-running the same put once the network heals")
			proxy.Heal()
			resp, sess := out(dir, putReq(viaProxy))
			succeeded(sess)
			Expect(resp.Version).To(Equal(ver("1.0.0")))
			Expect(metaSHA(resp)).To(Equal(digest))
			expectStored()
		})

		// The SDK does not retry a body cut after the headers: in resumes
		// the download itself where it stopped.
		It("retries a get cut once in the middle of the download", func() {
			_, sess := out(dir, putReq(direct))
			succeeded(sess)
			proxy.Cut(&connFault{Name: "download", Mode: cutResponse, Match: func(op, key string) bool {
				return op == "GetObject" && strings.HasPrefix(key, "blobs/")
			}, Times: 1, AfterBytes: 8 << 20})
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = in(dest, map[string]any{"source": viaProxy, "version": ver("1.0.0")})
			Expect(proxy.Hits("download")).To(Equal(1))
			succeeded(sess)
			Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(digest))
		})

		// Each resumed attempt gets only 64 KiB of the 40 MB before its cut:
		// the resumes run out long before the end.
		It("fails cleanly a get whose every download attempt is cut; the get then succeeds", func() {
			_, sess := out(dir, putReq(direct))
			succeeded(sess)
			proxy.Cut(&connFault{Name: "download", Mode: cutResponse, Match: func(op, key string) bool {
				return op == "GetObject" && strings.HasPrefix(key, "blobs/")
			}, Times: -1, AfterBytes: 64 << 10})

			for _, params := range []map[string]any{nil, {"unpack": false}} {
				dest := filepath.Join(GinkgoT().TempDir(), "get")
				_, sess := in(dest, map[string]any{"source": viaProxy, "version": ver("1.0.0"), "params": params})
				expectRefusal(sess)
				expectNoSuccessFiles(dest)
			}
			Expect(proxy.Hits("download")).To(BeNumerically(">=", 2))

			proxy.Heal()
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = in(dest, map[string]any{"source": viaProxy, "version": ver("1.0.0")})
			succeeded(sess)
			Expect(sha256File(filepath.Join(dest, "candidate.tgz"))).To(Equal(digest))
		})
	})

	Describe("a create-only write whose answer is lost (the server wrote it, the client retries)", func() {
		// The retry meets If-None-Match: * on a key that now exists. The
		// write happened once: the put must succeed, and keep it once.
		DescribeTable("on publish: the put succeeds with one claim and one commit",
			func(name string, match func(op, key string) bool, big bool) {
				dir := GinkgoT().TempDir()
				params := map[string]any{"directory": "templates", "version": "1.0.0"}
				if big {
					bigTarball(filepath.Join(dir, "build", "big.tgz"), "lost", 20<<20)
					params = map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"}
				} else {
					writeFiles(filepath.Join(dir, "templates"), redisTemplates("lost"))
				}
				proxy.Cut(&connFault{Name: name, Mode: dropResponse, Match: match, Times: 1})

				resp, sess := out(dir, map[string]any{"source": viaProxy, "params": params})
				Expect(proxy.Hits(name)).To(Equal(1), "the fault was injected")
				succeeded(sess)
				Expect(resp.Version).To(Equal(ver("1.0.0")))
				Expect(keysUnder(bucket, "claims/")).To(HaveLen(1))
				Expect(keysUnder(bucket, "candidates/")).To(HaveLen(1))
				digest, _ := resp.Meta("sha256")
				dest := filepath.Join(GinkgoT().TempDir(), "get")
				_, sess = in(dest, map[string]any{"source": direct, "version": ver("1.0.0")})
				succeeded(sess)
				Expect(readTrimmed(filepath.Join(dest, "sha256"))).To(Equal(digest))
			},
			Entry("the claim (claims/)", "claim", isWriteUnder("claims/"), false),
			Entry("the commit record (candidates/)", "commit", isWriteUnder("candidates/"), false),
			// The blob's PutObject is create-only: its retry meets 412 and
			// accepts the blob the lost first attempt stored.
			Entry("a small candidate's blob (one PutObject)", "blob", isWriteUnder("blobs/"), false),
			Entry("the completion of a large candidate's multipart upload", "complete",
				func(op, _ string) bool { return op == "CompleteMultipartUpload" }, true),
		)

		// A pass record's key is its own: a retry meeting 412 found the
		// first attempt's record, so the put succeeds without a second one.
		It("on a pass record: the put succeeds and the pass is kept once", func() {
			publish(direct, redisTemplates("one"), "1.0.0")
			getDir, _ := get(direct, ver("1.0.0"), map[string]any{"skip_download": true})
			proxy.Cut(&connFault{Name: "pass", Mode: dropResponse, Match: isWriteUnder("passes/"), Times: 1})

			_, sess := pass(viaProxy, getDir, "dev1")
			Expect(proxy.Hits("pass")).To(Equal(1), "the fault was injected")
			succeeded(sess)
			Expect(keysUnder(bucket, "passes/dev1/"+versionKey("1.0.0")+"/")).To(HaveLen(1))
		})
	})
})
