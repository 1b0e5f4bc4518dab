// Package status is the status view of a templates-candidate store: what
// each candidate passed, what is live in each environment, whether each
// candidate is admitted to each environment now and if not why, and the
// deployment history of an environment. It reads the store the way check,
// in and out do (the stored policy governs, the store's clock is "now") and
// never writes to it. The candidates command (candidates/) is its CLI.
package status

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// DefaultLimit is how many candidates status shows without --all.
const DefaultLimit = 10

// readers bounds the records read at once.
const readers = 16

// Report is the status view: the JSON of `candidates status --json`.
type Report struct {
	// Store names the bucket and prefix ("s3://bucket/prefix/").
	Store string `json:"store"`
	// Policy is the number of the stored policy that governs (0: nothing
	// is published under the prefix yet).
	Policy int `json:"policy"`
	// SemverConstraint is the source's version line: only the candidates
	// it matches are shown (and counted in Total).
	SemverConstraint string `json:"semver_constraint,omitempty"`
	// Now is the store's clock when the report was made.
	Now time.Time `json:"now"`
	// Environments are in promotion order: an environment comes after
	// those it requires, then by name.
	Environments []Environment `json:"environments"`
	// Candidates are the newest first.
	Candidates []Candidate `json:"candidates"`
	// Total is how many candidates the store holds; Candidates may show
	// fewer (the newest Limit).
	Total int `json:"total"`
}

// Environment is one environment of the stored policy.
type Environment struct {
	Name string      `json:"name"`
	Rule policy.Rule `json:"rule"`
	// Live is the newest deployment (pass) of the environment, whatever
	// its version line; nil when nothing was ever recorded there.
	Live *Deployment `json:"live,omitempty"`
}

// Deployment is a pass seen in its environment's time order.
type Deployment struct {
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
}

// Candidate is one row of the view.
type Candidate struct {
	Version string `json:"version"`
	// Published is when the candidate was committed (the store's clock).
	Published time.Time `json:"published"`
	// Revoked is set when the candidate was revoked: it is admitted nowhere.
	Revoked *Revocation `json:"revoked,omitempty"`
	// Cells has one entry per environment, keyed by its name.
	Cells map[string]Cell `json:"environments"`
}

// Revocation is why and by whom a candidate was revoked.
type Revocation struct {
	Reason string    `json:"reason"`
	Time   time.Time `json:"time"`
	Build  Build     `json:"build"`
}

// Cell is one candidate in one environment.
type Cell struct {
	// Passes are the candidate's passes in the environment, oldest first.
	Passes []Pass `json:"passes"`
	// Live is set when the environment's newest deployment is this candidate.
	Live bool `json:"live"`
	// Eligible reports whether the stored policy admits the candidate to
	// the environment now (a pass would be recorded).
	Eligible bool `json:"eligible"`
	// Refusal is the reason it is not admitted, word for word as a put
	// would be refused.
	Refusal string `json:"refusal,omitempty"`
	// SoakLeftSeconds is how long the soak still runs (whole seconds,
	// rounded up); 0 when the soak is over or the requirements are unmet.
	SoakLeftSeconds int64 `json:"soak_left_seconds,omitempty"`
	refusal         *policy.Refusal
}

// Passed reports whether the candidate has a pass in the environment.
func (c Cell) Passed() bool { return len(c.Passes) > 0 }

// Pass is one pass record.
type Pass struct {
	Time  time.Time `json:"time"`
	Build Build     `json:"build"`
	Note  string    `json:"note,omitempty"`
	// Override is set when the pass was recorded by break-glass although
	// its rule refused it.
	Override *Override `json:"override,omitempty"`
	// Reset marks a pass that reset the environment to what the upgrade
	// path's target environment runs.
	Reset bool `json:"reset,omitempty"`
	// Unreadable is set when the pass is listed but its record could not
	// be read (a warning names its key).
	Unreadable bool `json:"unreadable,omitempty"`
}

// Override is the break-glass part of a pass record, as the store keeps it.
type Override = store.Override

// Build is the Concourse build that recorded a pass or a revocation, as the
// store keeps it.
type Build = store.Build

// Options shape the status view.
type Options struct {
	// Limit is how many of the newest candidates to show; 0 or less shows
	// every one.
	Limit int
}

// View reads a store for the status view.
type View struct {
	st   *store.Store
	src  protocol.Source
	gov  *gate.Governing
	warn func(string)
}

