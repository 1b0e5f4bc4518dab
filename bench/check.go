package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// passEnvs are the environments every P1 candidate passed, in order.
var passEnvs = []string{"staging", "staging-tests", "production"}

// benchPolicy is the stored policy of P1 and the source.environments of its modes.
var benchPolicy = policy.Policy{
	"staging":       {},
	"staging-tests": {RequiresAll: []string{"staging"}},
	"production":    {RequiresAll: []string{"staging", "staging-tests"}},
}

// checkMode is one way check is configured, with the prefixes it must list.
type checkMode struct {
	name     string
	extra    map[string]any
	prefixes []string
	// known is the version a check from the newest one asks for.
	known func(s seeded) map[string]any
}

// checkModes are the modes of P1 (and P7): default, eligible_for and
// live_in, with the environments of pol whose passes they read.
func checkModes(pol policy.Policy, eligibleFor string, upstream []string, liveIn string) []checkMode {
	newest := func(s seeded) map[string]any { return map[string]any{"version": s.version(s.n - 1)} }
	eligible := []string{"policies/", "candidates/"}
	for _, env := range upstream {
		eligible = append(eligible, "passes/"+env+"/")
	}
	return []checkMode{
		{"default", map[string]any{"environments": pol}, []string{"policies/", "candidates/"}, newest},
		{"eligible_for", map[string]any{"environments": pol, "eligible_for": eligibleFor}, eligible, newest},
		{"live_in", map[string]any{"environments": pol, "live_in": liveIn}, []string{"policies/", "deploys/" + liveIn + "/"},
			func(s seeded) map[string]any {
				return map[string]any{"version": s.version(s.n - 1), "deployed": s.newestDeployment().Format(time.RFC3339Nano)}
			}},
	}
}

// seeded describes the candidates written into a check bucket.
type seeded struct {
	n       int
	base    time.Time
	envs    []string // the environments each candidate passed, in order
	deploys string   // the environment whose deployments live_in reads
}

func (s seeded) version(i int) string { return "1.0." + strconv.Itoa(i) }

func (s seeded) passTime(i, env int) time.Time {
	return s.base.Add(time.Duration(i)*time.Minute + time.Duration(env)*10*time.Second).UTC()
}

// newestDeployment is the time of the newest pass of the live_in environment.
func (s seeded) newestDeployment() time.Time {
	return s.passTime(s.n-1, slices.Index(s.envs, s.deploys))
}

// benchCheck is P1: check over N candidates with 3 passes each, in each
// mode, from the newest version (P1a) and with none (P1b).
func (h *harness) benchCheck(ctx context.Context, rep *report) error {
	const bucket = "bench-p1"
	n := h.sc.candidates
	if err := h.createBucket(ctx, bucket); err != nil {
		return err
	}
	s := seeded{n: n, base: time.Now().UTC().Add(-time.Duration(n+10) * time.Minute).Truncate(time.Second), envs: passEnvs, deploys: "production"}
	t0 := time.Now()
	objects, err := h.putAll(ctx, bucket, func(emit func(object) bool) {
		for _, o := range layoutObjects("", benchPolicy, s.base) {
			emit(o)
		}
		for i := range n {
			c := newCandidateSeed("", s.version(i), benchPolicy)
			batch := []object{c.claim(), c.commit()}
			for e, env := range passEnvs {
				rec, dep := c.pass(env, s.passTime(i, e))
				batch = append(batch, rec, dep)
			}
			for _, o := range batch {
				if !emit(o) {
					return
				}
			}
		}
	})
	if err != nil {
		return err
	}
	h.logf("P1: seeded %d objects in %s", objects, time.Since(t0).Round(100*time.Millisecond))

	proxy, err := startProxy(h.endpoint)
	if err != nil {
		return err
	}
	defer proxy.close()

	for _, m := range checkModes(benchPolicy, "production", []string{"staging", "staging-tests"}, "production") {
		if err := h.checkMode(ctx, rep, proxy, bucket, s, m); err != nil {
			return fmt.Errorf("mode %s: %w", m.name, err)
		}
	}
	rep.note("P1: %d candidates, each a claim, a commit record, and a pass record and deployment entry in each of %s (%d objects, store layout 2, keys made by the store's own helpers), policy: %s.",
		n, strings.Join(passEnvs, ", "), objects, policyJSON(benchPolicy))
	rep.note("P1: modes: default, eligible_for: production, live_in: production, each with source.environments = the stored policy; P1a asks from the newest version ({\"version\",\"deployed\"} of the newest deployment for live_in), P1b with version null. Each run's answer is checked (the newest alone; from the oldest, all %d in order).", n)
	rep.note("P1: requests counted by a reverse proxy; wall time = median of %d whole-process runs each of check from the newest, check with no version and the baseline, interleaved in rotating order, direct to versitygw.", h.sc.checkRuns)
	rep.note("P1: baseline = bench/lister, a separate tiny process doing a bare paginated ListObjectsV2 (SDK, static credentials, no config loading) over the same prefixes check reads with no version (policies/ included), one after the other: the full listing of the same keys.")
	return nil
}

