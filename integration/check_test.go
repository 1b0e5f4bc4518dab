package integration_test

import (
	"fmt"
	"math"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

var _ = Describe("check", func() {
	var bucket string

	BeforeEach(func() {
		bucket = newBucket()
	})

	It("prints [] for an empty bucket, with or without a requested version", func() {
		versions, sess := check(map[string]any{"source": source(bucket, nil), "version": nil})
		succeeded(sess)
		Expect(strings.TrimSpace(string(sess.Out.Contents()))).To(Equal("[]"))
		Expect(versions).To(BeEmpty())

		_, sess = check(map[string]any{"source": source(bucket, nil), "version": ver("1.0.0")})
		succeeded(sess)
		Expect(strings.TrimSpace(string(sess.Out.Contents()))).To(Equal("[]"))
	})

	Context("with 1.0.10, 1.0.1 and 1.0.2 published, in that order", func() {
		BeforeEach(func() {
			src := source(bucket, nil)
			for _, v := range []string{"1.0.10", "1.0.1", "1.0.2"} {
				publish(src, redisTemplates("v"+v), v)
			}
		})

		DescribeTable("orders by semantic version, oldest first, from the requested version",
			func(requested map[string]string, want []string) {
				// A nil map is sent as "version": null, as Concourse does on a first check.
				versions, sess := check(map[string]any{"source": source(bucket, nil), "version": requested})
				succeeded(sess)
				Expect(versionsOf(versions)).To(Equal(want))
				for _, v := range versions {
					Expect(v).To(HaveLen(1), "default versions carry only the version: %v", v)
				}
			},
			Entry("no version given: only the newest", nil, []string{"1.0.10"}),
			Entry("the oldest given: it and every newer one", ver("1.0.1"), []string{"1.0.1", "1.0.2", "1.0.10"}),
			Entry("a middle one given: it first", ver("1.0.2"), []string{"1.0.2", "1.0.10"}),
			Entry("the newest given: just it", ver("1.0.10"), []string{"1.0.10"}),
			Entry("an unknown version inside the range: only the newest", ver("1.0.5"), []string{"1.0.10"}),
			Entry("an unknown version above the range: only the newest", ver("9.9.9"), []string{"1.0.10"}),
		)
	})

	It("sees only the candidates under its own prefix", func() {
		publish(source(bucket, map[string]any{"prefix": "teams/a/"}), redisTemplates("a"), "1.0.0")
		for _, k := range bucketKeys(bucket) {
			Expect(k).To(HavePrefix("teams/a/"))
		}

		versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"prefix": "teams/a/"})})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))

		for _, other := range []any{"teams/b/", nil} {
			versions, sess = check(map[string]any{"source": source(bucket, map[string]any{"prefix": other})})
			succeeded(sess)
			Expect(versions).To(BeEmpty(), "prefix %v", other)
		}
	})

	It("never lists a candidate whose commit record is missing (half-finished publish)", func() {
		publish(source(bucket, nil), redisTemplates("whole"), "1.0.0")
		// A claim and a blob without the commit record: what a publish
		// interrupted before its last write leaves behind.
		putObject(bucket, "blobs/interrupted.tgz", []byte("not committed"))
		putObject(bucket, "versions/2.0.0.json", []byte(`{"version":"2.0.0","sha256":"00","size":13,"blob":"blobs/interrupted.tgz"}`))

		versions, sess := check(map[string]any{"source": source(bucket, nil)})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
	})

	Describe("eligible_for", func() {
		var src map[string]any

		BeforeEach(func() {
			src = source(bucket, map[string]any{"environments": redisPolicy()})
			for _, v := range []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"} {
				publish(src, redisTemplates("v"+v), v)
			}
			mustPass(src, "1.0.1", "dev1")
			mustPass(src, "1.0.3", "dev2")
		})

		eligible := func(env string, requested map[string]string) []string {
			GinkgoHelper()
			s := source(bucket, map[string]any{"environments": redisPolicy(), "eligible_for": env})
			versions, sess := check(map[string]any{"source": s, "version": requested})
			succeeded(sess)
			return versionsOf(versions)
		}

		DescribeTable("lists exactly the candidates the policy admits now",
			func(env string, requested map[string]string, want []string) {
				Expect(eligible(env, requested)).To(Equal(want))
			},
			Entry("OR gate, no version: the newest admissible", "staging", nil, []string{"1.0.3"}),
			Entry("OR gate, from an admissible version", "staging", ver("1.0.1"), []string{"1.0.1", "1.0.3"}),
			Entry("OR gate, from a version never admitted: newest only", "staging", ver("1.0.0"), []string{"1.0.3"}),
			Entry("OR gate, from 1.0.2 (not admitted): newest only", "staging", ver("1.0.2"), []string{"1.0.3"}),
			Entry("no requirements: every candidate", "dev1", ver("1.0.0"), []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3"}),
			Entry("AND gate with nothing passed: none", "production", nil, []string{}),
		)

		It("admits to an AND gate only once every requirement passed", func() {
			mustPass(src, "1.0.1", "staging")
			Expect(eligible("production", nil)).To(BeEmpty())
			Expect(eligible("staging-tests", nil)).To(Equal([]string{"1.0.1"}))

			mustPass(src, "1.0.1", "staging-tests")
			Expect(eligible("production", nil)).To(Equal([]string{"1.0.1"}))
			Expect(eligible("production", ver("1.0.1"))).To(Equal([]string{"1.0.1"}))
		})
	})

	Describe("S3 requests", func() {
		var proxy *countingProxy

		BeforeEach(func() {
			proxy = startCountingProxy(cfg.Endpoint)
		})

		viaProxy := func(extra map[string]any) map[string]any {
			s := source(bucket, extra)
			s["endpoint"] = proxy.URL
			return s
		}

		It("lists only: one ListObjectsV2 per 1000 keys and no GET or HEAD per candidate", func() {
			const prefix = "p/"
			var all, passed []string
			for i := range 2500 {
				all = append(all, fmt.Sprintf("1.0.%d", i))
			}
			passed = all[:1200]
			seedCandidates(bucket, prefix, all)
			deployed := seedPasses(bucket, prefix, "dev1", passed, time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC))
			pages := func(keys int) int { return max(1, int(math.Ceil(float64(keys)/1000))) }

			By("default mode: candidates/ only")
			proxy.Reset()
			versions, sess := check(map[string]any{"source": viaProxy(map[string]any{"prefix": prefix})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.2499"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": pages(2500)}))
			Expect(proxy.ListPrefixes()).To(HaveEach(Equal(prefix + "candidates/")))

			By("default mode from the oldest version: still listings only")
			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{"prefix": prefix}), "version": ver("1.0.0")})
			succeeded(sess)
			Expect(versions).To(HaveLen(2500))
			Expect(versions[0]).To(Equal(ver("1.0.0")))
			Expect(versions[2499]).To(Equal(ver("1.0.2499")))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": pages(2500)}))

			By("eligible_for: candidates/ plus passes/<env>/ of each upstream environment")
			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{
				"prefix": prefix, "environments": redisPolicy(), "eligible_for": "staging",
			})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.1199"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": pages(2500) + pages(1200) + pages(0)}))
			Expect(proxy.ListPrefixes()).To(HaveEach(BeElementOf(prefix+"candidates/", prefix+"passes/dev1/", prefix+"passes/dev2/")))

			By("live_in: passes/<env>/ only")
			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{
				"prefix": prefix, "environments": redisPolicy(), "live_in": "dev1",
			})})
			succeeded(sess)
			Expect(versions).To(HaveLen(1))
			Expect(versions[0]).To(HaveKeyWithValue("version", "1.0.1199"))
			Expect(parseDeployed(versions[0]["deployed"])).To(BeTemporally("==", deployed["1.0.1199"]))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": pages(1200)}))
			Expect(proxy.ListPrefixes()).To(HaveEach(Equal(prefix + "passes/dev1/")))
		})

		It("costs one listing per prefix for a few real candidates", func() {
			direct := source(bucket, map[string]any{"environments": redisPolicy()})
			publish(direct, redisTemplates("a"), "1.0.0")
			publish(direct, redisTemplates("b"), "1.0.1")
			mustPass(direct, "1.0.0", "dev2")

			proxy.Reset()
			versions, sess := check(map[string]any{"source": viaProxy(map[string]any{"environments": redisPolicy()}), "version": ver("1.0.0")})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0", "1.0.1"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 1}))

			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{"environments": redisPolicy(), "eligible_for": "staging"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 3}))
		})
	})
})

// parseDeployed parses a live_in "deployed" value: RFC 3339, UTC, with
// nanoseconds.
func parseDeployed(s string) time.Time {
	GinkgoHelper()
	Expect(s).To(HaveSuffix("Z"), "deployed must be UTC: %q", s)
	t, err := time.Parse(time.RFC3339Nano, s)
	Expect(err).NotTo(HaveOccurred(), "deployed must be RFC 3339: %q", s)
	return t
}