// Open connects to the source's store and reads the policy that governs it.
func Open(ctx context.Context, src protocol.Source, warn func(string)) (*View, error) {
	st, err := store.New(ctx, src)
	if err != nil {
		return nil, err
	}
	gov, err := gate.Stored(ctx, st, src)
	if err != nil {
		return nil, err
	}
	if warn == nil {
		warn = func(string) {}
	}
	return &View{st: st, src: src, gov: gov, warn: warn}, nil
}

func (v *View) storeName() string { return "s3://" + v.src.Bucket + "/" + v.src.Prefix }

// Status reads the status view: the newest candidates (opts.Limit) ×
// the stored policy's environments.
func (v *View) Status(ctx context.Context, opts Options) (*Report, error) {
	envs := EnvironmentOrder(v.gov.Policy)
	// The listing of candidates carries their revocations.
	listed, err := v.st.Candidates(ctx, "")
	if err != nil {
		return nil, err
	}
	var all []store.Candidate
	for _, c := range listed {
		if v.src.InLine(c.Version) {
			all = append(all, c)
		}
	}
	shown := all
	if opts.Limit > 0 && len(shown) > opts.Limit {
		shown = shown[len(shown)-opts.Limit:]
	}
	from := ""
	if len(shown) > 0 && len(shown) < len(all) {
		from = shown[0].Version
	}

	// Each environment's passes from the oldest shown version on, and its
	// deployments (for the live marker), all at once.
	passes := make([][]store.PassKey, len(envs))
	deploys := make([][]store.Deployment, len(envs))
	var tasks []func(context.Context) error
	for i, env := range envs {
		tasks = append(tasks, func(ctx context.Context) (err error) {
			passes[i], err = v.st.Passes(ctx, env, from)
			return err
		}, func(ctx context.Context) (err error) {
			deploys[i], err = v.st.Deployments(ctx, env, time.Time{})
			return err
		})
	}
	if err := gate.Parallel(ctx, tasks...); err != nil {
		return nil, err
	}

	inShown := map[string]bool{}
	for _, c := range shown {
		inShown[c.Version] = true
	}
	byVersion := map[string][]store.PassKey{}
	for _, keys := range passes {
		for _, k := range keys {
			if inShown[k.Version] {
				byVersion[k.Version] = append(byVersion[k.Version], k)
			}
		}
	}

	// The records: each shown candidate's claim (its releases), each of its
	// passes, and each revocation.
	claims := make([]*store.Claim, len(shown))
	records := map[string]Pass{}
	revocations := map[string]*Revocation{}
	var recordKeys []store.PassKey
	for _, keys := range byVersion {
		recordKeys = append(recordKeys, keys...)
	}
	recs := make([]Pass, len(recordKeys))
	revs := make([]*Revocation, len(shown))
	group, gctx := errgroup.WithContext(ctx)
	group.SetLimit(readers)
	for i, c := range shown {
		group.Go(func() (err error) {
			claims[i], err = v.st.Claim(gctx, c.Version)
			if err == nil && claims[i] == nil {
				err = fmt.Errorf("candidate %s is committed but has no claim in the store", c.Version)
			}
			return err
		})
		if c.Revoked {
			group.Go(func() (err error) {
				revs[i], err = v.revocation(gctx, c.Version)
				return err
			})
		}
	}
	for i, k := range recordKeys {
		group.Go(func() (err error) {
			recs[i], err = v.pass(gctx, k)
			return err
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	for i, k := range recordKeys {
		records[k.Key] = recs[i]
	}
	for i, c := range shown {
		if revs[i] != nil {
			revocations[c.Version] = revs[i]
		}
	}

	now, err := v.st.Now()
	if err != nil {
		return nil, err
	}
	report := &Report{Store: v.storeName(), Policy: v.gov.Seq, SemverConstraint: v.src.SemverConstraint, Now: now, Total: len(all)}
	// Every environment's whole deployment history is read (the live
	// markers), so the tested upgrade path and resets are decided on it.
	deployments := gate.Deployments{}
	for i, env := range envs {
		deployments[env] = gate.HistoryOf(deploys[i], false)
	}
	live := map[string]string{}
	for i, env := range envs {
		e := Environment{Name: env, Rule: v.gov.Policy[env]}
		if n := len(deploys[i]); n > 0 {
			d := deploys[i][n-1]
			e.Live = &Deployment{Version: d.Version, Time: d.Time}
			live[env] = d.Version
		}
		report.Environments = append(report.Environments, e)
	}
	for i := len(shown) - 1; i >= 0; i-- {
		c := shown[i]
		keys := byVersion[c.Version]
		store.SortPasses(keys)
		parity, err := v.gov.ParityChecked(ctx, claims[i].PolicySeq)
		if err != nil {
			return nil, err
		}
		ev := policy.Evidence{Version: c.Version, Published: c.Published, Releases: gate.ClaimReleases(claims[i]), ParityChecked: parity, Deployments: deployments.Of}
		for _, k := range keys {
			ev.Passes = append(ev.Passes, policy.Pass{Environment: k.Environment, Time: k.Time})
		}
		row := Candidate{Version: c.Version, Published: c.Published, Revoked: revocations[c.Version], Cells: map[string]Cell{}}
		if c.Revoked && row.Revoked == nil {
			row.Revoked = &Revocation{Reason: "its revocation record is gone"}
		}
		if row.Revoked != nil {
			ev.Revoked = row.Revoked.Reason
		}
		for _, env := range envs {
			cell := Cell{Passes: []Pass{}, Live: live[env] == c.Version}
			for _, k := range keys {
				if k.Environment == env {
					cell.Passes = append(cell.Passes, records[k.Key])
				}
			}
			if err := decide(v.gov.Policy, env, ev, now, &cell); err != nil {
				return nil, err
			}
			row.Cells[env] = cell
		}
		report.Candidates = append(report.Candidates, row)
	}
	if report.Candidates == nil {
		report.Candidates = []Candidate{}
	}
	return report, nil
}

// decide fills the cell's admission: the stored policy's decision now (a
// revoked candidate, ev.Revoked, is admitted nowhere).
func decide(p policy.Policy, env string, ev policy.Evidence, now time.Time, cell *Cell) error {
	err := p.Admit(env, ev, now)
	var refusal *policy.Refusal
	switch {
	case err == nil:
		cell.Eligible = true
	case errors.As(err, &refusal):
		cell.Refusal = refusal.Error()
		cell.refusal = refusal
		cell.SoakLeftSeconds = ceilSeconds(refusal.SoakLeft)
	default:
		return err
	}
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

func seconds(n int64) string { return (time.Duration(n) * time.Second).String() }

func ceilSeconds(d time.Duration) int64 {
	if d <= 0 {
		return 0
	}
	return int64((d + time.Second - 1) / time.Second)
}

// pass reads a pass record. One that is not a record of this resource is
// shown as unreadable, with a warning naming its key, rather than make the
// view fail for good.
func (v *View) pass(ctx context.Context, k store.PassKey) (Pass, error) {
	rec, err := v.st.Pass(ctx, k)
	if errors.Is(err, store.ErrNotRecord) {
		v.warn(fmt.Sprintf("warning: skipping the unreadable pass record %s: %s", v.st.PassKeyName(k), resource.OneLine(err.Error())))
		return Pass{Time: k.Time, Unreadable: true}, nil
	}
	if err != nil {
		return Pass{}, err
	}
	p := Pass{Time: rec.Time, Build: rec.Build, Note: rec.Note, Reset: rec.Reset}
	p.Override = rec.Override
	return p, nil
}

func (v *View) revocation(ctx context.Context, version string) (*Revocation, error) {
	rec, err := v.st.Revocation(ctx, version)
	if errors.Is(err, store.ErrNotRecord) {
		v.warn(fmt.Sprintf("warning: the revocation record of %s is unreadable: %s", version, resource.OneLine(err.Error())))
		return &Revocation{Reason: "(the revocation record is unreadable)"}, nil
	}
	if err != nil || rec == nil {
		return nil, err
	}
	return revocationOf(rec), nil
}

func revocationOf(rec *store.Revocation) *Revocation {
	return &Revocation{Reason: rec.Reason, Time: rec.Time, Build: rec.Build}
}

// EnvironmentOrder lists the policy's environments in promotion order: each
// after the environments it requires (by depth), then by name.
func EnvironmentOrder(p policy.Policy) []string {
	depth := map[string]int{}
	var visit func(env string, seen map[string]bool) int
	visit = func(env string, seen map[string]bool) int {
		if d, ok := depth[env]; ok {
			return d
		}
		if seen[env] {
			return 0 // a cycle: the policy refuses it; do not loop here
		}
		seen[env] = true
		d := 0
		for _, up := range p.Upstream(env) {
			if _, ok := p[up]; ok {
				d = max(d, visit(up, seen)+1)
			}
		}
		depth[env] = d
		return d
	}
	names := p.Names()
	for _, env := range names {
		visit(env, map[string]bool{})
	}
	sort.SliceStable(names, func(i, j int) bool { return depth[names[i]] < depth[names[j]] })
	return slices.Clip(names)
}
