package integration_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// ---------------------------------------------------------------------------
// S3 side (test-owned client, never the product's code)

func newS3Client(endpoint, secret string) *s3.Client {
	// Built by hand instead of config.LoadDefaultConfig so that nothing from
	// the test process's environment (AWS_*, CA variables) leaks in.
	return s3.New(s3.Options{
		Region:       regionName,
		BaseEndpoint: aws.String(endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(accessKeyID, secret, ""),
	})
}

// newBucket creates a bucket with a name unique to this spec (safe under
// ginkgo -p).
func newBucket() string {
	GinkgoHelper()
	name := fmt.Sprintf("tc-%d-%s", GinkgoParallelProcess(), randomHex(6))
	_, err := s3Client.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)})
	Expect(err).NotTo(HaveOccurred(), "creating bucket %s", name)
	return name
}

// bucketKeys lists every key in the bucket, sorted.
func bucketKeys(bucket string) []string {
	GinkgoHelper()
	return keysUnder(bucket, "")
}

func keysUnder(bucket, prefix string) []string {
	GinkgoHelper()
	keys := []string{}
	p := s3.NewListObjectsV2Paginator(s3Client, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		Expect(err).NotTo(HaveOccurred())
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	sort.Strings(keys)
	return keys
}

func putObject(bucket, key string, body []byte) {
	GinkgoHelper()
	_, err := s3Client.PutObject(context.Background(), &s3.PutObjectInput{
		Bucket: aws.String(bucket),
		Key:    aws.String(key),
		Body:   bytes.NewReader(body),
	})
	Expect(err).NotTo(HaveOccurred(), "putting %s", key)
}

// putObjects writes many small objects concurrently.
func putObjects(bucket string, objects map[string][]byte) {
	GinkgoHelper()
	keys := slices.Sorted(maps.Keys(objects))
	work := make(chan string)
	errs := make(chan error, len(keys))
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for k := range work {
				_, err := s3Client.PutObject(context.Background(), &s3.PutObjectInput{
					Bucket: aws.String(bucket),
					Key:    aws.String(k),
					Body:   bytes.NewReader(objects[k]),
				})
				if err != nil {
					errs <- fmt.Errorf("%s: %w", k, err)
				}
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	close(errs)
	var all []error
	for e := range errs {
		all = append(all, e)
	}
	Expect(errors.Join(all...)).NotTo(HaveOccurred())
}

// ---------------------------------------------------------------------------
// Requests

// source builds a source block for the suite's gateway, with the Redis
// policy (the first publish stores it). Keys in extra are added or override;
// a nil value removes the key.
func source(bucket string, extra map[string]any) map[string]any {
	s := map[string]any{
		"environments":      redisPolicy(),
		"bucket":            bucket,
		"endpoint":          cfg.Endpoint,
		"use_path_style":    true,
		"region_name":       regionName,
		"access_key_id":     accessKeyID,
		"secret_access_key": cfg.SecretKey,
	}
	for k, v := range extra {
		if v == nil {
			delete(s, k)
		} else {
			s[k] = v
		}
	}
	return s
}

// redisPolicy is the promotion policy of the README's "Source" without the
// final-release gate (not part of this issue).
func redisPolicy() map[string]any {
	return map[string]any{
		"dev1":          map[string]any{},
		"dev2":          map[string]any{},
		"staging":       map[string]any{"requires_any": []string{"dev1", "dev2"}},
		"staging-tests": map[string]any{"requires_all": []string{"staging"}},
		"production":    map[string]any{"requires_all": []string{"staging", "staging-tests"}},
	}
}

func ver(v string) map[string]string { return map[string]string{"version": v} }

// Response is what in and out print on stdout.
type Response struct {
	Version  map[string]string `json:"version"`
	Metadata []struct {
		Name  string `json:"name"`
		Value string `json:"value"`
	} `json:"metadata"`
}

func (r Response) Meta(name string) (string, bool) {
	for _, m := range r.Metadata {
		if m.Name == name {
			return m.Value, true
		}
	}
	return "", false
}

// ---------------------------------------------------------------------------
// Running the binaries

// sessionToken is a secret the suite may put in a source; like the secret
// key, it must never be printed.
var sessionToken = "tc-it-session-" + fmt.Sprint(time.Now().UnixNano())

// controlledEnv is the whole environment of a resource process: PATH, an
// empty HOME, TMPDIR, and what the spec sets (BUILD_*, ATC_EXTERNAL_URL, ...).
// Nothing else is inherited: no AWS_*, no CA variables.
func controlledEnv(extra map[string]string) []string {
	env := map[string]string{
		"PATH":   os.Getenv("PATH"),
		"HOME":   cfg.HomeDir,
		"TMPDIR": os.TempDir(),
	}
	maps.Copy(env, extra)
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out
}

// start launches a resource binary with the request on stdin. req may be a
// value to marshal, or raw []byte / string.
func start(bin string, args []string, req any, env map[string]string) *gexec.Session {
	GinkgoHelper()
	var stdin []byte
	switch r := req.(type) {
	case []byte:
		stdin = r
	case string:
		stdin = []byte(r)
	default:
		var err error
		stdin, err = json.Marshal(req)
		Expect(err).NotTo(HaveOccurred())
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = controlledEnv(env)
	cmd.Stdin = bytes.NewReader(stdin)
	name := filepath.Base(bin)
	fmt.Fprintf(GinkgoWriter, "[%s] %s %s <<< %s\n", name, name, strings.Join(args, " "), redact(string(stdin)))
	sess, err := gexec.Start(cmd,
		gexec.NewPrefixedWriter("["+name+" stdout] ", GinkgoWriter),
		gexec.NewPrefixedWriter("["+name+" stderr] ", GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	return sess
}

// finish waits for the process and checks, for every run, that no secret
// reached stdout or stderr.
func finish(sess *gexec.Session) *gexec.Session {
	GinkgoHelper()
	Eventually(sess).WithTimeout(3 * time.Minute).Should(gexec.Exit())
	for _, secret := range []string{cfg.SecretKey, sessionToken} {
		Expect(string(sess.Out.Contents())).NotTo(ContainSubstring(secret), "a secret was printed on stdout")
		Expect(string(sess.Err.Contents())).NotTo(ContainSubstring(secret), "a secret was printed on stderr")
	}
	return sess
}

func run(bin string, args []string, req any, env map[string]string) *gexec.Session {
	GinkgoHelper()
	sess := finish(start(bin, args, req, env))
	// Secrets the request itself carries (e.g. a wrong secret key).
	if m, ok := req.(map[string]any); ok {
		if src, ok := m["source"].(map[string]any); ok {
			for _, k := range []string{"secret_access_key", "session_token"} {
				if s, ok := src[k].(string); ok && s != "" {
					Expect(string(sess.Out.Contents())).NotTo(ContainSubstring(s), "source.%s was printed on stdout", k)
					Expect(string(sess.Err.Contents())).NotTo(ContainSubstring(s), "source.%s was printed on stderr", k)
				}
			}
		}
	}
	return sess
}

func redact(s string) string {
	return strings.NewReplacer(cfg.SecretKey, "<secret>", sessionToken, "<token>").Replace(s)
}

// check runs check; versions are decoded only when it succeeded.
func check(req map[string]any) ([]map[string]string, *gexec.Session) {
	GinkgoHelper()
	sess := run(cfg.Check, nil, req, nil)
	if sess.ExitCode() != 0 {
		return nil, sess
	}
	var versions []map[string]string
	Expect(json.Unmarshal(sess.Out.Contents(), &versions)).To(Succeed(),
		"check stdout must be exactly a JSON array, got %q", sess.Out.Contents())
	return versions, sess
}

func in(dir string, req map[string]any) (Response, *gexec.Session) {
	GinkgoHelper()
	return inEnv(dir, req, nil)
}

func inEnv(dir string, req map[string]any, env map[string]string) (Response, *gexec.Session) {
	GinkgoHelper()
	return decodeResponse(run(cfg.In, []string{dir}, req, env))
}

func out(dir string, req map[string]any) (Response, *gexec.Session) {
	GinkgoHelper()
	return outEnv(dir, req, nil)
}

func outEnv(dir string, req map[string]any, env map[string]string) (Response, *gexec.Session) {
	GinkgoHelper()
	return decodeResponse(run(cfg.Out, []string{dir}, req, env))
}

func decodeResponse(sess *gexec.Session) (Response, *gexec.Session) {
	GinkgoHelper()
	var r Response
	if sess.ExitCode() != 0 {
		return r, sess
	}
	dec := json.NewDecoder(bytes.NewReader(sess.Out.Contents()))
	Expect(dec.Decode(&r)).To(Succeed(), "stdout must be exactly one JSON object, got %q", sess.Out.Contents())
	Expect(dec.More()).To(BeFalse(), "stdout must hold nothing but the response, got %q", sess.Out.Contents())
	Expect(r.Version).To(HaveKey("version"))
	return r, sess
}

func succeeded(sess *gexec.Session) {
	GinkgoHelper()
	Expect(sess.ExitCode()).To(Equal(0), "expected success; stderr:\n%s", sess.Err.Contents())
}

// expectRefusal asserts a failure the protocol way: non-zero exit, and the
// last stderr line is one "error: ..." line holding every given fragment.
func expectRefusal(sess *gexec.Session, fragments ...string) string {
	GinkgoHelper()
	stderr := string(sess.Err.Contents())
	Expect(sess.ExitCode()).NotTo(Equal(0), "expected a refusal; stdout:\n%s\nstderr:\n%s", sess.Out.Contents(), stderr)
	Expect(stderr).NotTo(ContainSubstring("goroutine "), "the process panicked:\n%s", stderr)
	line := lastLine(stderr)
	Expect(line).To(HavePrefix("error: "), "last stderr line should be the one-line reason; stderr:\n%s", stderr)
	var errorLines []string
	for _, l := range strings.Split(stderr, "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "error:") {
			errorLines = append(errorLines, l)
		}
	}
	Expect(errorLines).To(HaveLen(1), "exactly one line of stderr is the reason; stderr:\n%s", stderr)
	for _, f := range fragments {
		Expect(line).To(ContainSubstring(f), "the reason should name %q", f)
	}
	return line
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// ---------------------------------------------------------------------------
// Files

// writeFiles writes files (relative path -> content) under dir with mode 0644.
func writeFiles(dir string, files map[string]string) {
	GinkgoHelper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		Expect(os.MkdirAll(filepath.Dir(p), 0o755)).To(Succeed())
		Expect(os.WriteFile(p, []byte(content), 0o644)).To(Succeed())
	}
}

// redisTemplates is a small but real candidate: a base manifest, an ops file
// for every environment, and per-environment ops and vars. marker makes the
// content (and so the sha256) unique.
func redisTemplates(marker string) map[string]string {
	return map[string]string{
		"manifest.yml": `---
name: redis
releases:
- name: redis
  version: "14.0.1"
stemcells:
- alias: default
  os: ubuntu-jammy
  version: latest
update:
  canaries: 1
  max_in_flight: 1
  canary_watch_time: 1000-30000
  update_watch_time: 1000-30000
instance_groups:
- name: redis
  instances: 1
  azs: [z1]
  vm_type: default
  stemcell: default
  networks:
  - name: default
  jobs:
  - name: redis
    release: redis
    properties:
      password: ((redis_password))
      marker: "` + marker + `"
`,
		"ops/10-scale.yml": `---
- type: replace
  path: /instance_groups/name=redis/instances
  value: 2
`,
		"environments/dev1/ops/network.yml": `---
- type: replace
  path: /instance_groups/name=redis/networks/0/name
  value: dev1-net
`,
		"environments/dev1/vars.yml": "redis_hostname: redis.dev1.example.com\n",
		"environments/production/ops/scale.yml": `---
- type: replace
  path: /instance_groups/name=redis/instances
  value: 5
`,
	}
}

// sha256File returns the lowercase hex digest of a file.
func sha256File(path string) string {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

func readTrimmed(path string) string {
	GinkgoHelper()
	b, err := os.ReadFile(path)
	Expect(err).NotTo(HaveOccurred())
	return strings.TrimSpace(string(b))
}

// makeTgz writes a gzip'd tar of files; with dotSlash every entry name starts
// with "./" (as `tar czf x.tgz -C dir .` produces).
func makeTgz(path string, files map[string]string, dotSlash bool) {
	GinkgoHelper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	dirs := map[string]bool{}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		prefix := ""
		if dotSlash {
			prefix = "./"
		}
		for d := filepath.Dir(name); d != "."; d = filepath.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: prefix + d + "/", Mode: 0o755, ModTime: time.Unix(1e9, 0)})).To(Succeed())
			}
		}
		Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: prefix + name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Unix(1e9, 0)})).To(Succeed())
		_, err := tw.Write([]byte(files[name]))
		Expect(err).NotTo(HaveOccurred())
	}
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	Expect(os.WriteFile(path, buf.Bytes(), 0o644)).To(Succeed())
}

