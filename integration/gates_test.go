package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// Every way to make a gate admit what its rule refuses (docs/store.md, "The gates")
// is a spec here that shows the refusal: one clear line, nothing recorded.
var _ = Describe("gates that fail closed", func() {
	var bucket string

	BeforeEach(func() {
		bucket = newBucket()
	})

	// refusedWritingNothing runs a put that must be refused and checks that
	// the bucket did not change.
	refusedWritingNothing := func(src map[string]any, params map[string]any, dir string, fragments ...string) string {
		GinkgoHelper()
		before := bucketKeys(bucket)
		_, sess := out(dir, map[string]any{"source": src, "params": params})
		line := expectRefusal(sess, fragments...)
		Expect(bucketKeys(bucket)).To(Equal(before), "a refused put must write nothing")
		return line
	}

	Describe("one policy per store", func() {
		var strict map[string]any

		BeforeEach(func() {
			strict = source(bucket, nil)
			publish(strict, redisTemplates("a"), "1.0.0")
		})

		It("refuses a weaker policy of another pipeline in check, in and out alike, naming the first difference", func() {
			weak := redisPolicy()
			weak["production"] = map[string]any{}
			weakSrc := source(bucket, map[string]any{"environments": weak})
			dir, _ := get(strict, ver("1.0.0"), map[string]any{"skip_download": true})
			want := "source.environments.production.requires_all: [] here, [staging, staging-tests] in the store"

			_, sess := check(map[string]any{"source": weakSrc})
			expectRefusal(sess, want)
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = in(dest, map[string]any{"source": weakSrc, "version": ver("1.0.0")})
			expectRefusal(sess, want)
			expectNoSuccessFiles(dest)
			refusedWritingNothing(weakSrc, map[string]any{"candidate": "cand", "environment": "production"}, dir, want, "update_policy")

			live := source(bucket, map[string]any{"live_in": "production"})
			versions, sess := check(map[string]any{"source": live})
			succeeded(sess)
			Expect(versions).To(BeEmpty(), "nothing reached production")
		})

		It("applies the stored policy to a source that omits environments", func() {
			bare := source(bucket, map[string]any{"environments": nil})
			dir, _ := get(bare, ver("1.0.0"), map[string]any{"skip_download": true})
			refusedWritingNothing(bare, map[string]any{"candidate": "cand", "environment": "production"}, dir, "missing passes: staging, staging-tests")
			_, sess := pass(bare, dir, "dev2")
			succeeded(sess)
			versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": nil, "eligible_for": "staging"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
		})

		It("changes only by params.update_policy, which records its build; each pass keeps the digest of the policy that admitted it", func() {
			next := redisPolicy()
			next["qa"] = map[string]any{"requires_any": []string{"dev1"}}
			changed := source(bucket, map[string]any{"environments": next})
			_, sess := check(map[string]any{"source": changed})
			expectRefusal(sess, "source.environments.qa: declared here, not in the store")

			resp, sess := outEnv(GinkgoT().TempDir(), map[string]any{"source": changed, "params": map[string]any{"update_policy": true, "note": "qa joins"}},
				map[string]string{"BUILD_JOB_NAME": "set-policy", "BUILD_NAME": "3", "BUILD_PIPELINE_NAME": "redis", "BUILD_TEAM_NAME": "main"})
			succeeded(sess)
			Expect(resp.Version).To(Equal(ver("1.0.0")), "answers with the newest candidate: nothing new triggers")
			seq, _ := resp.Meta("policy")
			Expect(seq).To(Equal("2"))

			_, sess = check(map[string]any{"source": strict})
			expectRefusal(sess, "source.environments.qa: not declared here, declared in the store")
			mustPass(changed, "1.0.0", "dev1")

			var stored []map[string]any
			for _, k := range keysUnder(bucket, "policies/") {
				if strings.HasSuffix(k, ".json") { // the records, not the numbers' claims
					stored = append(stored, objectJSON(bucket, k))
				}
			}
			Expect(stored).To(HaveLen(2))
			Expect(stored[1]["build"]).To(HaveKeyWithValue("job", "set-policy"))
			Expect(stored[1]["note"]).To(Equal("qa joins"))

			passes := keysUnder(bucket, "passes/dev1/")
			Expect(passes).To(HaveLen(1))
			Expect(objectJSON(bucket, passes[0])).To(HaveKeyWithValue("policy", policyDigest(next)))
		})

		It("answers update_policy with the newest candidate of the resource's version line that is not revoked, which its get fetches", func() {
			publish(strict, redisTemplates("b"), "1.0.1")
			publish(strict, redisTemplates("c"), "2.0.0")
			_, sess := out(GinkgoT().TempDir(), map[string]any{"source": strict, "params": map[string]any{"revoke": "1.0.1", "reason": "broken"}})
			succeeded(sess)
			next := redisPolicy()
			next["qa"] = map[string]any{}
			line := source(bucket, map[string]any{"environments": next, "semver_constraint": "~1.0"})
			resp := updatePolicy(line)
			Expect(resp.Version).To(Equal(ver("1.0.0")), "not 2.0.0 (outside the line), not 1.0.1 (revoked)")
			get(line, resp.Version, map[string]any{"skip_download": true})
		})

		It("gives each policy number to one policy: puts storing different policies at once never share a number", func() {
			policies := make([]map[string]any, 6)
			for i := range policies {
				policies[i] = redisPolicy()
				policies[i]["qa"] = map[string]any{"soak": fmt.Sprintf("%dm", i+1)}
			}
			var wg sync.WaitGroup
			stored := make([]string, len(policies))
			for i, p := range policies {
				wg.Go(func() {
					defer GinkgoRecover()
					resp, sess := out(GinkgoT().TempDir(), map[string]any{"source": source(bucket, map[string]any{"environments": p}), "params": map[string]any{"update_policy": true}})
					if sess.ExitCode() == 0 {
						stored[i], _ = resp.Meta("policy")
						return
					}
					expectRefusal(sess, "another put stored policy", "at the same time")
				})
			}
			wg.Wait()
			numbers := map[string]bool{}
			for _, n := range stored {
				if n != "" {
					Expect(numbers).NotTo(HaveKey(n), "two puts reported storing policy %s", n)
					numbers[n] = true
				}
			}
			Expect(numbers).NotTo(BeEmpty())

			By("one record per number, each the policy its claim names")
			records := map[string]int{}
			for _, k := range keysUnder(bucket, "policies/") {
				name := strings.TrimPrefix(k, "policies/")
				if seq, _, isRecord := strings.Cut(name, "_"); isRecord {
					records[seq]++
				}
			}
			for seq, n := range records {
				Expect(n).To(Equal(1), "policy number %s has %d records", seq, n)
			}
			Expect(records).To(HaveLen(len(numbers)+1), "the first publish's policy and one per stored put")
		})

		It("refuses to decide on a number stored twice without a claim naming one of them, and follows the claim when it does", func() {
			other := redisPolicy()
			other["qa"] = map[string]any{}
			updatePolicy(source(bucket, map[string]any{"environments": other}))
			Expect(keysUnder(bucket, "policies/a2")).To(ContainElement("policies/a2"), "policy 2 is claimed")

			By("a second record under number 2, as an earlier release could write it, and no claim")
			second := redisPolicy()
			second["qa"] = map[string]any{"soak": "1h"}
			raw, _ := json.Marshal(second)
			var pol policy.Policy
			Expect(json.Unmarshal(raw, &pol)).To(Succeed())
			body, _ := json.Marshal(map[string]any{"seq": 2, "digest": pol.Digest(), "environments": pol, "time": time.Now().UTC(), "build": map[string]any{}})
			putObjects(bucket, map[string][]byte{"policies/a2_" + pol.Digest() + ".json": body})

			_, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": nil})})
			succeeded(sess) // default mode without environments reads no policy
			versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": other, "eligible_for": "dev1"})})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}), "the claim names the policy stored by the put")

			_, err := s3Client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("policies/a2")})
			Expect(err).NotTo(HaveOccurred())
			_, sess = check(map[string]any{"source": source(bucket, map[string]any{"environments": other, "eligible_for": "dev1"})})
			expectRefusal(sess, "2 policies are stored as number 2", "the store does not say which rules")
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = in(dest, map[string]any{"source": source(bucket, map[string]any{"environments": nil}), "version": ver("1.0.0")})
			expectRefusal(sess, "2 policies are stored as number 2")
			expectNoSuccessFiles(dest)
		})

		DescribeTable("refuses update_policy with anything else, or through a view",
			func(extra map[string]any, params map[string]any, fragment string) {
				refusedWritingNothing(source(bucket, extra), params, GinkgoT().TempDir(), fragment)
			},
			Entry("with a directory", nil, map[string]any{"update_policy": true, "directory": "t"}, "goes alone"),
			Entry("with a version", nil, map[string]any{"update_policy": true, "version": "1.0.0"}, "goes alone"),
			Entry("without environments", map[string]any{"environments": nil}, map[string]any{"update_policy": true}, "source.environments is the new policy, and it is missing"),
			Entry("through eligible_for", map[string]any{"eligible_for": "staging"}, map[string]any{"update_policy": true}, "this resource is a gate"),
			Entry("through live_in", map[string]any{"live_in": "staging"}, map[string]any{"update_policy": true}, "passes of staging only"),
		)
	})

	Describe("unknown is not admitted", func() {
		It("refuses final_releases for an environment declared after the candidate was published, in check, out and in alike", func() {
			templates := redisTemplates("late")
			delete(templates, "environments/production/ops/scale.yml")
			templates["manifest.yml"] = strings.Replace(templates["manifest.yml"], `version: "14.0.1"`, `version: "14+dev.3"`, 1)
			templates["environments/staging/ops/final.yml"] = "- type: replace\n  path: /releases/name=redis/version\n  value: \"14\"\n"
			first := map[string]any{
				"dev1":    map[string]any{},
				"staging": map[string]any{"requires_any": []string{"dev1"}, "final_releases": true},
			}
			src := source(bucket, map[string]any{"environments": first})
			publish(src, templates, "1.0.0")
			mustPass(src, "1.0.0", "dev1")
			mustPass(src, "1.0.0", "staging")

			later := map[string]any{
				"dev1":       first["dev1"],
				"staging":    first["staging"],
				"production": map[string]any{"requires_all": []string{"staging"}, "final_releases": true},
			}
			src = source(bucket, map[string]any{"environments": later})
			updatePolicy(src)
			want := "releases for production unknown: publish the templates again"

			gate := source(bucket, map[string]any{"environments": later, "eligible_for": "production"})
			versions, sess := check(map[string]any{"source": gate})
			succeeded(sess)
			Expect(versions).To(BeEmpty(), "check must not offer what out refuses")

			dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			refusedWritingNothing(src, map[string]any{"candidate": "cand", "environment": "production"}, dir, want)

			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess = in(dest, map[string]any{"source": gate, "version": ver("1.0.0"), "params": map[string]any{"render": "production"}})
			expectRefusal(sess, want)
			expectNoSuccessFiles(dest)

			By("published again, production is rendered: its dev release is named")
			publish(src, templates, "1.0.1")
			mustPass(src, "1.0.1", "dev1")
			mustPass(src, "1.0.1", "staging")
			dir, _ = get(src, ver("1.0.1"), map[string]any{"skip_download": true})
			refusedWritingNothing(src, map[string]any{"candidate": "cand", "environment": "production"}, dir, "releases not final: redis 14+dev.3")
		})
	})

	Describe("gated views are read-only", func() {
		var src map[string]any

		BeforeEach(func() {
			src = source(bucket, nil)
			publish(src, redisTemplates("a"), "1.0.0")
		})

		It("refuses every put through an eligible_for resource: its version would enter the gate's history", func() {
			gate := source(bucket, map[string]any{"eligible_for": "staging"})
			dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			writeFiles(filepath.Join(dir, "t"), redisTemplates("b"))
			const want = "this resource is a gate (source.eligible_for: staging): put through a resource without eligible_for"
			refusedWritingNothing(gate, map[string]any{"candidate": "cand", "environment": "dev1"}, dir, want)
			refusedWritingNothing(gate, map[string]any{"directory": "t", "version": "1.0.1"}, dir, want)
		})

		It("refuses a pass of another environment, and a publish, through a live_in resource", func() {
			live := source(bucket, map[string]any{"live_in": "production"})
			dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			writeFiles(filepath.Join(dir, "t"), redisTemplates("b"))
			refusedWritingNothing(live, map[string]any{"candidate": "cand", "environment": "dev1"}, dir, "passes of production only")
			refusedWritingNothing(live, map[string]any{"directory": "t", "version": "1.0.1"}, dir, "passes of production only")
		})

		It("checks the gate again on get: a candidate the gate does not admit now is not handed over", func() {
			gate := source(bucket, map[string]any{"eligible_for": "staging"})
			dest := filepath.Join(GinkgoT().TempDir(), "get")
			_, sess := in(dest, map[string]any{"source": gate, "version": ver("1.0.0"), "params": map[string]any{"render": "staging"}})
			expectRefusal(sess, "eligible_for: staging", "needs a pass in one of dev1, dev2")
			expectNoSuccessFiles(dest)

			mustPass(src, "1.0.0", "dev1")
			_, sess = in(dest, map[string]any{"source": gate, "version": ver("1.0.0")})
			succeeded(sess)
		})
	})

	Describe("one clock: the store's", func() {
		DescribeTable("records times by the S3 server's clock, whatever the worker's says",
			func(shift time.Duration) {
				proxy := startStoreProxy(cfg.Endpoint)
				proxy.Shift(shift)
				src := source(bucket, map[string]any{"endpoint": proxy.URL})
				serverNow := func() time.Time { return time.Now().Add(shift) }

				published := publish(src, redisTemplates("a"), "1.0.0")
				created, _ := published.Meta("created_at")
				Expect(time.Parse(time.RFC3339, created)).To(BeTemporally("~", serverNow(), 5*time.Second))

				resp := mustPass(source(bucket, map[string]any{"endpoint": proxy.URL, "live_in": "dev1"}), "1.0.0", "dev1")
				Expect(parseDeployed(resp.Version["deployed"])).To(BeTemporally("~", serverNow(), 5*time.Second))
				dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
				Expect(recordTime(passedRecords(dir)[0])).To(BeTemporally("~", serverNow(), 5*time.Second))
			},
			Entry("a store 5 hours ahead of the worker", 5*time.Hour),
			Entry("a store 2 hours behind the worker", -2*time.Hour),
		)

		DescribeTable("counts a soak by the server's clock: a worker's clock can neither end it early nor stretch it",
			func(shift time.Duration) {
				soaked := redisPolicy()
				soaked["production"] = map[string]any{"requires_all": []string{"staging"}, "soak": "1h"}
				proxy := startStoreProxy(cfg.Endpoint)
				proxy.Shift(shift)
				src := source(bucket, map[string]any{"endpoint": proxy.URL, "environments": soaked})
				publish(src, redisTemplates("a"), "1.0.0")
				mustPass(src, "1.0.0", "dev1")
				mustPass(src, "1.0.0", "staging")

				dir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
				line := refusedWritingNothing(src, map[string]any{"candidate": "cand", "environment": "production"}, dir, "soaking")
				Expect(line).To(MatchRegexp(`soaking: (59m\d+s|1h0m0s) left of 1h`), "an hour left by the store's clock")
				versions, sess := check(map[string]any{"source": source(bucket, map[string]any{"endpoint": proxy.URL, "environments": soaked, "eligible_for": "production"})})
				succeeded(sess)
				Expect(versions).To(BeEmpty())
			},
			Entry("a store 2 hours behind the worker", -2*time.Hour),
			Entry("a store 2 hours ahead of the worker", 2*time.Hour),
		)
	})

	Describe("writes are verified", func() {
		It("never takes a 409 for success: a commit record answered 409 on every attempt fails the publish, and nothing is listed", func() {
			proxy := startStoreProxy(cfg.Endpoint)
			proxy.Conflict(-1, func(key string) bool { return strings.HasPrefix(key, "candidates/") })
			src := source(bucket, map[string]any{"endpoint": proxy.URL})
			dir := GinkgoT().TempDir()
			writeFiles(filepath.Join(dir, "t"), redisTemplates("a"))
			_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"directory": "t", "version": "1.0.0"}})
			expectRefusal(sess, "409 Conflict", "nothing was recorded")
			Expect(proxy.Conflicted()).To(BeNumerically(">", 1), "retried before reporting")
			Expect(keysUnder(bucket, "candidates/")).To(BeEmpty())
			versions, sess := check(map[string]any{"source": source(bucket, nil)})
			succeeded(sess)
			Expect(versions).To(BeEmpty())
		})

		It("retries a 409 that clears: the pass is recorded once", func() {
			src := source(bucket, nil)
			publish(src, redisTemplates("a"), "1.0.0")
			proxy := startStoreProxy(cfg.Endpoint)
			proxy.Conflict(2, func(key string) bool { return strings.HasPrefix(key, "passes/") })
			mustPass(source(bucket, map[string]any{"endpoint": proxy.URL}), "1.0.0", "dev1")
			Expect(proxy.Conflicted()).To(Equal(2))
			Expect(keysUnder(bucket, "passes/dev1/")).To(HaveLen(1))
		})

		It("refuses a store that ignores If-None-Match before any record is written", func() {
			proxy := startStoreProxy(cfg.Endpoint)
			proxy.IgnoreIfNoneMatch()
			src := source(bucket, map[string]any{"endpoint": proxy.URL})
			dir := GinkgoT().TempDir()
			writeFiles(filepath.Join(dir, "t"), redisTemplates("a"))
			_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"directory": "t", "version": "1.0.0"}})
			expectRefusal(sess, "this store does not support conditional writes")
			Expect(bucketKeys(bucket)).To(Equal([]string{"layout.json"}), "only the probe itself, which holds the same bytes both times")
		})

		It("keeps every key within the store's limits for 64 environments of 63 characters, each with a dev release", func() {
			envs := map[string]any{}
			templates := redisTemplates("wide")
			templates["manifest.yml"] = strings.Replace(templates["manifest.yml"], `version: "14.0.1"`, `version: "14+dev.3"`, 1)
			delete(templates, "environments/production/ops/scale.yml")
			delete(templates, "environments/dev1/ops/network.yml")
			delete(templates, "environments/dev1/vars.yml")
			var last string
			for i := range 64 {
				last = fmt.Sprintf("env-%02d-%s", i, strings.Repeat("x", 63-7))
				envs[last] = map[string]any{}
			}
			Expect(last).To(HaveLen(63))
			src := source(bucket, map[string]any{"environments": envs})
			publish(src, templates, "1.0.0-rc.1.with-a-long-pre-release-name")
			mustPass(src, "1.0.0-rc.1.with-a-long-pre-release-name", last)
			versions, sess := check(map[string]any{"source": src})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0-rc.1.with-a-long-pre-release-name"}))
		})

		It("refuses a prefix too long for the store's keys before writing anything", func() {
			prefix := strings.Repeat(strings.Repeat("p", 250)+"/", 4)
			src := source(bucket, map[string]any{"prefix": prefix})
			dir := GinkgoT().TempDir()
			writeFiles(filepath.Join(dir, "t"), redisTemplates("a"))
			refusedWritingNothing(src, map[string]any{"directory": "t", "version": "1.0.0"}, dir, "over the 1024 bytes S3 allows")
		})
	})

	Describe("records stay readable", func() {
		It("skips a malformed or oversized pass record written by someone else, with one warning naming its key", func() {
			src := source(bucket, nil)
			publish(src, redisTemplates("a"), "1.0.0")
			mustPass(src, "1.0.0", "dev1")
			dir := "passes/dev2/" + versionKey("1.0.0") + "/"
			stamp := time.Now().UTC().Format(passKeyTime)
			junk := dir + stamp + "_junk.json"
			huge := dir + stamp + "_huge.json"
			putObject(bucket, junk, []byte("{not json"))
			putObject(bucket, huge, []byte(`{"note":"`+strings.Repeat("<", 2<<20)+`"}`))

			getDir := GinkgoT().TempDir()
			_, sess := in(filepath.Join(getDir, "cand"), map[string]any{"source": src, "version": ver("1.0.0"), "params": map[string]any{"skip_download": true}})
			succeeded(sess)
			stderr := string(sess.Err.Contents())
			Expect(stderr).To(ContainSubstring("warning: skipping the pass record " + junk))
			Expect(stderr).To(ContainSubstring("warning: skipping the pass record " + huge))
			Expect(passedEnvironments(getDir)).To(Equal([]string{"dev1"}))
		})
	})

	Describe("publishing without a version", func() {
		It("returns the candidate that already holds identical content: a retried put is idempotent", func() {
			src := source(bucket, nil)
			first := publish(src, redisTemplates("same"), "")
			publish(src, redisTemplates("other"), "")
			again := publish(src, redisTemplates("same"), "")
			Expect(again.Version).To(Equal(first.Version))
			Expect(keysUnder(bucket, "claims/")).To(HaveLen(2))
		})

		It("gives four identical publishes at once one version", func() {
			src := source(bucket, nil)
			var wg sync.WaitGroup
			versions := make([]string, 4)
			for i := range versions {
				wg.Add(1)
				go func() {
					defer GinkgoRecover()
					defer wg.Done()
					versions[i] = publish(src, redisTemplates("same"), "").Version["version"]
				}()
			}
			wg.Wait()
			Expect(versions).To(HaveEach(Equal(versions[0])))
			Expect(keysUnder(bucket, "candidates/")).To(HaveLen(1))
		})
	})
})

// objectJSON reads one object of the bucket as JSON.
func objectJSON(bucket, key string) map[string]any {
	GinkgoHelper()
	obj, err := s3Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	Expect(err).NotTo(HaveOccurred())
	defer obj.Body.Close()
	var v map[string]any
	Expect(json.NewDecoder(obj.Body).Decode(&v)).To(Succeed())
	return v
}

// policyDigest is the digest the store keeps for a policy.
func policyDigest(p map[string]any) string {
	GinkgoHelper()
	raw, _ := json.Marshal(p)
	var pol policy.Policy
	Expect(json.Unmarshal(raw, &pol)).To(Succeed())
	return pol.Digest()
}
