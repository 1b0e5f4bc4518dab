package render_test

import (
	"io/fs"
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"gopkg.in/yaml.v2"

	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

const exampleDir = "../../examples/redis"

var exampleEnvironments = []string{"dev1", "dev2", "staging", "production"}

func exampleTemplates() fs.FS { return os.DirFS(exampleDir) }

func renderedExample(env string) map[interface{}]interface{} {
	GinkgoHelper()
	out, err := render.Render(exampleTemplates(), env)
	Expect(err).NotTo(HaveOccurred())
	var doc map[interface{}]interface{}
	Expect(yaml.Unmarshal(out, &doc)).To(Succeed())
	return doc
}

// dig follows map keys and name=… array items.
func dig(doc interface{}, path ...string) interface{} {
	GinkgoHelper()
	for _, p := range path {
		switch node := doc.(type) {
		case map[interface{}]interface{}:
			doc = node[p]
		case []interface{}:
			var found interface{}
			for _, item := range node {
				if m, ok := item.(map[interface{}]interface{}); ok && m["name"] == p {
					found = m
				}
			}
			doc = found
		default:
			Fail("cannot follow " + p)
		}
	}
	return doc
}

var _ = Describe("the Redis example templates", func() {
	DescribeTable("render every environment with its own networking, hostname and scale",
		func(env, deployment, network, hostname string, instances int, vmType string) {
			doc := renderedExample(env)
			redis := dig(doc, "instance_groups", "redis").(map[interface{}]interface{})
			Expect(doc["name"]).To(Equal(deployment))
			Expect(dig(redis, "networks", network)).NotTo(BeNil())
			Expect(dig(redis, "networks", network, "static_ips")).To(HaveLen(instances))
			Expect(redis["instances"]).To(Equal(instances))
			Expect(redis["vm_type"]).To(Equal(vmType))
			Expect(redis["azs"]).To(HaveLen(instances))
			Expect(dig(redis, "jobs", "redis", "provides", "redis", "aliases")).To(ConsistOf(
				HaveKeyWithValue("domain", hostname)))
			// Left for the director and CredHub.
			Expect(dig(redis, "jobs", "redis", "properties", "password")).To(Equal("((redis_password))"))
			Expect(dig(doc, "variables", "redis_password")).NotTo(BeNil())
		},
		Entry(nil, "dev1", "redis-dev1", "redis-dev1", "redis.dev1.corp.example.com", 1, "small"),
		Entry(nil, "dev2", "redis-dev2", "redis-dev2", "redis.dev2.corp.example.com", 1, "small"),
		Entry(nil, "staging", "redis", "redis-staging", "redis.staging.corp.example.com", 2, "medium"),
		Entry(nil, "production", "redis", "redis-production", "redis.corp.example.com", 3, "large"),
	)

	It("has a folder for each of the four environments", func() {
		entries, err := os.ReadDir(exampleDir + "/environments")
		Expect(err).NotTo(HaveOccurred())
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		Expect(names).To(ConsistOf(exampleEnvironments))
	})

	It("renders staging and production differing only in networking, hostnames and scale", func() {
		strip := func(doc map[interface{}]interface{}) map[interface{}]interface{} {
			for _, group := range []string{"redis", "sanity-tests"} {
				g := dig(doc, "instance_groups", group).(map[interface{}]interface{})
				delete(g, "networks") // networking
				delete(g, "azs")
			}
			redis := dig(doc, "instance_groups", "redis").(map[interface{}]interface{})
			delete(redis, "instances") // scale
			delete(redis, "vm_type")
			delete(redis, "persistent_disk_type")
			alias := dig(redis, "jobs", "redis", "provides", "redis", "aliases").([]interface{})
			delete(alias[0].(map[interface{}]interface{}), "domain") // hostname
			return doc
		}
		staging, production := renderedExample("staging"), renderedExample("production")
		Expect(staging).NotTo(Equal(production))
		Expect(strip(staging)).To(Equal(strip(production)))
	})
})
