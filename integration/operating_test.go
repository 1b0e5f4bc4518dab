package integration_test

import (
	"path/filepath"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// Operating promotions beside the pipeline (docs/operations.md): revoke,
// break-glass, who approved, version lines, and what check and publish say.
var _ = Describe("operating promotions", func() {
	var (
		bucket string
		src    map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, nil)
	})

	Describe("revoking a candidate", func() {
		BeforeEach(func() {
			publish(src, redisTemplates("a"), "1.0.0")
			publish(src, redisTemplates("b"), "2.0.0")
			mustPass(src, "2.0.0", "dev1")
			mustPass(src, "2.0.0", "staging")
		})

		It("needs a reason", func() {
			before := bucketKeys(bucket)
			_, sess := out(GinkgoT().TempDir(), map[string]any{"source": src, "params": map[string]any{"revoke": "2.0.0"}})
			expectRefusal(sess, "params.reason: required to revoke 2.0.0")
			Expect(bucketKeys(bucket)).To(Equal(before))
		})

		It("is never admitted anywhere again, drops out of eligible_for and the default listing, shows as revoked, and stays in live_in's history", func() {
			dir, _ := get(src, ver("2.0.0"), map[string]any{"skip_download": true})
			resp, sess := outEnv(dir, map[string]any{"source": src, "params": map[string]any{"revoke": "cand", "reason": "data loss on failover"}},
				map[string]string{"BUILD_JOB_NAME": "revoke", "BUILD_NAME": "1", "BUILD_PIPELINE_NAME": "redis", "BUILD_TEAM_NAME": "main"})
			succeeded(sess)
			Expect(resp.Version).To(Equal(ver("2.0.0")))
			reason, _ := resp.Meta("revoked")
			Expect(reason).To(Equal("data loss on failover"))

			By("refused everywhere, naming the reason")
			refused := func(env string) {
				GinkgoHelper()
				before := bucketKeys(bucket)
				_, sess := pass(src, dir, env)
				expectRefusal(sess, "candidate 2.0.0 is not admitted to "+env+": it was revoked (data loss on failover)")
				Expect(bucketKeys(bucket)).To(Equal(before))
			}
			refused("dev2")
			refused("staging-tests")

			By("out of eligible_for and the default listing: 1.0.0 is the newest again")
			versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"eligible_for": "dev1"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
			versions, sess = check(map[string]any{"source": src})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))

			By("a get through a gate refuses it; live_in keeps it in the history")
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = in(dest, map[string]any{"source": source(bucket, map[string]any{"eligible_for": "staging"}), "version": ver("2.0.0")})
			expectRefusal(sess, "it was revoked (data loss on failover)")
			expectNoSuccessFiles(dest)
			versions, sess = check(map[string]any{"source": source(bucket, map[string]any{"live_in": "staging"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"2.0.0"}))

			By("a plain get shows it revoked in passed.json's neighbour files and the metadata")
			_, got := get(src, ver("2.0.0"), map[string]any{"skip_download": true})
			shown, _ := got.Meta("revoked")
			Expect(shown).To(Equal("data loss on failover"))

			By("revoking again is harmless: the first record stands")
			resp, sess = out(dir, map[string]any{"source": src, "params": map[string]any{"revoke": "2.0.0", "reason": "again"}})
			succeeded(sess)
			reason, _ = resp.Meta("revoked")
			Expect(reason).To(Equal("data loss on failover"))
		})
	})

	Describe("break-glass", func() {
		glass := func() map[string]any {
			p := redisPolicy()
			p["production"] = map[string]any{"requires_all": []string{"staging", "staging-tests"}, "allow_override": true}
			return p
		}

		It("records a pass the rule refuses when the rule allows it, marked an override that keeps the refusal", func() {
			src = source(bucket, map[string]any{"environments": glass()})
			publish(src, redisTemplates("hotfix"), "1.0.1")
			dir, _ := get(src, ver("1.0.1"), map[string]any{"skip_download": true})
			resp, sess := outEnv(dir, map[string]any{"source": src, "params": map[string]any{"candidate": "cand", "environment": "production", "override": "INC-4711: primary down"}},
				map[string]string{"BUILD_CREATED_BY": "alice"})
			succeeded(sess)
			Expect(string(sess.Err.Contents())).To(ContainSubstring("warning: break-glass"))
			overrode, _ := resp.Meta("overrode")
			Expect(overrode).To(Equal("candidate 1.0.1 is not admitted to production: missing passes: staging, staging-tests"))

			fresh, _ := get(src, ver("1.0.1"), map[string]any{"skip_download": true})
			records := passedRecords(fresh)
			Expect(records).To(HaveLen(1))
			Expect(records[0]["override"]).To(Equal(map[string]any{"reason": "INC-4711: primary down", "refusal": overrode}))
			Expect(buildOf(records[0])["created_by"]).To(Equal("alice"))
		})

		It("is refused where the rule does not allow it", func() {
			publish(src, redisTemplates("hotfix"), "1.0.1")
			dir, _ := get(src, ver("1.0.1"), map[string]any{"skip_download": true})
			before := bucketKeys(bucket)
			_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"candidate": "cand", "environment": "production", "override": "please"}})
			expectRefusal(sess, "params.override: break-glass is off for production: its rule has no allow_override: true")
			Expect(bucketKeys(bucket)).To(Equal(before))
		})
	})

	It("keeps who triggered a manual build: an approval is an environment recorded by a manual job", func() {
		p := redisPolicy()
		p["approved"] = map[string]any{"requires_all": []string{"staging-tests"}}
		src = source(bucket, map[string]any{"environments": p})
		publish(src, redisTemplates("a"), "1.0.0")
		for _, env := range []string{"dev1", "staging", "staging-tests"} {
			mustPass(src, "1.0.0", env)
		}
		dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
		resp, sess := passEnv(src, dir, "approved", "change CHG-1 approved", map[string]string{
			"BUILD_CREATED_BY": "bob", "BUILD_JOB_NAME": "approve-production", "BUILD_NAME": "3", "BUILD_PIPELINE_NAME": "redis", "BUILD_TEAM_NAME": "main",
		})
		succeeded(sess)
		by, _ := resp.Meta("approved_by")
		Expect(by).To(Equal("bob"))
		fresh, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
		records := passedRecords(fresh)
		Expect(buildOf(records[len(records)-1])).To(HaveKeyWithValue("created_by", "bob"))
	})

	Describe("a version line (source.semver_constraint)", func() {
		It("limits every mode to matching versions, so a hotfix line gets its own resource", func() {
			publish(src, redisTemplates("a"), "1.4.0")
			publish(src, redisTemplates("b"), "2.0.0")
			line := source(bucket, map[string]any{"semver_constraint": "~1.4"})

			versions, sess := check(map[string]any{"source": line})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.4.0"}))

			By("publishing without a version takes the next patch of the line")
			resp := publish(line, redisTemplates("hotfix"), "")
			Expect(resp.Version).To(Equal(ver("1.4.1")))

			By("and refuses a version outside it, in out and in")
			dir := GinkgoT().TempDir()
			writeFiles(filepath.Join(dir, "t"), redisTemplates("c"))
			before := bucketKeys(bucket)
			_, sess = out(dir, map[string]any{"source": line, "params": map[string]any{"directory": "t", "version": "2.0.1"}})
			expectRefusal(sess, `params.version: 2.0.1 is outside source.semver_constraint "~1.4"`)
			Expect(bucketKeys(bucket)).To(Equal(before))
			_, sess = in(filepath.Join(dir, "get"), map[string]any{"source": line, "version": ver("2.0.0")})
			expectRefusal(sess, `2.0.0 is outside source.semver_constraint "~1.4"`)
		})

		It("refuses a constraint that does not parse", func() {
			_, sess := check(map[string]any{"source": source(bucket, map[string]any{"semver_constraint": "~>> 1"})})
			expectRefusal(sess, "source.semver_constraint")
		})
	})

	It("explains in check's log why eligible_for leaves out its newest candidates, one line each, at most five", func() {
		for _, v := range []string{"1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5", "1.0.6"} {
			publish(src, redisTemplates("v"+v), v)
		}
		mustPass(src, "1.0.0", "dev1")
		versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"eligible_for": "staging"})})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(sess.Err.Contents())), "\n") {
			if strings.HasPrefix(l, "not offered: ") {
				lines = append(lines, l)
			}
		}
		Expect(lines).To(Equal([]string{
			"not offered: candidate 1.0.2 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)",
			"not offered: candidate 1.0.3 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)",
			"not offered: candidate 1.0.4 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)",
			"not offered: candidate 1.0.5 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)",
			"not offered: candidate 1.0.6 is not admitted to staging: needs a pass in one of dev1, dev2 (none yet)",
		}))
	})

	It("logs each environment rendered with its releases, and warns of the environments a candidate can never reach", func() {
		p := redisPolicy()
		p["staging"] = map[string]any{"requires_any": []string{"dev1", "dev2"}, "final_releases": true}
		src = source(bucket, map[string]any{"environments": p})
		templates := redisTemplates("dev")
		templates["manifest.yml"] = strings.Replace(templates["manifest.yml"], `version: "14.0.1"`, `version: "14+dev.3"`, 1)
		dir := GinkgoT().TempDir()
		writeFiles(filepath.Join(dir, "t"), templates)
		_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"directory": "t", "version": "1.0.0"}})
		succeeded(sess)
		stderr := string(sess.Err.Contents())
		Expect(stderr).To(ContainSubstring("rendered dev1: redis 14+dev.3 (not final)"))
		Expect(stderr).To(ContainSubstring("rendered production: redis 14+dev.3 (not final)"))
		Expect(stderr).To(ContainSubstring("warning: 1.0.0 can never reach production, staging, staging-tests: a release there is not final"))
	})
})
