package integration_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// selfSigned writes a self-signed certificate for 127.0.0.1 and its key, and
// returns the certificate's PEM.
func selfSigned(certPath, keyPath, cn string) string {
	GinkgoHelper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	Expect(err).NotTo(HaveOccurred())
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	Expect(err).NotTo(HaveOccurred())
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	Expect(os.WriteFile(certPath, certPEM, 0o644)).To(Succeed())
	if keyPath != "" {
		kb, err := x509.MarshalECPrivateKey(key)
		Expect(err).NotTo(HaveOccurred())
		Expect(os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600)).To(Succeed())
	}
	return string(certPEM)
}

var _ = Describe("TLS to a private store", Ordered, func() {
	var (
		endpoint    string
		caPEM       string
		unrelatedCA string // path of a PEM bundle that does not sign the gateway
		ourCA       string // path of the gateway's CA as a file
		bucket      string
	)

	BeforeAll(func() {
		dir := GinkgoT().TempDir()
		unrelatedCA = filepath.Join(dir, "unrelated.pem")
		selfSigned(unrelatedCA, "", "tc-integration-unrelated")
		var done <-chan struct{}
		endpoint, caPEM, ourCA, done = startTLSStore(dir)

		pool := x509.NewCertPool()
		Expect(pool.AppendCertsFromPEM([]byte(caPEM))).To(BeTrue())
		client := s3.New(s3.Options{
			Region:       regionName,
			BaseEndpoint: aws.String(endpoint),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, cfg.SecretKey, ""),
			HTTPClient:   &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}},
		})
		bucket = fmt.Sprintf("tc-tls-%d-%s", GinkgoParallelProcess(), randomHex(4))
		Eventually(func() error {
			select {
			case <-done:
				return StopTrying("the TLS store exited")
			default:
			}
			_, err := client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)})
			return err
		}).WithTimeout(30 * time.Second).WithPolling(100 * time.Millisecond).Should(Succeed())
	})

	tlsSource := func(extra map[string]any) map[string]any {
		s := source(bucket, extra)
		s["endpoint"] = endpoint
		return s
	}

	checkWith := func(src map[string]any, env map[string]string) *bytesAndCode {
		GinkgoHelper()
		sess := run(cfg.Check, nil, map[string]any{"source": src}, env)
		return &bytesAndCode{stdout: string(sess.Out.Contents()), stderr: string(sess.Err.Contents()), code: sess.ExitCode()}
	}

	It("refuses a store whose certificate is not trusted, saying so", func() {
		r := checkWith(tlsSource(nil), nil)
		Expect(r.code).NotTo(Equal(0))
		Expect(lastLine(r.stderr)).To(MatchRegexp(`(?i)certificate|x509|tls`))
	})

	It("trusts the store with ca_bundle: publish, check and in work", func() {
		src := tlsSource(map[string]any{"ca_bundle": caPEM})
		publish(src, redisTemplates("tls"), "1.0.0")
		versions, sess := check(map[string]any{"source": src})
		succeeded(sess)
		Expect(versionsOf(versions)).To(Equal([]string{"1.0.0"}))
		_, resp := get(src, ver("1.0.0"), nil)
		Expect(resp.Version).To(Equal(ver("1.0.0")))
	})

	It("reaches the store with skip_ssl_verification", func() {
		r := checkWith(tlsSource(map[string]any{"skip_ssl_verification": true}), nil)
		Expect(r.code).To(Equal(0), r.stderr)
	})

	DescribeTable("composes ca_bundle and skip_ssl_verification with the CA variables of the machine",
		func(extra map[string]any, env func() map[string]string) {
			if extra["ca_bundle"] == "<ca>" {
				extra = map[string]any{"ca_bundle": caPEM}
			}
			r := checkWith(tlsSource(extra), env())
			Expect(r.code).To(Equal(0), r.stderr)
		},
		Entry("ca_bundle with an unrelated AWS_CA_BUNDLE", map[string]any{"ca_bundle": "<ca>"},
			func() map[string]string { return map[string]string{"AWS_CA_BUNDLE": unrelatedCA} }),
		Entry("ca_bundle with unrelated SSL_CERT_FILE", map[string]any{"ca_bundle": "<ca>"},
			func() map[string]string { return map[string]string{"SSL_CERT_FILE": unrelatedCA} }),
		Entry("skip_ssl_verification with an unrelated AWS_CA_BUNDLE", map[string]any{"skip_ssl_verification": true},
			func() map[string]string { return map[string]string{"AWS_CA_BUNDLE": unrelatedCA} }),
		Entry("no source TLS settings, AWS_CA_BUNDLE holding the store's CA", map[string]any{},
			func() map[string]string { return map[string]string{"AWS_CA_BUNDLE": ourCA} }),
	)

	It("refuses a ca_bundle that holds no certificate, naming the key", func() {
		r := checkWith(tlsSource(map[string]any{"ca_bundle": "not a PEM"}), nil)
		Expect(r.code).NotTo(Equal(0))
		Expect(lastLine(r.stderr)).To(ContainSubstring("ca_bundle"))
	})
})

type bytesAndCode struct {
	stdout, stderr string
	code           int
}
