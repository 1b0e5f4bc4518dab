package integration_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// tokenSuffix makes the session token of these specs unique to this process.
var tokenSuffix = fmt.Sprintf("%x", os.Getpid())

// Every run already asserts that source.secret_access_key and
// source.session_token never reach stdout or stderr (see run); these specs
// add the paths where a leak is most likely: failures that quote requests.
var _ = Describe("secrets and the environment", func() {
	var bucket string

	BeforeEach(func() {
		bucket = newBucket()
	})

	It("does not print a secret key the server rejects", func() {
		wrong := "tc-wrong-secret-" + randomHex(8)
		_, sess := check(map[string]any{"source": source(bucket, map[string]any{"secret_access_key": wrong})})
		expectRefusal(sess)
	})

	Describe("session_token", func() {
		// Shaped like an STS token: base64, with + / and =.
		token := "FwoGZXIvYXdzEJr//////////wEaDOp+tc/it+token/" + tokenSuffix + "=="

		expectAbsent := func(sess *gexec.Session, secrets ...string) {
			GinkgoHelper()
			for _, secret := range secrets {
				Expect(string(sess.Out.Contents())).NotTo(ContainSubstring(secret), "a secret was printed on stdout")
				Expect(string(sess.Err.Contents())).NotTo(ContainSubstring(secret), "a secret was printed on stderr")
			}
		}

		It("is never printed when the server rejects it: check, in, publish and pass all fail naming the credentials", func() {
			onlyOn(storeVersitygw, "SeaweedFS accepts static keys with any session token (it ignores the token), so there is no rejection to observe")
			plain := source(bucket, map[string]any{"environments": redisPolicy()})
			publish(plain, redisTemplates("token"), "1.0.0")
			getDir, _ := get(plain, ver("1.0.0"), map[string]any{"skip_download": true})
			putDir := GinkgoT().TempDir()
			writeFiles(filepath.Join(putDir, "templates"), redisTemplates("token-2"))
			before := bucketKeys(bucket)

			// versitygw refuses a session token on static root keys
			// (InvalidToken): every run meets an auth error.
			withToken := source(bucket, map[string]any{"environments": redisPolicy(), "session_token": token})
			for _, r := range []struct {
				bin  string
				args []string
				req  map[string]any
			}{
				{cfg.Check, nil, map[string]any{"source": withToken}},
				{cfg.In, []string{filepath.Join(GinkgoT().TempDir(), "get")}, map[string]any{"source": withToken, "version": ver("1.0.0")}},
				{cfg.Out, []string{putDir}, map[string]any{"source": withToken, "params": map[string]any{"directory": "templates", "version": "1.0.1"}}},
				{cfg.Out, []string{getDir}, map[string]any{"source": withToken, "params": map[string]any{"candidate": "cand", "environment": "dev1"}}},
			} {
				sess := run(r.bin, r.args, r.req, nil)
				expectRefusal(sess, "credentials")
				expectAbsent(sess, token, cfg.SecretKey)
			}
			Expect(bucketKeys(bucket)).To(Equal(before))
		})

		It("is never printed in a refused request, whatever is wrong with it", func() {
			src := source(bucket, map[string]any{"session_token": token})
			for _, req := range []any{
				map[string]any{"source": src, "sauce": true},
				map[string]any{"source": source(bucket, map[string]any{"session_token": token, "environments": map[string]any{"dev1": 42}})},
				map[string]any{"source": source(bucket, map[string]any{"session_token": []string{token}})},
				map[string]any{"source": source(bucket, map[string]any{"session_token": map[string]any{"value": token}})},
				`{"source": {"bucket": "` + bucket + `", "session_token": "` + token + `"`,
				`{"source": {"bucket": "` + bucket + `", "session_token": "` + token + `" "x": 1}}`,
				`{"source": {"bucket": "` + bucket + `", "session_token": ` + token + `}}`,
			} {
				sess := run(cfg.Check, nil, req, nil)
				expectRefusal(sess)
				expectAbsent(sess, token, cfg.SecretKey)
			}
		})

		// A server (or a proxy in front of it) that quotes the request's
		// credentials back in its error messages.
		DescribeTable("is never printed when the server quotes it back in an error",
			func(status int, code string, bins []string) {
				echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					_, _ = io.Copy(io.Discard, r.Body)
					w.Header().Set("Content-Type", "application/xml")
					w.WriteHeader(status)
					if r.Method != http.MethodHead {
						fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>rejected token %s with %s</Message><RequestId>echo</RequestId></Error>`,
							code, r.Header.Get("X-Amz-Security-Token"), r.Header.Get("Authorization"))
					}
				}))
				DeferCleanup(echo.Close)
				src := source(bucket, map[string]any{"endpoint": echo.URL, "session_token": token, "environments": redisPolicy()})
				putDir := GinkgoT().TempDir()
				writeFiles(filepath.Join(putDir, "templates"), redisTemplates("echo"))
				reqs := map[string]struct {
					bin  string
					args []string
					req  map[string]any
				}{
					"check": {cfg.Check, nil, map[string]any{"source": src}},
					"in":    {cfg.In, []string{filepath.Join(GinkgoT().TempDir(), "get")}, map[string]any{"source": src, "version": ver("1.0.0")}},
					"out":   {cfg.Out, []string{putDir}, map[string]any{"source": src, "params": map[string]any{"directory": "templates", "version": "1.0.0"}}},
				}
				for _, b := range bins {
					r := reqs[b]
					sess := run(r.bin, r.args, r.req, nil)
					expectRefusal(sess)
					expectAbsent(sess, token, cfg.SecretKey)
				}
			},
			Entry("403 AccessDenied", http.StatusForbidden, "AccessDenied", []string{"check", "in", "out"}),
			Entry("400 with a code the resource does not know", http.StatusBadRequest, "TokenRefreshRequired", []string{"check", "in", "out"}),
			Entry("503 SlowDown, retried until it gives up", http.StatusServiceUnavailable, "SlowDown", []string{"check"}),
		)
	})

	It("never prints a password in the endpoint: a URL that does not parse, a store that cannot be reached, a request refused for another reason", func() {
		const password = "hunter2-endpoint-pw"
		u, err := url.Parse(cfg.Endpoint)
		Expect(err).NotTo(HaveOccurred())
		reachable := u.Scheme + "://tc:" + password + "@" + u.Host
		for _, src := range []map[string]any{
			source(bucket, map[string]any{"endpoint": "ftp://tc:" + password + "@" + u.Host}),
			source(bucket, map[string]any{"endpoint": reachable + "/%zz"}),
			source(bucket, map[string]any{"endpoint": "http://tc:" + password + "@127.0.0.1:1"}),
			source(bucket, map[string]any{"endpoint": reachable, "environments": map[string]any{"dev1": 42}}),
		} {
			for cmd, req := range map[string]map[string]any{
				cfg.Check: {"source": src},
				cfg.In:    {"source": src, "version": ver("1.0.0")},
				cfg.Out:   {"source": src, "params": map[string]any{"directory": "t"}},
			} {
				sess := run(cmd, []string{GinkgoT().TempDir()}, req, map[string]string{"TEMPLATES_CANDIDATE_TIMEOUT_SCALE": "0.01"})
				expectRefusal(sess)
				Expect(string(sess.Out.Contents())+string(sess.Err.Contents())).NotTo(ContainSubstring(password), "the endpoint's password was printed by %s", filepath.Base(cmd))
			}
		}
	})

	It("does not print the secret when a request is refused for another reason", func() {
		_, sess := check(map[string]any{"source": source(bucket, map[string]any{"environments": map[string]any{"dev1": 42}})})
		expectRefusal(sess, "dev1")
	})

	It("stores and fetches with server_side_encryption: AES256", func() {
		src := source(bucket, map[string]any{"server_side_encryption": "AES256"})
		publish(src, redisTemplates("sse"), "1.0.0")
		mustPass(source(bucket, map[string]any{"server_side_encryption": "AES256", "environments": redisPolicy()}), "1.0.0", "dev1")
		_, resp := get(src, ver("1.0.0"), nil)
		Expect(resp.Version).To(Equal(ver("1.0.0")))
	})

	It("uses the source's static keys over AWS_* variables, and works with the machine's CA variables", func() {
		env := map[string]string{
			"AWS_ACCESS_KEY_ID":     "AKIDBOGUS",
			"AWS_SECRET_ACCESS_KEY": "bogus-secret",
			"AWS_REGION":            "eu-west-3",
			"AWS_DEFAULT_REGION":    "eu-west-3",
		}
		for _, k := range []string{"AWS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"} {
			if v := os.Getenv(k); v != "" {
				env[k] = v
			}
		}
		src := source(bucket, nil)
		publish(src, redisTemplates("env"), "1.0.0")

		sess := run(cfg.Check, nil, map[string]any{"source": src}, env)
		succeeded(sess)
		Expect(string(sess.Out.Contents())).To(MatchJSON(`[{"version":"1.0.0"}]`))
	})
})
