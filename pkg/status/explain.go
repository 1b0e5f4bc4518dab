package status

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Explanation is the admission decision for one candidate and environment
// now: the JSON of `candidates explain --json`.
type Explanation struct {
	Store       string    `json:"store"`
	Policy      int       `json:"policy"`
	Now         time.Time `json:"now"`
	Version     string    `json:"version"`
	Environment string    `json:"environment"`
	Published   time.Time `json:"published"`
	// Admitted reports whether a pass would be recorded now.
	Admitted bool `json:"admitted"`
	// Refusal is the reason it would be refused, word for word.
	Refusal string `json:"refusal,omitempty"`
	// Requirements are every requirement of the rule (and that the
	// candidate is not revoked), each met or not.
	Requirements []Requirement `json:"requirements"`
	// Passes are the candidate's own passes in the environment.
	Passes []Pass `json:"passes"`
	// Live is what the environment runs now (its newest deployment).
	Live *Deployment `json:"live,omitempty"`
}

// Requirement kinds.
const (
	KindNotRevoked    = "not_revoked"
	KindRequiresAny   = "requires_any"
	KindRequiresAll   = "requires_all"
	KindFinalReleases = "final_releases"
	KindSoak          = "soak"
	// KindUpgrade is upgrade_tested_in: the candidate was tested in that
	// environment as the very upgrade this one is about to get.
	KindUpgrade = "upgrade_tested_in"
	// KindReset is a pass that would reset the environment to what an
	// upgrade_tested_in rule's environment runs now: it needs no other
	// requirement.
	KindReset = "reset"
	// KindRule is a refusal of the rule that none of the kinds above
	// accounts for; its text is the refusal's.
	KindRule = "rule"
)

// Requirement is one requirement and whether the candidate meets it now.
type Requirement struct {
	Kind string `json:"kind"`
	Text string `json:"text"`
	Met  bool   `json:"met"`
	// Environments are the environments a requires_any or requires_all
	// requirement names (one for requires_all).
	Environments []string `json:"environments,omitempty"`
	// Passes are the candidate's passes there.
	Passes []EnvPass `json:"passes,omitempty"`
	// Releases of the environment's manifest, with finality
	// (final_releases); ReleasesKnown false when they were never recorded.
	Releases      []policy.Release `json:"releases,omitempty"`
	ReleasesKnown *bool            `json:"releases_known,omitempty"`
	// The soak: how long, since when the requirements were met (unset when
	// they are not), and what is left.
	SoakSeconds     int64      `json:"soak_seconds,omitempty"`
	Since           *time.Time `json:"since,omitempty"`
	SoakLeftSeconds int64      `json:"soak_left_seconds,omitempty"`
	// Revoked is the revocation (not_revoked, when not met).
	Revoked *Revocation `json:"revoked,omitempty"`
}

// EnvPass is a pass and its environment.
type EnvPass struct {
	Environment string `json:"environment"`
	Pass
}

