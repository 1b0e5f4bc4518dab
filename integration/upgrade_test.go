package integration_test

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// upgradePolicy is the seed's rules 3 and 4 as gates: production gets
// exactly the upgrade staging tested, with a manifest equal to staging's
// but for networks and scale.
func upgradePolicy() map[string]any {
	return map[string]any{
		"dev1":          map[string]any{},
		"staging":       map[string]any{"requires_any": []string{"dev1"}},
		"staging-tests": map[string]any{"requires_all": []string{"staging"}},
		"production": map[string]any{
			"requires_all":      []string{"staging", "staging-tests"},
			"upgrade_tested_in": "staging",
			"parity": map[string]any{"with": "staging", "allow": []string{
				"/instance_groups/name=redis/networks",
				"/instance_groups/name=redis/instances",
			}},
		},
	}
}

var _ = Describe("the tested upgrade path (seed rule 3)", func() {
	var (
		bucket string
		src    map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, map[string]any{"environments": upgradePolicy()})
		for _, v := range []string{"0.0.9", "0.1.0", "0.1.1", "0.1.2"} {
			publish(src, redisTemplates("v"+v), v)
			mustPass(src, v, "dev1")
		}
	})

	// through takes a candidate through staging, its tests and production.
	through := func(version string, envs ...string) {
		GinkgoHelper()
		for _, env := range envs {
			mustPass(src, version, env)
		}
	}
	refused := func(version, env string, fragments ...string) string {
		GinkgoHelper()
		dir, _ := get(src, ver(version), map[string]any{"skip_download": true})
		before := bucketKeys(bucket)
		_, sess := pass(src, dir, env)
		line := expectRefusal(sess, fragments...)
		Expect(bucketKeys(bucket)).To(Equal(before), "a refused pass writes nothing")
		return line
	}
	eligibleForProduction := func() []string {
		GinkgoHelper()
		versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": upgradePolicy(), "eligible_for": "production"}), "version": ver("0.0.9")})
		succeeded(sess)
		return versionsOf(versions)
	}

	It("holds vacuously while nothing runs in production, then admits the upgrade staging tested after a reset", func() {
		through("0.1.0", "staging", "staging-tests", "production")

		By("0.1.1 tested in staging as the upgrade from what production runs")
		through("0.1.1", "staging", "staging-tests")
		Expect(eligibleForProduction()).To(ContainElement("0.1.1"))

		By("the reset before the next candidate: staging back to production's 0.1.0, admitted as such, with no other requirement")
		resp := mustPass(src, "0.1.0", "staging")
		reset, _ := resp.Meta("reset")
		Expect(reset).To(Equal("to what production runs"))
		dir, _ := get(src, ver("0.1.0"), map[string]any{"skip_download": true})
		var resets []string
		for _, r := range passedRecords(dir) {
			if r["reset"] == true {
				resets = append(resets, r["environment"].(string))
			}
		}
		Expect(resets).To(Equal([]string{"staging"}), "the second staging pass alone is a reset")

		By("then the candidate, its tests, and production")
		through("0.1.2", "staging", "staging-tests", "production")
	})

	It("refuses a candidate staging did not test as an upgrade from what production runs, naming both", func() {
		through("0.1.0", "staging", "staging-tests", "production")
		through("0.1.1", "staging", "staging-tests")
		through("0.1.2", "staging", "staging-tests")

		refused("0.1.2", "production", "staging tested 0.1.2 as an upgrade from 0.1.1, but production runs 0.1.0: reset staging to 0.1.0 and deploy 0.1.2 again")
		Expect(eligibleForProduction()).NotTo(ContainElement("0.1.2"))

		By("doing what the refusal says")
		through("0.1.0", "staging")
		through("0.1.2", "staging", "staging-tests", "production")
	})

	It("refuses after production was rolled back since staging tested the candidate", func() {
		through("0.0.9", "staging", "staging-tests", "production")
		through("0.1.0", "staging", "staging-tests", "production")
		through("0.1.1", "staging", "staging-tests")
		Expect(eligibleForProduction()).To(ContainElement("0.1.1"))

		By("a tested rollback of production to 0.0.9: reset staging to 0.1.0, then 0.0.9 through staging")
		through("0.1.0", "staging")
		through("0.0.9", "staging", "staging-tests", "production")

		refused("0.1.1", "production", "staging tested 0.1.1 as an upgrade from 0.1.0, but production runs 0.0.9: reset staging to 0.0.9 and deploy 0.1.1 again")
		Expect(eligibleForProduction()).NotTo(ContainElement("0.1.1"))
	})

	It("refuses when staging-tests passed after staging moved on to another candidate", func() {
		through("0.1.0", "staging", "staging-tests", "production")
		through("0.1.1", "staging")
		through("0.1.2", "staging")
		through("0.1.1", "staging-tests")

		refused("0.1.1", "production", "staging-tests did not pass 0.1.1 while staging ran it as the upgrade from 0.1.0 (staging moved on to 0.1.2)")
	})

	It("marks the reset in passed.json and the metadata, and only the reset", func() {
		through("0.1.0", "staging", "staging-tests", "production")
		resp := mustPass(src, "0.1.1", "staging")
		_, isReset := resp.Meta("reset")
		Expect(isReset).To(BeFalse())
		resp = mustPass(src, "0.1.0", "staging")
		_, isReset = resp.Meta("reset")
		Expect(isReset).To(BeTrue())
	})
})

