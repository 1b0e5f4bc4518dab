package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

const (
	modulePath = "github.com/templates-candidate/templates-candidate-resource"
	bucket     = "templates-candidates"
	example    = "examples/redis"

	rollbackNote = "rollback: 0.1.1 misbehaves in production"
)

// environments in the order of the promotion path, for the final table.
var environments = []string{"dev1", "dev2", "staging", "staging-tests", "production"}

// Demo tells the promotion story against the real binaries.
type Demo struct {
	Out  io.Writer     // the narration
	Soak time.Duration // production's soak in the demo's policy
	Keep bool          // keep the working directory
	Logs bool          // also print the binaries' stderr
	// Templates is the folder published as candidates; default examples/redis
	// of the repository.
	Templates string

	root   string // the module's root directory
	work   string // scratch space: builds, gets, puts
	s3     *fakeS3
	res    *resource
	builds map[string]int // job name → its last build number
	lastID int            // the last BUILD_ID given

	step  int
	title string

	v1, v2, v3 response // the published candidates
	// rollbackBuild is the deploy-production build that rolled back.
	rollbackBuild int
	firstDeploy   version
}

// Run tells the whole story, or returns an error naming the step at which the
// resource did not behave as narrated.
func (d *Demo) Run(ctx context.Context) (err error) {
	if d.Out == nil {
		d.Out = io.Discard
	}
	if d.Soak <= 0 {
		d.Soak = 2 * time.Second
	}
	d.builds = map[string]int{}

	if d.root, err = moduleRoot(); err != nil {
		return err
	}
	if d.Templates == "" {
		d.Templates = filepath.Join(d.root, example)
	}
	if d.work, err = os.MkdirTemp("", "templates-candidate-demo-"); err != nil {
		return err
	}
	defer func() {
		if d.Keep {
			fmt.Fprintf(d.Out, "\n(working directory kept: %s)\n", d.work)
			return
		}
		if rmErr := os.RemoveAll(d.work); rmErr != nil && err == nil {
			err = rmErr
		}
	}()

	fmt.Fprintf(d.Out, "templates-candidate: the promotion story, told by the real check/in/out binaries\n")
	fmt.Fprintf(d.Out, "=================================================================================\n\n")

	if d.s3, err = startFakeS3(bucket); err != nil {
		return fmt.Errorf("starting the in-process S3: %w", err)
	}
	defer func() {
		if stopErr := d.s3.Stop(); stopErr != nil && err == nil {
			err = fmt.Errorf("stopping the in-process S3: %w", stopErr)
		}
	}()
	fmt.Fprintf(d.Out, "In-process S3 (gofakes3, memory backend): %s, bucket %q\n", d.s3.Endpoint, bucket)

	if err = d.buildBinaries(ctx); err != nil {
		return err
	}
	d.printPolicy()

	steps := []struct {
		title string
		run   func(context.Context) error
	}{
		{"Publish the Redis templates of " + example + " as a candidate", d.publishFirst},
		{"Deploy 0.1.0 to dev1 and record the pass", d.dev1First},
		{"Deploy 0.1.0 to staging: it passed dev1, so the OR gate admits it", d.stagingFirst},
		{"staging's integration tests pass for 0.1.0", d.testsFirst},
		{"Deploy 0.1.0 to production: first the soak, then admitted", d.productionFirst},
		{"Change the scaling in a copy of the templates and publish 0.1.1", d.publishSecond},
		{"Try to deploy 0.1.1 to staging: it passed no dev environment", d.stagingRefused},
		{"Deploy 0.1.1 to dev2 and record the pass", d.dev2Second},
		{"Reset staging to what production runs, then deploy 0.1.1 to staging", d.stagingSecond},
		{"staging's integration tests pass for 0.1.1", d.testsSecond},
		{"Deploy 0.1.1 to production: refused while it soaks, then admitted", d.productionSecond},
		{"Publish 0.1.2 and test it in staging as the upgrade from production's 0.1.1", d.thirdTested},
		{"Roll production back to 0.1.0, tested as a downgrade from 0.1.1 in staging", d.rollback},
		{"Try to deploy 0.1.2 to production: staging tested it as an upgrade from 0.1.1, but production now runs 0.1.0", d.upgradeRefused},
		{"Render 0.1.1 for staging and for production, and compare", d.renderDiff},
		{"Candidates × environments, from passed.json of each candidate", d.table},
	}
	for _, s := range steps {
		d.step++
		d.title = s.title
		fmt.Fprintf(d.Out, "\n[%d] %s\n", d.step, s.title)
		if err := s.run(ctx); err != nil {
			return fmt.Errorf("step %d (%s): %w", d.step, s.title, err)
		}
	}
	fmt.Fprintf(d.Out, "\nThe whole story ran as narrated against %s.\n", d.s3.Endpoint)
	return nil
}

// ---------------------------------------------------------------- setup

