package integration_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The final-release gate (README "Source") on top of redisPolicy.
func gatedPolicy() map[string]any {
	p := redisPolicy()
	p["staging"] = map[string]any{"requires_any": []string{"dev1", "dev2"}, "final_releases": true}
	p["production"] = map[string]any{"requires_all": []string{"staging", "staging-tests"}, "final_releases": true}
	return p
}

// withRedisVersion gives the templates' redis release another version.
func withRedisVersion(files map[string]string, version string) map[string]string {
	files["manifest.yml"] = strings.Replace(files["manifest.yml"], `version: "14.0.1"`, `version: "`+version+`"`, 1)
	return files
}

// exampleTemplates reads examples/redis into a file map.
func exampleTemplates() map[string]string {
	GinkgoHelper()
	_, here, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(here), "..", "examples", "redis")
	files := map[string]string{}
	Expect(filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		b, err := os.ReadFile(path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})).To(Succeed())
	return files
}

type release struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Final   bool   `json:"final"`
}

func readReleases(dir string) []release {
	GinkgoHelper()
	b, err := os.ReadFile(filepath.Join(dir, "releases.json"))
	Expect(err).NotTo(HaveOccurred())
	var rels []release
	Expect(json.Unmarshal(b, &rels)).To(Succeed())
	return rels
}

