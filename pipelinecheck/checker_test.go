package pipelinecheck_test

import (
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pipelinecheck"
)

// minimal is a small valid pipeline; each entry below breaks one thing.
const minimal = `
resource_types:
- name: templates-candidate
  type: registry-image
  source: {repository: templates-candidate/templates-candidate-resource}
resources:
- name: templates
  type: git
  source: {uri: ((uri))}
- name: candidates
  type: templates-candidate
  source: &src
    bucket: b
    environments:
      dev1: {}
      staging: {requires_any: [dev1], final_releases: true}
- name: staging-candidates
  type: templates-candidate
  source: {<<: *src, eligible_for: staging}
jobs:
- name: publish
  plan:
  - get: templates
    trigger: true
  - put: candidates
    params: {directory: templates}
    get_params: {skip_download: true}
- name: dev1
  plan:
  - in_parallel:
    - get: candidate
      resource: candidates
      passed: [publish]
      trigger: true
      params: {render: dev1}
  - task: deploy
    config:
      platform: linux
      image_resource: {type: registry-image, source: {repository: busybox}}
      inputs: [{name: candidate}]
      run: {path: "true"}
  - put: candidates
    params: {candidate: candidate, environment: dev1}
- name: staging
  plan:
  - get: staging-candidates
    trigger: true
`

func problemsOf(pipeline string) []string {
	GinkgoHelper()
	p, err := pipelinecheck.Load([]byte(pipeline))
	if err != nil {
		return strings.Split(err.Error(), "\n")
	}
	return p.Problems()
}