// moduleRoot finds this repository's root from the working directory up.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.Contains(data, []byte("module "+modulePath+"\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run the demo from inside the templates-candidate-resource repository (no go.mod of %s above the working directory)", modulePath)
		}
		dir = parent
	}
}

func (d *Demo) buildBinaries(ctx context.Context) error {
	bin := filepath.Join(d.work, "opt", "resource")
	home := filepath.Join(d.work, "home")
	for _, dir := range []string{bin, home} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	fmt.Fprintf(d.Out, "Compiling check, in, out from %s ... ", d.root)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin+string(filepath.Separator), "./check", "./in", "./out")
	cmd.Dir = d.root
	out, err := cmd.CombinedOutput()
	if err != nil {
		fmt.Fprintln(d.Out, "failed")
		return fmt.Errorf("compiling the resource binaries (go build ./check ./in ./out): %v\n%s", err, strings.TrimSpace(string(out)))
	}
	for _, name := range []string{"check", "in", "out"} {
		if _, err := os.Stat(filepath.Join(bin, name)); err != nil {
			return fmt.Errorf("go build did not produce %s: %w", name, err)
		}
	}
	fmt.Fprintf(d.Out, "done (%s)\n", time.Since(start).Round(100*time.Millisecond))
	d.res = &resource{bin: bin, home: home}
	if d.Logs {
		d.res.log = d.Out
	}
	return nil
}

func (d *Demo) printPolicy() {
	fmt.Fprintf(d.Out, `
Every step runs a binary the way Concourse does: a JSON request on stdin, the
build directory as $1, BUILD_* of a job in pipeline %q (team %q) on %s.
The source (abridged as {…} below):

  bucket: %s
  endpoint: %s
  use_path_style: true
  access_key_id: demo / secret_access_key: …
  environments:
    dev1: {}
    dev2: {}
    staging:       {requires_any: [dev1, dev2], final_releases: true}
    staging-tests: {requires_all: [staging]}
    production:    {requires_all: [staging, staging-tests], final_releases: true, soak: %s,
                    upgrade_tested_in: staging,      # exactly the upgrade staging tested
                    parity: {with: staging, allow: [networks, azs, instances, vm_type,
                             persistent_disk_type, the public hostname of redis]}}

Deploys themselves are bosh-deployment-resource's work; each deploy job below
gets the candidate, and after its deploy succeeded puts a pass record.
`, pipeline, team, atcURL, bucket, d.s3.Endpoint, d.Soak)
}

// ---------------------------------------------------------------- the source

func (d *Demo) policy() map[string]any {
	return map[string]any{
		"dev1":          map[string]any{},
		"dev2":          map[string]any{},
		"staging":       map[string]any{"requires_any": []string{"dev1", "dev2"}, "final_releases": true},
		"staging-tests": map[string]any{"requires_all": []string{"staging"}},
		"production": map[string]any{
			"requires_all":      []string{"staging", "staging-tests"},
			"final_releases":    true,
			"soak":              d.Soak.String(),
			"upgrade_tested_in": "staging",
			"parity": map[string]any{"with": "staging", "allow": []string{
				"/instance_groups/name=redis/networks",
				"/instance_groups/name=redis/azs",
				"/instance_groups/name=redis/instances",
				"/instance_groups/name=redis/vm_type",
				"/instance_groups/name=redis/persistent_disk_type",
				"/instance_groups/name=redis/jobs/name=redis/provides/redis/aliases",
				"/instance_groups/name=sanity-tests/networks",
			}},
		},
	}
}

// source is the resource's source; mode is "" or eligible_for/live_in and env.
func (d *Demo) source(mode, env string) map[string]any {
	s := map[string]any{
		"bucket":            bucket,
		"region_name":       "us-east-1",
		"endpoint":          d.s3.Endpoint,
		"use_path_style":    true,
		"access_key_id":     "demo",
		"secret_access_key": "demo-secret-key",
		"environments":      d.policy(),
	}
	if mode != "" {
		s[mode] = env
	}
	return s
}

func sourceLabel(mode, env string) string {
	if mode == "" {
		return "{…}"
	}
	return fmt.Sprintf(`{…, %q: %q}`, mode, env)
}

// ---------------------------------------------------------------- protocol steps

func (d *Demo) nextBuild(name string) job {
	d.builds[name]++
	d.lastID++
	return job{Name: name, Build: d.builds[name], ID: d.lastID}
}

func (d *Demo) buildDir(j job) (string, error) {
	dir := filepath.Join(d.work, "builds", fmt.Sprintf("%s-%d", j.Name, j.Build))
	return dir, os.MkdirAll(dir, 0o755)
}