// ---------------------------------------------------------------------------
// Workflows built on the helpers

// publish packs files as a candidate (params.directory) and returns out's
// response. version "" means "next patch".
func publish(src map[string]any, files map[string]string, version string) Response {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	writeFiles(filepath.Join(dir, "templates"), files)
	params := map[string]any{"directory": "templates"}
	if version != "" {
		params["version"] = version
	}
	resp, sess := out(dir, map[string]any{"source": src, "params": params})
	succeeded(sess)
	if version != "" {
		Expect(resp.Version).To(Equal(ver(version)))
	}
	return resp
}

// get runs in for version into <tmp>/cand and returns <tmp> (the directory a
// later put would receive as $1).
func get(src map[string]any, version map[string]string, params map[string]any) (string, Response) {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	req := map[string]any{"source": src, "version": version}
	if params != nil {
		req["params"] = params
	}
	resp, sess := in(filepath.Join(dir, "cand"), req)
	succeeded(sess)
	return dir, resp
}

// pass records a pass in env for the candidate fetched into getDir/cand.
func pass(src map[string]any, getDir, env string) (Response, *gexec.Session) {
	GinkgoHelper()
	return passEnv(src, getDir, env, "", nil)
}

func passEnv(src map[string]any, getDir, env, note string, buildEnv map[string]string) (Response, *gexec.Session) {
	GinkgoHelper()
	params := map[string]any{"candidate": "cand", "environment": env}
	if note != "" {
		params["note"] = note
	}
	return outEnv(getDir, map[string]any{"source": src, "params": params}, buildEnv)
}

