package render_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

var _ = Describe("comparing two rendered manifests", func() {
	staging := []byte(`---
name: redis-staging
instance_groups:
- name: redis
  instances: 1
  networks: [{name: staging-net}]
  jobs:
  - name: redis
    properties: {maxmemory: 1gb, port: 6379}
- name: sentinel
  instances: 1
variables: [a, b]
`)
	production := []byte(`---
name: redis-staging
instance_groups:
- name: sentinel
  instances: 1
- name: redis
  instances: 5
  networks: [{name: prod-net}]
  jobs:
  - name: redis
    properties: {maxmemory: 4gb, port: 6379}
variables: [a, c]
`)

	It("lists each difference by a go-patch path, selecting named items by name whatever their order", func() {
		diffs, err := render.Diff(staging, production)
		Expect(err).NotTo(HaveOccurred())
		var paths []string
		for _, d := range diffs {
			paths = append(paths, d.Path)
		}
		Expect(paths).To(Equal([]string{
			"/instance_groups/name=redis/instances",
			"/instance_groups/name=redis/jobs/name=redis/properties/maxmemory",
			"/instance_groups/name=redis/networks/name=staging-net",
			"/instance_groups/name=redis/networks/name=prod-net",
			"/variables/1",
		}))
	})

	DescribeTable("allows a difference at or below an allowed path",
		func(allowed string, want bool) {
			diffs, _ := render.Diff(staging, production)
			Expect(diffs[0].Allows(allowed)).To(Equal(want), "%s allows %s", allowed, diffs[0].Path)
		},
		Entry("the path itself", "/instance_groups/name=redis/instances", true),
		Entry("a parent", "/instance_groups/name=redis", true),
		Entry("by index", "/instance_groups/1/instances", false),
		Entry("another item", "/instance_groups/name=sentinel/instances", false),
		Entry("a sibling", "/instance_groups/name=redis/networks", false),
	)

	It("names the first difference no allowed path covers", func() {
		diffs, _ := render.Diff(staging, production)
		d := render.Outside(diffs, []string{"/instance_groups/name=redis/instances", "/instance_groups/name=redis/networks", "/variables"})
		Expect(d).NotTo(BeNil())
		Expect(d.Path).To(Equal("/instance_groups/name=redis/jobs/name=redis/properties/maxmemory"))
		Expect(d.From).To(Equal("1gb"))
		Expect(d.To).To(Equal("4gb"))
		Expect(render.Outside(diffs, []string{"/instance_groups/name=redis", "/variables"})).To(BeNil())
	})

	It("writes a reviewer's diff", func() {
		diffs, _ := render.Diff(staging, production)
		Expect(string(render.DiffText("staging", "production", diffs))).To(ContainSubstring("- /instance_groups/name=redis/instances: 1\n+ /instance_groups/name=redis/instances: 5\n"))
	})
})
