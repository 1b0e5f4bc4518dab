package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/templates-candidate/templates-candidate-resource/bench/sdkplan"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// P8 and P9: the operations on a small candidate, counted through the proxy
// (P8) and timed against a process making the same bare SDK calls (P9).

const (
	smallBucket = "bench-p8"
	smallPrefix = "team/redis/"
)

// smallPolicy: staging has one upstream environment, dev.
var smallPolicy = policy.Policy{
	"dev":     {},
	"staging": {RequiresAll: []string{"dev"}, FinalReleases: true},
}

// smallOps is what the counted operations left: their requests and what the
// timed runs of P9 reuse.
type smallOps struct {
	work      string  // holds the candidate directories ($1 of out)
	publishV  traffic // publish with params.version
	publishN  traffic // publish without a version
	pass      traffic // a pass into staging (one upstream)
	get       traffic // get of the candidate with passes in dev and staging
	candidate string  // a get of 1.1.0 (for params.candidate), relative to work
	getEnvs   int     // environments with passes of the candidate got
	getPasses int     // its pass records
}

// writeSmallCandidate writes a directory of templates: a base manifest, an
// ops file for every environment, one for staging, and a file that makes
// its content unique.
func writeSmallCandidate(dir, unique string) error {
	files := map[string]string{
		"manifest.yml":                         manifestYAML,
		"ops/10-update.yml":                    "- type: replace\n  path: /update/max_in_flight\n  value: 2\n",
		"environments/staging/ops/10-name.yml": "- type: replace\n  path: /name\n  value: bench-staging\n",
		"environments/dev/vars.yml":            "zone: z1\n",
		"BUILD":                                unique + "\n",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) smallSource(endpoint string) map[string]any {
	return h.source(endpoint, smallBucket, map[string]any{"prefix": smallPrefix, "environments": smallPolicy})
}

// out runs out in work ($1) with params.
func (h *harness) out(ctx context.Context, endpoint, work string, params map[string]any) (proc, error) {
	return h.resource(ctx, "out", map[string]any{"source": h.smallSource(endpoint), "params": params}, work)
}

// outVersion reads the version out answered.
func outVersion(p proc) string {
	var resp struct {
		Version struct {
			Version string `json:"version"`
		} `json:"version"`
	}
	_ = json.Unmarshal(p.stdout, &resp)
	return resp.Version.Version
}

// smallRuns runs, once per bench run, the operations P8 counts and P9
// replays: into an empty prefix, publish 1.0.0 and (uncounted), then counted:
// publish 1.1.0, publish without a version, record a pass of 1.1.0 into
// staging (after an uncounted pass into dev), get 1.1.0.
func (h *harness) smallRuns(ctx context.Context) (*smallOps, error) {
	if h.small != nil {
		return h.small, nil
	}
	if err := h.createBucket(ctx, smallBucket); err != nil {
		return nil, err
	}
	proxy, err := startProxy(h.endpoint)
	if err != nil {
		return nil, err
	}
	defer proxy.close()
	ops := &smallOps{work: filepath.Join(h.tmp, "small"), candidate: "got-1.1.0"}
	for i, name := range []string{"c-1.0.0", "c-1.1.0", "c-next"} {
		if err := writeSmallCandidate(filepath.Join(ops.work, name), fmt.Sprintf("candidate %d", i)); err != nil {
			return nil, err
		}
	}
	publish := func(dir, version, want string) (traffic, error) {
		params := map[string]any{"directory": dir}
		if version != "" {
			params["version"] = version
		}
		proxy.take()
		p, err := h.out(ctx, proxy.URL, ops.work, params)
		if err != nil {
			return nil, err
		}
		if got := outVersion(p); got != want {
			return nil, fmt.Errorf("publish of %s answered version %q, want %s", dir, got, want)
		}
		return proxy.take(), nil
	}
	if _, err := publish("c-1.0.0", "1.0.0", "1.0.0"); err != nil {
		return nil, err
	}
	if ops.publishV, err = publish("c-1.1.0", "1.1.0", "1.1.0"); err != nil {
		return nil, err
	}
	if ops.publishN, err = publish("c-next", "", "1.1.1"); err != nil {
		return nil, err
	}
	get := func(dest string, params map[string]any) (traffic, error) {
		proxy.take()
		_, err := h.resource(ctx, "in", map[string]any{
			"source": h.smallSource(proxy.URL), "version": map[string]string{"version": "1.1.0"}, "params": params,
		}, filepath.Join(ops.work, dest))
		return proxy.take(), err
	}
	if _, err := get(ops.candidate, map[string]any{"skip_download": true}); err != nil {
		return nil, err
	}
	pass := func(env string) (traffic, error) {
		proxy.take()
		p, err := h.out(ctx, proxy.URL, ops.work, map[string]any{"candidate": ops.candidate, "environment": env})
		if err != nil {
			return nil, err
		}
		if got := outVersion(p); got != "1.1.0" {
			return nil, fmt.Errorf("the pass into %s answered version %q, want 1.1.0", env, got)
		}
		return proxy.take(), nil
	}
	if _, err := pass("dev"); err != nil {
		return nil, err
	}
	if ops.pass, err = pass("staging"); err != nil {
		return nil, err
	}
	if ops.get, err = get("got-full", map[string]any{}); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(ops.work, "got-full", "templates", "manifest.yml")); err != nil {
		return nil, fmt.Errorf("in did not unpack the candidate: %v", err)
	}
	ops.getEnvs, ops.getPasses = 2, 2
	h.small = ops
	return ops, nil
}

