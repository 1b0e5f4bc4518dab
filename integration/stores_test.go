package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// The S3 server the suite runs against (README "Stores"), chosen by
// TC_S3_STORE: versitygw (the default) or seaweedfs. `make test` runs the
// suite once per store.
const (
	storeEnv       = "TC_S3_STORE"
	storeVersitygw = "versitygw"
	storeSeaweedFS = "seaweedfs"

	seaweedfsModule  = "github.com/seaweedfs/seaweedfs"
	seaweedfsVersion = "v0.0.0-20261109003541-7506e5f91cd6"
	weedInstallHint  = "scripts/install-tools.sh (it builds weed " + seaweedfsVersion + " into $HOME/.cache/tc-tools/bin)"
)

// selectedStore is the store named by TC_S3_STORE; anything else fails the suite.
func selectedStore() string {
	switch s := os.Getenv(storeEnv); s {
	case "", storeVersitygw:
		return storeVersitygw
	case storeSeaweedFS:
		return storeSeaweedFS
	default:
		Fail(fmt.Sprintf("%s=%q: want %q (the default) or %q", storeEnv, s, storeVersitygw, storeSeaweedFS))
		return ""
	}
}

// onlyOn marks the running spec as applying to one store: on the others it
// is reported as skipped, with the reason, never as passed.
func onlyOn(name, reason string) {
	GinkgoHelper()
	if cfg.Store != name {
		Skip(fmt.Sprintf("%s only: %s", name, reason))
	}
}

// storeProcess is a store the suite started and must stop.
type storeProcess struct {
	name   string
	cmd    *exec.Cmd
	done   chan struct{}
	log    string
	litter []string // files it leaves behind, removed by stop
}

func startProcess(name string, cmd *exec.Cmd, logPath string) *storeProcess {
	GinkgoHelper()
	log, err := os.Create(logPath)
	Expect(err).NotTo(HaveOccurred())
	cmd.Stdout, cmd.Stderr = log, log
	// Its own process group, so that stop reaches every child it may start.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	Expect(cmd.Start()).To(Succeed(), "starting %s", name)
	p := &storeProcess{name: name, cmd: cmd, done: make(chan struct{}), log: logPath}
	go func() {
		_ = cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	return p
}

// exited reports whether the process has ended, with its log.
func (p *storeProcess) exited() (string, bool) {
	select {
	case <-p.done:
		b, _ := os.ReadFile(p.log)
		return string(b), true
	default:
		return "", false
	}
}

// stop asks the process to end and kills it after a short grace period: the
// data is thrown away, and SeaweedFS takes over 15 s to shut down gracefully.
// Then it removes what the process leaves behind.
func (p *storeProcess) stop() {
	if p == nil || p.cmd.Process == nil {
		return
	}
	pgid := -p.cmd.Process.Pid
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(2 * time.Second):
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-p.done
	}
	for _, f := range p.litter {
		_ = os.Remove(f)
	}
}

// startStore starts the selected store under dir and fills in c's endpoint
// (and, for SeaweedFS, its TLS endpoint).
func startStore(c *suiteConfig, dir string) *storeProcess {
	GinkgoHelper()
	var p *storeProcess
	switch c.Store {
	case storeVersitygw:
		p = startVersitygw(c, dir)
	case storeSeaweedFS:
		p = startSeaweedFS(c, dir)
	}
	waitReady(p, c.Endpoint, c.SecretKey)
	return p
}

func startVersitygw(c *suiteConfig, dir string) *storeProcess {
	GinkgoHelper()
	bin := findVersitygw()
	c.DataDir = filepath.Join(dir, "data")
	Expect(os.MkdirAll(c.DataDir, 0o755)).To(Succeed())
	port := freePort()
	c.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	By("starting versitygw on " + c.Endpoint)
	cmd := exec.Command(bin,
		"--port", fmt.Sprintf("127.0.0.1:%d", port),
		"--region", regionName,
		"--quiet",
		"posix", c.DataDir)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.HomeDir,
		"ROOT_ACCESS_KEY=" + accessKeyID,
		"ROOT_SECRET_KEY=" + c.SecretKey,
	}
	return startProcess("versitygw", cmd, filepath.Join(dir, "versitygw.log"))
}

