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

// History is what was read of an environment's deployments, in time order:
// all of them, or with Partial only the latest ones (a run of the newest,
// every one after the first it holds). See HistoryNeed for what a decision
// needs.
type History struct {
	Deployments []Deployment
	// Partial: earlier deployments exist that were not read.
	Partial bool
}

// newest is the environment's newest deployment; ok false when it has none,
// or when the history is partial and empty (nothing to go on).
func (h History) newest() (Deployment, bool) {
	if n := len(h.Deployments); n > 0 {
		return h.Deployments[n-1], true
	}
	return Deployment{}, false
}

// HistoryNeed is how much of an environment's deployment history a decision
// reads. UpgradeOf "" and Whole false: the newest deployment alone (what it
// runs now). UpgradeOf set: the tested environment of UpgradeOf's
// upgrade_tested_in rule, whose deployments are needed from its first run of
// what UpgradeOf runs now on; earlier ones cannot be the tested upgrade
// (none follows a run of it). Whole: every deployment.
type HistoryNeed struct {
	Env       string
	UpgradeOf string
	Whole     bool
}

// HistoryNeeds lists, in name order, the environments whose deployments
// admission to env depends on, and how much of each: for a rule with
// upgrade_tested_in, what its own environment runs now and the tested
// environment's runs since it first ran that; for the tested environment of
// such a rule, what the rule's environment runs now (a pass of it is a
// reset). An environment needed two ways is read whole.
func (p Policy) HistoryNeeds(env string) []HistoryNeed {
	if env == "" {
		return nil // no admission to decide
	}
	needs := map[string]HistoryNeed{}
	add := func(n HistoryNeed) {
		if old, seen := needs[n.Env]; seen && old != n {
			n = HistoryNeed{Env: n.Env, Whole: true}
		}
		needs[n.Env] = n
	}
	if u := p[env].UpgradeTestedIn; u != "" {
		add(HistoryNeed{Env: env})
		add(HistoryNeed{Env: u, UpgradeOf: env})
	}
	for _, target := range p.UpgradesTestedIn(env) {
		add(HistoryNeed{Env: target})
	}
	out := make([]HistoryNeed, 0, len(needs))
	for _, n := range needs {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b HistoryNeed) int { return strings.Compare(a.Env, b.Env) })
	return out
}

// UpgradesTestedIn names, in name order, the environments whose
// upgrade_tested_in is env: those whose live candidate a pass into env
// resets it to.
func (p Policy) UpgradesTestedIn(env string) []string {
	var out []string
	for _, target := range p.Names() {
		if p[target].UpgradeTestedIn == env {
			out = append(out, target)
		}
	}
	return out
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
	for _, target := range p.UpgradesTestedIn(env) {
		deps, known := ev.Deployments(target)
		if live, ok := deps.newest(); known && ok && live.Version == ev.Version {
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
	liveHistory, known := ev.Deployments(env)
	if !known {
		return "", false
	}
	testedHistory, known := ev.Deployments(rule.UpgradeTestedIn)
	if !known {
		return "", false
	}
	live, deployed := liveHistory.newest()
	switch {
	case !deployed && liveHistory.Partial:
		return "", false // deployments exist, but none was read
	case !deployed:
		return "", true
	}
	runs, tested := live.Version, testedHistory.Deployments
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
		// In a partial history the first run's predecessor was not read.
		if tested[i].Version != ev.Version || i == 0 && testedHistory.Partial {
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
	switch {
	case reason != "":
	case !testedHistory.Partial:
		reason = fmt.Sprintf("%s never ran %s: reset %s to %s, then deploy %s", u, ev.Version, u, runs, ev.Version)
	case len(tested) == 0:
		reason = fmt.Sprintf("%s never ran %s, what %s runs: reset %s to %s, then deploy %s", u, runs, env, u, runs, ev.Version)
	default:
		reason = fmt.Sprintf("%s has not run %s since it first ran %s, what %s runs: reset %s to %s, then deploy %s", u, ev.Version, runs, env, u, runs, ev.Version)
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