// benchRequests is P8: the requests of each operation on a small candidate
// beside the minimum the layout needs for it.
func (h *harness) benchRequests(ctx context.Context, rep *report) error {
	ops, err := h.smallRuns(ctx)
	if err != nil {
		return err
	}
	for _, x := range []struct {
		what    string
		t       traffic
		minimum int
		needs   string
	}{
		{"publish (params.version)", ops.publishV, 5,
			"LIST policies, GET claim (absent), PUT blob, PUT claim, PUT commit"},
		{"publish (no version)", ops.publishN, 6,
			"LIST policies, LIST claims for the highest, PUT blob, LIST contents/<sha> for identical content, PUT claim, PUT commit"},
		{"record a pass (1 upstream env)", ops.pass, 5 + 1,
			"LIST policies, GET claim, HEAD commit, LIST passes of each of the k=1 upstream environments, PUT pass record, PUT deployment entry: 5+k"},
		{fmt.Sprintf("get (%d envs with passes, %d passes)", ops.getEnvs, ops.getPasses), ops.get, 5 + ops.getEnvs + ops.getPasses,
			fmt.Sprintf("LIST policies, GET claim, HEAD commit, LIST pass environments, a LIST per environment with passes (%d), a GET per pass record (%d), GET blob", ops.getEnvs, ops.getPasses)},
	} {
		rep.add(row{
			bar: "P8", measure: x.what + ": S3 requests",
			ours: fmt.Sprintf("%d (%s)", x.t.total(), x.t.shortOps()), baseline: fmt.Sprintf("%d (minimum)", x.minimum),
			ratio: fmt.Sprintf("%+d", x.t.total()-x.minimum), target: "≤ minimum + 1",
			result: passFail(x.t.total() <= x.minimum+1),
		})
		rep.note("P8 %s: %s; minimum %d = %s.", x.what, x.t.breakdown(smallPrefix), x.minimum, x.needs)
	}
	rep.note("P8: counted by the proxy on a small candidate (a directory of 5 small files), source prefix %s, policy %s, into a prefix where 1.0.0 was published first (the first publish also probes the store and stores the policy: not counted). The pass into staging follows one into dev; the get is of 1.1.0 (default params: download and unpack).",
		smallPrefix, policyJSON(smallPolicy))
	return nil
}

// shortOps: "1 LIST + 1 GET + 4 PUT".
func (t traffic) shortOps() string {
	var order []string
	counts := map[string]int{}
	for _, r := range t {
		op := shortOp(r.op)
		if counts[op] == 0 {
			order = append(order, op)
		}
		counts[op]++
	}
	parts := make([]string, len(order))
	for i, op := range order {
		parts[i] = fmt.Sprintf("%d %s", counts[op], op)
	}
	return strings.Join(parts, " + ")
}

// plan is the bench/sdkcalls plan that makes the same calls as t: the same
// listings, the same reads (of an absent key where the resource found none),
// and as many writes of the same sizes, to new keys.
func (t traffic) plan() ([]byte, error) {
	var calls []sdkplan.Call
	for _, r := range t {
		c := sdkplan.Call{Key: r.key, Absent: r.status == 404}
		switch r.op {
		case "ListObjectsV2":
			c.Op, c.Delimiter, c.StartAfter, c.MaxKeys = "list", r.delimiter, r.after, r.maxKeys
		case "GetObject":
			c.Op = "get"
		case "HeadObject":
			c.Op = "head"
		case "PutObject":
			c.Op, c.Key, c.Size, c.Absent = "put", smallPrefix+"sdkcalls/"+keyClass(strings.TrimPrefix(r.key, smallPrefix), false)+"put", r.size, false
		default:
			return nil, fmt.Errorf("no bare SDK call for %s", r.op)
		}
		calls = append(calls, c)
	}
	return json.Marshal(calls)
}

