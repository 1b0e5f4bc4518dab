package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// passTimeLayout is the time in pass keys (README "How it is stored").
const passTimeLayout = "20060102T150405.000000000Z"

// passEnvs are the environments every seeded candidate passed, in order.
var passEnvs = []string{"staging", "staging-tests", "production"}

// benchPolicy is the source.environments of the P1 modes.
var benchPolicy = map[string]any{
	"staging":       map[string]any{},
	"staging-tests": map[string]any{"requires_all": []string{"staging"}},
	"production":    map[string]any{"requires_all": []string{"staging", "staging-tests"}},
}

// checkMode is one way check is configured, with the prefixes it must list.
type checkMode struct {
	name     string
	extra    map[string]any
	prefixes []string
}

var checkModes = []checkMode{
	{"default", map[string]any{"environments": benchPolicy}, []string{"candidates/"}},
	{"eligible_for", map[string]any{"environments": benchPolicy, "eligible_for": "production"},
		[]string{"candidates/", "passes/staging/", "passes/staging-tests/"}},
	{"live_in", map[string]any{"environments": benchPolicy, "live_in": "production"}, []string{"passes/production/"}},
}

// seeded describes the candidates written into the P1 bucket.
type seeded struct {
	n    int
	base time.Time
}

func (s seeded) version(i int) string { return "1.0." + strconv.Itoa(i) }

func (s seeded) passTime(i, env int) time.Time {
	return s.base.Add(time.Duration(i)*time.Minute + time.Duration(env)*10*time.Second)
}

// benchCheck is P1: check over N candidates with 3 passes each, in each mode.
func (h *harness) benchCheck(ctx context.Context, rep *report) error {
	const bucket = "bench-p1"
	n := h.sc.candidates
	if err := h.createBucket(ctx, bucket); err != nil {
		return err
	}
	s := seeded{n: n, base: time.Now().UTC().Add(-time.Duration(n+10) * time.Minute).Truncate(time.Second)}
	t0 := time.Now()
	objects, err := h.seed(ctx, bucket, s)
	if err != nil {
		return err
	}
	h.logf("P1: seeded %d objects in %s", objects, time.Since(t0).Round(100*time.Millisecond))

	proxy, err := startProxy(h.endpoint)
	if err != nil {
		return err
	}
	defer proxy.close()

	for _, m := range checkModes {
		if err := h.checkMode(ctx, rep, proxy, bucket, s, m); err != nil {
			return fmt.Errorf("mode %s: %w", m.name, err)
		}
	}
	rep.note("P1: %d candidates, each with a claim, a commit record and a pass in each of %s (%d objects), written with the SDK as the resource writes them.",
		n, strings.Join(passEnvs, ", "), objects)
	rep.note("P1: requests counted by a reverse proxy; wall time = median of %d whole-process runs each (check with version null, interleaved ABBA with the baseline), direct to versitygw.", h.sc.checkRuns)
	rep.note("P1: baseline = bench/lister, a separate tiny process doing a bare paginated ListObjectsV2 (SDK, static credentials, no config loading) over the same prefixes, one after the other.")
	return nil
}

// seed writes, for each candidate, what a publish and three passes write:
// versions/<v>.json, candidates/<v>/<sha>.json, passes/<env>/<v>/<time>_<hex>.json.
func (h *harness) seed(ctx context.Context, bucket string, s seeded) (int, error) {
	type object struct {
		key  string
		body []byte
	}
	objects := make(chan object, 1024)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		defer close(objects)
		for i := 0; i < s.n; i++ {
			v := s.version(i)
			sum := sha256.Sum256([]byte("candidate " + v))
			sha := hex.EncodeToString(sum[:])
			created := s.base.Add(time.Duration(i)*time.Minute - time.Second)
			claim, _ := json.Marshal(map[string]any{
				"version": v, "sha256": sha, "size": 4096, "blob": "blobs/" + randomHex(16) + ".tgz",
				"created": created, "created_by": "main/bench/publish #" + strconv.Itoa(i),
			})
			batch := []object{
				{"versions/" + v + ".json", claim},
				{"candidates/" + v + "/" + sha + ".json", claim},
			}
			for e, env := range passEnvs {
				t := s.passTime(i, e)
				rec, _ := json.Marshal(map[string]any{
					"environment": env, "version": v, "sha256": sha, "time": t,
					"build": map[string]string{"id": strconv.Itoa(i), "name": "1", "job": "deploy-" + env, "pipeline": "bench", "team": "main"},
				})
				batch = append(batch, object{"passes/" + env + "/" + v + "/" + t.Format(passTimeLayout) + "_" + randomHex(8) + ".json", rec})
			}
			for _, o := range batch {
				select {
				case objects <- o:
				case <-ctx.Done():
					return
				}
			}
		}
	}()

	const workers = 48
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	count := 0
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for o := range objects {
				_, err := h.client.PutObject(ctx, &s3.PutObjectInput{
					Bucket:      aws.String(bucket),
					Key:         aws.String(o.key),
					Body:        bytes.NewReader(o.body),
					ContentType: aws.String("application/json"),
				})
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("seeding %s: %w", o.key, err)
					cancel()
				}
				count++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return count, firstErr
}

