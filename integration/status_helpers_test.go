package integration_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
	"gopkg.in/yaml.v3"
)

// The candidates CLI, built once per parallel process.
var (
	candidatesOnce sync.Once
	candidatesBin  string
	candidatesErr  error
)

func candidatesCLI() string {
	GinkgoHelper()
	candidatesOnce.Do(func() {
		candidatesBin, candidatesErr = gexec.Build(modulePath + "/candidates")
	})
	Expect(candidatesErr).NotTo(HaveOccurred(), "building the candidates CLI")
	return candidatesBin
}

// runCandidates runs the CLI as a process with the controlled environment
// (plus env) and checks that no secret reached its output.
func runCandidates(env map[string]string, args ...string) *gexec.Session {
	GinkgoHelper()
	cmd := exec.Command(candidatesCLI(), args...)
	cmd.Env = controlledEnv(env)
	fmt.Fprintf(GinkgoWriter, "[candidates] candidates %s\n", redact(strings.Join(args, " ")))
	sess, err := gexec.Start(cmd,
		gexec.NewPrefixedWriter("[candidates stdout] ", GinkgoWriter),
		gexec.NewPrefixedWriter("[candidates stderr] ", GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	return finish(sess)
}

// candidatesOK runs the CLI and expects success and a quiet stderr.
func candidatesOK(args ...string) string {
	GinkgoHelper()
	sess := runCandidates(nil, args...)
	Expect(sess.ExitCode()).To(Equal(0), "candidates %s failed; stderr:\n%s", strings.Join(args, " "), sess.Err.Contents())
	return string(sess.Out.Contents())
}

// candidatesJSON runs the CLI with --json and decodes its stdout into v.
func candidatesJSON(v any, args ...string) {
	GinkgoHelper()
	out := candidatesOK(append(args, "--json")...)
	dec := json.NewDecoder(strings.NewReader(out))
	Expect(dec.Decode(v)).To(Succeed(), "candidates --json printed:\n%s", out)
	Expect(dec.More()).To(BeFalse(), "stdout must hold the JSON document alone")
}

// cliSourceFile writes a source block as a YAML (or, with asJSON, JSON) file.
func cliSourceFile(src map[string]any, asJSON bool) string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	if asJSON {
		b, err := json.Marshal(src)
		Expect(err).NotTo(HaveOccurred())
		p := filepath.Join(dir, "source.json")
		Expect(os.WriteFile(p, b, 0o600)).To(Succeed())
		return p
	}
	b, err := yaml.Marshal(src)
	Expect(err).NotTo(HaveOccurred())
	p := filepath.Join(dir, "source.yml")
	Expect(os.WriteFile(p, b, 0o600)).To(Succeed())
	return p
}

func cliTextFile(name, content string) string {
	GinkgoHelper()
	p := filepath.Join(GinkgoT().TempDir(), name)
	Expect(os.WriteFile(p, []byte(content), 0o600)).To(Succeed())
	return p
}

// cliBuildEnv is the environment Concourse gives a put of job #name.
func cliBuildEnv(job, name, createdBy string) map[string]string {
	return map[string]string{
		"BUILD_ID":            "10" + name,
		"BUILD_NAME":          name,
		"BUILD_JOB_NAME":      job,
		"BUILD_PIPELINE_NAME": "redis",
		"BUILD_TEAM_NAME":     "main",
		"ATC_EXTERNAL_URL":    "https://ci.example.com",
		"BUILD_CREATED_BY":    createdBy,
	}
}

func cliBuildURL(job, name string) string {
	return "https://ci.example.com/teams/main/pipelines/redis/jobs/" + job + "/builds/" + name
}

// cliPassBy records a pass of version in env through out, as build #name of
// job triggered by alice.
func cliPassBy(src map[string]any, version, env, note, job, name string) {
	GinkgoHelper()
	dir, _ := get(src, ver(version), map[string]any{"skip_download": true})
	resp, sess := passEnv(src, dir, env, note, cliBuildEnv(job, name, "alice"))
	succeeded(sess)
	Expect(resp.Version).To(HaveKeyWithValue("version", version))
}

// cliOverride records a pass of version in env by break-glass
// (params.override), as build #name of job triggered by bob.
func cliOverride(src map[string]any, version, env, reason, note, job, name string) Response {
	GinkgoHelper()
	dir, _ := get(src, ver(version), map[string]any{"skip_download": true})
	params := map[string]any{"candidate": "cand", "environment": env, "override": reason, "note": note}
	resp, sess := outEnv(dir, map[string]any{"source": src, "params": params}, cliBuildEnv(job, name, "bob"))
	succeeded(sess)
	return resp
}

// cliRevoke revokes a version through out (params.revoke), as build #3 of
// the revoke job.
func cliRevoke(src map[string]any, version, reason string) {
	GinkgoHelper()
	_, sess := outEnv(GinkgoT().TempDir(), map[string]any{"source": src, "params": map[string]any{"revoke": version, "reason": reason}},
		cliBuildEnv("revoke", "3", "carol"))
	succeeded(sess)
}

// cliChromiumDOM renders an HTML file in headless Chromium and returns the
// DOM it built. A missing Chromium fails the spec: the page must be seen by
// a real browser.
func cliChromiumDOM(page string) string {
	GinkgoHelper()
	bin, err := exec.LookPath("chromium")
	if err != nil {
		Fail("chromium not found on PATH: the status page is checked in headless Chromium. Install it with:\n  apt-get update && apt-get install -y chromium\n(Debian's chromium package; .ci/run installs it)")
	}
	profile := GinkgoT().TempDir()
	abs, err := filepath.Abs(page)
	Expect(err).NotTo(HaveOccurred())
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--no-first-run", "--user-data-dir="+profile, "--dump-dom", "file://"+abs)
	cmd.Env = controlledEnv(map[string]string{"HOME": profile})
	sess, err := gexec.Start(cmd, nil, gexec.NewPrefixedWriter("[chromium stderr] ", GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	Eventually(sess).WithTimeout(2 * time.Minute).Should(gexec.Exit(0))
	return string(sess.Out.Contents())
}