// check runs check and returns the versions it lists.
func (d *Demo) check(ctx context.Context, mode, env string, from *version, quiet bool) ([]version, error) {
	req := map[string]any{"source": d.source(mode, env), "version": from}
	r, err := d.res.exec(ctx, "check", req, "", nil)
	if err != nil {
		return nil, err
	}
	if r.Err != nil {
		return nil, fmt.Errorf("check %s failed: %s", sourceLabel(mode, env), r.LastLine())
	}
	var versions []version
	if err := json.Unmarshal(r.Stdout, &versions); err != nil {
		return nil, fmt.Errorf("check printed no JSON array of versions: %v: %q", err, r.Stdout)
	}
	if !quiet {
		fromText := "null"
		if from != nil {
			fromText = compact(from)
		}
		fmt.Fprintf(d.Out, "    $ check  source %s, version %s\n", sourceLabel(mode, env), fromText)
		d.res.printLog(r)
		fmt.Fprintf(d.Out, "      ← %s\n", strings.TrimSpace(string(r.Stdout)))
	}
	return versions, nil
}

// expectCheck runs check and requires exactly the versions want (by version
// number, in order).
func (d *Demo) expectCheck(ctx context.Context, mode, env string, from *version, want ...string) ([]version, error) {
	got, err := d.check(ctx, mode, env, from, false)
	if err != nil {
		return nil, err
	}
	if !slices.Equal(numbers(got), want) {
		return got, fmt.Errorf("check %s from %v listed %v, want %v", sourceLabel(mode, env), from, numbers(got), want)
	}
	return got, nil
}

func numbers(vs []version) []string {
	out := make([]string, 0, len(vs))
	for _, v := range vs {
		out = append(out, v.Version)
	}
	return out
}

// get runs in for version v into dest (relative to the job's build dir).
func (d *Demo) get(ctx context.Context, j job, buildDir, dest string, v version, params map[string]any) (response, error) {
	if params == nil {
		params = map[string]any{}
	}
	req := map[string]any{"source": d.source("", ""), "version": v, "params": params}
	dir := filepath.Join(buildDir, dest)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return response{}, err
	}
	r, err := d.res.exec(ctx, "in", req, dir, &j)
	if err != nil {
		return response{}, err
	}
	if r.Err != nil {
		return response{}, fmt.Errorf("in %s (params %s) failed: %s", v.Version, compact(params), r.LastLine())
	}
	var resp response
	if err := json.Unmarshal(r.Stdout, &resp); err != nil {
		return resp, fmt.Errorf("in printed no JSON response: %v: %q", err, r.Stdout)
	}
	if resp.Version.Version != v.Version {
		return resp, fmt.Errorf("in fetched %s, asked for %s", resp.Version.Version, v.Version)
	}
	sha, err := os.ReadFile(filepath.Join(dir, "sha256"))
	if err != nil {
		return resp, fmt.Errorf("in wrote no sha256 file: %w", err)
	}
	extra := ""
	if len(params) > 0 {
		extra = " " + compact(params)
	}
	fmt.Fprintf(d.Out, "    $ in %s/  version %s%s  ← sha256 %s\n", dest, compact(v), extra, short(strings.TrimSpace(string(sha))))
	d.res.printLog(r)
	return resp, nil
}

// put runs out in the job's build dir with params; it must succeed.
func (d *Demo) put(ctx context.Context, j job, buildDir, mode, env string, params map[string]any) (response, error) {
	r, err := d.putRun(ctx, j, buildDir, mode, env, params)
	if err != nil {
		return response{}, err
	}
	if r.Err != nil {
		return response{}, fmt.Errorf("out %s was refused: %s", compact(params), r.LastLine())
	}
	var resp response
	if err := json.Unmarshal(r.Stdout, &resp); err != nil {
		return resp, fmt.Errorf("out printed no JSON response: %v: %q", err, r.Stdout)
	}
	fmt.Fprintf(d.Out, "      ← %s\n", compact(map[string]any{"version": resp.Version}))
	return resp, nil
}

// putRefused runs out and requires a refusal; it returns the one-line reason.
func (d *Demo) putRefused(ctx context.Context, j job, buildDir string, params map[string]any) (string, error) {
	r, err := d.putRun(ctx, j, buildDir, "", "", params)
	if err != nil {
		return "", err
	}
	if r.Err == nil {
		return "", fmt.Errorf("out %s succeeded, but the policy must refuse it; it printed %s", compact(params), strings.TrimSpace(string(r.Stdout)))
	}
	line := r.LastLine()
	fmt.Fprintf(d.Out, "      ✗ refused (exit status non-zero): %s\n", line)
	if strings.Contains(line, "demo-secret-key") {
		return line, fmt.Errorf("the refusal prints the secret access key")
	}
	return line, nil
}

func (d *Demo) putRun(ctx context.Context, j job, buildDir, mode, env string, params map[string]any) (run, error) {
	req := map[string]any{"source": d.source(mode, env), "params": params}
	fmt.Fprintf(d.Out, "    $ out .  source %s, params %s\n", sourceLabel(mode, env), compact(params))
	r, err := d.res.exec(ctx, "out", req, buildDir, &j)
	d.res.printLog(r)
	return r, err
}

