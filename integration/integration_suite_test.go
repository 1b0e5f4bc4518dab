package integration_test

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// TestIntegration drives the compiled check, in and out binaries through the
// Concourse resource protocol against a real S3 server: versitygw, or
// SeaweedFS with TC_S3_STORE=seaweedfs (stores_test.go).
func TestIntegration(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "templates-candidate integration suite")
}

const (
	modulePath       = "github.com/templates-candidate/templates-candidate-resource"
	versitygwVersion = "v1.8.0"
	installHint      = "GOBIN=$HOME/.cache/tc-tools/bin go install github.com/versity/versitygw/cmd/versitygw@" + versitygwVersion
	accessKeyID      = "tcintegration"
	regionName       = "us-east-1"
)

// suiteConfig is what the first parallel process hands to every process.
type suiteConfig struct {
	Check     string `json:"check"`
	In        string `json:"in"`
	Out       string `json:"out"`
	Rusage    string `json:"rusage"` // bench/rusage: measures a child's own peak RSS
	Endpoint  string `json:"endpoint"`
	SecretKey string `json:"secret_key"`
	HomeDir   string `json:"home_dir"`
	Store     string `json:"store"`    // storeVersitygw or storeSeaweedFS
	DataDir   string `json:"data_dir"` // versitygw only: its posix root, <DataDir>/<bucket>/<key>

	// SeaweedFS only: its S3 gateway's HTTPS endpoint and CA, for the TLS specs.
	TLSEndpoint string `json:"tls_endpoint"`
	TLSCA       string `json:"tls_ca"`
	TLSCAFile   string `json:"tls_ca_file"`
}

var (
	cfg      suiteConfig
	s3Client *s3.Client

	// Owned by process #1 only.
	suiteStore *storeProcess
	suiteDir   string
)

var _ = SynchronizedBeforeSuite(func() []byte {
	var c suiteConfig
	c.Store = selectedStore()
	// Fail on a missing store binary before spending time compiling.
	if c.Store == storeSeaweedFS {
		findWeed()
	} else {
		findVersitygw()
	}

	var err error
	By("compiling check, in and out")
	c.Check, err = gexec.Build(modulePath + "/check")
	Expect(err).NotTo(HaveOccurred(), "building check")
	c.In, err = gexec.Build(modulePath + "/in")
	Expect(err).NotTo(HaveOccurred(), "building in")
	c.Out, err = gexec.Build(modulePath + "/out")
	Expect(err).NotTo(HaveOccurred(), "building out")
	c.Rusage, err = gexec.Build(modulePath + "/bench/rusage")
	Expect(err).NotTo(HaveOccurred(), "building bench/rusage")

	suiteDir, err = os.MkdirTemp("", "tc-integration-")
	Expect(err).NotTo(HaveOccurred())
	c.HomeDir = filepath.Join(suiteDir, "home")
	Expect(os.MkdirAll(c.HomeDir, 0o755)).To(Succeed())
	c.SecretKey = "tc-it-secret-" + randomHex(12)
	suiteStore = startStore(&c, suiteDir)

	data, err := json.Marshal(c)
	Expect(err).NotTo(HaveOccurred())
	return data
}, func(data []byte) {
	Expect(json.Unmarshal(data, &cfg)).To(Succeed())
	s3Client = newS3Client(cfg.Endpoint, cfg.SecretKey)
	SetDefaultEventuallyTimeout(10 * time.Second)
})

var _ = SynchronizedAfterSuite(func() {}, func() {
	suiteStore.stop()
	if suiteDir != "" {
		_ = os.RemoveAll(suiteDir)
	}
	gexec.CleanupBuildArtifacts()
})

// findVersitygw locates versitygw v1.8.0: $VERSITYGW, then PATH, then
// $HOME/.cache/tc-tools/bin. It fails the suite with install instructions
// when none is found or the binary is another version.
func findVersitygw() string {
	var candidates []string
	if p := os.Getenv("VERSITYGW"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			Fail(fmt.Sprintf("VERSITYGW=%s is not an executable file. Install versitygw %s with:\n  %s", p, versitygwVersion, installHint))
		}
		candidates = append(candidates, p)
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		candidates = append(candidates, p)
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "tc-tools", "bin", "versitygw"))
	}
	for _, p := range candidates {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		// `go version -m` reads the module version embedded by `go install`.
		if out, err := exec.Command("go", "version", "-m", p).Output(); err == nil {
			for _, line := range strings.Split(string(out), "\n") {
				f := strings.Fields(line)
				if len(f) >= 3 && f[0] == "mod" && f[1] == "github.com/versity/versitygw" && f[2] != versitygwVersion {
					Fail(fmt.Sprintf("%s is versitygw %s; the suite needs %s. Install it with:\n  %s", p, f[2], versitygwVersion, installHint))
				}
			}
		}
		return p
	}
	Fail(fmt.Sprintf("versitygw %s not found (looked at $VERSITYGW, PATH and $HOME/.cache/tc-tools/bin). Install it with:\n  %s",
		versitygwVersion, installHint))
	return ""
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	Expect(err).NotTo(HaveOccurred())
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, err := rand.Read(b)
	Expect(err).NotTo(HaveOccurred())
	return hex.EncodeToString(b)
}
