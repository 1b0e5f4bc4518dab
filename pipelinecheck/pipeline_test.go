package pipelinecheck_test

import (
	"bytes"
	"encoding/json"
	"os"
	"regexp"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gopkg.in/yaml.v3"

	"github.com/templates-candidate/templates-candidate-resource/pipelinecheck"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

const (
	pipelineFile = "../pipeline.yml"
	exampleDir   = "../examples/redis"
)

func loadPipeline() *pipelinecheck.Pipeline {
	GinkgoHelper()
	data, err := os.ReadFile(pipelineFile)
	Expect(err).NotTo(HaveOccurred())
	p, err := pipelinecheck.Load(data)
	Expect(err).NotTo(HaveOccurred())
	return p
}

// topLevel finds the position in the job's plan of the first step (or the
// in_parallel/do holding it) that matches, and whether it is reached only by
// the plan's own order (not a hook or a try).
func topLevel(j *pipelinecheck.Job, match func(*pipelinecheck.Step) bool) int {
	GinkgoHelper()
	for i, top := range j.Plan {
		found := false
		top.Walk(func(s *pipelinecheck.Step) {
			if match(s) {
				found = true
			}
		})
		if found {
			Expect(top.Action).To(BeElementOf("get", "put", "task", "in_parallel"), "%s: inside %s", top.Where, top.Action)
			Expect(top.Hooks).To(BeEmpty(), "%s has hooks", top.Where)
			return i
		}
	}
	return -1
}

func steps(j *pipelinecheck.Job, match func(*pipelinecheck.Step) bool) []*pipelinecheck.Step {
	var out []*pipelinecheck.Step
	j.Walk(func(s *pipelinecheck.Step) {
		if match(s) {
			out = append(out, s)
		}
	})
	return out
}

func puts(resource string) func(*pipelinecheck.Step) bool {
	return func(s *pipelinecheck.Step) bool { return s.Action == "put" && s.Resource == resource }
}

func passFor(env string) func(*pipelinecheck.Step) bool {
	return func(s *pipelinecheck.Step) bool { return s.Action == "put" && s.Params["environment"] == env }
}

var _ = Describe("pipeline.yml", func() {
	var p *pipelinecheck.Pipeline

	BeforeEach(func() {
		p = loadPipeline()
	})

	It("passes the checks of fly validate-pipeline --strict and this resource's keys", func() {
		Expect(p.Problems()).To(BeEmpty())
	})

	It("declares this resource type with its registry-image", func() {
		var found bool
		for _, t := range p.ResourceTypes {
			if t.Name == "templates-candidate" {
				found = true
				Expect(t.Type).To(Equal("registry-image"))
				Expect(t.Source).To(Equal(map[string]any{"repository": pipelinecheck.CandidateImage}))
			}
		}
		Expect(found).To(BeTrue())
	})

	It("uses the real resource types for the rest", func() {
		types := map[string]string{}
		for _, r := range p.Resources {
			types[r.Name] = r.Type
		}
		Expect(types).To(HaveKeyWithValue("redis-templates", "git"))
		Expect(types).To(HaveKeyWithValue("redis-release", "bosh-io-release"))
		Expect(types).To(HaveKeyWithValue("bpm-release", "bosh-io-release"))
		Expect(types).To(HaveKeyWithValue("jammy-stemcell", "bosh-io-stemcell"))
		for _, env := range []string{"dev1", "dev2", "staging", "production"} {
			Expect(types).To(HaveKeyWithValue("redis-"+env, "bosh-deployment"))
		}
		for _, t := range p.ResourceTypes {
			if t.Name == "bosh-deployment" {
				Expect(t.Type).To(Equal("registry-image"))
				Expect(t.Source["repository"]).To(Equal("cloudfoundry/bosh-deployment-resource"))
			}
		}
	})

	It("keeps one policy, the corporate one, in every view of the store", func() {
		want := map[string]any{
			"dev1":          map[string]any{},
			"dev2":          map[string]any{},
			"staging":       map[string]any{"requires_any": []any{"dev1", "dev2"}, "final_releases": true},
			"staging-tests": map[string]any{"requires_all": []any{"staging"}},
			"production": map[string]any{
				"requires_all": []any{"staging", "staging-tests"}, "final_releases": true, "soak": "1h",
				"upgrade_tested_in": "staging",
				"parity": map[string]any{"with": "staging", "allow": []any{
					"/instance_groups/name=redis/networks",
					"/instance_groups/name=redis/azs",
					"/instance_groups/name=redis/instances",
					"/instance_groups/name=redis/vm_type",
					"/instance_groups/name=redis/persistent_disk_type",
					"/instance_groups/name=redis/jobs/name=redis/provides/redis/aliases",
					"/instance_groups/name=sanity-tests/networks",
				}},
			},
		}
		views := map[string]string{}
		for _, r := range p.Resources {
			if !p.IsCandidate(r) {
				continue
			}
			Expect(r.Source["environments"]).To(Equal(want), r.Name)
			rest := map[string]any{}
			for k, v := range r.Source {
				if k != "eligible_for" && k != "live_in" {
					rest[k] = v
				}
			}
			Expect(rest).To(Equal(p.Resource("candidates").Source), r.Name)
			view, _ := r.Source["eligible_for"].(string)
			if live, ok := r.Source["live_in"].(string); ok {
				view = "live_in " + live
			} else if view != "" {
				view = "eligible_for " + view
			}
			views[r.Name] = view
		}
		Expect(views).To(Equal(map[string]string{
			"candidates":            "",
			"staging-candidates":    "eligible_for staging",
			"production-candidates": "eligible_for production",
			"production-live":       "live_in production",
		}))
	})

	It("is accepted by the resource's own request decoding, source and params alike", func() {
		decode := func(what string, request map[string]any, fn func(*bytes.Reader) error) {
			GinkgoHelper()
			data, err := json.Marshal(request)
			Expect(err).NotTo(HaveOccurred())
			Expect(fn(bytes.NewReader(data))).To(Succeed(), what)
		}
		for _, r := range p.Resources {
			if !p.IsCandidate(r) {
				continue
			}
			decode(r.Name, map[string]any{"source": r.Source, "version": nil}, func(b *bytes.Reader) error {
				_, err := protocol.DecodeCheck(b)
				return err
			})
		}
		for _, j := range p.Jobs {
			j.Walk(func(s *pipelinecheck.Step) {
				r := p.Resource(s.Resource)
				if r == nil || !p.IsCandidate(r) {
					return
				}
				get := func(params map[string]any) {
					decode(s.Where, map[string]any{"source": r.Source, "version": map[string]any{"version": "1.0.0"}, "params": params},
						func(b *bytes.Reader) error { _, err := protocol.DecodeIn(b); return err })
				}
				switch s.Action {
				case "get":
					get(s.Params)
				case "put":
					decode(s.Where, map[string]any{"source": r.Source, "params": s.Params},
						func(b *bytes.Reader) error { _, err := protocol.DecodeOut(b); return err })
					get(s.GetParams)
				}
			})
		}
	})

	It("publishes a candidate when the templates change", func() {
		j := p.Job("publish-candidate")
		Expect(j).NotTo(BeNil())
		git := steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "get" && s.Resource == "redis-templates" })
		Expect(git).To(HaveLen(1))
		Expect(git[0].Trigger).To(BeTrue())
		publish := steps(j, puts("candidates"))
		Expect(publish).To(HaveLen(1))
		Expect(publish[0].Params["directory"]).To(HavePrefix(git[0].Name + "/"))
	})

	It("records the reset of staging to what production runs between the reset and the upgrade", func() {
		j := p.Job("deploy-staging")
		production := steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "get" && s.Name == "production" })
		Expect(production).To(HaveLen(1))
		Expect(production[0].Resource).To(Equal("production-live"))
		deploys := steps(j, puts("redis-staging"))
		Expect(deploys).To(HaveLen(2))
		Expect(deploys[0].Params["manifest"]).To(Equal("production/manifest.yml"))
		resets := steps(j, func(s *pipelinecheck.Step) bool {
			return passFor("staging")(s) && s.Params["candidate"] == "production"
		})
		Expect(resets).To(HaveLen(1))
		resetAt := topLevel(j, func(s *pipelinecheck.Step) bool { return s == resets[0] })
		Expect(resetAt).To(BeNumerically(">", topLevel(j, func(s *pipelinecheck.Step) bool { return s == deploys[0] })))
		Expect(resetAt).To(BeNumerically("<", topLevel(j, func(s *pipelinecheck.Step) bool { return s == deploys[1] })))
	})

	Describe("each deploy job", func() {
		DescribeTable("deploys the candidate rendered for its environment, then records the pass",
			func(job, env, deployment, gate string) {
				j := p.Job(job)
				Expect(j).NotTo(BeNil())

				candidate := steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "get" && s.Name == "candidate" })
				Expect(candidate).To(HaveLen(1))
				Expect(candidate[0].Resource).To(Equal(gate))
				Expect(candidate[0].Trigger).To(BeTrue())
				Expect(candidate[0].Params["render"]).To(Equal(env))

				deploys := steps(j, puts(deployment))
				Expect(deploys).NotTo(BeEmpty())
				last := deploys[len(deploys)-1]
				Expect(last.Params["manifest"]).To(Equal("candidate/manifest.yml"))

				passes := steps(j, func(s *pipelinecheck.Step) bool { return passFor(env)(s) && s.Params["candidate"] == "candidate" })
				Expect(passes).To(HaveLen(1))

				// The pass follows the deploy in the plan itself: it never runs
				// when the deploy failed.
				deployAt := topLevel(j, func(s *pipelinecheck.Step) bool { return s == last })
				passAt := topLevel(j, func(s *pipelinecheck.Step) bool { return s == passes[0] })
				Expect(deployAt).To(BeNumerically(">=", 0))
				Expect(passAt).To(BeNumerically(">", deployAt))
				Expect(j.Plan[passAt].Action).To(Equal("put"))
			},
			Entry(nil, "deploy-dev1", "dev1", "redis-dev1", "candidates"),
			Entry(nil, "deploy-dev2", "dev2", "redis-dev2", "candidates"),
			Entry(nil, "deploy-staging", "staging", "redis-staging", "staging-candidates"),
			Entry(nil, "deploy-production", "production", "redis-production", "production-candidates"),
		)

		It("takes dev candidates from the publish job with passed:", func() {
			for _, job := range []string{"deploy-dev1", "deploy-dev2"} {
				c := steps(p.Job(job), func(s *pipelinecheck.Step) bool { return s.Name == "candidate" })
				Expect(c[0].Passed).To(Equal([]string{"publish-candidate"}), job)
			}
		})

		It("resets staging to what production runs before deploying the candidate", func() {
			j := p.Job("deploy-staging")
			live := steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "get" && s.Resource == "production-live" })
			Expect(live).To(HaveLen(1))
			Expect(live[0].Trigger).To(BeFalse())
			Expect(live[0].Params["render"]).To(Equal("staging"))

			deploys := steps(j, puts("redis-staging"))
			Expect(deploys).To(HaveLen(2))
			Expect(deploys[0].Params["manifest"]).To(Equal(live[0].Name + "/manifest.yml"))
			Expect(deploys[1].Params["manifest"]).To(Equal("candidate/manifest.yml"))
			Expect(topLevel(j, func(s *pipelinecheck.Step) bool { return s == deploys[0] })).
				To(BeNumerically("<", topLevel(j, func(s *pipelinecheck.Step) bool { return s == deploys[1] })))
		})

		It("records production's deployment where staging's reset reads it", func() {
			pass := steps(p.Job("deploy-production"), passFor("production"))
			Expect(pass[0].Resource).To(Equal("production-live"))
		})
	})

	It("runs the staging integration tests on what deploy-staging deployed and records staging-tests", func() {
		j := p.Job("staging-tests")
		Expect(j).NotTo(BeNil())
		c := steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "get" && s.Name == "candidate" })
		Expect(c).To(HaveLen(1))
		Expect(c[0].Resource).To(Equal("staging-candidates"))
		Expect(c[0].Passed).To(Equal([]string{"deploy-staging"}))
		Expect(c[0].Trigger).To(BeTrue())
		tests := topLevel(j, func(s *pipelinecheck.Step) bool { return s.Action == "task" })
		pass := topLevel(j, passFor("staging-tests"))
		Expect(tests).To(BeNumerically(">=", 0))
		Expect(pass).To(BeNumerically(">", tests))
		Expect(j.SerialGroups).To(ContainElement("staging"))
		Expect(p.Job("deploy-staging").SerialGroups).To(ContainElement("staging"))
	})

	It("never puts through a gate: a version a put returns would skip the gate's check", func() {
		for _, j := range p.Jobs {
			for _, s := range steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "put" }) {
				r := p.Resource(s.Resource)
				if p.IsCandidate(r) {
					Expect(r.Source).NotTo(HaveKey("eligible_for"), s.Where)
				}
			}
		}
	})

	It("deploys under the deployment names the rendered manifests carry", func() {
		for _, env := range []string{"dev1", "dev2", "staging", "production"} {
			manifest, err := render.Render(os.DirFS(exampleDir), env)
			Expect(err).NotTo(HaveOccurred())
			var doc struct {
				Name string `yaml:"name"`
			}
			Expect(yaml.Unmarshal(manifest, &doc)).To(Succeed())
			Expect(p.Resource("redis-" + env).Source["deployment"]).To(Equal(doc.Name), env)
		}
	})

	It("uploads the release versions the rendered manifests pin", func() {
		pinned := map[string]string{"redis-release": "redis", "bpm-release": "bpm"}
		for _, env := range []string{"dev1", "dev2", "staging", "production"} {
			manifest, err := render.Render(os.DirFS(exampleDir), env)
			Expect(err).NotTo(HaveOccurred())
			releases, err := render.Releases(manifest)
			Expect(err).NotTo(HaveOccurred())
			want := map[string]string{}
			for _, r := range releases {
				want[r.Name] = r.Version
			}
			for _, j := range p.Jobs {
				for _, s := range steps(j, func(s *pipelinecheck.Step) bool { return s.Action == "get" && pinned[s.Resource] != "" }) {
					Expect(s.Version).To(Equal(map[string]any{"version": want[pinned[s.Resource]]}), s.Where)
				}
			}
		}
	})

	It("takes every credential from ((vars))", func() {
		secret := regexp.MustCompile(`(?i)(secret|password|private_key|access_key|ca_cert|token|uri|target|client|bucket|auth)`)
		var check func(where string, v any)
		check = func(where string, v any) {
			switch t := v.(type) {
			case map[string]any:
				for k, val := range t {
					if s, ok := val.(string); ok && secret.MatchString(k) {
						Expect(s).To(MatchRegexp(`^\(\([\w.\-/]+\)\)$`), where+"."+k)
					}
					check(where+"."+k, val)
				}
			case []any:
				for _, val := range t {
					check(where, val)
				}
			}
		}
		for _, r := range p.Resources {
			check("resources."+r.Name+".source", r.Source)
		}
		for _, j := range p.Jobs {
			j.Walk(func(s *pipelinecheck.Step) {
				check(s.Where+".params", s.Params)
				if s.Config != nil {
					check(s.Where+".config.params", s.Config["params"])
				}
			})
		}
	})

	It("explains each gate in a comment", func() {
		data, err := os.ReadFile(pipelineFile)
		Expect(err).NotTo(HaveOccurred())
		text := string(data)
		for _, phrase := range []string{"dev1 OR", "final", "soak", "reset", "passed:", "only after the", "staging-tests"} {
			Expect(strings.Contains(text, "# ") && commentMentions(text, phrase)).To(BeTrue(), phrase)
		}
	})
})

func commentMentions(text, phrase string) bool {
	for _, line := range strings.Split(text, "\n") {
		if i := strings.Index(line, "#"); i >= 0 && strings.Contains(line[i:], phrase) {
			return true
		}
	}
	return false
}