// mustPass records a pass for version in env (fetching it first with
// skip_download) and returns out's response.
func mustPass(src map[string]any, version, env string) Response {
	GinkgoHelper()
	dir, _ := get(src, ver(version), map[string]any{"skip_download": true})
	resp, sess := pass(src, dir, env)
	succeeded(sess)
	Expect(resp.Version).To(HaveKeyWithValue("version", version))
	return resp
}

// updatePolicy stores src's environments as the new policy of its prefix
// (params.update_policy), as a deliberate change would.
func updatePolicy(src map[string]any) Response {
	GinkgoHelper()
	resp, sess := out(GinkgoT().TempDir(), map[string]any{"source": src, "params": map[string]any{"update_policy": true}})
	succeeded(sess)
	return resp
}

func versionsOf(vs []map[string]string) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = v["version"]
	}
	return out
}

// ---------------------------------------------------------------------------
// Counting reverse proxy

// countingProxy sits between a binary and the gateway and counts requests by
// S3 operation. It forwards with the client's own Host header: SigV4 signs
// Host, so rewriting it would break every signature.
type countingProxy struct {
	URL string

	mu       sync.Mutex
	ops      map[string]int
	prefixes []string // prefix= of every ListObjectsV2

	// Fault injection.
	failFirst bool            // fail the first attempt of every distinct request with 503 SlowDown
	seen      map[string]bool // requests already failed once
	failAll   int             // when non-zero, answer every request with this status
	injected  int

	// Connection faults and the request log (see faultproxy_test.go).
	target    *url.URL
	transport *http.Transport
	cuts      []*connFault
	events    []proxyEvent
}