var _ = Describe("parity (seed rule 4)", func() {
	var (
		bucket string
		src    map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, map[string]any{"environments": upgradePolicy()})
	})

	It("admits a production that differs from staging only in networks and scale, selected by name", func() {
		templates := redisTemplates("scaled")
		templates["environments/production/ops/network.yml"] = "- type: replace\n  path: /instance_groups/name=redis/networks/name=default/name\n  value: prod-net\n"
		publish(src, templates, "1.0.0")

		By("a get with render writes the diff against the parity partner")
		dir, _ := get(src, ver("1.0.0"), map[string]any{"render": "production"})
		diff, err := os.ReadFile(filepath.Join(dir, "cand", "parity.diff"))
		Expect(err).NotTo(HaveOccurred())
		Expect(string(diff)).To(ContainSubstring("- /instance_groups/name=redis/instances: 2\n+ /instance_groups/name=redis/instances: 5\n"))
		Expect(string(diff)).To(ContainSubstring("/instance_groups/name=redis/networks/name=prod-net"))
	})

	It("refuses a candidate published before production's parity rule, in check, out and in alike: it was never checked", func() {
		before := upgradePolicy()
		delete(before["production"].(map[string]any), "parity")
		early := source(bucket, map[string]any{"environments": before})
		templates := redisTemplates("early")
		templates["environments/production/ops/memory.yml"] = "- type: replace\n  path: /instance_groups/name=redis/jobs/name=redis/properties/maxmemory?\n  value: 4gb\n"
		publish(early, templates, "1.0.0")
		for _, env := range []string{"dev1", "staging", "staging-tests"} {
			mustPass(early, "1.0.0", env)
		}
		updatePolicy(src)
		const want = "parity with staging unknown: publish the templates again"

		dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
		keys := bucketKeys(bucket)
		_, sess := pass(src, dir, "production")
		expectRefusal(sess, want)
		Expect(bucketKeys(bucket)).To(Equal(keys))

		versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": upgradePolicy(), "eligible_for": "production"})})
		succeeded(sess)
		Expect(versions).To(BeEmpty())

		dest := filepath.Join(GinkgoT().TempDir(), "get")
		_, sess = in(dest, map[string]any{"source": source(bucket, map[string]any{"environments": upgradePolicy(), "eligible_for": "production"}), "version": ver("1.0.0")})
		expectRefusal(sess, want)
		expectNoSuccessFiles(dest)
	})

	It("refuses a publish whose production manifest differs from staging's outside the allowed paths, naming the first such path", func() {
		templates := redisTemplates("drift")
		templates["environments/production/ops/memory.yml"] = "- type: replace\n  path: /instance_groups/name=redis/jobs/name=redis/properties/maxmemory?\n  value: 4gb\n"
		dir := GinkgoT().TempDir()
		writeFiles(filepath.Join(dir, "t"), templates)
		_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"directory": "t", "version": "1.0.0"}})
		expectRefusal(sess, `parity: the production manifest differs from staging's at /instance_groups/name=redis/jobs/name=redis/properties/maxmemory (staging has nothing, production has "4gb"), outside the allowed paths (/instance_groups/name=redis/networks, /instance_groups/name=redis/instances)`)
		Expect(bucketKeys(bucket)).To(BeEmpty())
	})
})

