package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const (
	region    = "us-east-1"
	accessKey = "bench-access-key"
)

// harness is what every bar shares: the module, the compiled binaries, the
// S3 server and a client of it.
type harness struct {
	opt         options
	sc          scale
	log         io.Writer
	start       time.Time
	loadAtStart string

	root string // the module's root directory
	tmp  string // everything this run writes
	bin  string // compiled check, in, out, lister
	home string // an empty HOME for the child processes

	gatewayBin  string
	gateway     *exec.Cmd
	gatewayDone chan struct{}
	gatewayLog  string
	endpoint    string // versitygw, directly
	secretKey   string
	client      *s3.Client

	tarball     string // P2/P3: the generated candidate tarball
	tarballSize int64
	published   string    // P2/P3: the version out published last
	small       *smallOps // P8/P9: the counted operations on a small candidate
}

func (h *harness) logf(format string, args ...any) {
	fmt.Fprintf(h.log, "[%6.1fs] %s\n", time.Since(h.start).Seconds(), fmt.Sprintf(format, args...))
}

func newHarness(ctx context.Context, opt options, sc scale, log io.Writer) (_ *harness, err error) {
	h := &harness{opt: opt, sc: sc, log: log, start: time.Now(), loadAtStart: loadAverage()}
	defer func() {
		if err != nil {
			h.close()
		}
	}()
	if h.root, err = moduleRoot(); err != nil {
		return nil, err
	}
	if h.tmp, err = os.MkdirTemp("", "tc-bench-"); err != nil {
		return nil, err
	}
	h.bin = filepath.Join(h.tmp, "bin")
	h.home = filepath.Join(h.tmp, "home")
	if err := os.MkdirAll(h.home, 0o755); err != nil {
		return nil, err
	}
	h.logf("work directory %s", h.tmp)

	h.logf("compiling check, in, out (image flags: CGO_ENABLED=0 -trimpath -ldflags '-s -w') and the helpers bench/lister, bench/transfer, bench/sdkcalls, bench/rusage")
	if err := h.goBuild(ctx, h.bin, "./check", "./in", "./out", "./bench/lister", "./bench/rusage", "./bench/transfer", "./bench/sdkcalls"); err != nil {
		return nil, err
	}

	needGateway := false
	for _, b := range []string{"P1", "P2", "P3", "P5", "P7", "P8", "P9"} {
		needGateway = needGateway || opt.only[b]
	}
	if needGateway {
		if err := h.startGateway(ctx); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *harness) close() {
	if h.gateway != nil && h.gateway.Process != nil {
		_ = h.gateway.Process.Kill()
		<-h.gatewayDone
	}
	if h.tmp != "" {
		if h.opt.keep {
			h.logf("kept %s", h.tmp)
		} else {
			_ = os.RemoveAll(h.tmp)
		}
	}
}

// moduleRoot is the directory of the go.mod of the current directory.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the bench inside the module (go run ./bench from the repository)")
	}
	return filepath.Dir(mod), nil
}

// goBuild compiles packages of the module into dir, as `make build` does.
func (h *harness) goBuild(ctx context.Context, dir string, pkgs ...string) error {
	args := append([]string{"build", "-trimpath", "-ldflags", "-s -w", "-o", dir + "/"}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = h.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// findVersitygw: $VERSITYGW, the pinned tools cache, PATH, else install it
// with scripts/install-tools.sh.
func (h *harness) findVersitygw(ctx context.Context) (string, error) {
	if p := os.Getenv("VERSITYGW"); p != "" {
		return p, nil
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "tc-tools", "bin", "versitygw")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	h.logf("versitygw not found: running scripts/install-tools.sh")
	cmd := exec.CommandContext(ctx, filepath.Join(h.root, "scripts", "install-tools.sh"))
	cmd.Dir = h.root
	cmd.Stderr = h.log
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("scripts/install-tools.sh: %w", err)
	}
	return filepath.Join(strings.TrimSpace(string(out)), "versitygw"), nil
}

func (h *harness) startGateway(ctx context.Context) error {
	bin, err := h.findVersitygw(ctx)
	if err != nil {
		return err
	}
	h.gatewayBin = bin
	data := filepath.Join(h.tmp, "s3")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return err
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	h.secretKey = "bench-" + randomHex(12)
	h.endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	h.gatewayLog = filepath.Join(h.tmp, "versitygw.log")
	logFile, err := os.Create(h.gatewayLog)
	if err != nil {
		return err
	}
	defer logFile.Close()
	h.gateway = exec.Command(bin, "--port", fmt.Sprintf("127.0.0.1:%d", port), "--region", region, "--quiet", "posix", data)
	h.gateway.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + h.home,
		"ROOT_ACCESS_KEY=" + accessKey,
		"ROOT_SECRET_KEY=" + h.secretKey,
	}
	h.gateway.Stdout, h.gateway.Stderr = logFile, logFile
	if err := h.gateway.Start(); err != nil {
		return fmt.Errorf("starting versitygw: %w", err)
	}
	h.gatewayDone = make(chan struct{})
	go func() {
		_ = h.gateway.Wait()
		close(h.gatewayDone)
	}()
	h.logf("versitygw %s on %s", bin, h.endpoint)

	h.client = h.newClient(h.endpoint)
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := h.client.ListBuckets(ctx, &s3.ListBucketsInput{})
		if err == nil {
			return nil
		}
		select {
		case <-h.gatewayDone:
			b, _ := os.ReadFile(h.gatewayLog)
			return fmt.Errorf("versitygw exited early:\n%s", b)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer within 30s: %v (log %s)", err, h.gatewayLog)
		}
	}
}

