package commands

import (
	"io/fs"
	"testing/fstest"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

var _ = Describe("folders under environments/", func() {
	manifest := "name: redis\nreleases: [{name: redis, version: \"14\"}]\n"
	pol := policy.Policy{"dev1": {}, "staging": {RequiresAny: []string{"dev1"}}, "production": {RequiresAll: []string{"staging"}}}

	It("render when each is a declared environment", func() {
		templates := fstest.MapFS{
			"manifest.yml":                      {Data: []byte(manifest)},
			"environments/dev1/vars.yml":        {Data: []byte("a: 1\n")},
			"environments/production/ops/a.yml": {Data: []byte("[]\n")},
		}
		releases, err := renderAll(templates, pol)
		Expect(err).NotTo(HaveOccurred())
		Expect(releases).To(HaveKey("staging"), "a declared environment without a folder renders from the base")
	})

	DescribeTable("are refused when one is not a declared environment, naming it and the declared ones",
		func(templates fstest.MapFS, want string) {
			templates["manifest.yml"] = &fstest.MapFile{Data: []byte(manifest)}
			_, err := renderAll(templates, pol)
			Expect(err).To(MatchError(want))
		},
		Entry("a typo", fstest.MapFS{"environments/prodution/ops/scale.yml": {Data: []byte("[]\n")}},
			"folder environments/prodution is not a declared environment (declared: dev1, production, staging): rename the folder or declare the environment in source.environments"),
		Entry("a folder without a template file (as Inspect shows it)", fstest.MapFS{"environments/qa": {Mode: fs.ModeDir | 0o755}},
			"folder environments/qa is not a declared environment (declared: dev1, production, staging): rename the folder or declare the environment in source.environments"),
		Entry("two of them", fstest.MapFS{
			"environments/stagin/vars.yml":      {Data: []byte("a: 1\n")},
			"environments/prodution/vars.yml":   {Data: []byte("a: 1\n")},
			"environments/production/ops/a.yml": {Data: []byte("[]\n")},
		}, "folders environments/prodution, environments/stagin are not declared environments (declared: dev1, production, staging): rename the folders or declare the environments in source.environments"),
	)

	It("may hold plain files beside the folders", func() {
		_, err := renderAll(fstest.MapFS{"manifest.yml": {Data: []byte(manifest)}, "environments/README.md": {Data: []byte("x")}}, pol)
		Expect(err).NotTo(HaveOccurred())
	})

	It("are not checked when no environment is declared: nothing is rendered", func() {
		_, err := renderAll(fstest.MapFS{"manifest.yml": {Data: []byte(manifest)}, "environments/dev1/vars.yml": {Data: []byte("a: 1\n")}}, nil)
		Expect(err).NotTo(HaveOccurred())
	})
})