func startCountingProxy(backend string) *countingProxy {
	GinkgoHelper()
	target, err := url.Parse(backend)
	Expect(err).NotTo(HaveOccurred())
	p := &countingProxy{ops: map[string]int{}, seen: map[string]bool{}, target: target, transport: &http.Transport{}}
	DeferCleanup(p.transport.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			// Out is a clone of In: Host stays the client's. Only dial the backend.
			r.Out.URL.Scheme = target.Scheme
			r.Out.URL.Host = target.Host
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, key := s3Operation(r), objectKey(r)
		started := time.Now()
		p.mu.Lock()
		p.ops[op]++
		if op == "ListObjectsV2" {
			p.prefixes = append(p.prefixes, r.URL.Query().Get("prefix"))
		}
		fault := 0
		attempt := r.Method + " " + r.URL.String()
		switch {
		case p.failAll != 0:
			fault = p.failAll
		case p.failFirst && !p.seen[attempt]:
			p.seen[attempt] = true
			fault = http.StatusServiceUnavailable
		}
		var cut *connFault
		if fault != 0 {
			p.injected++
		} else {
			cut = p.matchCut(op, key)
		}
		p.mu.Unlock()
		if fault != 0 {
			_, _ = io.Copy(io.Discard, r.Body)
			code := map[int]string{503: "SlowDown", 500: "InternalError"}[fault]
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(fault)
			if r.Method != http.MethodHead {
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>injected by the integration suite</Message><RequestId>fault</RequestId></Error>`, code)
			}
			p.record(proxyEvent{Op: op, Key: key, Status: fault, Fault: code, Start: started})
			return
		}
		if cut != nil {
			p.serveCut(cut, w, r, op, key, started)
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		rp.ServeHTTP(rec, r)
		p.record(proxyEvent{Op: op, Key: key, Status: rec.Status(), Start: started})
	}))
	DeferCleanup(srv.Close)
	p.URL = srv.URL
	return p
}

func (p *countingProxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ops = map[string]int{}
	p.prefixes = nil
}

// FailFirstAttempts makes the proxy answer the first attempt of every
// distinct request with 503 SlowDown, as S3 does under load.
func (p *countingProxy) FailFirstAttempts() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failFirst = true
}

// FailAll makes the proxy answer every request with status.
func (p *countingProxy) FailAll(status int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failAll = status
}

func (p *countingProxy) Injected() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.injected
}

func (p *countingProxy) Counts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.ops)
}

func (p *countingProxy) Total() int {
	n := 0
	for _, c := range p.Counts() {
		n += c
	}
	return n
}

func (p *countingProxy) ListPrefixes() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.prefixes)
}

// s3Operation names a path-style S3 request.
func s3Operation(r *http.Request) string {
	q := r.URL.Query()
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	switch {
	case bucket == "":
		return "ListBuckets"
	case key == "":
		switch r.Method {
		case http.MethodGet:
			switch {
			case q.Get("list-type") == "2":
				return "ListObjectsV2"
			case q.Has("location"):
				return "GetBucketLocation"
			case q.Has("versions"):
				return "ListObjectVersions"
			case q.Has("uploads"):
				return "ListMultipartUploads"
			case len(q) == 0 || q.Has("prefix") || q.Has("marker") || q.Has("delimiter"):
				return "ListObjects"
			default:
				return "GetBucket?" + r.URL.RawQuery
			}
		case http.MethodHead:
			return "HeadBucket"
		case http.MethodPut:
			return "PutBucket"
		default:
			return r.Method + "Bucket"
		}
	default:
		switch r.Method {
		case http.MethodGet:
			return "GetObject"
		case http.MethodHead:
			return "HeadObject"
		case http.MethodPut:
			switch {
			case q.Has("partNumber"):
				return "UploadPart"
			case r.Header.Get("X-Amz-Copy-Source") != "":
				return "CopyObject"
			default:
				return "PutObject"
			}
		case http.MethodPost:
			if q.Has("uploads") {
				return "CreateMultipartUpload"
			}
			if q.Has("uploadId") {
				return "CompleteMultipartUpload"
			}
			return "PostObject"
		case http.MethodDelete:
			if q.Has("uploadId") {
				return "AbortMultipartUpload"
			}
			return "DeleteObject"
		}
	}
	return r.Method + " " + r.URL.Path
}

// seedPolicy stores the Redis policy as policy 1 under prefix, as a first
// publish would, so seeded candidates have a policy to be validated under.
func seedPolicy(bucket, prefix string) {
	GinkgoHelper()
	seedPolicyOf(bucket, prefix, redisPolicy())
}

// seedPolicyOf stores envs as the policy (number 1) under prefix.
func seedPolicyOf(bucket, prefix string, envs map[string]any) {
	GinkgoHelper()
	raw, _ := json.Marshal(envs)
	var pol policy.Policy
	Expect(json.Unmarshal(raw, &pol)).To(Succeed())
	digest := pol.Digest()
	body, _ := json.Marshal(map[string]any{"seq": 1, "digest": digest, "environments": pol, "time": time.Now().UTC(), "build": map[string]any{}})
	putObjects(bucket, map[string][]byte{
		prefix + "layout.json":                     []byte(`{"layout":2}`),
		prefix + "policies/a1_" + digest + ".json": body,
	})
}

// versionKey is a version's key in the layout (semver order as byte order).
func versionKey(v string) string {
	GinkgoHelper()
	k, ok := store.VersionKey(v)
	Expect(ok).To(BeTrue(), "%q is not a version", v)
	return k
}

// seedCandidates writes the policy and commit records for versions straight
// into the bucket, following the key layout, so a check has many keys to
// list without publishing thousands of candidates.
func seedCandidates(bucket, prefix string, versions []string) {
	GinkgoHelper()
	seedCandidatesUnder(bucket, prefix, redisPolicy(), versions)
}

// seedCandidatesUnder is seedCandidates with envs as the policy.
func seedCandidatesUnder(bucket, prefix string, envs map[string]any, versions []string) {
	GinkgoHelper()
	seedPolicyOf(bucket, prefix, envs)
	objs := map[string][]byte{}
	for _, v := range versions {
		objs[prefix+"candidates/"+versionKey(v)+"_a1"] = []byte(`{"version":"` + v + `"}`)
	}
	putObjects(bucket, objs)
}

// passKeyTime is the <time> of pass and deployment keys.
const passKeyTime = "20060102T150405.000000000Z"

// seedPasses writes one pass record (and its deployment entry) per version
// into env, at increasing times from base, and returns the time of each.
func seedPasses(bucket, prefix, env string, versions []string, base time.Time) map[string]time.Time {
	GinkgoHelper()
	return seedPassesEvery(bucket, prefix, env, versions, base, time.Second)
}

// seedPassesEvery is seedPasses with the passes every apart.
func seedPassesEvery(bucket, prefix, env string, versions []string, base time.Time, every time.Duration) map[string]time.Time {
	GinkgoHelper()
	objs := map[string][]byte{}
	times := map[string]time.Time{}
	for i, v := range versions {
		t := base.Add(time.Duration(i) * every).UTC()
		times[v] = t
		body, _ := json.Marshal(map[string]any{
			"environment": env, "version": v, "time": t.Format(time.RFC3339Nano),
			"build": map[string]any{}, "note": "seeded",
		})
		nonce := randomHex(4)
		rel := "passes/" + env + "/" + versionKey(v) + "/" + t.Format(passKeyTime) + "_" + nonce + ".json"
		objs[prefix+rel] = body
		objs[prefix+"deploys/"+env+"/"+t.Format(passKeyTime)+"_"+nonce+"_"+versionKey(v)] = []byte(rel)
	}
	putObjects(bucket, objs)
	return times
}
