package integration_test

import (
	"os"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

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

	It("does not print a session token", func() {
		// Whether the gateway accepts a token on root keys is its business;
		// the token must not be printed either way.
		_, sess := check(map[string]any{"source": source(bucket, map[string]any{"session_token": sessionToken})})
		Expect(sess.ExitCode()).To(BeNumerically(">=", 0))
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