// startSeaweedFS starts `weed server` with its master, volume server, filer
// and S3 gateway in one process, every one of them on 127.0.0.1 only and on
// ports chosen here (SeaweedFS would otherwise take fixed defaults, and gRPC
// ports of http port + 10000), with the suite's static keys. Its S3 gateway
// also serves HTTPS, for the TLS specs, with a certificate made here.
func startSeaweedFS(c *suiteConfig, dir string) *storeProcess {
	GinkgoHelper()
	bin := findWeed()
	data := filepath.Join(dir, "seaweedfs")
	Expect(os.MkdirAll(data, 0o755)).To(Succeed())

	identities := map[string]any{"identities": []any{map[string]any{
		"name":        accessKeyID,
		"credentials": []any{map[string]string{"accessKey": accessKeyID, "secretKey": c.SecretKey}},
		"actions":     []string{"Admin", "Read", "List", "Tagging", "Write"},
	}}}
	s3Config := filepath.Join(dir, "s3.json")
	b, err := json.Marshal(identities)
	Expect(err).NotTo(HaveOccurred())
	Expect(os.WriteFile(s3Config, b, 0o600)).To(Succeed())

	certPath, keyPath := filepath.Join(dir, "s3-cert.pem"), filepath.Join(dir, "s3-key.pem")
	c.TLSCA = selfSigned(certPath, keyPath, "tc-integration-seaweedfs")
	c.TLSCAFile = certPath

	port := func() string { return fmt.Sprint(freePort()) }
	s3Port, s3TLSPort := port(), port()
	// weed serves each gRPC port on a unix socket of a fixed name in /tmp too.
	var litter []string
	grpc := func(service string) string {
		p := port()
		litter = append(litter, fmt.Sprintf("/tmp/seaweedfs-%s-grpc-%s.sock", service, p))
		return p
	}
	c.Endpoint = "http://127.0.0.1:" + s3Port
	c.TLSEndpoint = "https://127.0.0.1:" + s3TLSPort
	By("starting SeaweedFS (weed server -s3) on " + c.Endpoint + " and " + c.TLSEndpoint)
	cmd := exec.Command(bin, "server",
		"-ip=127.0.0.1", "-ip.bind=127.0.0.1",
		"-dir="+data,
		"-master.port="+port(), "-master.port.grpc="+grpc("master"),
		"-master.telemetry=false",
		// Small volumes, grown one at a time (see the environment): every
		// bucket is a collection with volumes of its own, and the suite
		// makes a few hundred buckets. Volume files grow as written.
		"-master.volumeSizeLimitMB=64",
		"-volume.max=2000",
		"-volume.port="+port(), "-volume.port.grpc="+grpc("volume"),
		"-volume.preStopSeconds=0",
		"-filer.port="+port(), "-filer.port.grpc="+grpc("filer"),
		"-filer.localSocket="+filepath.Join(dir, "filer.sock"),
		"-s3",
		"-s3.port="+s3Port, "-s3.port.grpc="+grpc("s3"),
		"-s3.port.https="+s3TLSPort,
		"-s3.cert.file="+certPath, "-s3.key.file="+keyPath,
		"-s3.port.iceberg=0", "-s3.port.lance=0",
		"-s3.localSocket="+filepath.Join(dir, "s3.sock"),
		"-s3.config="+s3Config,
	)
	cmd.Dir = dir // weed reads master.toml, filer.toml, … from ., then $HOME
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.HomeDir,
		"TMPDIR=" + dir,
		"WEED_MASTER_VOLUME_GROWTH_COPY_1=1",
		// SSE-S3 (server_side_encryption: AES256) needs a key-encryption
		// key; without one SeaweedFS answers such writes with 500.
		"WEED_S3_SSE_KEY=tc-it-sse-" + randomHex(16),
	}
	p := startProcess("SeaweedFS", cmd, filepath.Join(dir, "seaweedfs.log"))
	p.litter = litter
	return p
}

// waitReady waits until the store lists buckets, creates one, and in it
// takes a create-only write, refuses the same write again with 412 and lists
// the key. SeaweedFS answers ListBuckets before its filer and volume servers
// are ready to store anything.
func waitReady(p *storeProcess, endpoint, secret string) {
	GinkgoHelper()
	client := newS3Client(endpoint, secret)
	ctx := context.Background()
	exitedErr := func() error {
		if log, gone := p.exited(); gone {
			return StopTrying(p.name + " exited early:\n" + log)
		}
		return nil
	}
	Eventually(func() error {
		if err := exitedErr(); err != nil {
			return err
		}
		_, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
		return err
	}).WithTimeout(60*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(),
		"%s did not answer ListBuckets; log in %s", p.name, p.log)

	bucket := "tc-ready-" + randomHex(4)
	Eventually(func() error {
		if err := exitedErr(); err != nil {
			return err
		}
		_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)})
		var owned interface{ ErrorCode() string }
		if errors.As(err, &owned) && owned.ErrorCode() == "BucketAlreadyOwnedByYou" {
			return nil
		}
		return err
	}).WithTimeout(60*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(),
		"%s did not create a bucket; log in %s", p.name, p.log)

	key := "ready/" + randomHex(4)
	put := func() error {
		_, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key),
			Body: bytes.NewReader([]byte("ready")), IfNoneMatch: aws.String("*"),
		})
		return err
	}
	Eventually(func() error {
		if err := exitedErr(); err != nil {
			return err
		}
		err := put()
		if isPreconditionFailed(err) {
			return nil // an earlier try that timed out on our side did store it
		}
		return err
	}).WithTimeout(60*time.Second).WithPolling(200*time.Millisecond).Should(Succeed(),
		"%s did not store an object; log in %s", p.name, p.log)
	Expect(isPreconditionFailed(put())).To(BeTrue(), "%s: a second create-only PUT of %s must fail with 412", p.name, key)
	Eventually(func() ([]string, error) {
		out, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String("ready/")})
		if err != nil {
			return nil, err
		}
		var keys []string
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
		return keys, nil
	}).WithTimeout(30 * time.Second).Should(Equal([]string{key}))
}