// newClient is the harness's own client: seeding, baselines, clean-up.
func (h *harness) newClient(endpoint string) *s3.Client {
	hc := awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 256
	})
	return s3.New(s3.Options{
		Region:                     region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(accessKey, h.secretKey, ""),
		HTTPClient:                 hc,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
	})
}

func (h *harness) createBucket(ctx context.Context, name string) error {
	_, err := h.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
	if err != nil {
		return fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return nil
}

// source is a resource source for a bucket of the gateway at endpoint.
func (h *harness) source(endpoint, bucket string, extra map[string]any) map[string]any {
	src := map[string]any{
		"bucket":            bucket,
		"endpoint":          endpoint,
		"use_path_style":    true,
		"region_name":       region,
		"access_key_id":     accessKey,
		"secret_access_key": h.secretKey,
	}
	for k, v := range extra {
		src[k] = v
	}
	return src
}

// childEnv is the environment of the processes measured: no AWS_* variables
// and an empty HOME, as in a Concourse resource container.
func (h *harness) childEnv() []string {
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + h.home, "TMPDIR=" + os.TempDir()}
}

// proc is a finished child process.
type proc struct {
	wall   time.Duration
	maxRSS int64         // KiB, from the child's rusage
	cpu    time.Duration // user + system
	stdout []byte
	stderr []byte
}

// runProc runs a child process to its end, through bench/rusage so that its
// peak RSS is its own (see there). A non-zero exit is an error carrying the
// last lines of its stderr.
func (h *harness) runProc(ctx context.Context, stdin []byte, dir, name string, args ...string) (proc, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return proc{}, err
	}
	defer pr.Close()
	cmd := exec.CommandContext(ctx, filepath.Join(h.bin, "rusage"), append([]string{name}, args...)...)
	cmd.Env = h.childEnv()
	cmd.Dir = dir
	cmd.ExtraFiles = []*os.File{pw}
	var stdout, stderr bytes.Buffer
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	t0 := time.Now()
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return proc{}, err
	}
	var ru struct {
		WallNanos int64 `json:"wall_ns"`
		MaxRSSKiB int64 `json:"maxrss_kib"`
		CPUNanos  int64 `json:"cpu_ns"`
	}
	decodeErr := json.NewDecoder(pr).Decode(&ru)
	err = cmd.Wait()
	p := proc{wall: time.Since(t0), stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if decodeErr == nil {
		p.wall, p.maxRSS, p.cpu = time.Duration(ru.WallNanos), ru.MaxRSSKiB, time.Duration(ru.CPUNanos)
	}
	if err != nil {
		return p, fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, lastLines(stderr.String(), 3))
	}
	if decodeErr != nil {
		return p, fmt.Errorf("rusage report of %s: %v", filepath.Base(name), decodeErr)
	}
	return p, nil
}

// interleave runs a and b n times each, alternating which goes first
// (a b b a a b ...), so that a drift in the machine's load falls on both alike.
func interleave(n int, a, b func() (proc, error)) (as, bs []proc, err error) {
	for i := range n {
		first, second := a, b
		if i%2 == 1 {
			first, second = b, a
		}
		p1, err := first()
		if err != nil {
			return nil, nil, err
		}
		p2, err := second()
		if err != nil {
			return nil, nil, err
		}
		if i%2 == 1 {
			p1, p2 = p2, p1
		}
		as, bs = append(as, p1), append(bs, p2)
	}
	return as, bs, nil
}

// rotate runs each of fns n times, in turn, starting each round with the
// next one (ABC, BCA, CAB, ...), so that a drift in the machine's load falls
// on all alike. runs[i] are the runs of fns[i].
func rotate(n int, fns ...func() (proc, error)) (runs [][]proc, err error) {
	runs = make([][]proc, len(fns))
	for round := range n {
		for j := range fns {
			k := (round + j) % len(fns)
			p, err := fns[k]()
			if err != nil {
				return nil, err
			}
			runs[k] = append(runs[k], p)
		}
	}
	return runs, nil
}

func walls(ps []proc) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = p.wall
	}
	return out
}

func cpus(ps []proc) []time.Duration {
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		out[i] = p.cpu
	}
	return out
}

// resource runs check, in or out with a JSON request.
func (h *harness) resource(ctx context.Context, cmd string, request any, args ...string) (proc, error) {
	body, err := json.Marshal(request)
	if err != nil {
		return proc{}, err
	}
	return h.runProc(ctx, body, h.tmp, filepath.Join(h.bin, cmd), args...)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