func (h *harness) checkMode(ctx context.Context, rep *report, proxy *countingProxy, bucket string, s seeded, m checkMode) error {
	// Counted, verifying run: from the oldest version, check must yield all N.
	oldest := map[string]any{"version": s.version(0)}
	if m.name == "live_in" {
		oldest["deployed"] = s.passTime(0, 2).Format(time.RFC3339Nano)
	}
	proxy.take()
	p, err := h.resource(ctx, "check", map[string]any{"source": h.source(proxy.URL, bucket, m.extra), "version": oldest})
	if err != nil {
		return err
	}
	ourOps := proxy.take()
	var versions []map[string]string
	if err := json.Unmarshal(p.stdout, &versions); err != nil {
		return fmt.Errorf("check output: %v", err)
	}
	if len(versions) != s.n {
		return fmt.Errorf("check from the oldest version yields %d versions, want %d", len(versions), s.n)
	}

	// The baseline through the proxy too: its key counts and requests.
	lp, err := h.runProc(ctx, nil, h.tmp, filepath.Join(h.bin, "lister"), h.listerArgs(proxy.URL, bucket, m.prefixes)...)
	if err != nil {
		return err
	}
	baseOps := proxy.take()
	keys, perPrefix, err := parseListerOutput(lp.stdout)
	if err != nil {
		return err
	}
	want := 0
	for _, k := range perPrefix {
		want += max(1, (k+999)/1000)
	}
	okRequests := ourOps.total() == want && ourOps["ListObjectsV2"] == want
	rep.add(row{
		bar: "P1", measure: "check " + m.name + ": S3 requests",
		ours:     ourOps.String(),
		baseline: fmt.Sprintf("%s (%d keys)", baseOps, keys),
		ratio:    fmt.Sprintf("%.2f", float64(ourOps.total())/float64(want)),
		target:   fmt.Sprintf("= Σ⌈keys/1000⌉ = %d, lists only", want),
		result:   passFail(okRequests),
	})

	// Timed runs, direct to the server, interleaved.
	req := map[string]any{"source": h.source(h.endpoint, bucket, m.extra), "version": nil}
	ours, bases, err := interleave(h.sc.checkRuns,
		func() (proc, error) { return h.resource(ctx, "check", req) },
		func() (proc, error) {
			return h.runProc(ctx, nil, h.tmp, filepath.Join(h.bin, "lister"), h.listerArgs(h.endpoint, bucket, m.prefixes)...)
		})
	if err != nil {
		return err
	}
	ourTimes, ourCPU := walls(ours), cpus(ours)
	baseTimes, baseCPU := walls(bases), cpus(bases)
	om, bm := median(ourTimes), median(baseTimes)
	ratio := om.Seconds() / bm.Seconds()
	rep.note("P1 %s: CPU time (user+sys, median): check %s, lister %s; peak RSS: check %.0f MiB, lister %.0f MiB.",
		m.name, fmtDur(median(ourCPU)), fmtDur(median(baseCPU)), float64(peakRSS(ours))/1024, float64(peakRSS(bases))/1024)
	rep.add(row{
		bar: "P1", measure: "check " + m.name + ": wall (median)",
		ours: fmtDur(om), baseline: fmtDur(bm),
		ratio:  fmt.Sprintf("%.2f", ratio),
		target: "≤ 1.10",
		result: passFail(ratio <= 1.10),
	})
	h.logf("P1 %s: requests %s (want %d); check %s; lister %s", m.name, ourOps, want, fmtDurs(ourTimes), fmtDurs(baseTimes))

	if len(m.prefixes) > 1 {
		// Information: what listing the prefixes concurrently would give.
		lister := filepath.Join(h.bin, "lister")
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

// benchEmptyCheck is P5: check on an empty bucket, whole process.
func (h *harness) benchEmptyCheck(ctx context.Context, rep *report) error {
	const bucket = "bench-p5-empty"
	if err := h.createBucket(ctx, bucket); err != nil {
		return err
	}
	req := map[string]any{"source": h.source(h.endpoint, bucket, nil), "version": nil}
	// One counted run first (it also warms the page cache for the binary).
	proxy, err := startProxy(h.endpoint)
	if err != nil {
		return err
	}
	defer proxy.close()
	p, err := h.resource(ctx, "check", map[string]any{"source": h.source(proxy.URL, bucket, nil), "version": nil})
	if err != nil {
		return err
	}
	if out := strings.TrimSpace(string(p.stdout)); out != "[]" {
		return fmt.Errorf("check on an empty bucket printed %s, want []", out)
	}
	ops := proxy.take()
	if _, err := h.runProc(ctx, nil, h.tmp, filepath.Join(h.bin, "lister"), h.listerArgs(h.endpoint, bucket, []string{"candidates/"})...); err != nil {
		return err
	}

	ourRuns, baseRuns, err := interleave(h.sc.emptyRuns,
		func() (proc, error) { return h.resource(ctx, "check", req) },
		func() (proc, error) {
			return h.runProc(ctx, nil, h.tmp, filepath.Join(h.bin, "lister"), h.listerArgs(h.endpoint, bucket, []string{"candidates/"})...)
		})
	if err != nil {
		return err
	}
	ours, ourCPU := walls(ourRuns), cpus(ourRuns)
	base, baseCPU := walls(baseRuns), cpus(baseRuns)
	om, bm := median(ours), median(base)
	rep.note("P5: CPU time (user+sys, median): check %s, lister %s; peak RSS: check %.0f MiB, lister %.0f MiB.",
		fmtDur(median(ourCPU)), fmtDur(median(baseCPU)), float64(peakRSS(ourRuns))/1024, float64(peakRSS(baseRuns))/1024)
	rep.add(row{
		bar: "P5", measure: "check, empty bucket: wall (median)",
		ours: fmtDur(om), baseline: fmtDur(bm) + " (info)",
		ratio:  fmt.Sprintf("%.2f", om.Seconds()/bm.Seconds()),
		target: "≤ 50 ms",
		result: passFail(om <= 50*time.Millisecond),
	})
	rep.note("P5: median of %d whole-process runs; requests: %s; baseline (information only) = the bare lister process on the same empty prefix.", h.sc.emptyRuns, ops)
	h.logf("P5: check %s; lister %s", fmtDurs(ours), fmtDurs(base))
	return nil
}