// benchSmallWall is P9: publish and record a pass on a small candidate, whole
// process, vs a process making the same number of bare SDK calls of the
// same kinds, one after the other.
func (h *harness) benchSmallWall(ctx context.Context, rep *report) error {
	ops, err := h.smallRuns(ctx)
	if err != nil {
		return err
	}
	sdkcalls := filepath.Join(h.bin, "sdkcalls")
	baseline := func(t traffic) (func() (proc, error), error) {
		plan, err := t.plan()
		if err != nil {
			return nil, err
		}
		return func() (proc, error) {
			return h.runProc(ctx, plan, h.tmp, sdkcalls, "-endpoint", h.endpoint, "-bucket", smallBucket,
				"-access-key", accessKey, "-secret-key", h.secretKey)
		}, nil
	}
	for i := range h.sc.smallRuns {
		if err := writeSmallCandidate(filepath.Join(ops.work, fmt.Sprintf("p9-%d", i)), fmt.Sprintf("p9 candidate %d", i)); err != nil {
			return err
		}
	}
	published := 0
	ourPublish := func() (proc, error) {
		version := fmt.Sprintf("2.0.%d", published)
		p, err := h.out(ctx, h.endpoint, ops.work, map[string]any{"directory": fmt.Sprintf("p9-%d", published), "version": version})
		published++
		if err == nil && outVersion(p) != version {
			err = fmt.Errorf("publish answered %q, want version %s", p.stdout, version)
		}
		return p, err
	}
	ourPass := func() (proc, error) {
		p, err := h.out(ctx, h.endpoint, ops.work, map[string]any{"candidate": ops.candidate, "environment": "staging"})
		if err == nil && outVersion(p) != "1.1.0" {
			err = fmt.Errorf("the pass answered %q, want version 1.1.0", p.stdout)
		}
		return p, err
	}
	for _, x := range []struct {
		what string
		ours func() (proc, error)
		t    traffic
	}{
		{"publish (params.version)", ourPublish, ops.publishV},
		{"record a pass (1 upstream env)", ourPass, ops.pass},
	} {
		base, err := baseline(x.t)
		if err != nil {
			return err
		}
		ourRuns, baseRuns, err := interleave(h.sc.smallRuns, x.ours, base)
		if err != nil {
			return fmt.Errorf("%s: %w", x.what, err)
		}
		om, bm := median(walls(ourRuns)), median(walls(baseRuns))
		ratio := om.Seconds() / bm.Seconds()
		rep.add(row{
			bar: "P9", measure: x.what + ", small candidate: wall (median)",
			ours: fmtDur(om), baseline: fmt.Sprintf("%s (%d bare calls)", fmtDur(bm), x.t.total()),
			ratio: fmt.Sprintf("%.2f", ratio), target: "≤ 1.50", result: passFail(ratio <= 1.50),
		})
		rep.note("P9 %s: CPU time (user+sys, median): out %s, bare calls %s; peak RSS: out %.0f MiB, bare calls %.0f MiB; baseline calls: %s.",
			x.what, fmtDur(median(cpus(ourRuns))), fmtDur(median(cpus(baseRuns))),
			float64(peakRSS(ourRuns))/1024, float64(peakRSS(baseRuns))/1024, x.t.shortOps())
		h.logf("P9 %s: out %s; bare calls %s", x.what, fmtDurs(walls(ourRuns)), fmtDurs(walls(baseRuns)))
	}
	// Information: the cost of starting each process alone, no request made.
	startOut, startCalls, err := interleave(h.sc.smallRuns,
		func() (proc, error) { return h.refused(ctx, filepath.Join(h.bin, "out"), []byte("{}")) },
		func() (proc, error) {
			return h.runProc(ctx, []byte("[]"), h.tmp, sdkcalls, "-endpoint", h.endpoint, "-bucket", smallBucket,
				"-access-key", accessKey, "-secret-key", h.secretKey)
		})
	if err != nil {
		return err
	}
	rep.note("P9: process start alone (no request made; median of %d each): out refusing the request {} %s wall, %s CPU; sdkcalls with an empty plan %s wall, %s CPU. Binaries: out %.1f MB, sdkcalls %.1f MB.",
		h.sc.smallRuns, fmtDur(median(walls(startOut))), fmtDur(median(cpus(startOut))),
		fmtDur(median(walls(startCalls))), fmtDur(median(cpus(startCalls))),
		float64(fileSize(filepath.Join(h.bin, "out")))/1e6, float64(fileSize(sdkcalls))/1e6)
	rep.note("P9: median of %d whole-process runs each, interleaved (ABBA), direct to versitygw: out (publish a new version of the P8 candidate directory each run: pack, render dev and staging, store; or a pass into staging of 1.1.0) vs bench/sdkcalls, a tiny process (SDK, static credentials, no config loading) making one after the other the requests P8 counted for that operation: the same listings and reads, and PUTs of the same sizes to new keys.",
		h.sc.smallRuns)
	return nil
}
