package integration_test

import (
	"net/http"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
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
})