var _ = Describe("the tested upgrade path over long deployment histories", func() {
	// Three listing pages of deployments in staging and production: the
	// gate reads production's newest and staging's runs since it first ran
	// that, not the histories.
	const seeded = 2497
	v := func(i int) string { return fmt.Sprintf("1.0.%d", i) }
	policyWithoutParity := func() map[string]any {
		p := upgradePolicy()
		delete(p["production"].(map[string]any), "parity")
		return p
	}

	It("decides on production's newest deployment and staging's runs since it first ran it, at a cost that does not grow with the history", func() {
		bucket := newBucket()
		var old []string
		for i := range seeded {
			old = append(old, v(i))
		}
		seedCandidatesUnder(bucket, "", policyWithoutParity(), old)
		base := time.Now().Add(-time.Duration(seeded)*10*time.Second - time.Minute)
		seedPassesEvery(bucket, "", "staging", old, base, 10*time.Second)
		seedPassesEvery(bucket, "", "staging-tests", old, base.Add(2*time.Second), 10*time.Second)
		seedPassesEvery(bucket, "", "production", old, base.Add(5*time.Second), 10*time.Second)
		a, b, c, live := v(seeded), v(seeded+1), v(seeded+2), v(seeded-1)

		src := source(bucket, map[string]any{"environments": policyWithoutParity()})
		for _, version := range []string{a, b, c} {
			publish(src, redisTemplates("v"+version), version)
			mustPass(src, version, "dev1")
		}
		By(a + " through staging as the upgrade from " + live + ", what production runs (seeded), and on to production")
		for _, env := range []string{"staging", "staging-tests", "production"} {
			mustPass(src, a, env)
		}
		By(b + " tested as the upgrade from " + a + "; then " + c + " as the upgrade from " + b)
		mustPass(src, b, "staging")
		mustPass(src, b, "staging-tests")
		// Tests within the store clock's resolution (1 s) of staging moving
		// on have no known order and are not counted: staging moves on later.
		time.Sleep(2 * time.Second)
		mustPass(src, c, "staging")
		mustPass(src, c, "staging-tests")

		proxy := startCountingProxy(cfg.Endpoint)
		viaProxy := source(bucket, map[string]any{"environments": policyWithoutParity(), "eligible_for": "production", "endpoint": proxy.URL})
		versions, sess := check(map[string]any{"source": viaProxy, "version": ver(a)})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{a, b}))
		Expect(string(sess.Err.Contents())).To(ContainSubstring("not offered: candidate " + c + " is not admitted to production: staging tested " + c + " as an upgrade from " + b + ", but production runs " + a))
		got := map[string]int{}
		for _, p := range proxy.ListPrefixes() {
			got[p]++
		}
		Expect(got).To(Equal(map[string]int{
			"policies/": 1, "candidates/": 1, "passes/staging/": 1, "passes/staging-tests/": 1,
			"deploys/production/":                   2, // its first page, then the last hour (a whole read: 3 pages)
			"deploys/staging/":                      2, // its first page, then from the first run of what production runs (3)
			"passes/staging/" + versionKey(a) + "/": 1, // when that was
		}))
		Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 9}), "listings only")

		By("with no version, the older candidates are explained from what was read")
		versions, sess = check(map[string]any{"source": viaProxy})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{b}))
		older := v(seeded - 2)
		Expect(string(sess.Err.Contents())).To(ContainSubstring("not offered: candidate " + older + " is not admitted to production: staging has not run " + older + " since it first ran " + a + ", what production runs: reset staging to " + a + ", then deploy " + older))

		By("a put decides the same way")
		dir, _ := get(src, ver(c), map[string]any{"skip_download": true})
		_, sess = pass(src, dir, "production")
		expectRefusal(sess, "staging tested "+c+" as an upgrade from "+b+", but production runs "+a+": reset staging to "+a+" and deploy "+c+" again")
		mustPass(src, b, "production")

		versions, sess = check(map[string]any{"source": viaProxy, "version": ver(b)})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{b, c}), c+" is now the tested upgrade from what production runs")
	})
})
