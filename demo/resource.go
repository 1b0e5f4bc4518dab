package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The Concourse the demo pretends to be.
const (
	atcURL   = "http://concourse.example"
	team     = "main"
	pipeline = "redis"
)

// version is a version of the resource as the protocol carries it.
type version struct {
	Version  string `json:"version"`
	Deployed string `json:"deployed,omitempty"`
}

func (v version) String() string {
	if v.Deployed != "" {
		return v.Version + "@" + v.Deployed
	}
	return v.Version
}

type metadataField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// response is what in and out print on stdout.
type response struct {
	Version  version         `json:"version"`
	Metadata []metadataField `json:"metadata"`
}

func (r response) meta(name string) string {
	for _, m := range r.Metadata {
		if m.Name == name {
			return m.Value
		}
	}
	return ""
}

// passRecord is one entry of passed.json.
type passRecord struct {
	Environment string    `json:"environment"`
	Time        time.Time `json:"time"`
	Build       struct {
		ID       string `json:"id"`
		Name     string `json:"name"`
		Job      string `json:"job"`
		Pipeline string `json:"pipeline"`
		Team     string `json:"team"`
		URL      string `json:"url"`
	} `json:"build"`
	Note string `json:"note"`
}

// run is one execution of a resource binary.
type run struct {
	Bin    string
	Stdout []byte
	Stderr string
	Err    error // nil when the binary exited 0
}

// printLog copies the run's stderr to the log, if any.
func (r *resource) printLog(res run) {
	if r.log == nil || res.Stderr == "" {
		return
	}
	for _, line := range strings.Split(strings.TrimRight(res.Stderr, "\n"), "\n") {
		fmt.Fprintf(r.log, "        | %s: %s\n", res.Bin, line)
	}
}

// LastLine is the binary's last line on stderr: its one-line reason on failure.
func (r run) LastLine() string {
	lines := strings.Split(strings.TrimRight(r.Stderr, "\n"), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

// job is a build of the Concourse job a get or put runs in.
type job struct {
	Name  string
	Build int // the build's number within its job (BUILD_NAME)
	ID    int // the build's global id (BUILD_ID)
}

// resource runs the three compiled binaries as Concourse would.
type resource struct {
	bin  string    // directory holding check, in, out
	home string    // HOME for the binaries: no user AWS config leaks in
	log  io.Writer // when set, each binary's stderr is copied here
}

// exec runs bin with the request on stdin and dir as its argument, in an
// environment Concourse would give it: BUILD_* of the job (none for check),
// no inherited AWS_* variables.
func (r *resource) exec(ctx context.Context, bin string, request any, dir string, j *job) (run, error) {
	body, err := json.Marshal(request)
	if err != nil {
		return run{}, err
	}
	args := []string{}
	if dir != "" {
		args = append(args, dir)
	}
	cmd := exec.CommandContext(ctx, filepath.Join(r.bin, bin), args...)
	cmd.Stdin = bytes.NewReader(body)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + r.home,
		"TMPDIR=" + os.TempDir(),
	}
	if j != nil {
		cmd.Env = append(cmd.Env,
			"BUILD_ID="+strconv.Itoa(j.ID),
			"BUILD_NAME="+strconv.Itoa(j.Build),
			"BUILD_JOB_NAME="+j.Name,
			"BUILD_PIPELINE_NAME="+pipeline,
			"BUILD_TEAM_NAME="+team,
			"ATC_EXTERNAL_URL="+atcURL,
		)
	}
	err = cmd.Run()
	res := run{Bin: bin, Stdout: stdout.Bytes(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		res.Err = err
	default:
		return res, fmt.Errorf("running %s: %w", bin, err)
	}
	return res, nil
}

// buildURL is the URL Concourse gives a job's build.
func buildURL(j job) string {
	return fmt.Sprintf("%s/teams/%s/pipelines/%s/jobs/%s/builds/%d", atcURL, team, pipeline, j.Name, j.Build)
}

// compact renders v as one line of JSON.
func compact(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}
