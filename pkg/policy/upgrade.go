package policy

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Deployment is one pass of an environment, in its time order.
type Deployment struct {
	Version string
	Time    time.Time
}

// DeploymentsFor lists the environments whose deployments admission to env
// depends on: for a rule with upgrade_tested_in, its own environment (what
// it runs now) and the tested one; for the tested environment of such a
// rule, the rule's environment (a pass of what it runs now is a reset).
func (p Policy) DeploymentsFor(env string) []string {
	var envs []string
	if u := p[env].UpgradeTestedIn; u != "" {
		envs = append(envs, env, u)
	}
	for _, target := range p.Names() {
		if p[target].UpgradeTestedIn == env {
			envs = append(envs, target)
		}
	}
	sort.Strings(envs)
	return slices.Compact(envs)
}

// IsReset reports whether a pass of the candidate into env is a reset: env
// is the tested environment of an upgrade_tested_in rule, and the candidate
// is what that rule's environment runs now. A reset needs no other
// requirement: it puts env back to what production runs, so that the next
// candidate is tested as the very upgrade production will get.
func (p Policy) IsReset(env string, ev Evidence) bool {
	if ev.Deployments == nil {
		return false
	}
	for _, target := range p.Names() {
		if p[target].UpgradeTestedIn != env {
			continue
		}
		deps, known := ev.Deployments(target)
		if known && len(deps) > 0 && deps[len(deps)-1].Version == ev.Version {
			return true
		}
	}
	return false
}

// upgradeUntested says why the tested upgrade path into env does not hold
// for the candidate ("" when it holds), or known false when the
// deployments it needs were not given. It holds when the candidate's pass in
// the tested environment directly followed a pass there of the candidate env
// runs now, and the rule's requirements that are recorded there (those whose
// own rule requires the tested environment, such as staging-tests) passed
// while it still ran the candidate. With nothing deployed to env yet, it
// holds.
func (p Policy) upgradeUntested(env string, rule Rule, ev Evidence) (string, bool) {
	if ev.Deployments == nil {
		return "", false
	}
	live, known := ev.Deployments(env)
	if !known {
		return "", false
	}
	tested, known := ev.Deployments(rule.UpgradeTestedIn)
	if !known {
		return "", false
	}
	if len(live) == 0 {
		return "", true
	}
	runs := live[len(live)-1].Version
	if runs == ev.Version {
		return "", true // it runs there already: no upgrade
	}
	u := rule.UpgradeTestedIn
	var alongside []string
	for _, r := range rule.RequiresAll {
		if r != u && (slices.Contains(p[r].RequiresAll, u) || slices.Contains(p[r].RequiresAny, u)) {
			alongside = append(alongside, r)
		}
	}
	// The candidate's runs in the tested environment, newest first: one
	// that holds is enough; the refusal tells of the newest.
	reason := ""
	for i := len(tested) - 1; i >= 0; i-- {
		if tested[i].Version != ev.Version {
			continue
		}
		why := upgradeRun(tested, i, env, u, runs, ev, alongside)
		if why == "" {
			return "", true
		}
		if reason == "" {
			reason = why
		}
	}
	if reason == "" {
		reason = fmt.Sprintf("%s never ran %s: reset %s to %s, then deploy %s", u, ev.Version, u, runs, ev.Version)
	}
	return reason, true
}

// upgradeRun says why run i of the candidate in the tested environment u is
// not the tested upgrade from runs ("" when it is).
func upgradeRun(tested []Deployment, i int, env, u, runs string, ev Evidence, alongside []string) string {
	var from string
	if i > 0 {
		from = tested[i-1].Version
	}
	switch {
	case from == "":
		return fmt.Sprintf("%s tested %s as a fresh install, but %s runs %s: reset %s to %s and deploy %s again", u, ev.Version, env, runs, u, runs, ev.Version)
	case from != runs:
		return fmt.Sprintf("%s tested %s as an upgrade from %s, but %s runs %s: reset %s to %s and deploy %s again", u, ev.Version, from, env, runs, u, runs, ev.Version)
	}
	var end time.Time // until the next deployment of u; zero: none yet
	var next string
	if i+1 < len(tested) {
		end, next = tested[i+1].Time, tested[i+1].Version
	}
	var stale []string
	for _, r := range alongside {
		if !passedWithin(ev.Passes, r, tested[i].Time, end) {
			stale = append(stale, r)
		}
	}
	switch {
	case len(stale) == 0:
		return ""
	case next != "":
		return fmt.Sprintf("%s did not pass %s while %s ran it as the upgrade from %s (%s moved on to %s): deploy %s to %s again, from %s, and test it", strings.Join(stale, ", "), ev.Version, u, runs, u, next, ev.Version, u, runs)
	}
	return fmt.Sprintf("%s did not pass %s since %s upgraded to it from %s", strings.Join(stale, ", "), ev.Version, u, runs)
}

// ClockResolution is how far apart two times recorded by different
// processes must be for their order to be known: the store's clock comes
// from its Date header, which has whole seconds. (Times of one environment's
// deployments, and of a pass and the passes it builds on, are ordered
// exactly: see store.NextDeploymentTime.)
const ClockResolution = time.Second

// passedWithin reports whether env has a pass at or after from and surely
// before end (a zero end: no end). A pass within ClockResolution of end may
// have come after it, so it does not count: unknown order is not admitted.
func passedWithin(passes []Pass, env string, from, end time.Time) bool {
	for _, p := range passes {
		if p.Environment == env && !p.Time.Before(from) && (end.IsZero() || p.Time.Before(end.Add(-ClockResolution))) {
			return true
		}
	}
	return false
}

// Unreachable lists, in name order, the environments a candidate can never
// be admitted to: those whose rule wants final releases where the candidate's
// manifest has one that is not, and those that require such an environment
// (all of requires_all, or every one of requires_any).
func (p Policy) Unreachable(nonFinal func(env string) bool) []string {
	out := map[string]bool{}
	for changed := true; changed; {
		changed = false
		for _, env := range p.Names() {
			if out[env] {
				continue
			}
			rule := p[env]
			blocked := rule.FinalReleases && nonFinal(env)
			for _, r := range rule.RequiresAll {
				blocked = blocked || out[r]
			}
			if len(rule.RequiresAny) > 0 {
				all := true
				for _, r := range rule.RequiresAny {
					all = all && out[r]
				}
				blocked = blocked || all
			}
			if blocked {
				out[env], changed = true, true
			}
		}
	}
	names := make([]string, 0, len(out))
	for env := range out {
		names = append(names, env)
	}
	sort.Strings(names)
	return names
}
