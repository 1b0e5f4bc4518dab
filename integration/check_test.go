package integration_test

import (
	"fmt"
	"math"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
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
		putObject(bucket, store.ClaimKey("2.0.0"), []byte(`{"version":"2.0.0","sha256":"00","size":13,"blob":"blobs/interrupted.tgz","policy_seq":1}`))

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

		// pages is what a full listing of n keys costs.
		pages := func(keys int) int { return max(1, int(math.Ceil(float64(keys)/1000))) }

		It("reads listings only: ⌈keys/1000⌉ per prefix with no version, one per prefix from a known version, no GET or HEAD", func() {
			const prefix = "p/"
			var all []string
			for i := range 2500 {
				all = append(all, fmt.Sprintf("1.0.%d", i))
			}
			seedCandidates(bucket, prefix, all)
			deployed := seedPasses(bucket, prefix, "dev1", all, time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC))
			at := func(extra map[string]any) map[string]any {
				extra["prefix"] = prefix
				return viaProxy(extra)
			}
			newestDeploy := map[string]string{"version": "1.0.2499", "deployed": deployed["1.0.2499"].Format(time.RFC3339Nano)}
			expectCheck := func(what string, src map[string]any, from map[string]string, want []map[string]string, listings map[string]int) {
				By(what)
				proxy.Reset()
				req := map[string]any{"source": src}
				if from != nil {
					req["version"] = from
				}
				versions, sess := check(req)
				succeeded(sess)
				Expect(versions).To(Equal(want))
				total := 0
				for _, n := range listings {
					total += n
				}
				Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": total}), "listings only, no GET or HEAD")
				got := map[string]int{}
				for _, p := range proxy.ListPrefixes() {
					got[p]++
				}
				Expect(got).To(Equal(listings))
			}
			dev1Deploy := func(v string) map[string]string {
				return map[string]string{"version": v, "deployed": deployed[v].Format(time.RFC3339Nano)}
			}

			expectCheck("default mode, no version: the whole of candidates/, the newest alone",
				at(map[string]any{}), nil, []map[string]string{ver("1.0.2499")},
				map[string]int{prefix + "policies/": 1, prefix + "candidates/": pages(2500)})
			expectCheck("default mode from the newest: one listing per prefix",
				at(map[string]any{}), ver("1.0.2499"), []map[string]string{ver("1.0.2499")},
				map[string]int{prefix + "policies/": 1, prefix + "candidates/": 1})
			expectCheck("default mode from an older version: only what follows it",
				at(map[string]any{}), ver("1.0.2000"), versionsFrom(all, 2000),
				map[string]int{prefix + "policies/": 1, prefix + "candidates/": 1})
			expectCheck("eligible_for, no version: candidates/ and each upstream's passes/ in full",
				at(map[string]any{"eligible_for": "staging"}), nil, []map[string]string{ver("1.0.2499")},
				map[string]int{prefix + "policies/": 1, prefix + "candidates/": pages(2500), prefix + "passes/dev1/": pages(2500), prefix + "passes/dev2/": 1})
			expectCheck("eligible_for from the newest: one listing per prefix",
				at(map[string]any{"eligible_for": "staging"}), ver("1.0.2499"), []map[string]string{ver("1.0.2499")},
				map[string]int{prefix + "policies/": 1, prefix + "candidates/": 1, prefix + "passes/dev1/": 1, prefix + "passes/dev2/": 1})
			expectCheck("live_in, no version: the whole of deploys/dev1/",
				at(map[string]any{"live_in": "dev1"}), nil, []map[string]string{newestDeploy},
				map[string]int{prefix + "policies/": 1, prefix + "deploys/dev1/": pages(2500)})
			expectCheck("live_in from the newest deployment: one listing per prefix",
				at(map[string]any{"live_in": "dev1"}), newestDeploy, []map[string]string{newestDeploy},
				map[string]int{prefix + "policies/": 1, prefix + "deploys/dev1/": 1})
			expectCheck("live_in from an older deployment: it and the ones after it",
				at(map[string]any{"live_in": "dev1"}), dev1Deploy("1.0.2497"), []map[string]string{dev1Deploy("1.0.2497"), dev1Deploy("1.0.2498"), newestDeploy},
				map[string]int{prefix + "policies/": 1, prefix + "deploys/dev1/": 1})

			By("new versions after a known one: listed from the known version on")
			more := []string{"1.0.2500", "1.0.2501", "1.1.0-rc.1", "1.1.0"}
			seedCandidates(bucket, prefix, more)
			expectCheck("default mode from the newest known: the new ones, still one listing",
				at(map[string]any{}), ver("1.0.2499"), []map[string]string{ver("1.0.2499"), ver("1.0.2500"), ver("1.0.2501"), ver("1.1.0-rc.1"), ver("1.1.0")},
				map[string]int{prefix + "policies/": 1, prefix + "candidates/": 1})
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
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 2}), "policies/ and candidates/")

			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{"environments": redisPolicy(), "eligible_for": "staging"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 4}), "policies/, candidates/, passes/dev1/, passes/dev2/")
		})

		It("reads no policy in default mode when the source omits environments: it decides nothing there", func() {
			By("an empty bucket: one listing")
			versions, sess := check(map[string]any{"source": viaProxy(map[string]any{"environments": nil})})
			succeeded(sess)
			Expect(versions).To(BeEmpty())
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 1}))
			Expect(proxy.ListPrefixes()).To(Equal([]string{"candidates/"}))

			direct := source(bucket, nil)
			publish(direct, redisTemplates("a"), "1.0.0")
			publish(direct, redisTemplates("b"), "1.0.1")

			By("from a known version: candidates/ alone")
			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{"environments": nil}), "version": ver("1.0.0")})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0", "1.0.1"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 1}))
			Expect(proxy.ListPrefixes()).To(Equal([]string{"candidates/"}))

			By("eligible_for without environments: the stored policy is read, since it decides")
			proxy.Reset()
			versions, sess = check(map[string]any{"source": viaProxy(map[string]any{"environments": nil, "eligible_for": "dev1"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.1"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 2, "GetObject": 1}), "policies/ and candidates/, and the policy record")

			By("a source whose environments differ is still refused in default mode")
			changed := redisPolicy()
			changed["production"].(map[string]any)["soak"] = "2h"
			_, sess = check(map[string]any{"source": viaProxy(map[string]any{"environments": changed})})
			expectRefusal(sess, "source.environments differs from the policy stored for this prefix", "source.environments.production.soak")
		})
	})
})

// versionsFrom is all[i:] as check versions.
func versionsFrom(all []string, i int) []map[string]string {
	out := []map[string]string{}
	for _, v := range all[i:] {
		out = append(out, ver(v))
	}
	return out
}

// parseDeployed parses a live_in "deployed" value: RFC 3339, UTC, with
// nanoseconds.
func parseDeployed(s string) time.Time {
	GinkgoHelper()
	Expect(s).To(HaveSuffix("Z"), "deployed must be UTC: %q", s)
	t, err := time.Parse(time.RFC3339Nano, s)
	Expect(err).NotTo(HaveOccurred(), "deployed must be RFC 3339: %q", s)
	return t
}