func (h *harness) checkMode(ctx context.Context, rep *report, proxy *countingProxy, bucket string, s seeded, m checkMode) error {
	lister := filepath.Join(h.bin, "lister")
	viaProxy := h.source(proxy.URL, bucket, m.extra)
	newest := m.known(s)

	// Verifying run: from the oldest version, check yields all N in order.
	oldest := map[string]any{"version": s.version(0)}
	if _, ok := newest["deployed"]; ok {
		oldest["deployed"] = s.passTime(0, slices.Index(s.envs, s.deploys)).Format(time.RFC3339Nano)
	}
	versions, _, err := h.check(ctx, proxy, viaProxy, oldest)
	if err != nil {
		return err
	}
	if len(versions) != s.n || versions[0]["version"] != s.version(0) || versions[s.n-1]["version"] != s.version(s.n-1) {
		return fmt.Errorf("check from the oldest version yields %d versions (want %d, from %s to %s)", len(versions), s.n, s.version(0), s.version(s.n-1))
	}

	// P1a, counted: from the newest, nothing new.
	versions, known, err := h.check(ctx, proxy, viaProxy, newest)
	if err != nil {
		return err
	}
	if err := wantOnly(versions, newest); err != nil {
		return fmt.Errorf("check from the newest version: %w", err)
	}
	// P1b, counted: no version.
	versions, none, err := h.check(ctx, proxy, viaProxy, nil)
	if err != nil {
		return err
	}
	if err := wantOnly(versions, newest); err != nil {
		return fmt.Errorf("check with no version: %w", err)
	}
	// The baseline through the proxy too: its key counts and requests.
	lp, err := h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(proxy.URL, bucket, m.prefixes)...)
	if err != nil {
		return err
	}
	base := proxy.take()
	keys, perPrefix, err := parseListerOutput(lp.stdout)
	if err != nil {
		return err
	}

	lists, other := known.listsPerPrefix()
	most := 0
	for _, c := range lists {
		most = max(most, c)
	}
	unknown := !subset(lists, m.prefixes)
	rep.add(row{
		bar: "P1a", measure: "check " + m.name + " from the newest: S3 requests",
		ours:     fmt.Sprintf("%s (%s)", known, perPrefixString(lists, m.prefixes)),
		baseline: fmt.Sprintf("%s (%d keys)", base, keys),
		ratio:    fmt.Sprintf("%.2f", float64(known.total())/float64(base.total())),
		target:   fmt.Sprintf("≤ 1 LIST per prefix (%d prefixes)", len(m.prefixes)),
		result:   passFail(other == 0 && most <= 1 && !unknown),
	})

	want := map[string]int{}
	wantTotal := 0
	for i, p := range m.prefixes {
		want[p] = max(1, (perPrefix[i]+999)/1000)
		wantTotal += want[p]
	}
	lists, other = none.listsPerPrefix()
	equal := other == 0 && len(lists) == len(want)
	for p, c := range want {
		equal = equal && lists[p] == c
	}
	rep.add(row{
		bar: "P1b", measure: "check " + m.name + ", no version: S3 requests",
		ours:     fmt.Sprintf("%s (%s)", none, perPrefixString(lists, m.prefixes)),
		baseline: fmt.Sprintf("%s (%d keys)", base, keys),
		ratio:    fmt.Sprintf("%.2f", float64(none.total())/float64(wantTotal)),
		target:   fmt.Sprintf("= Σ⌈keys/1000⌉ = %d, lists only", wantTotal),
		result:   passFail(equal),
	})

	// Timed runs, direct to the server, interleaved.
	direct := h.source(h.endpoint, bucket, m.extra)
	runs, err := rotate(h.sc.checkRuns,
		func() (proc, error) {
			return h.resource(ctx, "check", map[string]any{"source": direct, "version": newest})
		},
		func() (proc, error) {
			return h.resource(ctx, "check", map[string]any{"source": direct, "version": nil})
		},
		func() (proc, error) {
			return h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(h.endpoint, bucket, m.prefixes)...)
		})
	if err != nil {
		return err
	}
	kn, no, bl := runs[0], runs[1], runs[2]
	km, nm, bm := median(walls(kn)), median(walls(no)), median(walls(bl))
	rep.add(row{
		bar: "P1a", measure: "check " + m.name + " from the newest: wall (median)",
		ours: fmtDur(km), baseline: fmtDur(bm) + " (full listing)",
		ratio: fmt.Sprintf("%.2f", km.Seconds()/bm.Seconds()), target: "≤ 0.20",
		result: passFail(km.Seconds() <= 0.20*bm.Seconds()),
	})
	rep.add(row{
		bar: "P1b", measure: "check " + m.name + ", no version: wall (median)",
		ours: fmtDur(nm), baseline: fmtDur(bm) + " (full listing)",
		ratio: fmt.Sprintf("%.2f", nm.Seconds()/bm.Seconds()), target: "≤ 1.10",
		result: passFail(nm.Seconds() <= 1.10*bm.Seconds()),
	})
	rep.note("P1 %s: CPU time (user+sys, median): check from the newest %s, with no version %s, lister %s; peak RSS: %.0f, %.0f, %.0f MiB.",
		m.name, fmtDur(median(cpus(kn))), fmtDur(median(cpus(no))), fmtDur(median(cpus(bl))),
		float64(peakRSS(kn))/1024, float64(peakRSS(no))/1024, float64(peakRSS(bl))/1024)
	h.logf("P1 %s: requests from the newest %s, none %s (want %d); check from the newest %s; none %s; lister %s",
		m.name, known.breakdown(""), none, wantTotal, fmtDurs(walls(kn)), fmtDurs(walls(no)), fmtDurs(walls(bl)))

	if len(m.prefixes) > 2 {
		// Information: what listing the prefixes concurrently would give.
		par, seq, err := interleave(max(3, h.sc.checkRuns/2),
			func() (proc, error) {
				return h.runProc(ctx, nil, h.tmp, lister, append([]string{"-parallel"}, h.listerArgs(h.endpoint, bucket, m.prefixes)...)...)
			},
			func() (proc, error) {
				return h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(h.endpoint, bucket, m.prefixes)...)
			})
		if err != nil {
			return err
		}
		pm, sm := median(walls(par)), median(walls(seq))
		rep.note("P1 %s: the lister listing its %d prefixes concurrently takes %s vs %s one after the other (%.2f×), median of %d runs each.",
			m.name, len(m.prefixes), fmtDur(pm), fmtDur(sm), pm.Seconds()/sm.Seconds(), len(par))
	}
	return nil
}