// pass is a deploy (or test) job: get the candidate, then record the pass.
// With liveIn the put goes through a source with live_in: env.
func (d *Demo) pass(ctx context.Context, jobName string, v version, env string, liveIn bool, note string) (response, error) {
	j := d.nextBuild(jobName)
	dir, err := d.buildDir(j)
	if err != nil {
		return response{}, err
	}
	fmt.Fprintf(d.Out, "    job %s #%d\n", j.Name, j.Build)
	if _, err := d.get(ctx, j, dir, "candidate", version{Version: v.Version}, nil); err != nil {
		return response{}, err
	}
	if _, err := os.Stat(filepath.Join(dir, "candidate", "templates", "manifest.yml")); err != nil {
		return response{}, fmt.Errorf("in did not unpack templates/manifest.yml: %w", err)
	}
	mode := ""
	if liveIn {
		mode = "live_in"
	}
	params := map[string]any{"candidate": "candidate", "environment": env}
	if note != "" {
		params["note"] = note
	}
	resp, err := d.put(ctx, j, dir, mode, env, params)
	if err != nil {
		return resp, err
	}
	if resp.Version.Version != v.Version {
		return resp, fmt.Errorf("recording %s's pass returned version %s, want the candidate's own %s", env, resp.Version.Version, v.Version)
	}
	if liveIn && resp.Version.Deployed == "" {
		return resp, fmt.Errorf("a pass put through a live_in: %s source returned no \"deployed\" in its version", env)
	}
	if !liveIn && resp.Version.Deployed != "" {
		return resp, fmt.Errorf("a pass put through a source without live_in returned \"deployed\" %q", resp.Version.Deployed)
	}
	return resp, nil
}

// refusedPass is a deploy job whose put the policy must refuse.
func (d *Demo) refusedPass(ctx context.Context, jobName string, v version, env string) (string, error) {
	j := d.nextBuild(jobName)
	dir, err := d.buildDir(j)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(d.Out, "    job %s #%d\n", j.Name, j.Build)
	if _, err := d.get(ctx, j, dir, "candidate", version{Version: v.Version}, nil); err != nil {
		return "", err
	}
	return d.putRefused(ctx, j, dir, map[string]any{"candidate": "candidate", "environment": env})
}

