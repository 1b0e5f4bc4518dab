package render_test

import (
	"errors"
	"os"
	"testing/fstest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	. "github.com/onsi/gomega/gstruct"

	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

// tree builds a templates tree from path → content.
func tree(files map[string]string) fstest.MapFS {
	fsys := fstest.MapFS{}
	for name, content := range files {
		fsys[name] = &fstest.MapFile{Data: []byte(content), Mode: 0o644}
	}
	return fsys
}

const baseManifest = `---
name: ((deployment_name))
instance_groups:
- name: redis
  instances: 1
  vm_type: default
  networks: [{name: default}]
  jobs:
  - name: redis
    release: redis
    properties:
      password: ((redis_password))
releases:
- name: redis
  version: "14.0.1"
variables:
- name: redis_password
  type: password
`

// absent, as a file's content in a table entry, removes the file.
const absent = "\x00absent"

func replaceOp(path, value string) string {
	return "- type: replace\n  path: " + path + "\n  value: " + value + "\n"
}

func mustRender(fsys fstest.MapFS, env string) string {
	GinkgoHelper()
	out, err := render.Render(fsys, env)
	Expect(err).NotTo(HaveOccurred())
	return string(out)
}

var _ = Describe("rendering an environment", func() {
	var files map[string]string

	BeforeEach(func() {
		files = map[string]string{"manifest.yml": baseManifest}
	})

	It("applies shared ops in name order, then the environment's ops in name order, then its vars", func() {
		// Each op overwrites the same key: the last one applied wins.
		files["ops/20-second.yml"] = replaceOp("/instance_groups/name=redis/vm_type", "shared-20")
		files["ops/10-first.yml"] = replaceOp("/instance_groups/name=redis/vm_type", "shared-10")
		files["environments/staging/ops/b.yml"] = replaceOp("/instance_groups/name=redis/instances", "3")
		files["environments/staging/ops/a.yml"] = replaceOp("/instance_groups/name=redis/instances", "2") +
			replaceOp("/instance_groups/name=redis/vm_type", "((vm_type))")
		files["environments/staging/vars.yml"] = "deployment_name: redis-staging\nvm_type: large\n"

		out := mustRender(tree(files), "staging")
		Expect(out).To(ContainSubstring("name: redis-staging\n"))
		Expect(out).To(ContainSubstring("instances: 3\n"))
		Expect(out).To(ContainSubstring("vm_type: large\n"))
	})

	It("keeps variables no file gives as ((placeholders)), with their definitions", func() {
		out := mustRender(tree(files), "dev1")
		Expect(out).To(ContainSubstring("name: ((deployment_name))\n"))
		Expect(out).To(ContainSubstring("password: ((redis_password))\n"))
		Expect(out).To(ContainSubstring("- name: redis_password\n  type: password\n"))
	})

	It("drops the definition of a variable the vars file gives, as bosh int does", func() {
		files["environments/dev1/vars.yml"] = "redis_password: s3cret\n"
		out := mustRender(tree(files), "dev1")
		Expect(out).To(ContainSubstring("password: s3cret\n"))
		Expect(out).To(ContainSubstring("variables: []\n"))
	})

	It("renders an environment with no folder from manifest.yml and ops/ alone", func() {
		files["ops/10-vm.yml"] = replaceOp("/instance_groups/name=redis/vm_type", "shared")
		files["environments/staging/ops/10-vm.yml"] = replaceOp("/instance_groups/name=redis/vm_type", "staging")
		out := mustRender(tree(files), "qa")
		Expect(out).To(ContainSubstring("vm_type: shared\n"))
	})

	It("renders an environment folder without vars.yml or without ops/", func() {
		files["environments/dev1/ops/10-scale.yml"] = replaceOp("/instance_groups/name=redis/instances", "4")
		files["environments/dev2/vars.yml"] = "deployment_name: redis-dev2\n"
		Expect(mustRender(tree(files), "dev1")).To(ContainSubstring("instances: 4\n"))
		Expect(mustRender(tree(files), "dev2")).To(ContainSubstring("name: redis-dev2\n"))
	})

	It("ignores dot files, sub-directories and non-YAML files among the ops files", func() {
		files["ops/._10-vm.yml"] = "\x00\x05 not yaml"
		files["ops/README.md"] = "# notes"
		files["ops/old/10-vm.yml"] = replaceOp("/nope", "1")
		out := mustRender(tree(files), "dev1")
		Expect(out).To(ContainSubstring("vm_type: default\n"))
	})

	It("renders the same bytes every time", func() {
		files["environments/dev1/vars.yml"] = "deployment_name: d\n"
		first := mustRender(tree(files), "dev1")
		for range 5 {
			Expect(mustRender(tree(files), "dev1")).To(Equal(first))
		}
	})

	It("lists its inputs in the order of the equivalent bosh int command", func() {
		in, err := render.FindInputs(os.DirFS("../../examples/redis"), "staging")
		Expect(err).NotTo(HaveOccurred())
		Expect(in.BoshIntArgs()).To(Equal([]string{
			"int", "manifest.yml",
			"-o", "ops/10-public-hostname.yml",
			"-o", "ops/20-update-policy.yml",
			"-o", "environments/staging/ops/10-networking.yml",
			"-o", "environments/staging/ops/20-scale.yml",
			"-l", "environments/staging/vars.yml",
		}))

		in, err = render.FindInputs(os.DirFS("../../examples/redis"), "qa")
		Expect(err).NotTo(HaveOccurred())
		Expect(in.BoshIntArgs()).To(Equal([]string{
			"int", "manifest.yml", "-o", "ops/10-public-hostname.yml", "-o", "ops/20-update-policy.yml",
		}))
	})

	DescribeTable("fails on one line naming the environment, the file and the op",
		func(extra map[string]string, env string, want ...string) {
			for k, v := range extra {
				if v == absent {
					delete(files, k)
					continue
				}
				files[k] = v
			}
			_, err := render.Render(tree(files), env)
			Expect(err).To(HaveOccurred())
			for _, w := range want {
				Expect(err.Error()).To(ContainSubstring(w))
			}
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
		},
		Entry("an op whose path does not exist",
			map[string]string{"environments/staging/ops/scale.yml": replaceOp("/instance_groups/name=redis/vm_type", "large") +
				replaceOp("/instance_groups/name=redis/instances/nope", "2")},
			"staging",
			"rendering staging: ops file environments/staging/ops/scale.yml: op 2 (replace /instance_groups/name=redis/instances/nope): ",
			"Expected to find a map"),
		Entry("an array item that does not match",
			map[string]string{"ops/10-x.yml": replaceOp("/instance_groups/name=sentinel/instances", "2")},
			"dev1",
			"rendering dev1: ops file ops/10-x.yml: op 1 (replace /instance_groups/name=sentinel/instances): ",
			"Expected to find exactly one matching array item for path '/instance_groups/name=sentinel'"),
		Entry("a failing test op",
			map[string]string{"ops/10-x.yml": "- type: test\n  path: /releases/name=redis/version\n  value: \"15.0.0\"\n"},
			"dev1", "ops file ops/10-x.yml: op 1 (test /releases/name=redis/version): Found value does not match expected value"),
		Entry("a remove of something absent",
			map[string]string{"ops/10-x.yml": "- type: remove\n  path: /update\n"},
			"dev1", "ops file ops/10-x.yml: op 1 (remove /update): Expected to find a map key 'update'"),
		Entry("an op without a value",
			map[string]string{"ops/10-x.yml": replaceOp("/name", "x") + "- type: replace\n  path: /name\n"},
			"dev1", "rendering dev1: ops file ops/10-x.yml: op 2 (replace /name): Missing value"),
		Entry("an op of unknown type",
			map[string]string{"ops/10-x.yml": "- type: merge\n  path: /name\n  value: x\n"},
			"dev1", "ops file ops/10-x.yml: op 1 (merge /name): unknown operation with type 'merge'"),
		Entry("an op with a bad path",
			map[string]string{"ops/10-x.yml": "- type: replace\n  path: name\n  value: x\n"},
			"dev1", "ops file ops/10-x.yml: op 1 (replace name): Invalid path: Expected to start with '/'"),
		Entry("an ops file that is not a list of ops",
			map[string]string{"ops/10-x.yml": "type: replace\npath: /name\n"},
			"dev1", "rendering dev1: ops file ops/10-x.yml: yaml: unmarshal errors: line 1: cannot unmarshal"),
		Entry("an ops file that is not YAML",
			map[string]string{"environments/dev1/ops/10-x.yml": "- type: [replace\n"},
			"dev1", "rendering dev1: ops file environments/dev1/ops/10-x.yml: yaml: "),
		Entry("a manifest that is not YAML",
			map[string]string{"manifest.yml": "name: [redis\n"},
			"dev1", "rendering dev1: manifest.yml: yaml: "),
		Entry("a vars file that is not a map",
			map[string]string{"environments/dev1/vars.yml": "- a\n- b\n"},
			"dev1", "rendering dev1: vars file environments/dev1/vars.yml: yaml: unmarshal errors:"),
		Entry("a variable of a type that cannot go inside a string",
			map[string]string{"manifest.yml": "name: redis-((m))\n", "environments/dev1/vars.yml": "m: {a: 1}\n"},
			"dev1", "rendering dev1: interpolating variables: ", "Invalid type 'map[interface {}]interface {}'"),
		Entry("no manifest.yml",
			map[string]string{"manifest.yml": absent}, "dev1", "rendering dev1: manifest.yml: missing from the templates"),
		Entry("an ops file named .yaml, which would otherwise be silently skipped",
			map[string]string{"ops/10-x.yaml": replaceOp("/name", "x")},
			"dev1", "rendering dev1: ops/10-x.yaml: ops files are read from ops/*.yml only"),
		Entry("a vars file named vars.yaml",
			map[string]string{"environments/dev1/vars.yaml": "a: 1\n"},
			"dev1", "rendering dev1: environments/dev1/vars.yaml: variables are read from environments/dev1/vars.yml only"),
		Entry("an environment name with a slash", nil, "../dev1", `environment name "../dev1" is not a plain directory name`),
		Entry("an environment name that is a dot", nil, "..", `environment name ".." is not a plain directory name`),
		Entry("an empty environment name", nil, "", "environment name is empty"),
	)

	It("reports every ops file's parse error before applying any op, as bosh int does", func() {
		files["ops/10-a.yml"] = replaceOp("/nope/deeper", "1")
		files["ops/20-b.yml"] = "- type: replace\n  path: /name\n"
		_, err := render.Render(tree(files), "dev1")
		Expect(err).To(MatchError(ContainSubstring("ops file ops/20-b.yml: op 1 (replace /name): Missing value")))
	})

	It("lets a caller find the failing op with errors.As", func() {
		files["ops/10-a.yml"] = replaceOp("/name", "x") + replaceOp("/nope/deeper", "1")
		_, err := render.Render(tree(files), "dev1")
		var opErr *render.OpError
		Expect(errors.As(err, &opErr)).To(BeTrue())
		Expect(*opErr).To(MatchFields(IgnoreExtras, Fields{
			"File": Equal("ops/10-a.yml"), "Index": Equal(2), "Type": Equal("replace"), "Path": Equal("/nope/deeper"),
		}))
		var renderErr *render.Error
		Expect(errors.As(err, &renderErr)).To(BeTrue())
		Expect(renderErr.Environment).To(Equal("dev1"))
	})
})