// check runs check through the proxy and returns its versions and requests.
func (h *harness) check(ctx context.Context, proxy *countingProxy, source map[string]any, version map[string]any) ([]map[string]string, traffic, error) {
	proxy.take()
	req := map[string]any{"source": source, "version": nil}
	if version != nil {
		req["version"] = version
	}
	p, err := h.resource(ctx, "check", req)
	if err != nil {
		return nil, nil, err
	}
	t := proxy.take()
	var versions []map[string]string
	if err := json.Unmarshal(p.stdout, &versions); err != nil {
		return nil, nil, fmt.Errorf("check output %q: %v", p.stdout, err)
	}
	return versions, t, nil
}

// wantOnly checks that versions is exactly [v].
func wantOnly(versions []map[string]string, v map[string]any) error {
	got, _ := json.Marshal(versions)
	want, _ := json.Marshal([]map[string]any{v})
	if string(got) != string(want) {
		return fmt.Errorf("check yields %.200s, want %s", got, want)
	}
	return nil
}

func subset(lists map[string]int, prefixes []string) bool {
	for p := range lists {
		if !slices.Contains(prefixes, p) {
			return false
		}
	}
	return true
}

// perPrefixString: "policies/ 1, candidates/ 10", in the mode's order, then any other.
func perPrefixString(lists map[string]int, prefixes []string) string {
	var parts []string
	for _, p := range prefixes {
		parts = append(parts, fmt.Sprintf("%s %d", p, lists[p]))
	}
	var others []string
	for p, c := range lists {
		if !slices.Contains(prefixes, p) {
			others = append(others, fmt.Sprintf("%s %d", p, c))
		}
	}
	slices.Sort(others)
	return strings.Join(append(parts, others...), ", ")
}

