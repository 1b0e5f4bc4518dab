package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// bigPolicy is the stored policy of P7: one environment with passes, and one
// gated on it.
var bigPolicy = policy.Policy{
	"dev":     {},
	"staging": {RequiresAll: []string{"dev"}},
}

// benchMemory is P7: the peak RSS of check over a large history, from the
// newest version and with none, in each mode. Only what check reads is
// seeded: the commit records, and a pass record and deployment entry in dev
// for each candidate (no claims: check never reads them).
func (h *harness) benchMemory(ctx context.Context, rep *report) error {
	const bucket = "bench-p7"
	n := h.sc.bigCandidates
	if err := h.createBucket(ctx, bucket); err != nil {
		return err
	}
	s := seeded{n: n, base: time.Now().UTC().Add(-time.Duration(n+10) * time.Minute).Truncate(time.Second), envs: []string{"dev"}, deploys: "dev"}
	t0 := time.Now()
	objects, err := h.putAll(ctx, bucket, func(emit func(object) bool) {
		for _, o := range layoutObjects("", bigPolicy, s.base) {
			emit(o)
		}
		for i := range n {
			c := newCandidateSeed("", s.version(i), bigPolicy)
			rec, dep := c.pass("dev", s.passTime(i, 0))
			for _, o := range []object{c.commit(), rec, dep} {
				if !emit(o) {
					return
				}
			}
		}
	})
	if err != nil {
		return err
	}
	seeding := time.Since(t0)
	h.logf("P7: seeded %d objects in %s", objects, seeding.Round(100*time.Millisecond))

	lister := filepath.Join(h.bin, "lister")
	const limit = 48 << 10 // KiB
	for _, m := range checkModes(bigPolicy, "staging", []string{"dev"}, "dev") {
		src := h.source(h.endpoint, bucket, m.extra)
		newest := m.known(s)
		var known, none []proc
		for range h.sc.memoryRuns {
			for _, from := range []map[string]any{newest, nil} {
				p, err := h.resource(ctx, "check", map[string]any{"source": src, "version": from})
				if err != nil {
					return fmt.Errorf("mode %s: %w", m.name, err)
				}
				var versions []map[string]string
				if err := json.Unmarshal(p.stdout, &versions); err != nil {
					return fmt.Errorf("mode %s: check output %q: %v", m.name, p.stdout, err)
				}
				if err := wantOnly(versions, newest); err != nil {
					return fmt.Errorf("mode %s: %w", m.name, err)
				}
				if from == nil {
					none = append(none, p)
				} else {
					known = append(known, p)
				}
			}
		}
		lp, err := h.runProc(ctx, nil, h.tmp, lister, h.listerArgs(h.endpoint, bucket, m.prefixes)...)
		if err != nil {
			return err
		}
		keys, _, err := parseListerOutput(lp.stdout)
		if err != nil {
			return err
		}
		base := fmt.Sprintf("%.0f MiB (lister, %d keys; info)", float64(lp.maxRSS)/1024, keys)
		for _, r := range []struct {
			what string
			runs []proc
		}{{"from the newest", known}, {"no version", none}} {
			peak := peakRSS(r.runs)
			rep.add(row{
				bar: "P7", measure: fmt.Sprintf("check %s over %d, %s: peak RSS", m.name, n, r.what),
				ours: fmt.Sprintf("%.1f MiB", float64(peak)/1024), baseline: base, ratio: "-",
				target: "≤ 48 MiB", result: passFail(peak <= limit),
			})
		}
		rep.note("P7 %s: wall (median) check from the newest %s, with no version %s; the lister's full listing of %s %s.",
			m.name, fmtDur(median(walls(known))), fmtDur(median(walls(none))), joinPrefixes(m.prefixes), fmtDur(lp.wall))
		h.logf("P7 %s: peak RSS from the newest %d KiB, none %d KiB; lister %d KiB", m.name, peakRSS(known), peakRSS(none), lp.maxRSS)
	}
	rep.note("P7: %d candidates; seeded only what check reads: the policy, the commit records, and in dev a pass record and a deployment entry per candidate (%d objects in %s, 64 PUTs at once; no claims, which check never reads). Policy: %s; modes default, eligible_for: staging, live_in: dev.",
		n, objects, seeding.Round(time.Second), policyJSON(bigPolicy))
	rep.note("P7: peak RSS = the check process's own ru_maxrss (through bench/rusage), the most of %d run(s) each; every answer checked (the newest alone).", h.sc.memoryRuns)
	return nil
}

func joinPrefixes(ps []string) string {
	b, _ := json.Marshal(ps)
	return string(b)
}
