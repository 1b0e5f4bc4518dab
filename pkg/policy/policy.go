// Package policy holds the promotion rules of a resource's source.environments:
// which upstream passes an environment requires, whether its releases must be
// final, and how long the requirements must have held (soak). It decides whether a
// candidate is admitted to an environment now and, when it is not, says why.
package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"
)

// Rule gates one environment. Every field is optional: an empty rule admits
// every candidate.
type Rule struct {
	// RequiresAny: the candidate passed at least one of these environments.
	RequiresAny []string `json:"requires_any,omitempty"`
	// RequiresAll: the candidate passed every one of these environments.
	RequiresAll []string `json:"requires_all,omitempty"`
	// FinalReleases: every release of the manifest rendered for this
	// environment is a final release.
	FinalReleases bool `json:"final_releases,omitempty"`
	// Soak: the requirements were met at least this long ago.
	Soak Duration `json:"soak,omitempty"`
	// UpgradeTestedIn: the candidate was tested in that environment as the
	// very upgrade this one is about to get (see upgrade.go).
	UpgradeTestedIn string `json:"upgrade_tested_in,omitempty"`
	// Parity: this environment's manifest differs from another's only at
	// the allowed paths (checked when publishing, see parity.go).
	Parity *Parity `json:"parity,omitempty"`
	// AllowOverride lets a put with params.override record a pass this rule
	// refuses (break-glass); the record keeps the refusal it overrode.
	AllowOverride bool `json:"allow_override,omitempty"`
}