func policyJSON(p policy.Policy) string {
	b, _ := json.Marshal(p.Canonical())
	return string(b)
}

func (h *harness) listerArgs(endpoint, bucket string, prefixes []string) []string {
	return append([]string{"-endpoint", endpoint, "-bucket", bucket, "-access-key", accessKey, "-secret-key", h.secretKey}, prefixes...)
}

// parseListerOutput reads "prefix count" lines.
func parseListerOutput(out []byte) (total int, perPrefix []int, err error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			return 0, nil, fmt.Errorf("lister output %q", sc.Text())
		}
		k, err := strconv.Atoi(f[1])
		if err != nil {
			return 0, nil, fmt.Errorf("lister output %q", sc.Text())
		}
		total += k
		perPrefix = append(perPrefix, k)
	}
	return total, perPrefix, nil
}

// benchEmptyCheck is P5: check on an empty bucket, whole process, vs a bare
// process making one listing.
func (h *harness) benchEmptyCheck(ctx context.Context, rep *report) error {
	const bucket = "bench-p5-empty"
	if err := h.createBucket(ctx, bucket); err != nil {
		return err
	}
	lister := filepath.Join(h.bin, "lister")
	// One counted run first (it also warms the page cache for the binaries).
	proxy, err := startProxy(h.endpoint)
	if err != nil {
		return err
	}
	defer proxy.close()
	versions, ops, err := h.check(ctx, proxy, h.source(proxy.URL, bucket, nil), nil)
	if err != nil {
		return err
	}
	if len(versions) != 0 {
		return fmt.Errorf("check on an empty bucket yields %v, want []", versions)
	}
	if _, err := h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(proxy.URL, bucket, []string{"candidates/"})...); err != nil {
		return err
	}
	baseOps := proxy.take()

	req := map[string]any{"source": h.source(h.endpoint, bucket, nil), "version": nil}
	ourRuns, baseRuns, err := interleave(h.sc.emptyRuns,
		func() (proc, error) { return h.resource(ctx, "check", req) },
		func() (proc, error) {
			return h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(h.endpoint, bucket, []string{"candidates/"})...)
		})
	if err != nil {
		return err
	}
	ours, base := walls(ourRuns), walls(baseRuns)
	om, bm := median(ours), median(base)
	ratio := om.Seconds() / bm.Seconds()
	rep.add(row{
		bar: "P5", measure: "check, empty bucket: wall (median)",
		ours: fmtDur(om), baseline: fmtDur(bm) + " (1 listing)",
		ratio: fmt.Sprintf("%.2f", ratio), target: "≤ 1.30",
		result: passFail(ratio <= 1.30),
	})
	rep.add(row{
		bar: "P5", measure: "check, empty bucket: wall (median), absolute",
		ours: fmtDur(om), baseline: "-", ratio: "-", target: "≤ 50 ms",
		result: passFail(om <= 50*time.Millisecond),
	})
	rep.note("P5: median of %d whole-process runs each, interleaved (ABBA); check (source without environments) makes %s (%s); baseline = the bare bench/lister process listing one empty prefix (%s).",
		h.sc.emptyRuns, ops, ops.breakdown(""), baseOps)
	rep.note("P5: CPU time (user+sys, median): check %s, lister %s; peak RSS: check %.0f MiB, lister %.0f MiB.",
		fmtDur(median(cpus(ourRuns))), fmtDur(median(cpus(baseRuns))), float64(peakRSS(ourRuns))/1024, float64(peakRSS(baseRuns))/1024)
	h.logf("P5: check %s; lister %s", fmtDurs(ours), fmtDurs(base))

	// Information: the cost of starting each process alone, no request made:
	// check refusing the request {} at decoding, the lister with no prefix.
	startCheck, startLister, err := interleave(h.sc.emptyRuns,
		func() (proc, error) { return h.refused(ctx, filepath.Join(h.bin, "check"), []byte("{}")) },
		func() (proc, error) {
			return h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(h.endpoint, bucket, nil)...)
		})
	if err != nil {
		return err
	}
	checkInit, checkChain, err := h.initCost(ctx, filepath.Join(h.bin, "check"), []byte("{}"))
	if err != nil {
		return err
	}
	listerInit, _, err := h.initCost(ctx, lister, nil, h.listerArgs(h.endpoint, bucket, nil)...)
	if err != nil {
		return err
	}
	rep.note("P5: package initialisers alone (GODEBUG=inittrace=1, median of %d): check %s, of which %s are the AWS configuration chain's packages (config, credentials, STS, SSO, SSO-OIDC, sign-in), which the default credential chain needs; the lister %s.",
		initRuns, fmtDur(checkInit), fmtDur(checkChain), fmtDur(listerInit))
	checkSize, listerSize := fileSize(filepath.Join(h.bin, "check")), fileSize(lister)
	rep.note("P5: process start alone (no request made; median of %d each): check refusing the request {} %s wall, %s CPU; the lister with no prefix %s wall, %s CPU. Binaries: check %.1f MB, lister %.1f MB.",
		h.sc.emptyRuns, fmtDur(median(walls(startCheck))), fmtDur(median(cpus(startCheck))),
		fmtDur(median(walls(startLister))), fmtDur(median(cpus(startLister))), float64(checkSize)/1e6, float64(listerSize)/1e6)
	return nil
}

