package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

var _ = Describe("out: recording a pass", func() {
	var (
		bucket string
		src    map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, map[string]any{"environments": redisPolicy()})
		publish(src, redisTemplates("one"), "1.0.0")
	})

	// expectPassRefused records a pass that the policy must refuse, and
	// checks that nothing was written.
	expectPassRefused := func(getDir, env string, fragments ...string) string {
		GinkgoHelper()
		before := bucketKeys(bucket)
		_, sess := pass(src, getDir, env)
		line := expectRefusal(sess, fragments...)
		Expect(bucketKeys(bucket)).To(Equal(before), "a refused pass must write nothing")
		return line
	}

	expectPassAdmitted := func(getDir, env, version string) {
		GinkgoHelper()
		resp, sess := pass(src, getDir, env)
		succeeded(sess)
		Expect(resp.Version).To(Equal(ver(version)), "the response is the candidate's own version")
	}

	It("admits a pass into an environment without requirements", func() {
		getDir, _ := get(src, ver("1.0.0"), nil)
		expectPassAdmitted(getDir, "dev1", "1.0.0")
		Expect(keysUnder(bucket, "passes/dev1/"+versionKey("1.0.0")+"/")).To(HaveLen(1))
	})

	Describe("OR gate (staging requires_any [dev1, dev2])", func() {
		It("refuses staging before any dev pass, naming dev1 and dev2", func() {
			getDir, _ := get(src, ver("1.0.0"), nil)
			expectPassRefused(getDir, "staging", "1.0.0", "staging", "dev1", "dev2")
		})

		DescribeTable("admits staging after a pass in one dev environment alone",
			func(dev string) {
				// The same get directory throughout: its passed.json is stale by
				// then, the gate must read the records in S3.
				getDir, _ := get(src, ver("1.0.0"), nil)
				expectPassRefused(getDir, "staging", "dev1", "dev2")
				expectPassAdmitted(getDir, dev, "1.0.0")
				expectPassAdmitted(getDir, "staging", "1.0.0")

				fresh, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
				Expect(passedEnvironments(fresh)).To(Equal([]string{dev, "staging"}))
			},
			Entry("dev2", "dev2"),
			Entry("dev1", "dev1"),
		)

		It("judges each candidate on its own passes", func() {
			publish(src, redisTemplates("two"), "1.0.1")
			mustPass(src, "1.0.0", "dev2")

			getDir, _ := get(src, ver("1.0.1"), map[string]any{"skip_download": true})
			expectPassRefused(getDir, "staging", "dev1", "dev2")
		})
	})

	Describe("AND gate (production requires_all [staging, staging-tests])", func() {
		It("refuses production naming each missing pass, and admits it once both passed", func() {
			getDir, _ := get(src, ver("1.0.0"), nil)
			mustPass(src, "1.0.0", "dev1")

			expectPassRefused(getDir, "production", "production", "staging", "staging-tests")

			expectPassAdmitted(getDir, "staging", "1.0.0")
			expectPassRefused(getDir, "production", "staging-tests")

			expectPassAdmitted(getDir, "staging-tests", "1.0.0")
			expectPassAdmitted(getDir, "production", "1.0.0")
		})
	})

	Describe("soak", func() {
		const soak = 2 * time.Second

		It("refuses with the time left until the soak has passed, then admits", func() {
			policy := map[string]any{
				"dev1":    map[string]any{},
				"staging": map[string]any{"requires_any": []string{"dev1"}, "soak": "2s"},
			}
			src = source(bucket, map[string]any{"environments": policy})
			updatePolicy(src)
			eligible := source(bucket, map[string]any{"environments": policy, "eligible_for": "staging"})
			getDir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})

			expectPassAdmitted(getDir, "dev1", "1.0.0")
			// The record's time is at the latest when out has finished.
			met := time.Now()

			line := expectPassRefused(getDir, "staging", "staging")
			Expect(line).To(MatchRegexp(`(?i)soak`))
			Expect(line).To(MatchRegexp(`\d+(\.\d+)?(ns|µs|us|ms|s)\b`), "the refusal should say how long is left")
			versions, sess := check(map[string]any{"source": eligible})
			succeeded(sess)
			Expect(versions).To(BeEmpty(), "not eligible while soaking")

			time.Sleep(time.Until(met.Add(soak + 500*time.Millisecond)))

			versions, sess = check(map[string]any{"source": eligible})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
			expectPassAdmitted(getDir, "staging", "1.0.0")
		})

		It("never refuses with 0s left: the time left shown is positive until the soak is over", func() {
			policy := map[string]any{
				"dev1":    map[string]any{},
				"staging": map[string]any{"requires_any": []string{"dev1"}, "soak": "3s"},
			}
			src = source(bucket, map[string]any{"environments": policy})
			updatePolicy(src)
			refused := false
			for attempt := range 3 {
				version := fmt.Sprintf("2.0.%d", attempt)
				templates := redisTemplates(version)
				delete(templates, "environments/production/ops/scale.yml")
				publish(src, templates, version)
				getDir, _ := get(src, ver(version), map[string]any{"skip_download": true})
				expectPassAdmitted(getDir, "dev1", version)
				fresh, _ := get(src, ver(version), map[string]any{"skip_download": true})
				passedAt := recordTime(passedRecords(fresh)[0])

				// Ask again when less than half a second of the soak is left.
				time.Sleep(time.Until(passedAt.Add(3*time.Second - 400*time.Millisecond)))
				_, sess := pass(src, getDir, "staging")
				if sess.ExitCode() == 0 {
					continue // this machine took more than 400ms to start out; try again
				}
				refused = true
				line := expectRefusal(sess, "staging")
				m := regexp.MustCompile(`(\S+) left`).FindStringSubmatch(line)
				Expect(m).NotTo(BeNil(), "the refusal should say how much time is left: %s", line)
				left, err := time.ParseDuration(m[1])
				Expect(err).NotTo(HaveOccurred(), "time left %q", m[1])
				Expect(left).To(BeNumerically(">", 0), "a refusal for a soak must not say nothing is left: %s", line)
				break
			}
			if !refused {
				Skip("could not ask within the last 400ms of a soak on this machine")
			}
		})

		It("counts an AND gate's soak from when the last requirement first passed", func() {
			policy := map[string]any{
				"dev1":       map[string]any{},
				"dev2":       map[string]any{},
				"production": map[string]any{"requires_all": []string{"dev1", "dev2"}, "soak": "2s"},
			}
			src = source(bucket, map[string]any{"environments": policy})
			updatePolicy(src)
			getDir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})

			expectPassAdmitted(getDir, "dev1", "1.0.0")
			time.Sleep(soak + 500*time.Millisecond)
			expectPassAdmitted(getDir, "dev2", "1.0.0")
			met := time.Now()

			line := expectPassRefused(getDir, "production", "production")
			Expect(line).To(MatchRegexp(`(?i)soak`))

			time.Sleep(time.Until(met.Add(soak + 500*time.Millisecond)))
			expectPassAdmitted(getDir, "production", "1.0.0")
		})
	})

	Describe("the record", func() {
		It("keeps time, build and note in passed.json, in time order, with Concourse's build URLs", func() {
			getDir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			// The store's clock: the server's Date, whole seconds.
			before := time.Now().Add(-2 * time.Second)

			_, sess := passEnv(src, getDir, "dev1", "smoke tests green", map[string]string{
				"BUILD_ID":            "1234",
				"BUILD_NAME":          "7",
				"BUILD_JOB_NAME":      "deploy-dev1",
				"BUILD_PIPELINE_NAME": "redis",
				"BUILD_TEAM_NAME":     "main",
				"ATC_EXTERNAL_URL":    "https://ci.example.com",
			})
			succeeded(sess)
			_, sess = passEnv(src, getDir, "dev2", "", map[string]string{
				"BUILD_ID":         "99",
				"BUILD_NAME":       "1",
				"BUILD_TEAM_NAME":  "main",
				"ATC_EXTERNAL_URL": "https://ci.example.com",
			})
			succeeded(sess)
			after := time.Now().Add(time.Second)

			fresh, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			records := passedRecords(fresh)
			Expect(records).To(HaveLen(2))
			Expect(recordTime(records[1])).To(BeTemporally(">=", recordTime(records[0])), "passed.json is in time order")
			// Two environments' passes within one second of the store's
			// clock (whole seconds) may show in either order.
			if records[0]["environment"] == "dev2" {
				records[0], records[1] = records[1], records[0]
			}

			dev1 := records[0]
			Expect(dev1["environment"]).To(Equal("dev1"))
			Expect(dev1["note"]).To(Equal("smoke tests green"))
			t1 := recordTime(dev1)
			Expect(t1).To(BeTemporally(">=", before))
			Expect(t1).To(BeTemporally("<=", after))
			build := buildOf(dev1)
			Expect(fmt.Sprint(build["id"])).To(Equal("1234"))
			Expect(fmt.Sprint(build["name"])).To(Equal("7"))
			Expect(build["job"]).To(Equal("deploy-dev1"))
			Expect(build["pipeline"]).To(Equal("redis"))
			Expect(build["team"]).To(Equal("main"))
			Expect(build["url"]).To(Equal("https://ci.example.com/teams/main/pipelines/redis/jobs/deploy-dev1/builds/7"))

			oneOff := records[1]
			Expect(oneOff["environment"]).To(Equal("dev2"))
			Expect(recordTime(oneOff)).To(BeTemporally("~", t1, 2*time.Second))
			Expect(fmt.Sprint(buildOf(oneOff)["id"])).To(Equal("99"))
			Expect(buildOf(oneOff)["url"]).To(Equal("https://ci.example.com/builds/99"))
		})
	})

	Describe("the candidate directory", func() {
		It("is refused when its sha256 does not match the stored candidate of its version", func() {
			other := publish(src, redisTemplates("two"), "1.0.1")
			otherDigest, _ := other.Meta("sha256")

			getDir, _ := get(src, ver("1.0.0"), nil)
			Expect(os.WriteFile(filepath.Join(getDir, "cand", "sha256"), []byte(otherDigest+"\n"), 0o644)).To(Succeed())

			expectPassRefused(getDir, "dev2", "sha256")
		})
	})

	Describe("concurrency", func() {
		It("keeps all of 20 pass records written at once on one candidate", func() {
			getDir, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			req := map[string]any{"source": src, "params": map[string]any{"candidate": "cand", "environment": "dev1"}}
			sessions := make([]*gexec.Session, 20)
			for i := range sessions {
				sessions[i] = start(cfg.Out, []string{getDir}, req, map[string]string{"BUILD_ID": fmt.Sprint(i)})
			}
			for _, s := range sessions {
				succeeded(finish(s))
			}
			Expect(keysUnder(bucket, "passes/dev1/"+versionKey("1.0.0")+"/")).To(HaveLen(20))
			fresh, _ := get(src, ver("1.0.0"), map[string]any{"skip_download": true})
			Expect(passedRecords(fresh)).To(HaveLen(20))
		})
	})
})

func passedRecords(getDir string) []map[string]any {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(getDir, "cand", "passed.json"))
	Expect(err).NotTo(HaveOccurred())
	var records []map[string]any
	Expect(json.Unmarshal(b, &records)).To(Succeed(), "passed.json: %s", b)
	return records
}

func passedEnvironments(getDir string) []string {
	GinkgoHelper()
	var envs []string
	for _, r := range passedRecords(getDir) {
		envs = append(envs, fmt.Sprint(r["environment"]))
	}
	return envs
}

func recordTime(r map[string]any) time.Time {
	GinkgoHelper()
	s, ok := r["time"].(string)
	Expect(ok).To(BeTrue(), "time should be a string: %v", r)
	Expect(s).To(HaveSuffix("Z"), "time should be UTC")
	t, err := time.Parse(time.RFC3339Nano, s)
	Expect(err).NotTo(HaveOccurred(), "time should be RFC 3339")
	return t
}

func buildOf(r map[string]any) map[string]any {
	GinkgoHelper()
	b, ok := r["build"].(map[string]any)
	Expect(ok).To(BeTrue(), "build should be an object: %v", r)
	return b
}