var _ = Describe("checking a pipeline as fly validate-pipeline --strict", func() {
	It("finds nothing wrong with a valid pipeline", func() {
		Expect(problemsOf(minimal)).To(BeEmpty())
	})

	DescribeTable("reports each problem, naming where it is",
		func(from, to, want string) {
			Expect(strings.Contains(minimal, from)).To(BeTrue(), "the entry's text %q is not in the pipeline", from)
			Expect(problemsOf(strings.Replace(minimal, from, to, 1))).To(ContainElement(ContainSubstring(want)))
		},
		// YAML, strictly.
		Entry("YAML that does not parse", "jobs:", "jobs: [", "pipeline is not valid YAML"),
		Entry("a duplicate key", "  type: git\n", "  type: git\n  type: s3\n", `mapping key "type" already defined`),
		Entry("an unknown top-level key", "jobs:", "job:", `pipeline: unknown key "job"`),
		Entry("an unknown key in a resource", "  type: git\n", "  type: git\n  check_evry: 1m\n", `resources[0]: unknown key "check_evry"`),
		Entry("an unknown key in a job", "- name: staging\n", "- name: staging\n  serial_group: [x]\n", `jobs[2]: unknown key "serial_group"`),
		Entry("a key of another step kind", "    trigger: true\n  - put: candidates", "    trigger: true\n  - put: candidates\n    trigger: true", `jobs.publish.plan[1]: unknown key "trigger" in a put step`),
		Entry("a step with two actions", "  - get: staging-candidates\n", "  - get: staging-candidates\n    put: candidates\n", "several actions in one step: get, put"),
		Entry("a step with no action", "  - get: staging-candidates\n    trigger: true\n", "  - trigger: true\n", "no action"),
		Entry("trigger that is not a boolean", "    trigger: true\n  - put", "    trigger: \"yes\"\n  - put", "trigger: must be true or false, not a string"),
		Entry("passed that is not a list", "passed: [publish]", "passed: publish", "passed: must be a list, not a string"),
		Entry("a task without run.path", `run: {path: "true"}`, `run: {args: [x]}`, "run.path: required"),
		Entry("a task config with an unknown key", "platform: linux", "platfrom: linux", `config: unknown key "platfrom"`),
		Entry("a linux task without an image", "      image_resource: {type: registry-image, source: {repository: busybox}}\n", "", "needs image_resource"),
		Entry("a task without config or file", "  - task: deploy\n    config:", "  - task: deploy\n    conf:", "needs config or file"),
		Entry("in_parallel with an unknown option", "  - in_parallel:\n    - get: candidate", "  - in_parallel:\n      fail_fats: true\n      steps:\n      - get: candidate", `unknown key "fail_fats"`),

		// Cross references.
		Entry("a get of an undeclared resource", "  - get: staging-candidates\n", "  - get: prod-candidates\n", `jobs.staging.plan[0].get(prod-candidates): unknown resource "prod-candidates"`),
		Entry("a put through an undeclared resource", "  - put: candidates\n    params: {candidate", "  - put: candidatess\n    params: {candidate", `unknown resource "candidatess"`),
		Entry("a get whose resource: is undeclared", "      resource: candidates\n", "      resource: candidate\n", `unknown resource "candidate"`),
		Entry("passed: naming no job", "passed: [publish]", "passed: [publish-candidate]", `passed: unknown job "publish-candidate"`),
		Entry("passed: naming a job that never touches the resource", "passed: [publish]", "passed: [staging]", `passed: job "staging" does not interact with resource "candidates"`),
		Entry("a resource of an undeclared type", "  type: git\n", "  type: gti\n", `resources.templates: type "gti" is neither a core resource type nor declared`),
		Entry("an unused resource type", "resources:\n", "- name: spare\n  type: registry-image\n  source: {repository: x}\nresources:\n", "resource_types.spare: not used by any resource"),
		Entry("an unused resource", "jobs:\n", "- name: spare\n  type: time\n  source: {interval: 1h}\njobs:\n", "resources.spare: not used by any job"),
		Entry("a resource declared twice", "- name: staging-candidates\n  type: templates-candidate\n", "- name: candidates\n  type: templates-candidate\n", "resources.candidates: declared more than once"),
		Entry("a job declared twice", "- name: staging\n", "- name: dev1\n", "jobs.dev1: declared more than once"),
		Entry("an upper-case job name", "- name: staging\n", "- name: Staging\n", `jobs.Staging: "Staging" is not a valid identifier`),
		Entry("a resource name with a space", "- name: templates\n  type: git", "- name: my templates\n  type: git", `resources.my templates: "my templates" is not a valid identifier`),
		Entry("a resource name of digits only", "- name: templates\n  type: git", "- name: \"2026\"\n  type: git", `"2026" is not a valid identifier`),
		Entry("a resource name starting with a dash", "- name: templates\n  type: git", "- name: -templates\n  type: git", `"-templates" is not a valid identifier`),
		Entry("two gets of one name in a job", "  - get: staging-candidates\n", "  - get: staging-candidates\n  - get: staging-candidates\n", "jobs.staging.plan[1].get(staging-candidates): repeated name"),
		Entry("a group naming no job", "jobs:\n", "groups: [{name: all, jobs: [publish, dev1, staging, prod]}]\njobs:\n", `groups.all: unknown job "prod"`),
		Entry("a job in no group", "jobs:\n", "groups: [{name: all, jobs: [publish, dev1]}]\njobs:\n", "jobs.staging: not in any group"),
		Entry("a bad timeout", "  - get: staging-candidates\n", "  - get: staging-candidates\n    timeout: 5 minutes\n", `timeout: invalid duration "5 minutes"`),
		Entry("zero attempts", "  - get: staging-candidates\n", "  - get: staging-candidates\n    attempts: 0\n", "attempts: must be greater than 0"),
		Entry("a step name with capitals", "  - task: deploy\n", "  - task: Deploy\n", `step name "Deploy" is not a valid identifier`),

		// This resource type's keys (team contract).
		Entry("an unknown source key", "    bucket: b\n", "    bucket: b\n    bukket: c\n", `resources.candidates.source: unknown key "bukket"`),
		Entry("an unknown source key beside a merge", "eligible_for: staging}", "eligible_for: staging, passed_in: x}", `resources.staging-candidates.source: unknown key "passed_in"`),
		Entry("an unknown rule key", "final_releases: true}", "final_release: true}", `resources.candidates.source.environments.staging: unknown key "final_release"`),
		Entry("an unknown get param", "params: {render: dev1}", "params: {render: dev1, untar: true}", `get(candidate).params: unknown key "untar"`),
		Entry("an unknown put param", "params: {candidate: candidate, environment: dev1}", "params: {candidate: candidate, env: dev1}", `put(candidates).params: unknown key "env"`),
		Entry("an unknown get_params key", "get_params: {skip_download: true}", "get_params: {skip: true}", `put(candidates).get_params: unknown key "skip"`),
	)

	It("accepts names Concourse accepts: starting with a digit, with '.', '_' and '-'", func() {
		renamed := strings.ReplaceAll(minimal, "staging-candidates", "2nd_staging.candidates")
		Expect(problemsOf(renamed)).To(BeEmpty())
	})

	It("does not hold other resources' source and params to this resource's keys", func() {
		Expect(problemsOf(strings.Replace(minimal, "source: {uri: ((uri))}", "source: {uri: ((uri)), branch: main, anything: 1}", 1))).To(BeEmpty())
	})
})