// Parity is the rule that an environment's rendered manifest equals
// another's but at or below the allowed go-patch paths.
type Parity struct {
	With  string   `json:"with"`
	Allow []string `json:"allow,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("90s", "1h").
type Duration time.Duration

// UnmarshalJSON reads a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("must be a duration string such as \"90s\" or \"1h\"")
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("%q is not a duration (use e.g. \"90s\", \"1h\")", s)
	}
	if v < 0 {
		return fmt.Errorf("%q is negative", s)
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a Go duration string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// Policy maps each declared environment to its rule.
type Policy map[string]Rule

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// Validate checks that every environment name is well formed (at most
// MaxNameLength characters), that every rule names only declared
// environments, and that no requirements form a cycle. Errors name the
// offending key.
func (p Policy) Validate() error {
	for _, env := range p.Names() {
		if !namePattern.MatchString(env) {
			return fmt.Errorf("source.environments: %q is not a valid environment name (lowercase letters, digits, '-', '_', '.')", env)
		}
		if err := checkName(env); err != nil {
			return err
		}
		rule := p[env]
		if err := p.validateLinks(env, rule); err != nil {
			return err
		}
		for field, names := range map[string][]string{"requires_any": rule.RequiresAny, "requires_all": rule.RequiresAll} {
			for _, name := range names {
				if _, ok := p[name]; !ok {
					return fmt.Errorf("source.environments.%s.%s: environment %q is not declared in source.environments", env, field, name)
				}
				if name == env {
					return fmt.Errorf("source.environments.%s.%s: an environment cannot require itself", env, field)
				}
			}
		}
	}
	return p.checkCycles()
}

// Names lists the declared environments in name order.
func (p Policy) Names() []string {
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// Declared fails with a message naming key when env is not declared.
func (p Policy) Declared(key, env string) error {
	if _, ok := p[env]; ok {
		return nil
	}
	if len(p) == 0 {
		return fmt.Errorf("%s: environment %q is not declared (source.environments is empty)", key, env)
	}
	return fmt.Errorf("%s: environment %q is not declared in source.environments (declared: %s)", key, env, strings.Join(p.Names(), ", "))
}

// Upstream lists the environments whose passes decide admission to env, in
// name order, without duplicates.
func (p Policy) Upstream(env string) []string {
	rule := p[env]
	names := slices.Concat(rule.RequiresAny, rule.RequiresAll)
	sort.Strings(names)
	return slices.Compact(names)
}

// Pass is one recorded pass of a candidate through an environment.
type Pass struct {
	Environment string
	Time        time.Time
}

// Release is a BOSH release of a rendered manifest.
type Release struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	Final   bool   `json:"final"`
}

// Evidence is what is known about one candidate when deciding its admission.
type Evidence struct {
	Version string
	// Published is when the candidate was published; soak without any
	// requirement counts from it.
	Published time.Time
	// Passes are the candidate's pass records, in any order.
	Passes []Pass
	// Revoked is the reason the candidate was revoked ("" when it was not):
	// it is never admitted anywhere again.
	Revoked string
	// ParityChecked reports whether the candidate's manifest for an
	// environment was checked, when it was published, against the parity
	// rule the environment has now. Consulted only for rules with parity;
	// unknown (nil, or false) is refused, never admitted.
	ParityChecked func(env string) bool
	// Deployments gives what was read of an environment's deployments, and
	// known false when nothing was. Consulted for upgrade_tested_in (the
	// target's and the tested environment's) and for recognising a reset;
	// Policy.HistoryNeeds names the environments and how much of each.
	Deployments func(env string) (History, bool)
	// Releases returns the releases of the manifest rendered for an
	// environment, and known false when they are unknown (the candidate was
	// published before the environment was declared). It is consulted only
	// for rules with final_releases; unknown is refused, never admitted.
	Releases func(env string) (releases []Release, known bool)
}

// Refusal says why a candidate is not admitted to an environment. Each field
// names one kind of unmet requirement.
type Refusal struct {
	Version     string
	Environment string
	// AnyOf is set when none of requires_any passed.
	AnyOf []string
	// Missing lists the requires_all environments not passed.
	Missing []string
	// NotFinal lists the releases that are not final.
	NotFinal []Release
	// ReleasesUnknown is set when final_releases cannot be decided: the
	// candidate's releases for the environment were never recorded.
	ReleasesUnknown bool
	// Upgrade says why the tested upgrade path does not hold.
	Upgrade string
	// ParityUnknown is set when the candidate was never checked against the
	// environment's parity rule (declared or changed since it was published).
	ParityUnknown *Parity
	// Revoked is the reason the candidate was revoked.
	Revoked string
	// SoakLeft is the time left before the soak is over.
	SoakLeft time.Duration
	Soak     time.Duration
	// SoakUnknown is set when the soak cannot be counted: the time it
	// counts from is unknown (the store gave the candidate no time).
	SoakUnknown bool
}

func (r *Refusal) Error() string {
	if r.Revoked != "" {
		return fmt.Sprintf("candidate %s is not admitted to %s: it was revoked (%s)", r.Version, r.Environment, r.Revoked)
	}
	var reasons []string
	if len(r.AnyOf) > 0 {
		reasons = append(reasons, fmt.Sprintf("needs a pass in one of %s (none yet)", strings.Join(r.AnyOf, ", ")))
	}
	if len(r.Missing) > 0 {
		reasons = append(reasons, fmt.Sprintf("missing passes: %s", strings.Join(r.Missing, ", ")))
	}
	if len(r.NotFinal) > 0 {
		var rels []string
		for _, rel := range r.NotFinal {
			v := rel.Version
			if v == "" {
				v = "(no version)"
			}
			rels = append(rels, rel.Name+" "+v)
		}
		reasons = append(reasons, fmt.Sprintf("releases not final: %s", strings.Join(rels, ", ")))
	}
	if r.ReleasesUnknown {
		reasons = append(reasons, fmt.Sprintf("releases for %s unknown: publish the templates again (the candidate was published before %s was declared)", r.Environment, r.Environment))
	}
	if r.Upgrade != "" {
		reasons = append(reasons, r.Upgrade)
	}
	if r.ParityUnknown != nil {
		reasons = append(reasons, fmt.Sprintf("parity with %s unknown: publish the templates again (the candidate was published before %s's parity rule was what it is now)", r.ParityUnknown.With, r.Environment))
	}
	if r.SoakUnknown {
		reasons = append(reasons, fmt.Sprintf("soak of %s unknown: the store gave the candidate no publication time", r.Soak))
	}
	if r.SoakLeft > 0 {
		reasons = append(reasons, fmt.Sprintf("soaking: %s left of %s", ceilSecond(r.SoakLeft), r.Soak))
	}
	return fmt.Sprintf("candidate %s is not admitted to %s: %s", r.Version, r.Environment, strings.Join(reasons, "; "))
}

// ceilSecond rounds a positive duration up to whole seconds, so a refusal
// never says "0s left".
func ceilSecond(d time.Duration) time.Duration {
	if rounded := d.Truncate(time.Second); rounded < d {
		return rounded + time.Second
	}
	return d
}

// Admit decides whether the candidate is admitted to env at time now. It
// returns nil when admitted, a *Refusal when a requirement is unmet, or another
// error when the evidence could not be read.
func (p Policy) Admit(env string, ev Evidence, now time.Time) error {
	rule, ok := p[env]
	if !ok {
		return p.Declared("environment", env)
	}
	if ev.Revoked != "" {
		return &Refusal{Version: ev.Version, Environment: env, Revoked: ev.Revoked}
	}
	if p.IsReset(env, ev) {
		return nil
	}
	first := firstPasses(ev.Passes)
	refusal := &Refusal{Version: ev.Version, Environment: env}
	if len(rule.RequiresAny) > 0 && !slices.ContainsFunc(rule.RequiresAny, func(name string) bool { _, ok := first[name]; return ok }) {
		refusal.AnyOf = rule.RequiresAny
	}
	for _, name := range rule.RequiresAll {
		if _, ok := first[name]; !ok {
			refusal.Missing = append(refusal.Missing, name)
		}
	}
	met := rule.MetAt(ev)
	if rule.FinalReleases {
		var releases []Release
		known := false
		if ev.Releases != nil {
			releases, known = ev.Releases(env)
		}
		refusal.ReleasesUnknown = !known
		for _, rel := range releases {
			if !rel.Final {
				refusal.NotFinal = append(refusal.NotFinal, rel)
			}
		}
	}
	if rule.Parity != nil && (ev.ParityChecked == nil || !ev.ParityChecked(env)) {
		refusal.ParityUnknown = rule.Parity
	}
	if rule.UpgradeTestedIn != "" {
		reason, known := p.upgradeUntested(env, rule, ev)
		if !known {
			return fmt.Errorf("candidate %s for %s: the deployments of %s and %s were not read", ev.Version, env, env, rule.UpgradeTestedIn)
		}
		refusal.Upgrade = reason
	}
	requirementsMet := len(refusal.AnyOf) == 0 && len(refusal.Missing) == 0
	if soak := time.Duration(rule.Soak); soak > 0 && requirementsMet {
		if met.IsZero() {
			refusal.SoakUnknown, refusal.Soak = true, soak
		} else if left := met.Add(soak).Sub(now); left > 0 {
			// Never more than the soak: a pass time bumped past another
			// within the store's last whole second can be a little ahead.
			refusal.SoakLeft, refusal.Soak = min(left, soak), soak
		}
	}
	if !requirementsMet || len(refusal.NotFinal) > 0 || refusal.ReleasesUnknown || refusal.Upgrade != "" || refusal.ParityUnknown != nil || refusal.SoakLeft > 0 || refusal.SoakUnknown {
		return refusal
	}
	return nil
}

// MetAt is when the rule's requirements were first met, where a soak
// counts from: the first pass of requires_any's earliest environment, or of
// requires_all's last, whichever is later; with no requirement, the
// publication. (Publication is no floor when there are requirements: the
// store's LastModified may read a second later than the Date of a pass
// recorded after it.)
func (r Rule) MetAt(ev Evidence) time.Time {
	first := firstPasses(ev.Passes)
	if len(r.RequiresAny) == 0 && len(r.RequiresAll) == 0 {
		return ev.Published
	}
	var met time.Time
	if len(r.RequiresAny) > 0 {
		var earliest time.Time
		for _, name := range r.RequiresAny {
			if t, ok := first[name]; ok && (earliest.IsZero() || t.Before(earliest)) {
				earliest = t
			}
		}
		met = earliest
	}
	for _, name := range r.RequiresAll {
		if t := first[name]; t.After(met) {
			met = t
		}
	}
	return met
}

// firstPasses maps each environment to the time of its earliest pass.
func firstPasses(passes []Pass) map[string]time.Time {
	first := make(map[string]time.Time, len(passes))
	for _, pass := range passes {
		if t, ok := first[pass.Environment]; !ok || pass.Time.Before(t) {
			first[pass.Environment] = pass.Time
		}
	}
	return first
}
