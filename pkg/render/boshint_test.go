package render_test

// These specs compare Render with the real `bosh int`, built from the very
// bosh-cli module version this module renders with. The bosh CLI is a test
// tool only: no package of this module imports its main package, so it never
// ends up in the resource's binaries.

import (
	"bytes"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"golang.org/x/mod/modfile"

	"github.com/templates-candidate/templates-candidate-resource/pkg/render"
)

const boshCLIModule = "github.com/cloudfoundry/bosh-cli/v7"

var howToBuildBosh = `build the real bosh CLI from this module's pinned bosh-cli and point the specs at it:
    (cd <repository root> && go build -o "$HOME/.cache/tc-tools/bin/bosh" ` + boshCLIModule + `)
    export BOSH_CLI="$HOME/.cache/tc-tools/bin/bosh"    # or put its directory on PATH`

var (
	boshOnce sync.Once
	boshPath string
	boshErr  error
)

// boshCLI finds the bosh CLI (BOSH_CLI, else PATH) and insists it was built
// from the bosh-cli version this module depends on.
func boshCLI() string {
	GinkgoHelper()
	boshOnce.Do(func() { boshPath, boshErr = findBoshCLI() })
	if boshErr != nil {
		Fail(fmt.Sprintf("the bosh int comparison needs the real bosh CLI: %v\n%s", boshErr, howToBuildBosh))
	}
	return boshPath
}

func findBoshCLI() (string, error) {
	path := os.Getenv("BOSH_CLI")
	if path == "" {
		found, err := exec.LookPath("bosh")
		if err != nil {
			return "", fmt.Errorf("BOSH_CLI is not set and no bosh is on PATH")
		}
		path = found
	}
	want, err := pinnedBoshCLIVersion()
	if err != nil {
		return "", err
	}
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%s: not a Go binary with build information: %v", path, err)
	}
	if info.Path != boshCLIModule || info.Main.Path != boshCLIModule || info.Main.Version != want {
		return "", fmt.Errorf("%s is %s from %s %s, not the bosh CLI of %s %s",
			path, info.Path, info.Main.Path, info.Main.Version, boshCLIModule, want)
	}
	return path, nil
}

// pinnedBoshCLIVersion is the bosh-cli version this module's go.mod pins (a
// test binary carries no dependency list to ask).
func pinnedBoshCLIVersion() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil {
			mod, err := modfile.ParseLax("go.mod", data, nil)
			if err != nil {
				return "", fmt.Errorf("%s: %v", filepath.Join(dir, "go.mod"), err)
			}
			for _, r := range mod.Replace {
				if r.Old.Path == boshCLIModule {
					return "", fmt.Errorf("go.mod replaces %s: compare by hand", boshCLIModule)
				}
			}
			for _, r := range mod.Require {
				if r.Mod.Path == boshCLIModule {
					return r.Mod.Version, nil
				}
			}
			return "", fmt.Errorf("%s does not require %s", filepath.Join(dir, "go.mod"), boshCLIModule)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the test's directory")
		}
		dir = parent
	}
}

type boshResult struct {
	stdout, stderr []byte
	exitCode       int
}

// boshInt runs `bosh int` in dir with the files a shell would pick:
// manifest.yml, ops/*.yml, environments/<env>/ops/*.yml, environments/<env>/vars.yml.
func boshInt(dir, env string) boshResult {
	GinkgoHelper()
	args := []string{"int", "manifest.yml"}
	for _, glob := range []string{"ops/*.yml", "environments/" + env + "/ops/*.yml"} {
		matches, err := filepath.Glob(filepath.Join(dir, glob))
		Expect(err).NotTo(HaveOccurred())
		sort.Strings(matches)
		for _, m := range matches {
			if strings.HasPrefix(filepath.Base(m), ".") {
				continue // the shell's glob skips dot files
			}
			rel, err := filepath.Rel(dir, m)
			Expect(err).NotTo(HaveOccurred())
			args = append(args, "-o", filepath.ToSlash(rel))
		}
	}
	vars := "environments/" + env + "/vars.yml"
	if _, err := os.Stat(filepath.Join(dir, vars)); err == nil {
		args = append(args, "-l", vars)
	}

	cmd := exec.Command(boshCLI(), args...)
	cmd.Dir = dir
	home := GinkgoT().TempDir()
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH"), "BOSH_NON_INTERACTIVE=true"}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else {
		Expect(err).NotTo(HaveOccurred())
	}
	return boshResult{stdout: stdout.Bytes(), stderr: stderr.Bytes(), exitCode: code}
}