func isPreconditionFailed(err error) bool {
	var re interface{ HTTPStatusCode() int }
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
		return true
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "PreconditionFailed"
}

// startTLSStore gives the TLS specs a store that serves HTTPS with a
// certificate no machine trusts: its endpoint, the CA's PEM and a file
// holding it, and a channel closed if the store exits. versitygw serves
// either HTTP or HTTPS, so the specs get a second versitygw of their own,
// stopped when they end; SeaweedFS serves both, so they share the suite's.
func startTLSStore(dir string) (endpoint, caPEM, caFile string, done <-chan struct{}) {
	GinkgoHelper()
	if cfg.Store == storeSeaweedFS {
		return cfg.TLSEndpoint, cfg.TLSCA, cfg.TLSCAFile, nil
	}
	bin := findVersitygw()
	data := filepath.Join(dir, "data")
	Expect(os.MkdirAll(data, 0o755)).To(Succeed())
	certPath, keyPath := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	caPEM = selfSigned(certPath, keyPath, "tc-integration-gateway")
	port := freePort()
	cmd := exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", regionName,
		"--cert", certPath, "--key", keyPath, "--quiet", "posix", data)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + cfg.HomeDir,
		"ROOT_ACCESS_KEY=" + accessKeyID, "ROOT_SECRET_KEY=" + cfg.SecretKey}
	p := startProcess("the TLS versitygw", cmd, filepath.Join(dir, "versitygw-tls.log"))
	DeferCleanup(p.stop)
	return fmt.Sprintf("https://127.0.0.1:%d", port), caPEM, certPath, p.done
}

// truncateStoredObject cuts the stored bytes of bucket/key to half behind the
// resource's back. On versitygw it truncates the file of its posix backend,
// so the checksums the server keeps no longer match what it serves. SeaweedFS
// keeps objects as needles in volume files, which cannot be cut in place, so
// there the object is overwritten through S3 with its first half (a plain PUT:
// no If-None-Match) and only the resource's own record can tell.
func truncateStoredObject(bucket, key string) {
	GinkgoHelper()
	if cfg.Store == storeVersitygw {
		onDisk := filepath.Join(cfg.DataDir, bucket, filepath.FromSlash(key))
		info, err := os.Stat(onDisk)
		Expect(err).NotTo(HaveOccurred(), "versitygw's posix backend keeps the object at %s", onDisk)
		Expect(os.Truncate(onDisk, info.Size()/2)).To(Succeed())
		return
	}
	out, err := s3Client.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	Expect(err).NotTo(HaveOccurred())
	stored, err := io.ReadAll(out.Body)
	_ = out.Body.Close()
	Expect(err).NotTo(HaveOccurred())
	putObject(bucket, key, stored[:len(stored)/2])
}

// findWeed locates SeaweedFS's weed at the pinned version: $WEED, then PATH,
// then $HOME/.cache/tc-tools/bin. It fails the suite with install
// instructions when none is found or the binary is another version.
func findWeed() string {
	var candidates []string
	if p := os.Getenv("WEED"); p != "" {
		if st, err := os.Stat(p); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			Fail(fmt.Sprintf("WEED=%s is not an executable file. Build SeaweedFS with %s", p, weedInstallHint))
		}
		candidates = append(candidates, p)
	}
	if p, err := exec.LookPath("weed"); err == nil {
		candidates = append(candidates, p)
	}
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".cache", "tc-tools", "bin", "weed"))
	}
	for _, p := range candidates {
		st, err := os.Stat(p)
		if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			continue
		}
		// Built in a scratch module, weed carries SeaweedFS as a dependency.
		out, err := exec.Command("go", "version", "-m", p).Output()
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && (f[0] == "dep" || f[0] == "mod") && f[1] == seaweedfsModule {
				if f[2] != seaweedfsVersion {
					Fail(fmt.Sprintf("%s is SeaweedFS %s; the suite needs %s. Build it with %s", p, f[2], seaweedfsVersion, weedInstallHint))
				}
				return p
			}
		}
	}
	Fail(fmt.Sprintf("SeaweedFS weed %s not found (looked at $WEED, PATH and $HOME/.cache/tc-tools/bin). Build it with %s",
		seaweedfsVersion, weedInstallHint))
	return ""
}