// waitEligible polls check (as Concourse does) until v is the newest version
// eligible for env, or the soak plus a margin is over.
func (d *Demo) waitEligible(ctx context.Context, env, v string) error {
	start := time.Now()
	deadline := start.Add(d.Soak + 20*time.Second)
	fmt.Fprintf(d.Out, "    … waiting out the %s soak (polling check eligible_for %s)\n", d.Soak, env)
	for {
		got, err := d.check(ctx, "eligible_for", env, nil, true)
		if err != nil {
			return err
		}
		if len(got) == 1 && got[0].Version == v {
			fmt.Fprintf(d.Out, "      %s became eligible for %s after %s\n", v, env, time.Since(start).Round(100*time.Millisecond))
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s never became eligible for %s (check lists %v after %s)", v, env, numbers(got), time.Since(start).Round(time.Second))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// ---------------------------------------------------------------- the story

func (d *Demo) publish(ctx context.Context, v string, scaleSteps int) (response, error) {
	j := d.nextBuild("publish-candidate")
	dir, err := d.buildDir(j)
	if err != nil {
		return response{}, err
	}
	src := d.Templates
	if _, err := os.Stat(filepath.Join(src, "manifest.yml")); err != nil {
		return response{}, fmt.Errorf("%s/manifest.yml is missing: the demo publishes the Redis example", src)
	}
	templates := filepath.Join(dir, "templates-repo", example)
	if err := copyDir(src, templates); err != nil {
		return response{}, err
	}
	fmt.Fprintf(d.Out, "    job %s #%d, input templates-repo/ (a git checkout)\n", j.Name, j.Build)
	for range scaleSteps {
		change, err := scaleUp(templates)
		if err != nil {
			return response{}, err
		}
		fmt.Fprintf(d.Out, "    changed in the copy: %s\n", change)
	}
	resp, err := d.put(ctx, j, dir, "", "", map[string]any{"directory": "templates-repo/" + example})
	if err != nil {
		return resp, err
	}
	if resp.Version.Version != v {
		return resp, fmt.Errorf("publishing without a version gave %s, want %s", resp.Version.Version, v)
	}
	if sha := resp.meta("sha256"); len(sha) != 64 {
		return resp, fmt.Errorf("the publish response has no sha256 metadata (got %q)", sha)
	}
	var names []string
	for _, m := range resp.Metadata {
		names = append(names, m.Name)
	}
	fmt.Fprintf(d.Out, "      sha256 %s; UI metadata: %s\n", short(resp.meta("sha256")), strings.Join(names, ", "))
	return resp, nil
}

func (d *Demo) publishFirst(ctx context.Context) error {
	fmt.Fprintf(d.Out, "    An empty store and no version given: the first candidate is 0.1.0.\n")
	if _, err := d.expectCheck(ctx, "", "", nil); err != nil {
		return err
	}
	var err error
	if d.v1, err = d.publish(ctx, "0.1.0", 0); err != nil {
		return err
	}
	_, err = d.expectCheck(ctx, "", "", nil, "0.1.0")
	return err
}

func (d *Demo) dev1First(ctx context.Context) error {
	_, err := d.pass(ctx, "deploy-dev1", d.v1.Version, "dev1", false, "")
	return err
}

func (d *Demo) stagingFirst(ctx context.Context) error {
	_, err := d.pass(ctx, "deploy-staging", d.v1.Version, "staging", false, "")
	return err
}

func (d *Demo) testsFirst(ctx context.Context) error {
	_, err := d.pass(ctx, "staging-tests", d.v1.Version, "staging-tests", false, "")
	return err
}

func (d *Demo) productionFirst(ctx context.Context) error {
	line, err := d.refusedPass(ctx, "deploy-production", d.v1.Version, "production")
	if err != nil {
		return err
	}
	if !strings.Contains(strings.ToLower(line), "soak") {
		return fmt.Errorf("the refusal does not name the soak: %q", line)
	}
	if err := d.waitEligible(ctx, "production", d.v1.Version.Version); err != nil {
		return err
	}
	resp, err := d.pass(ctx, "deploy-production", d.v1.Version, "production", true, "")
	if err != nil {
		return err
	}
	d.firstDeploy = resp.Version
	fmt.Fprintf(d.Out, "    The put went through a source with live_in: production, so its version carries the deployment.\n")
	return nil
}

func (d *Demo) publishSecond(ctx context.Context) error {
	var err error
	if d.v2, err = d.publish(ctx, "0.1.1", 1); err != nil {
		return err
	}
	if d.v2.meta("sha256") == d.v1.meta("sha256") {
		return fmt.Errorf("0.1.1 has the same sha256 as 0.1.0 although its templates differ")
	}
	_, err = d.expectCheck(ctx, "", "", &version{Version: "0.1.0"}, "0.1.0", "0.1.1")
	return err
}

func (d *Demo) stagingRefused(ctx context.Context) error {
	line, err := d.refusedPass(ctx, "deploy-staging", d.v2.Version, "staging")
	if err != nil {
		return err
	}
	for _, env := range []string{"dev1", "dev2"} {
		if !strings.Contains(line, env) {
			return fmt.Errorf("the refusal does not name the missing pass %s: %q", env, line)
		}
	}
	fmt.Fprintf(d.Out, "    And check offers staging only 0.1.0 (Concourse asks from the version it saw last):\n")
	_, err = d.expectCheck(ctx, "eligible_for", "staging", &version{Version: "0.1.0"}, "0.1.0")
	return err
}

func (d *Demo) dev2Second(ctx context.Context) error {
	if _, err := d.pass(ctx, "deploy-dev2", d.v2.Version, "dev2", false, ""); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "    dev2 alone is enough for staging (requires_any): check now offers both.\n")
	_, err := d.expectCheck(ctx, "eligible_for", "staging", &version{Version: "0.1.0"}, "0.1.0", "0.1.1")
	return err
}

func (d *Demo) stagingSecond(ctx context.Context) error {
	if err := d.resetStaging(ctx, d.v1.Version.Version); err != nil {
		return err
	}
	if _, err := d.pass(ctx, "deploy-staging", d.v2.Version, "staging", false, ""); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "    production is offered 0.1.0 only: 0.1.1 has not passed staging-tests yet.\n")
	_, err := d.expectCheck(ctx, "eligible_for", "production", &version{Version: "0.1.0"}, "0.1.0")
	return err
}

func (d *Demo) testsSecond(ctx context.Context) error {
	_, err := d.pass(ctx, "staging-tests", d.v2.Version, "staging-tests", false, "")
	return err
}

func (d *Demo) productionSecond(ctx context.Context) error {
	line, err := d.refusedPass(ctx, "deploy-production", d.v2.Version, "production")
	if err != nil {
		return err
	}
	if !strings.Contains(strings.ToLower(line), "soak") {
		return fmt.Errorf("the refusal does not name the soak: %q", line)
	}
	if _, err := d.expectCheck(ctx, "eligible_for", "production", &version{Version: "0.1.0"}, "0.1.0"); err != nil {
		return err
	}
	if err := d.waitEligible(ctx, "production", d.v2.Version.Version); err != nil {
		return err
	}
	if _, err := d.expectCheck(ctx, "eligible_for", "production", &version{Version: "0.1.0"}, "0.1.0", "0.1.1"); err != nil {
		return err
	}
	_, err = d.pass(ctx, "deploy-production", d.v2.Version, "production", true, "")
	return err
}

func (d *Demo) thirdTested(ctx context.Context) error {
	var err error
	if d.v3, err = d.publish(ctx, "0.1.2", 2); err != nil {
		return err
	}
	if _, err := d.pass(ctx, "deploy-dev1", d.v3.Version, "dev1", false, ""); err != nil {
		return err
	}
	if err := d.resetStaging(ctx, d.v2.Version.Version); err != nil {
		return err
	}
	if _, err := d.pass(ctx, "deploy-staging", d.v3.Version, "staging", false, ""); err != nil {
		return err
	}
	_, err = d.pass(ctx, "staging-tests", d.v3.Version, "staging-tests", false, "")
	return err
}

// resetStaging records staging's reset to what production runs now: a
// staging pass of production's live candidate, admitted because production
// runs it, and marked a reset.
func (d *Demo) resetStaging(ctx context.Context, want string) error {
	fmt.Fprintf(d.Out, "    What does production run now? (a live_in: production resource)\n")
	live, err := d.check(ctx, "live_in", "production", nil, false)
	if err != nil {
		return err
	}
	if len(live) != 1 || live[0].Version != want {
		return fmt.Errorf("live_in: production lists %v, want %s", numbers(live), want)
	}
	resp, err := d.pass(ctx, "reset-staging", version{Version: live[0].Version}, "staging", false, "reset to what production runs")
	if err != nil {
		return err
	}
	if resp.meta("reset") == "" {
		return fmt.Errorf("the reset's pass is not marked a reset (metadata %v)", resp.Metadata)
	}
	fmt.Fprintf(d.Out, "      marked: reset %s\n", resp.meta("reset"))
	return nil
}

func (d *Demo) rollback(ctx context.Context) error {
	fmt.Fprintf(d.Out, "    0.1.1 misbehaves in production. Going back to 0.1.0 is a change to production like any\n")
	fmt.Fprintf(d.Out, "    other, so it goes the tested way: staging is reset to 0.1.1, then takes 0.1.0 and its tests.\n")
	if err := d.resetStaging(ctx, d.v2.Version.Version); err != nil {
		return err
	}
	if _, err := d.pass(ctx, "deploy-staging", d.v1.Version, "staging", false, rollbackNote); err != nil {
		return err
	}
	if _, err := d.pass(ctx, "staging-tests", d.v1.Version, "staging-tests", false, ""); err != nil {
		return err
	}
	if _, err := d.pass(ctx, "deploy-production", d.v1.Version, "production", true, rollbackNote); err != nil {
		return err
	}
	d.rollbackBuild = d.builds["deploy-production"]
	fmt.Fprintf(d.Out, "    live_in: production lists deployments in time order: the rollback is the newest,\n")
	fmt.Fprintf(d.Out, "    so jobs triggered by production deployments run again.\n")
	history, err := d.expectCheck(ctx, "live_in", "production", &d.firstDeploy, "0.1.0", "0.1.1", "0.1.0")
	if err != nil {
		return err
	}
	var prev time.Time
	for _, v := range history {
		t, err := time.Parse(time.RFC3339Nano, v.Deployed)
		if err != nil {
			return fmt.Errorf("live_in version %s has deployed %q, not RFC 3339: %v", v.Version, v.Deployed, err)
		}
		if !t.After(prev) {
			return fmt.Errorf("live_in versions are not in deployment order: %v", history)
		}
		prev = t
	}
	newest, err := d.check(ctx, "live_in", "production", nil, false)
	if err != nil {
		return err
	}
	if len(newest) != 1 || newest[0] != history[2] {
		return fmt.Errorf("check live_in: production with no version lists %v, want the rollback %v alone", newest, history[2])
	}
	return nil
}

func (d *Demo) upgradeRefused(ctx context.Context) error {
	line, err := d.refusedPass(ctx, "deploy-production", d.v3.Version, "production")
	if err != nil {
		return err
	}
	const want = "staging tested 0.1.2 as an upgrade from 0.1.1, but production runs 0.1.0: reset staging to 0.1.0 and deploy 0.1.2 again"
	if !strings.Contains(line, want) {
		return fmt.Errorf("the refusal does not name the untested upgrade: %q", line)
	}
	fmt.Fprintf(d.Out, "    And check does not offer 0.1.2 to production either:\n")
	_, err = d.expectCheck(ctx, "eligible_for", "production", &version{Version: "0.1.0"}, "0.1.0", "0.1.1")
	return err
}

func (d *Demo) renderDiff(ctx context.Context) error {
	j := d.nextBuild("render")
	dir, err := d.buildDir(j)
	if err != nil {
		return err
	}
	manifests := map[string]string{}
	for _, env := range []string{"staging", "production"} {
		dest := "rendered-" + env
		if _, err := d.get(ctx, j, dir, dest, version{Version: d.v2.Version.Version}, map[string]any{"render": env}); err != nil {
			return err
		}
		manifest, err := os.ReadFile(filepath.Join(dir, dest, "manifest.yml"))
		if err != nil {
			return fmt.Errorf("in with render: %s wrote no manifest.yml: %w", env, err)
		}
		manifests[env] = string(manifest)
		releases, err := readReleases(filepath.Join(dir, dest, "releases.json"))
		if err != nil {
			return fmt.Errorf("in with render: %s: %w", env, err)
		}
		var desc []string
		for _, r := range releases {
			final := "final"
			if !r.Final {
				final = "NOT final"
			}
			desc = append(desc, fmt.Sprintf("%s %s (%s)", r.Name, r.Version, final))
			if !r.Final {
				return fmt.Errorf("release %s %s in the %s manifest is not final, yet 0.1.1 was admitted to %s with final_releases: true", r.Name, r.Version, env, env)
			}
		}
		if len(releases) == 0 {
			return fmt.Errorf("releases.json for %s lists no release", env)
		}
		fmt.Fprintf(d.Out, "      releases.json: %s\n", strings.Join(desc, ", "))
		if strings.Contains(manifests[env], "((") {
			fmt.Fprintf(d.Out, "      (variables not given stay ((placeholders)) for the director and CredHub)\n")
		}
	}
	diff := unifiedDiff("staging/manifest.yml", "production/manifest.yml", manifests["staging"], manifests["production"], 2)
	if diff == "" {
		return fmt.Errorf("0.1.1 renders the same manifest for staging and production; they must differ in networking, hostnames and scale")
	}
	fmt.Fprintf(d.Out, "    staging and production differ only in networking, hostnames and scale:\n\n")
	for _, line := range strings.Split(strings.TrimRight(diff, "\n"), "\n") {
		fmt.Fprintf(d.Out, "      %s\n", line)
	}
	return nil
}

type release struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Final   bool   `json:"final"`
}

