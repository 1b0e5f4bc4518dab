package integration_test

import (
	"maps"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// badRequest is one malformed request: which binary, the request built
// against the fixture, and what the one-line reason must name.
type badRequest struct {
	bin      string // "check", "in" or "out"
	req      func(f *fixture) any
	mentions []string
}

// fixture: a bucket holding candidate 1.0.0, and a $1 directory holding a
// get of it ("cand"), a template folder ("templates"), two tarballs
// ("build/*.tgz") and an empty directory ("empty").
type fixture struct {
	bucket string
	dir    string
}

// src is a valid source with the Redis policy, plus extra (nil removes).
func (f *fixture) src(extra map[string]any) map[string]any {
	e := map[string]any{"environments": redisPolicy()}
	maps.Copy(e, extra)
	return source(f.bucket, e)
}

func (f *fixture) policy(rules map[string]any) map[string]any {
	return f.src(map[string]any{"environments": rules})
}

func checkReq(extra map[string]any) func(f *fixture) any {
	return func(f *fixture) any { return map[string]any{"source": f.src(extra), "version": nil} }
}

func outReq(params map[string]any) func(f *fixture) any {
	return func(f *fixture) any { return map[string]any{"source": f.src(nil), "params": params} }
}

func inReq(params map[string]any) func(f *fixture) any {
	return func(f *fixture) any {
		return map[string]any{"source": f.src(nil), "version": ver("1.0.0"), "params": params}
	}
}

var _ = Describe("bad requests", func() {
	var f *fixture

	BeforeEach(func() {
		f = &fixture{bucket: newBucket(), dir: GinkgoT().TempDir()}
		publish(f.src(nil), redisTemplates("fixture"), "1.0.0")
		_, sess := in(filepath.Join(f.dir, "cand"), map[string]any{"source": f.src(nil), "version": ver("1.0.0")})
		succeeded(sess)
		writeFiles(filepath.Join(f.dir, "templates"), redisTemplates("new"))
		makeTgz(filepath.Join(f.dir, "build", "a.tgz"), redisTemplates("a"), false)
		makeTgz(filepath.Join(f.dir, "build", "b.tgz"), redisTemplates("b"), false)
		Expect(os.MkdirAll(filepath.Join(f.dir, "empty"), 0o755)).To(Succeed())
	})

	DescribeTable("are refused with one line naming the problem, and nothing is written",
		func(c badRequest) {
			before := bucketKeys(f.bucket)
			req := c.req(f)
			switch c.bin {
			case "check":
				sess := run(cfg.Check, nil, req, nil)
				expectRefusal(sess, c.mentions...)
			case "in":
				sess := run(cfg.In, []string{filepath.Join(f.dir, "dest")}, req, nil)
				decodeResponse(sess)
				expectRefusal(sess, c.mentions...)
			case "out":
				sess := run(cfg.Out, []string{f.dir}, req, nil)
				decodeResponse(sess)
				expectRefusal(sess, c.mentions...)
			default:
				Fail("unknown binary " + c.bin)
			}
			Expect(bucketKeys(f.bucket)).To(Equal(before), "a refused request must write nothing")
		},

		// source
		Entry("check: unknown source key", badRequest{"check", checkReq(map[string]any{"buckett": "x"}), []string{"buckett"}}),
		Entry("check: missing bucket", badRequest{"check", checkReq(map[string]any{"bucket": nil}), []string{"bucket"}}),
		Entry("check: mistyped use_path_style", badRequest{"check", checkReq(map[string]any{"use_path_style": "yes"}), []string{"use_path_style"}}),
		Entry("check: mistyped max_entries", badRequest{"check", checkReq(map[string]any{"max_entries": "many"}), []string{"max_entries"}}),
		Entry("check: unknown key in an environment rule", badRequest{"check", func(f *fixture) any {
			return map[string]any{"source": f.policy(map[string]any{
				"dev1": map[string]any{}, "staging": map[string]any{"require_any": []string{"dev1"}},
			})}
		}, []string{"require_any"}}),
		Entry("check: a rule requiring an undeclared environment", badRequest{"check", func(f *fixture) any {
			return map[string]any{"source": f.policy(map[string]any{
				"dev1": map[string]any{}, "staging": map[string]any{"requires_any": []string{"dev1", "dev3"}},
			})}
		}, []string{"dev3"}}),
		Entry("check: a soak that is not a duration", badRequest{"check", func(f *fixture) any {
			return map[string]any{"source": f.policy(map[string]any{
				"dev1": map[string]any{}, "staging": map[string]any{"requires_any": []string{"dev1"}, "soak": "soon"},
			})}
		}, []string{"soak"}}),
		Entry("check: eligible_for an undeclared environment", badRequest{"check", checkReq(map[string]any{"eligible_for": "qa"}), []string{"qa"}}),
		Entry("check: live_in an undeclared environment", badRequest{"check", checkReq(map[string]any{"live_in": "qa"}), []string{"qa"}}),
		Entry("check: unknown top-level key", badRequest{"check", func(f *fixture) any {
			return map[string]any{"source": f.src(nil), "sauce": true}
		}, []string{"sauce"}}),
		Entry("check: a version that is not an object", badRequest{"check", func(f *fixture) any {
			return map[string]any{"source": f.src(nil), "version": "1.0.0"}
		}, []string{"version"}}),
		Entry("check: broken JSON (holding the secret)", badRequest{"check", func(f *fixture) any {
			return []byte(`{"source": {"bucket": "` + f.bucket + `", "secret_access_key": "` + cfg.SecretKey + `", `)
		}, nil}),
		Entry("check: a bucket that does not exist", badRequest{"check", checkReq(map[string]any{"bucket": "tc-no-such-bucket"}), []string{"tc-no-such-bucket"}}),

		// in
		Entry("in: unknown param", badRequest{"in", inReq(map[string]any{"unpak": false}), []string{"unpak"}}),
		Entry("in: mistyped param", badRequest{"in", inReq(map[string]any{"skip_download": "yes"}), []string{"skip_download"}}),
		Entry("in: unknown source key", badRequest{"in", func(f *fixture) any {
			return map[string]any{"source": f.src(map[string]any{"regoin_name": "us-east-1"}), "version": ver("1.0.0")}
		}, []string{"regoin_name"}}),
		Entry("in: missing version", badRequest{"in", func(f *fixture) any {
			return map[string]any{"source": f.src(nil)}
		}, []string{"version"}}),
		Entry("in: broken JSON", badRequest{"in", func(f *fixture) any { return []byte(`{"source": `) }, nil}),

		// out: publish
		Entry("out: unknown param", badRequest{"out", outReq(map[string]any{"directori": "templates"}), []string{"directori"}}),
		Entry("out: unknown source key", badRequest{"out", func(f *fixture) any {
			return map[string]any{"source": f.src(map[string]any{"sse": "AES256"}), "params": map[string]any{"directory": "templates"}}
		}, []string{"sse"}}),
		Entry("out: both directory and tarball", badRequest{"out", outReq(map[string]any{"directory": "templates", "tarball": "build/a.tgz"}), []string{"directory", "tarball"}}),
		Entry("out: no operation at all", badRequest{"out", outReq(map[string]any{}), nil}),
		Entry("out: a tarball glob matching nothing", badRequest{"out", outReq(map[string]any{"tarball": "nothing/*.tgz"}), []string{"nothing/*.tgz"}}),
		Entry("out: a tarball glob matching two files", badRequest{"out", outReq(map[string]any{"tarball": "build/*.tgz"}), []string{"build/*.tgz"}}),
		Entry("out: a version that is not semver", badRequest{"out", outReq(map[string]any{"directory": "templates", "version": "banana"}), []string{"banana"}}),
		Entry("out: a missing version_file", badRequest{"out", outReq(map[string]any{"directory": "templates", "version_file": "meta/nope"}), []string{"meta/nope"}}),
		Entry("out: both version and version_file", badRequest{"out", outReq(map[string]any{"directory": "templates", "version": "2.0.0", "version_file": "cand/version"}), []string{"version_file"}}),
		Entry("out: a missing directory", badRequest{"out", outReq(map[string]any{"directory": "nope"}), []string{"nope"}}),

		// out: record a pass
		Entry("out: a pass into an undeclared environment", badRequest{"out", outReq(map[string]any{"candidate": "cand", "environment": "qa"}), []string{"qa"}}),
		Entry("out: a pass without environments declared at all", badRequest{"out", func(f *fixture) any {
			return map[string]any{"source": f.src(map[string]any{"environments": nil}), "params": map[string]any{"candidate": "cand", "environment": "dev1"}}
		}, []string{"dev1"}}),
		Entry("out: a candidate without environment", badRequest{"out", outReq(map[string]any{"candidate": "cand"}), []string{"environment"}}),
		Entry("out: an environment without candidate", badRequest{"out", outReq(map[string]any{"environment": "dev1"}), []string{"candidate"}}),
		Entry("out: a candidate directory not made by this resource", badRequest{"out", outReq(map[string]any{"candidate": "empty", "environment": "dev1"}), []string{"candidate"}}),
		Entry("out: a candidate directory that does not exist", badRequest{"out", outReq(map[string]any{"candidate": "nope", "environment": "dev1"}), []string{"nope"}}),
		Entry("out: a pass with an unknown param", badRequest{"out", outReq(map[string]any{"candidate": "cand", "environment": "dev1", "notes": "typo"}), []string{"notes"}}),
		Entry("out: broken JSON", badRequest{"out", func(f *fixture) any { return "not json" }, nil}),
	)
})