// writeTree writes a templates tree to a fresh directory.
func writeTree(files map[string]string) string {
	GinkgoHelper()
	dir := GinkgoT().TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
		Expect(os.WriteFile(path, []byte(content), 0o644)).To(Succeed())
	}
	return dir
}

func expectSameAsBoshInt(dir, env string) {
	GinkgoHelper()
	bosh := boshInt(dir, env)
	Expect(bosh.exitCode).To(BeZero(), "bosh int failed: %s", bosh.stderr)
	ours, err := render.Render(os.DirFS(dir), env)
	Expect(err).NotTo(HaveOccurred())
	Expect(string(ours)).To(Equal(string(bosh.stdout)))
	Expect(ours).To(Equal(bosh.stdout)) // byte for byte
}

var boshOpIndex = regexp.MustCompile(`operation \[(\d+)\] in (\S+) failed`)

var _ = Describe("rendering compared with the real bosh int", func() {
	BeforeEach(func() {
		boshCLI() // fails, never skips, without it
	})

	Describe("the Redis example", func() {
		for _, env := range append(append([]string{}, exampleEnvironments...), "qa-without-folder") {
			It("renders "+env+" byte for byte as bosh int", func() {
				expectSameAsBoshInt(exampleDir, env)
			})
		}
	})

	DescribeTable("edge cases render byte for byte as bosh int",
		func(files map[string]string, env string) {
			expectSameAsBoshInt(writeTree(files), env)
		},
		Entry("missing optional paths (?) create maps and array items",
			map[string]string{
				"manifest.yml": baseManifest,
				"ops/10-optional.yml": `
- type: replace
  path: /instance_groups/name=redis/jobs/name=redis/properties/persistence?/aof?/fsync?
  value: everysec
- type: replace
  path: /instance_groups/name=redis/jobs/name=redis/provides?/redis/aliases?/-
  value: {domain: redis.example.com}
- type: replace
  path: /releases/name=os-conf?
  value: {name: os-conf, version: "22.2.1"}
- type: replace
  path: /addons?/name=bpm?/jobs
  value: [{name: bpm, release: bpm}]
- type: remove
  path: /instance_groups/name=redis/no_such_key?
- type: replace
  path: /instance_groups/name=redis/jobs/name=redis/properties/password?
  value: kept-when-present
`,
			}, "dev1"),
		Entry("variables in keys, in strings, dotted and whole values",
			map[string]string{
				"manifest.yml": `
name: redis-((env))
instance_groups:
- name: redis
  jobs:
  - name: redis
    properties:
      ((property_key)): ((property_value))
      ((missing_key)): stays
      conf:
        ((map_key)):
          nested: ((creds.user))
      url: redis://((creds.user)):((creds.password))@((host)):((port))/0
      port: ((port))
      limits: ((limits))
      literal: ((!not_a_var))
      numbers: [((port)), "((port))"]
      multiline: ((certificate))
variables:
- name: certificate
  type: certificate
  options: {common_name: ((host))}
- name: unknown
  type: password
`,
				"environments/staging/vars.yml": `
env: staging
property_key: maxmemory-policy
property_value: allkeys-lru
map_key: tuning
creds: {user: admin, password: p@ss}
host: redis.staging.corp.example.com
port: 6379
limits: {maxclients: 10000, timeout: 0}
certificate: |
  -----BEGIN CERTIFICATE-----
  MIIB
  -----END CERTIFICATE-----
`,
			}, "staging"),
		Entry("YAML corner cases: anchors, odd scalars, unicode, empty ops and vars files",
			map[string]string{
				"manifest.yml": `
name: redis
defaults: &defaults {vm_type: default, stemcell: default}
instance_groups:
- <<: *defaults
  name: redis
  instances: 0x10
  jobs: []
properties:
  mode: 0777
  yes_string: "yes"
  bool: yes
  float: 1e3
  date: 2026-11-25
  null_value: ~
  empty: ""
  unicode: "Grüße, 世界"
  quoted: "it's ((quoted))"
  long: "` + strings.Repeat("a very long line ", 10) + `"
`,
				"ops/10-empty.yml":               "",
				"ops/20-comment-only.yml":        "# nothing to do\n",
				"environments/dev1/vars.yml":     "",
				"environments/dev1/ops/10-x.yml": "- type: replace\n  path: /properties/quoted?\n  value: \"((quoted)) again\"\n",
			}, "dev1"),
		Entry("array inserts, indexes and tests",
			map[string]string{
				"manifest.yml": baseManifest,
				"ops/10-arrays.yml": `
- type: test
  path: /releases/name=redis/version
  value: "14.0.1"
- type: test
  path: /stemcells
  absent: true
- type: replace
  path: /releases/-
  value: {name: bpm, version: "1.1.21"}
- type: replace
  path: /releases/0:before
  value: {name: first, version: "1"}
- type: replace
  path: /releases/name=redis:after
  value: {name: after-redis, version: "2"}
- type: remove
  path: /releases/name=first
- type: replace
  path: /instance_groups/0/networks/0/name
  value: redis-net
`,
			}, "dev1"),
	)

	Describe("an ops file that fails", func() {
		DescribeTable("fails in both, and ours names the same file and op",
			func(files map[string]string, env, file string, op int) {
				dir := writeTree(files)
				bosh := boshInt(dir, env)
				Expect(bosh.exitCode).NotTo(BeZero(), "bosh int succeeded:\n%s", bosh.stdout)

				_, err := render.Render(os.DirFS(dir), env)
				Expect(err).To(HaveOccurred())
				Expect(err.Error()).To(HavePrefix(fmt.Sprintf("rendering %s: ops file %s: op %d (", env, file, op)))

				// bosh counts ops from 0; the message says which file.
				m := boshOpIndex.FindSubmatch(bosh.stderr)
				if m != nil {
					Expect(string(m[2])).To(Equal(file))
					index, _ := strconv.Atoi(string(m[1]))
					Expect(index + 1).To(Equal(op))
				} else {
					// A definition error: bosh says "... operation [i]: <problem> within" and the file.
					Expect(string(bosh.stderr)).To(ContainSubstring(file))
				}
			},
			Entry("a path that does not exist",
				map[string]string{
					"manifest.yml": baseManifest,
					"ops/10-ok.yml": `
- type: replace
  path: /instance_groups/name=redis/vm_type
  value: large
`,
					"environments/staging/ops/scale.yml": `
- type: replace
  path: /instance_groups/name=redis/vm_type
  value: large
- type: replace
  path: /instance_groups/name=redis/instances/deeper
  value: 2
`,
				}, "staging", "environments/staging/ops/scale.yml", 2),
			Entry("an array item that is not there",
				map[string]string{
					"manifest.yml":  baseManifest,
					"ops/10-ok.yml": "- type: replace\n  path: /instance_groups/name=sentinel/instances\n  value: 3\n",
				}, "dev1", "ops/10-ok.yml", 1),
			Entry("a failing test op",
				map[string]string{
					"manifest.yml":                   baseManifest,
					"environments/dev2/ops/10-x.yml": "- type: test\n  path: /releases/name=redis/version\n  value: \"15\"\n",
				}, "dev2", "environments/dev2/ops/10-x.yml", 1),
			Entry("an op without a value",
				map[string]string{
					"manifest.yml":   baseManifest,
					"ops/10-bad.yml": "- type: remove\n  path: /update?\n- type: replace\n  path: /name\n",
				}, "dev1", "ops/10-bad.yml", 2),
		)

		It("fails on a variable that cannot go inside a string in both", func() {
			dir := writeTree(map[string]string{
				"manifest.yml":               "name: redis-((m))\n",
				"environments/dev1/vars.yml": "m: [1, 2]\n",
			})
			bosh := boshInt(dir, "dev1")
			Expect(bosh.exitCode).NotTo(BeZero())
			_, err := render.Render(os.DirFS(dir), "dev1")
			Expect(err).To(MatchError(ContainSubstring("Invalid type '[]interface {}'")))
			Expect(string(bosh.stderr)).To(ContainSubstring("Invalid type '[]interface {}'"))
		})
	})
})
