package render_test

import (
	"encoding/json"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

var _ = Describe("telling a final release version", func() {
	DescribeTable("by BOSH's semi-semantic rules",
		func(version string, final bool) {
			Expect(render.IsFinal(version)).To(Equal(final))
		},
		Entry("a major version is final", "14", true),
		Entry("a full version is final", "14.1.2", true),
		Entry("a long version is final", "1.2.3.4", true),
		Entry("a pre-release without a dev part is final", "14.0-rc.1", true),
		Entry("a dev release is not final", "14+dev.3", false),
		Entry("the first dev release is not final", "0+dev.1", false),
		Entry("a dev release of a pre-release is not final", "1.0-beta.2+dev.10", false),
		Entry("a timestamped dev release is not final", "14+dev.1700000000", false),
		Entry("any post-release is not final", "14+build.5", false),
		Entry("latest is not a version", "latest", false),
		Entry("a missing version is not final", "", false),
		Entry("a placeholder is not final", "((redis_version))", false),
		Entry("a version with spaces is not a version", " 14", false),
		Entry("garbage is not a version", "14..+", false),
	)
})

var _ = Describe("listing a manifest's releases", func() {
	It("lists them in manifest order with name, version and finality", func() {
		releases, err := render.Releases([]byte(`
name: redis
releases:
- name: redis
  version: 14+dev.3
  url: https://example.com/redis.tgz
- name: bpm
  version: "1.1.21"
- name: syslog
  version: latest
- name: os-conf
- name: numbers
  version: 14.10
- name: vars
  version: ((v))
`))
		Expect(err).NotTo(HaveOccurred())
		Expect(releases).To(Equal([]render.Release{
			{Name: "redis", Version: "14+dev.3", Final: false},
			{Name: "bpm", Version: "1.1.21", Final: true},
			{Name: "syslog", Version: "latest", Final: false},
			{Name: "os-conf", Version: "", Final: false},
			{Name: "numbers", Version: "14.10", Final: true},
			{Name: "vars", Version: "((v))", Final: false},
		}))
	})

	It("writes releases.json's fields", func() {
		releases, err := render.Releases([]byte("releases: [{name: redis, version: \"14\"}]\n"))
		Expect(err).NotTo(HaveOccurred())
		Expect(json.Marshal(releases)).To(MatchJSON(`[{"name":"redis","version":"14","final":true}]`))
	})

	DescribeTable("gives an empty list, never null, for a manifest without releases",
		func(manifest string) {
			releases, err := render.Releases([]byte(manifest))
			Expect(err).NotTo(HaveOccurred())
			Expect(json.Marshal(releases)).To(MatchJSON(`[]`))
		},
		Entry("no releases key", "name: redis\n"),
		Entry("null releases", "releases: ~\n"),
		Entry("an empty document", ""),
	)

	DescribeTable("fails on one line",
		func(manifest, want string) {
			_, err := render.Releases([]byte(manifest))
			Expect(err).To(MatchError(ContainSubstring(want)))
			Expect(err.Error()).NotTo(ContainSubstring("\n"))
		},
		Entry("on YAML that does not parse", "releases: [\n", "reading releases of the manifest: yaml: "),
		Entry("on releases that are not a list", "releases: {redis: 14}\n", "reading releases of the manifest: yaml: unmarshal errors: line 1: cannot unmarshal !!map"),
		Entry("on a version that is not a scalar", "releases: [{name: redis, version: {a: 1}}]\n", "cannot unmarshal !!map into string"),
		Entry("on a release without a name", "releases: [{name: a, version: \"1\"}, {version: \"14\"}]\n", "releases[1] has no name"),
	)

	It("reads the releases of the rendered example for every environment", func() {
		for _, env := range []string{"dev1", "dev2", "staging", "production"} {
			manifest, err := render.Render(exampleTemplates(), env)
			Expect(err).NotTo(HaveOccurred())
			Expect(render.Releases(manifest)).To(Equal([]render.Release{
				{Name: "bpm", Version: "1.1.21", Final: true},
				{Name: "redis", Version: "14.0.1", Final: true},
			}), env)
		}
	})
})