// initRuns is how many runs initCost takes the median of.
const initRuns = 11

// chainPackages are the packages the AWS default credential chain links
// (config.LoadDefaultConfig), by import path prefix.
var chainPackages = []string{
	"github.com/aws/aws-sdk-go-v2/config", "github.com/aws/aws-sdk-go-v2/credentials/",
	"github.com/aws/aws-sdk-go-v2/service/sts", "github.com/aws/aws-sdk-go-v2/service/sso",
	"github.com/aws/aws-sdk-go-v2/service/signin", "github.com/aws/aws-sdk-go-v2/feature/ec2/imds",
}

// initTrace is a line of GODEBUG=inittrace=1: "init <package> @<t> ms, <clock> ms clock, ...".
var initTrace = regexp.MustCompile(`^init (\S+) @\S+ ms, ([0-9.]+) ms clock`)

// initCost runs name (with stdin and args, its exit status ignored) under
// GODEBUG=inittrace=1 and gives the medians of the time its package
// initialisers take, all of them and those of chainPackages.
func (h *harness) initCost(ctx context.Context, name string, stdin []byte, args ...string) (all, chain time.Duration, err error) {
	var alls, chains []time.Duration
	for range initRuns {
		cmd := exec.CommandContext(ctx, name, args...)
		cmd.Env = append(h.childEnv(), "GODEBUG=inittrace=1")
		cmd.Stdin = bytes.NewReader(stdin)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		_ = cmd.Run() // check refuses {}: only the trace matters
		var a, c time.Duration
		for _, line := range strings.Split(stderr.String(), "\n") {
			m := initTrace.FindStringSubmatch(line)
			if m == nil {
				continue
			}
			ms, perr := strconv.ParseFloat(m[2], 64)
			if perr != nil {
				return 0, 0, fmt.Errorf("inittrace line %q", line)
			}
			d := time.Duration(ms * float64(time.Millisecond))
			a += d
			for _, p := range chainPackages {
				if strings.HasPrefix(m[1], p) {
					c += d
					break
				}
			}
		}
		if a == 0 {
			return 0, 0, fmt.Errorf("%s printed no init trace", filepath.Base(name))
		}
		alls, chains = append(alls, a), append(chains, c)
	}
	return median(alls), median(chains), nil
}

// refused runs a command whose request is refused: it must exit 1.
func (h *harness) refused(ctx context.Context, name string, stdin []byte) (proc, error) {
	p, err := h.runProc(ctx, stdin, h.tmp, name)
	var exit *exec.ExitError
	if err == nil || !errors.As(err, &exit) || exit.ExitCode() != 1 || p.wall == 0 {
		return p, fmt.Errorf("%s with the request %s: want exit status 1, got %v", filepath.Base(name), stdin, err)
	}
	return p, nil
}

func fileSize(path string) int64 {
	info, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return info.Size()
}