// Explain reads what decides the admission of version to env now.
func (v *View) Explain(ctx context.Context, version, env string) (*Explanation, error) {
	if err := v.gov.Policy.Declared("ENV", env); err != nil {
		return nil, err
	}
	if _, ok := store.VersionKey(version); ok && !v.src.InLine(version) {
		return nil, fmt.Errorf("VERSION: %s is outside source.semver_constraint %q", version, v.src.SemverConstraint)
	}
	envs := v.gov.Policy.Names()
	var (
		cand    *gate.Candidate
		deploys []store.Deployment
	)
	err := gate.Parallel(ctx, func(ctx context.Context) (err error) {
		cand, err = gate.ReadCandidate(ctx, v.st, v.gov, version, envs, env)
		return err
	}, func(ctx context.Context) (err error) {
		deploys, err = v.st.Deployments(ctx, env, time.Time{})
		return err
	})
	if err != nil {
		return nil, err
	}
	records := make([]Pass, len(cand.Passes))
	group, gctx := errgroup.WithContext(ctx)
	group.SetLimit(readers)
	for i, k := range cand.Passes {
		group.Go(func() (err error) {
			records[i], err = v.pass(gctx, k)
			return err
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	now, err := v.st.Now()
	if err != nil {
		return nil, err
	}
	passes := make([]EnvPass, len(cand.Passes))
	for i, k := range cand.Passes {
		passes[i] = EnvPass{Environment: k.Environment, Pass: records[i]}
	}
	x := &Explanation{
		Store: v.storeName(), Policy: v.gov.Seq, Now: now,
		Version: version, Environment: env, Published: cand.Published, Passes: []Pass{},
	}
	for _, p := range passes {
		if p.Environment == env {
			x.Passes = append(x.Passes, p.Pass)
		}
	}
	if n := len(deploys); n > 0 {
		x.Live = &Deployment{Version: deploys[n-1].Version, Time: deploys[n-1].Time}
	}
	var revoked *Revocation
	if cand.Revocation != nil {
		revoked = revocationOf(cand.Revocation)
	} else if cand.Evidence.Revoked != "" {
		revoked = &Revocation{Reason: cand.Evidence.Revoked}
	}
	if err := explain(x, v.gov.Policy, cand.Evidence, passes, revoked); err != nil {
		return nil, err
	}
	return x, nil
}

// explain decides and lists the requirements. Whether each is met is read
// from the policy's own refusal, so the list never disagrees with the
// decision a put would get. For a revoked candidate (revoked, and
// ev.Revoked) the decision is the revocation; the other requirements are
// shown as they would stand without it.
func explain(x *Explanation, p policy.Policy, ev policy.Evidence, passes []EnvPass, revoked *Revocation) error {
	env, rule, now := x.Environment, p[x.Environment], x.Now
	if revoked != nil && ev.Revoked == "" {
		ev.Revoked = revoked.Reason
	}
	decision := p.Admit(env, ev, now)
	var final *policy.Refusal
	if decision != nil && !errors.As(decision, &final) {
		return decision
	}
	x.Admitted = decision == nil
	if final != nil {
		x.Refusal = final.Error()
	}
	unrevoked := ev
	unrevoked.Revoked = ""
	err := p.Admit(env, unrevoked, now)
	refusal := &policy.Refusal{}
	if err != nil && !errors.As(err, &refusal) {
		return err
	}
	ev = unrevoked

	notRevoked := Requirement{Kind: KindNotRevoked, Text: "not revoked", Met: revoked == nil}
	if revoked == nil && final != nil && final.Revoked != "" {
		revoked = &Revocation{Reason: final.Revoked}
	}
	if revoked != nil {
		notRevoked.Met = false
		notRevoked.Text = "not revoked: revoked"
		if !revoked.Time.IsZero() {
			notRevoked.Text += " at " + stamp(revoked.Time)
		}
		if b := gate.DescribeBuild(revoked.Build); b != "" {
			notRevoked.Text += " by " + b
		}
		notRevoked.Text += ": " + revoked.Reason
		notRevoked.Revoked = revoked
	}
	x.Requirements = []Requirement{notRevoked}
	if err == nil && p.IsReset(env, ev) {
		x.Requirements = append(x.Requirements, Requirement{
			Kind: KindReset, Met: true,
			Text: fmt.Sprintf("a reset: %s is what %s runs now, so a pass of %s needs no other requirement", x.Version, strings.Join(p.UpgradesTestedIn(env), ", "), env),
		})
		return nil
	}

	in := func(names ...string) []EnvPass {
		var out []EnvPass
		for _, p := range passes {
			for _, n := range names {
				if p.Environment == n {
					out = append(out, p)
				}
			}
		}
		return out
	}
	if len(rule.RequiresAny) > 0 {
		x.Requirements = append(x.Requirements, Requirement{
			Kind: KindRequiresAny, Text: "passed one of " + strings.Join(rule.RequiresAny, ", "),
			Met: len(refusal.AnyOf) == 0, Environments: rule.RequiresAny, Passes: in(rule.RequiresAny...),
		})
	}
	for _, name := range rule.RequiresAll {
		missing := false
		for _, m := range refusal.Missing {
			missing = missing || m == name
		}
		x.Requirements = append(x.Requirements, Requirement{
			Kind: KindRequiresAll, Text: "passed " + name,
			Met: !missing, Environments: []string{name}, Passes: in(name),
		})
	}
	if rule.FinalReleases {
		var releases []policy.Release
		known := false
		if ev.Releases != nil {
			releases, known = ev.Releases(env)
		}
		r := Requirement{
			Kind: KindFinalReleases, Text: "every release of the " + env + " manifest is final",
			Met: !refusal.ReleasesUnknown && len(refusal.NotFinal) == 0, Releases: releases, ReleasesKnown: &known,
		}
		if !known {
			r.Text += " (its releases are unknown: the candidate was published before " + env + " was declared)"
		}
		x.Requirements = append(x.Requirements, r)
	}
	if u := rule.UpgradeTestedIn; u != "" {
		r := Requirement{Kind: KindUpgrade, Met: refusal.Upgrade == "", Environments: []string{u}, Passes: in(u)}
		r.Text = fmt.Sprintf("tested in %s as the upgrade from what %s runs now", u, env)
		if x.Live != nil {
			r.Text = fmt.Sprintf("tested in %s as the upgrade from %s, what %s runs now", u, x.Live.Version, env)
		} else {
			r.Text += " (nothing yet: it holds)"
		}
		if refusal.Upgrade != "" {
			r.Text += ": " + refusal.Upgrade
		}
		x.Requirements = append(x.Requirements, r)
	}
	requirementsMet := len(refusal.AnyOf) == 0 && len(refusal.Missing) == 0
	if soak := time.Duration(rule.Soak); soak > 0 {
		r := Requirement{Kind: KindSoak, SoakSeconds: ceilSeconds(soak), SoakLeftSeconds: ceilSeconds(refusal.SoakLeft)}
		r.Met = requirementsMet && refusal.SoakLeft <= 0 && !refusal.SoakUnknown
		switch {
		case !requirementsMet:
			r.Text = fmt.Sprintf("soaked %s since the requirements were met (they are not yet)", soak)
		case refusal.SoakUnknown:
			r.Text = fmt.Sprintf("soaked %s: unknown, the store gave the candidate no publication time", soak)
		default:
			since := rule.MetAt(ev)
			r.Since = &since
			r.Text = fmt.Sprintf("soaked %s since the requirements were met at %s", soak, stamp(since))
			if !r.Met {
				r.Text += fmt.Sprintf(": %s left", time.Duration(r.SoakLeftSeconds)*time.Second)
			}
		}
		x.Requirements = append(x.Requirements, r)
	}
	if err != nil {
		accounted := false
		for _, r := range x.Requirements[1:] {
			accounted = accounted || !r.Met
		}
		if !accounted {
			x.Requirements = append(x.Requirements, Requirement{Kind: KindRule, Text: refusal.Error()})
		}
	}
	return nil
}