var _ = Describe("rendering manifests per environment", func() {
	var (
		bucket string
		src    map[string]any
	)

	BeforeEach(func() {
		bucket = newBucket()
		src = source(bucket, map[string]any{"environments": gatedPolicy()})
	})

	It("writes manifest.yml and releases.json for the environment asked for", func() {
		publish(src, exampleTemplates(), "1.0.0")

		staging, resp := get(src, ver("1.0.0"), map[string]any{"render": "staging"})
		production, _ := get(src, ver("1.0.0"), map[string]any{"render": "production"})
		stagingManifest := readTrimmed(filepath.Join(staging, "cand", "manifest.yml"))
		productionManifest := readTrimmed(filepath.Join(production, "cand", "manifest.yml"))

		Expect(stagingManifest).To(ContainSubstring("redis.staging.corp.example.com"))
		Expect(productionManifest).To(ContainSubstring("redis.corp.example.com"))
		Expect(productionManifest).NotTo(Equal(stagingManifest))
		Expect(stagingManifest).To(ContainSubstring("((redis_password))"), "variables not given stay placeholders")
		Expect(readReleases(filepath.Join(staging, "cand"))).To(ContainElement(release{Name: "redis", Version: "14.0.1", Final: true}))
		releases, ok := resp.Meta("releases")
		Expect(ok).To(BeTrue())
		Expect(releases).To(ContainSubstring("redis 14.0.1"))
	})

	It("renders exactly what bosh int renders from the candidate's templates", func() {
		bosh, err := exec.LookPath("bosh")
		if envBosh := os.Getenv("BOSH_CLI"); envBosh != "" {
			bosh, err = envBosh, nil
		}
		Expect(err).NotTo(HaveOccurred(), "the real bosh CLI is needed: make test builds it (scripts/install-tools.sh)")
		publish(src, exampleTemplates(), "1.0.0")

		for _, env := range []string{"dev1", "dev2", "staging", "production"} {
			dir, _ := get(src, ver("1.0.0"), map[string]any{"render": env})
			cand := filepath.Join(dir, "cand")
			args := []string{"int", "manifest.yml"}
			ops, _ := filepath.Glob(filepath.Join(cand, "templates", "ops", "*.yml"))
			envOps, _ := filepath.Glob(filepath.Join(cand, "templates", "environments", env, "ops", "*.yml"))
			for _, f := range append(ops, envOps...) {
				rel, _ := filepath.Rel(filepath.Join(cand, "templates"), f)
				args = append(args, "-o", rel)
			}
			if _, err := os.Stat(filepath.Join(cand, "templates", "environments", env, "vars.yml")); err == nil {
				args = append(args, "-l", filepath.Join("environments", env, "vars.yml"))
			}
			cmd := exec.Command(bosh, args...)
			cmd.Dir = filepath.Join(cand, "templates")
			want, err := cmd.Output()
			Expect(err).NotTo(HaveOccurred(), "bosh %v", args)
			got, err := os.ReadFile(filepath.Join(cand, "manifest.yml"))
			Expect(err).NotTo(HaveOccurred())
			Expect(string(got)).To(Equal(string(want)), "manifest for %s", env)
		}
	})

	It("renders from candidate.tgz when templates are not unpacked", func() {
		publish(src, exampleTemplates(), "1.0.0")
		dir, _ := get(src, ver("1.0.0"), map[string]any{"render": "dev2", "unpack": false})
		Expect(filepath.Join(dir, "cand", "templates")).NotTo(BeADirectory())
		Expect(readTrimmed(filepath.Join(dir, "cand", "manifest.yml"))).To(ContainSubstring("name: redis"))
	})

	Describe("publishing templates that do not render", func() {
		DescribeTable("is refused naming the environment, file and op, and stores nothing",
			func(breakIt func(map[string]string), fragments ...string) {
				files := exampleTemplates()
				breakIt(files)
				dir := GinkgoT().TempDir()
				writeFiles(filepath.Join(dir, "templates"), files)
				_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version": "1.0.0"}})
				expectRefusal(sess, fragments...)
				Expect(bucketKeys(bucket)).To(BeEmpty())
			},
			Entry("an ops path that does not exist", func(f map[string]string) {
				f["environments/staging/ops/30-broken.yml"] = "- type: replace\n  path: /no_such_key/x\n  value: 1\n"
			}, "rendering staging", "environments/staging/ops/30-broken.yml", "op 1", "/no_such_key/x"),
			Entry("an ops file that is not YAML", func(f map[string]string) {
				f["ops/99-bad.yml"] = "- type: replace\n  path: [unclosed\n"
			}, "ops/99-bad.yml"),
			Entry("a missing manifest.yml", func(f map[string]string) {
				delete(f, "manifest.yml")
			}, "manifest.yml"),
		)

		It("refuses a tarball whose templates do not render, storing nothing", func() {
			files := exampleTemplates()
			files["environments/production/ops/30-broken.yml"] = "- type: remove\n  path: /instance_groups/name=nope\n"
			dir := GinkgoT().TempDir()
			makeTgz(filepath.Join(dir, "build", "redis.tgz"), files, true)
			_, sess := out(dir, map[string]any{"source": src, "params": map[string]any{"tarball": "build/*.tgz", "version": "1.0.0"}})
			expectRefusal(sess, "rendering production", "environments/production/ops/30-broken.yml")
			Expect(bucketKeys(bucket)).To(BeEmpty())
		})
	})

	Describe("the final-release gate", func() {
		BeforeEach(func() {
			publish(src, redisTemplates("final"), "1.0.0")
			publish(src, withRedisVersion(redisTemplates("dev"), "14+dev.3"), "1.1.0")
			mustPass(src, "1.0.0", "dev1")
			mustPass(src, "1.1.0", "dev1")
		})

		It("refuses staging for a candidate with a dev release, naming the release and version", func() {
			dir, _ := get(src, ver("1.1.0"), map[string]any{"skip_download": true})
			before := bucketKeys(bucket)
			_, sess := pass(src, dir, "staging")
			expectRefusal(sess, "1.1.0", "staging", "releases not final", "redis 14+dev.3")
			Expect(bucketKeys(bucket)).To(Equal(before))
		})

		It("admits the candidate whose releases are all final", func() {
			mustPass(src, "1.0.0", "staging")
		})

		It("keeps dev-release candidates out of eligible_for, without downloading any candidate", func() {
			proxy := startCountingProxy(cfg.Endpoint)
			eligible := source(bucket, map[string]any{"environments": gatedPolicy(), "eligible_for": "staging", "endpoint": proxy.URL})
			versions, sess := check(map[string]any{"source": eligible, "version": ver("1.0.0")})
			succeeded(sess)
			Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
			Expect(proxy.Counts()).To(Equal(map[string]int{"ListObjectsV2": 4}), "policies/, candidates/, passes/dev1/, passes/dev2/ and nothing else")
		})

		It("still lets a dev release into an environment without the gate", func() {
			mustPass(src, "1.1.0", "dev2")
		})

		It("writes releases.json marking the dev release not final", func() {
			dir, _ := get(src, ver("1.1.0"), map[string]any{"render": "dev1"})
			Expect(readReleases(filepath.Join(dir, "cand"))).To(Equal([]release{{Name: "redis", Version: "14+dev.3", Final: false}}))
		})
	})
})