func readReleases(path string) ([]release, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("no releases.json: %w", err)
	}
	var releases []release
	if err := json.Unmarshal(data, &releases); err != nil {
		return nil, fmt.Errorf("releases.json is not an array of {name, version, final}: %w", err)
	}
	return releases, nil
}

func (d *Demo) table(ctx context.Context) error {
	all, err := d.expectCheck(ctx, "", "", &version{Version: "0.1.0"}, "0.1.0", "0.1.1", "0.1.2")
	if err != nil {
		return err
	}
	j := d.nextBuild("report")
	dir, err := d.buildDir(j)
	if err != nil {
		return err
	}
	records := map[string][]passRecord{}
	published := map[string]string{"0.1.0": d.v1.meta("sha256"), "0.1.1": d.v2.meta("sha256"), "0.1.2": d.v3.meta("sha256")}
	for _, v := range all {
		dest := "candidate-" + v.Version
		resp, err := d.get(ctx, j, dir, dest, v, map[string]any{"skip_download": true})
		if err != nil {
			return err
		}
		var shown []string
		for _, m := range resp.Metadata {
			if m.Name != "sha256" && m.Name != "version" {
				shown = append(shown, m.Name+"="+m.Value)
			}
		}
		fmt.Fprintf(d.Out, "      UI metadata: %s\n", strings.Join(shown, "; "))
		for _, name := range []string{"candidate.tgz", "templates"} {
			if _, err := os.Stat(filepath.Join(dir, dest, name)); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("in with skip_download: true wrote %s", name)
			}
		}
		sha, err := os.ReadFile(filepath.Join(dir, dest, "sha256"))
		if err != nil {
			return err
		}
		if got := strings.TrimSpace(string(sha)); got != published[v.Version] {
			return fmt.Errorf("in wrote sha256 %s for %s, but publishing it returned %s", got, v.Version, published[v.Version])
		}
		data, err := os.ReadFile(filepath.Join(dir, dest, "passed.json"))
		if err != nil {
			return fmt.Errorf("in wrote no passed.json: %w", err)
		}
		var recs []passRecord
		if err := json.Unmarshal(data, &recs); err != nil {
			return fmt.Errorf("passed.json of %s is not an array of pass records: %w", v.Version, err)
		}
		for i := 1; i < len(recs); i++ {
			if recs[i].Time.Before(recs[i-1].Time) {
				return fmt.Errorf("passed.json of %s is not ordered by time", v.Version)
			}
		}
		records[v.Version] = recs
	}

	// What the story recorded, environment → number of passes.
	want := map[string]map[string]int{
		"0.1.0": {"dev1": 1, "staging": 3, "staging-tests": 2, "production": 2},
		"0.1.1": {"dev2": 1, "staging": 3, "staging-tests": 1, "production": 1},
		"0.1.2": {"dev1": 1, "staging": 1, "staging-tests": 1},
	}
	for v, recs := range records {
		got := map[string]int{}
		for _, r := range recs {
			got[r.Environment]++
		}
		for _, env := range environments {
			if got[env] != want[v][env] {
				return fmt.Errorf("passed.json of %s has %d %s pass(es), want %d: %s", v, got[env], env, want[v][env], compact(recs))
			}
		}
	}

	// The first dev1 pass carries the build that recorded it.
	first := records["0.1.0"][0]
	wantURL := buildURL(job{Name: "deploy-dev1", Build: 1})
	if first.Environment != "dev1" || first.Build.URL != wantURL || first.Build.Job != "deploy-dev1" ||
		first.Build.Pipeline != pipeline || first.Build.Team != team || first.Build.Name != "1" {
		return fmt.Errorf("0.1.0's first pass record is %s, want dev1 by build %s", compact(first), wantURL)
	}
	fmt.Fprintf(d.Out, "    0.1.0's dev1 pass was recorded by %s\n", first.Build.URL)
	last := records["0.1.0"][len(records["0.1.0"])-1]
	rollbackURL := buildURL(job{Name: "deploy-production", Build: d.rollbackBuild})
	if last.Environment != "production" || last.Note != rollbackNote || last.Build.URL != rollbackURL {
		return fmt.Errorf("0.1.0's last pass record is %s, want the rollback to production with note %q by %s", compact(last), rollbackNote, rollbackURL)
	}
	fmt.Fprintf(d.Out, "    and its last, the rollback, by %s, note %q\n\n", last.Build.URL, last.Note)

	tw := tabwriter.NewWriter(d.Out, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "    candidate\t%s\n", strings.Join(environments, "\t"))
	for _, v := range all {
		cells := []string{v.Version}
		for _, env := range environments {
			var last time.Time
			n := 0
			for _, r := range records[v.Version] {
				if r.Environment == env {
					n++
					last = r.Time
				}
			}
			cell := ""
			if n > 0 {
				cell = "✓ " + last.UTC().Format("15:04:05")
				if n > 1 {
					cell += " ×" + strconv.Itoa(n)
				}
			}
			cells = append(cells, cell)
		}
		fmt.Fprintf(tw, "    %s\n", strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(d.Out, "    (times UTC, of the latest pass; ×n: passed n times — a reset or a rollback)\n")
	return nil
}

// ---------------------------------------------------------------- files

// scaleUp changes the scaling of one environment in a templates folder: it
// raises the first instance count it finds in an ops file or vars file whose
// name says "scal", preferring production. It describes the change.
func scaleUp(dir string) (string, error) {
	var candidates []string
	for _, pattern := range []string{
		"environments/production/ops/*scal*.yml",
		"environments/production/*scal*.yml",
		"environments/*/ops/*scal*.yml",
		"environments/production/vars.yml",
		"environments/*/vars.yml",
	} {
		matches, err := filepath.Glob(filepath.Join(dir, filepath.FromSlash(pattern)))
		if err != nil {
			return "", err
		}
		candidates = append(candidates, matches...)
	}
	number := regexp.MustCompile(`(?m)^(\s*(?:-\s+)?[\w-]*(?:instances|value)[\w-]*:\s*)(\d+)(\s*(?:#.*)?)$`)
	for _, path := range candidates {
		data, err := os.ReadFile(path)
		if err != nil {
			return "", err
		}
		loc := number.FindSubmatchIndex(data)
		if loc == nil {
			continue
		}
		old, err := strconv.Atoi(string(data[loc[4]:loc[5]]))
		if err != nil {
			continue
		}
		var changed bytes.Buffer
		changed.Write(data[:loc[4]])
		changed.WriteString(strconv.Itoa(old + 1))
		changed.Write(data[loc[5]:])
		if err := os.WriteFile(path, changed.Bytes(), 0o644); err != nil {
			return "", err
		}
		rel, _ := filepath.Rel(dir, path)
		key := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(string(data[loc[2]:loc[3]])), "-"))
		key = strings.TrimSpace(strings.TrimSuffix(key, ":"))
		if key == "value" {
			// An ops file: name the path the value replaces.
			if m := opsPath.FindAllSubmatch(data[:loc[2]], -1); len(m) > 0 {
				key = string(m[len(m)-1][1])
			}
		}
		return fmt.Sprintf("%s: %s %d → %d", filepath.ToSlash(rel), key, old, old+1), nil
	}
	return "", fmt.Errorf("found no instance count to scale in %s (looked at environments/*/ops/*scal*.yml and vars.yml)", example)
}

var opsPath = regexp.MustCompile(`(?m)^\s*path:\s*(\S+)\s*$`)

// copyDir copies a tree of regular files and directories, keeping the
// executable bit.
func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case e.IsDir():
			return os.MkdirAll(target, 0o755)
		case info.Mode().IsRegular():
			data, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			return os.WriteFile(target, data, info.Mode().Perm()|0o200)
		default:
			return fmt.Errorf("copying %s: %s is not a regular file", example, path)
		}
	})
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12] + "…"
	}
	return sha
}
