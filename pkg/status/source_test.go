package status_test

import (
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/status"
)

var _ = Describe("ParseSource", func() {
	env := map[string]string{}
	getenv := func(k string) string { return env[k] }
	BeforeEach(func() { clear(env) })
	parse := func(doc string, given map[string]string) (string, error) {
		src, err := status.ParseSource("source.yml", []byte(doc), status.Vars{Given: given, Getenv: getenv})
		return src.Bucket + "|" + src.Endpoint + "|" + src.Prefix, err
	}

	It("reads YAML and JSON, and a document whose only key is source:", func() {
		for _, doc := range []string{
			"bucket: b\nendpoint: http://127.0.0.1:9000\nprefix: p\n",
			`{"bucket": "b", "endpoint": "http://127.0.0.1:9000", "prefix": "p"}`,
			"source:\n  bucket: b\n  endpoint: http://127.0.0.1:9000\n  prefix: p\n",
		} {
			got, err := parse(doc, nil)
			Expect(err).NotTo(HaveOccurred(), doc)
			Expect(got).To(Equal("b|http://127.0.0.1:9000|p/"), "validated as check does: the prefix ends in /")
		}
	})

	It("fills ((vars)) from the given values first, then TC_VAR_ variables, typed by the key", func() {
		env["TC_VAR_s3_endpoint"] = "http://127.0.0.1:9000"
		env["TC_VAR_bucket"] = "from-env"
		env["TC_VAR_path"] = "true"
		env["TC_VAR_entries"] = "12"
		src, err := status.ParseSource("s.yml", []byte(`
bucket: ((bucket))
endpoint: (( s3.endpoint ))
prefix: teams/((team))/redis
use_path_style: ((path))
max_entries: ((entries))
environments:
  dev1: {}
  production: {requires_all: [((upstream))], final_releases: ((final))}
`), status.Vars{Given: map[string]string{"bucket": "given", "team": "core", "upstream": "dev1", "final": "true"}, Getenv: getenv})
		Expect(err).NotTo(HaveOccurred())
		Expect(src.Bucket).To(Equal("given"))
		Expect(src.Endpoint).To(Equal("http://127.0.0.1:9000"))
		Expect(src.Prefix).To(Equal("teams/core/redis/"))
		Expect(src.UsePathStyle).To(BeTrue())
		Expect(src.MaxEntries).To(Equal(12))
		Expect(src.Environments["production"].RequiresAll).To(Equal([]string{"dev1"}))
		Expect(src.Environments["production"].FinalReleases).To(BeTrue())
	})

	It("names a var that is not set, and where", func() {
		_, err := parse("bucket: b\nsecret_access_key: ((s3.secret))\naccess_key_id: k\n", nil)
		Expect(err).To(MatchError("source.yml: source.secret_access_key: ((s3.secret)) is not set: give --var s3.secret=VALUE or set TC_VAR_s3_secret"))
		_, err = parse("bucket: b\nprefix: a/((team))/b\n", nil)
		Expect(err).To(MatchError(ContainSubstring("source.prefix: ((team)) is not set")))
		_, err = parse("bucket: b\nuse_path_style: ((p))\n", map[string]string{"p": "yes please"})
		Expect(err).To(MatchError(ContainSubstring("source.use_path_style: ((p)) must be true or false")))
	})

	It("decodes strictly, as check, in and out do", func() {
		_, err := parse("bucket: b\nbuckt: c\n", nil)
		Expect(err).To(MatchError(ContainSubstring(`source: unknown key "buckt"`)))
		_, err = parse("bucket: b\nenvironments: {staging: {requires_any: [dev9]}}\n", nil)
		Expect(err).To(MatchError(ContainSubstring(`source.environments.staging.requires_any: environment "dev9" is not declared`)))
		_, err = parse("endpoint: http://x\n", nil)
		Expect(err).To(MatchError(ContainSubstring("source.bucket: required")))
		_, err = parse("- bucket\n", nil)
		Expect(err).To(MatchError(ContainSubstring("must be a mapping of source keys")))
		_, err = parse("bucket: b\n---\nbucket: c\n", nil)
		Expect(err).To(MatchError(ContainSubstring("more than one YAML document")))
		_, err = parse("bucket: [\n", nil)
		Expect(err).To(MatchError(HavePrefix("source.yml: not a YAML or JSON document")))
	})

	It("never puts a secret in an error, written in the file or filled from a var", func() {
		_, err := parse("bucket: b\naccess_key_id: k\nsecret_access_key: s3cr3t-in-file\nendpoint: 'x s3cr3t-in-file'\n", nil)
		Expect(err).To(MatchError(ContainSubstring("source.endpoint")))
		Expect(err.Error()).NotTo(ContainSubstring("s3cr3t-in-file"))

		_, err = parse("bucket: b\naccess_key_id: k\nsecret_access_key: ((s))\nendpoint: 'x ((s))'\n", map[string]string{"s": "s3cr3t-from-var"})
		Expect(err).To(MatchError(ContainSubstring("source.endpoint")))
		Expect(err.Error()).NotTo(ContainSubstring("s3cr3t-from-var"))

		_, err = parse("bucket: b\nendpoint: 'ftp://u:pa55word@host'\n", nil)
		Expect(err).To(MatchError(ContainSubstring("source.endpoint")))
		Expect(err.Error()).NotTo(ContainSubstring("pa55word"))
	})

	It("reads a file, and says when it cannot", func() {
		p := filepath.Join(GinkgoT().TempDir(), "s.json")
		Expect(os.WriteFile(p, []byte(`{"bucket":"b"}`), 0o600)).To(Succeed())
		src, err := status.LoadSource(p, status.Vars{})
		Expect(err).NotTo(HaveOccurred())
		Expect(src.Bucket).To(Equal("b"))
		_, err = status.LoadSource(p+".missing", status.Vars{})
		Expect(err).To(MatchError(HavePrefix("reading the source file: ")))
	})

	It("names the environment variable of a var", func() {
		Expect(status.VarEnvName("secret")).To(Equal("TC_VAR_secret"))
		Expect(status.VarEnvName("s3.secret-key")).To(Equal("TC_VAR_s3_secret_key"))
	})
})
