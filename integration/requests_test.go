package integration_test

import (
	"maps"
	"os"
	"path/filepath"
	"strings"

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
	closed string // an endpoint where nothing listens
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

// inVersion asks in for version (any JSON value).
func inVersion(version any) func(f *fixture) any {
	return func(f *fixture) any { return map[string]any{"source": f.src(nil), "version": version} }
}

// unreachable and wrongSecret change the source of a request built by req.
func unreachable(req func(f *fixture) any) func(f *fixture) any {
	return func(f *fixture) any {
		r := req(f).(map[string]any)
		r["source"].(map[string]any)["endpoint"] = f.closed
		return r
	}
}

func wrongSecret(req func(f *fixture) any) func(f *fixture) any {
	return func(f *fixture) any {
		r := req(f).(map[string]any)
		r["source"].(map[string]any)["secret_access_key"] = "tc-wrong-secret-" + randomHex(8)
		return r
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
		writeFiles(f.dir, map[string]string{
			"meta/banana":            "banana\n",
			"meta/empty":             "",
			"notes/readme.txt":       "not a tarball\n",
			"broken/candidate.tgz":   "this is not gzip",
			"nomanifest/ops/a.yml":   "--- []\n",
			"stale/version":          "9.9.9\n",
			"forged/version":         "1.0.0\n",
			"forged/sha256":          strings.Repeat("0", 64) + "\n",
			"not-semver/version":     "banana\n",
			"not-semver/sha256":      strings.Repeat("0", 64) + "\n",
			"not-a-digest/version":   "1.0.0\n",
			"not-a-digest/sha256":    "banana\n",
			"stale/sha256":           readTrimmed(filepath.Join(f.dir, "cand", "sha256")) + "\n",
			"stale/passed.json":      "[]\n",
			"forged/passed.json":     "[]\n",
			"not-semver/passed.json": "[]\n",
		})
		f.closed = closedEndpoint()
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
				dest := filepath.Join(f.dir, "dest")
				sess := run(cfg.In, []string{dest}, req, nil)
				decodeResponse(sess)
				expectRefusal(sess, c.mentions...)
				expectNoSuccessFiles(dest)
			case "out":
				sess := run(cfg.Out, []string{f.dir}, req, nil)
				decodeResponse(sess)
				expectRefusal(sess, c.mentions...)
			case "out-noarg":
				sess := run(cfg.Out, nil, req, nil)
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
		Entry("check: an unreachable endpoint", badRequest{"check", unreachable(checkReq(nil)), []string{"cannot reach"}}),
		Entry("check: a wrong secret key", badRequest{"check", wrongSecret(checkReq(nil)), []string{"credentials"}}),
		Entry("check: an unknown access key id", badRequest{"check", checkReq(map[string]any{"access_key_id": "tc-nobody"}), []string{"access"}}),
		Entry("check: an endpoint that is not a URL", badRequest{"check", checkReq(map[string]any{"endpoint": "127.0.0.1:9000"}), []string{"source.endpoint"}}),
		Entry("check: a session token without keys", badRequest{"check", checkReq(map[string]any{"access_key_id": nil, "secret_access_key": nil, "session_token": sessionToken}), []string{"session_token"}}),
		Entry("check: a mistyped session_token", badRequest{"check", checkReq(map[string]any{"session_token": 42}), []string{"session_token"}}),
		Entry("check: a null source", badRequest{"check", func(f *fixture) any { return map[string]any{"source": nil} }, []string{"bucket"}}),
		Entry("check: environments that are not an object", badRequest{"check", checkReq(map[string]any{"environments": []string{"dev1"}}), []string{"environments"}}),
		Entry("check: an empty request", badRequest{"check", func(f *fixture) any { return "" }, []string{"empty"}}),

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
		Entry("in: a version that does not exist", badRequest{"in", inVersion(ver("7.7.7")), []string{"7.7.7"}}),
		Entry("in: version banana", badRequest{"in", inVersion(ver("banana")), []string{"banana"}}),
		Entry("in: a version that is not a string", badRequest{"in", inVersion(map[string]any{"version": 1}), []string{"version.version"}}),
		Entry("in: an empty version", badRequest{"in", inVersion(map[string]any{}), []string{"version"}}),
		Entry("in: render of an undeclared environment", badRequest{"in", inReq(map[string]any{"render": "qa"}), []string{"render", "qa"}}),
		Entry("in: render of an environment the stored policy does not declare (source.environments omitted)", badRequest{"in", func(f *fixture) any {
			return map[string]any{"source": f.src(map[string]any{"environments": nil}), "version": ver("1.0.0"), "params": map[string]any{"render": "qa"}}
		}, []string{"params.render", "qa", "not declared"}}),
		Entry("in: an unreachable endpoint", badRequest{"in", unreachable(inReq(nil)), []string{"cannot reach"}}),
		Entry("in: a wrong secret key", badRequest{"in", wrongSecret(inReq(nil)), []string{"credentials"}}),

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
		Entry("out: a directory that is a file", badRequest{"out", outReq(map[string]any{"directory": "meta/banana"}), []string{"meta/banana"}}),
		Entry("out: an absolute directory", badRequest{"out", outReq(map[string]any{"directory": "/etc"}), []string{"params.directory"}}),
		Entry("out: templates without manifest.yml", badRequest{"out", outReq(map[string]any{"directory": "nomanifest"}), []string{"manifest.yml"}}),
		Entry("out: a version_file holding banana", badRequest{"out", outReq(map[string]any{"directory": "templates", "version_file": "meta/banana"}), []string{"banana"}}),
		Entry("out: an empty version_file", badRequest{"out", outReq(map[string]any{"directory": "templates", "version_file": "meta/empty"}), []string{"meta/empty"}}),
		Entry("out: a tarball glob matching a file that is not a .tgz", badRequest{"out", outReq(map[string]any{"tarball": "notes/*"}), []string{"readme.txt"}}),
		Entry("out: a tarball that is not gzip", badRequest{"out", outReq(map[string]any{"tarball": "broken/*.tgz", "version": "2.0.0"}), []string{"broken/candidate.tgz", "gzip"}}),
		Entry("out: publishing to an unreachable endpoint", badRequest{"out", unreachable(outReq(map[string]any{"directory": "templates", "version": "2.0.0"})), []string{"cannot reach"}}),
		Entry("out: publishing with a wrong secret key", badRequest{"out", wrongSecret(outReq(map[string]any{"directory": "templates"})), []string{"credentials"}}),

		// out: record a pass
		Entry("out: a pass into an undeclared environment", badRequest{"out", outReq(map[string]any{"candidate": "cand", "environment": "qa"}), []string{"qa"}}),
		Entry("out: a pass into an environment the stored policy does not declare (source.environments omitted)", badRequest{"out", func(f *fixture) any {
			return map[string]any{"source": f.src(map[string]any{"environments": nil}), "params": map[string]any{"candidate": "cand", "environment": "qa"}}
		}, []string{"params.environment", "qa", "not declared"}}),
		Entry("out: a candidate without environment", badRequest{"out", outReq(map[string]any{"candidate": "cand"}), []string{"environment"}}),
		Entry("out: an environment without candidate", badRequest{"out", outReq(map[string]any{"environment": "dev1"}), []string{"candidate"}}),
		Entry("out: a candidate directory not made by this resource", badRequest{"out", outReq(map[string]any{"candidate": "empty", "environment": "dev1"}), []string{"candidate"}}),
		Entry("out: a candidate directory that does not exist", badRequest{"out", outReq(map[string]any{"candidate": "nope", "environment": "dev1"}), []string{"nope"}}),
		Entry("out: a pass with an unknown param", badRequest{"out", outReq(map[string]any{"candidate": "cand", "environment": "dev1", "notes": "typo"}), []string{"notes"}}),
		Entry("out: a candidate whose version is not in the store", badRequest{"out", outReq(map[string]any{"candidate": "stale", "environment": "dev1"}), []string{"9.9.9"}}),
		Entry("out: a candidate whose sha256 is not the stored one", badRequest{"out", outReq(map[string]any{"candidate": "forged", "environment": "dev1"}), []string{"sha256"}}),
		Entry("out: a candidate whose version is banana", badRequest{"out", outReq(map[string]any{"candidate": "not-semver", "environment": "dev1"}), []string{"not-semver/version", "not hold a semantic version"}}),
		Entry("out: a candidate whose sha256 is not a digest", badRequest{"out", outReq(map[string]any{"candidate": "not-a-digest", "environment": "dev1"}), []string{"not-a-digest/sha256"}}),
		Entry("out: a pass to an unreachable endpoint", badRequest{"out", unreachable(outReq(map[string]any{"candidate": "cand", "environment": "dev1"})), []string{"cannot reach"}}),
		Entry("out: a pass with a wrong secret key", badRequest{"out", wrongSecret(outReq(map[string]any{"candidate": "cand", "environment": "dev1"})), []string{"credentials"}}),
		Entry("out: no directory argument", badRequest{"out-noarg", outReq(map[string]any{"directory": "templates"}), []string{"directory"}}),
		Entry("out: broken JSON", badRequest{"out", func(f *fixture) any { return "not json" }, nil}),
	)
})
