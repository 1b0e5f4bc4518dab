package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Canonical is the policy with each rule's lists sorted and without
// duplicates: the same rules, written one way.
func (p Policy) Canonical() Policy {
	out := make(Policy, len(p))
	for env, rule := range p {
		rule.RequiresAny = sortedSet(rule.RequiresAny)
		rule.RequiresAll = sortedSet(rule.RequiresAll)
		if rule.Parity != nil {
			par := *rule.Parity
			par.Allow = sortedSet(par.Allow)
			rule.Parity = &par
		}
		out[env] = rule
	}
	return out
}

func sortedSet(names []string) []string {
	if len(names) == 0 {
		return nil
	}
	s := slices.Clone(names)
	slices.Sort(s)
	return slices.Compact(s)
}

// Digest is the sha256 of the canonical policy's JSON: two sources with the
// same rules have the same digest whatever order they list them in.
func (p Policy) Digest() string {
	b, err := json.Marshal(p.Canonical())
	if err != nil {
		panic(err) // a map of plain structs always marshals
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// FirstDifference names the first place where p (this request's) differs
// from stored, e.g. `source.environments.production.soak: 0s here, 1h in the
// store`; "" when the two are the same rules.
func (p Policy) FirstDifference(stored Policy) string {
	here, there := p.Canonical(), stored.Canonical()
	names := sortedSet(append(here.Names(), there.Names()...))
	for _, env := range names {
		key := "source.environments." + env
		a, inHere := here[env]
		b, inThere := there[env]
		switch {
		case !inThere:
			return fmt.Sprintf("%s: declared here, not in the store", key)
		case !inHere:
			return fmt.Sprintf("%s: not declared here, declared in the store", key)
		}
		if d := a.firstDifference(b); d != "" {
			return key + "." + d
		}
	}
	return ""
}

func (r Rule) firstDifference(o Rule) string {
	list := func(s []string) string { return "[" + strings.Join(s, ", ") + "]" }
	switch {
	case !slices.Equal(r.RequiresAny, o.RequiresAny):
		return fmt.Sprintf("requires_any: %s here, %s in the store", list(r.RequiresAny), list(o.RequiresAny))
	case !slices.Equal(r.RequiresAll, o.RequiresAll):
		return fmt.Sprintf("requires_all: %s here, %s in the store", list(r.RequiresAll), list(o.RequiresAll))
	case r.FinalReleases != o.FinalReleases:
		return fmt.Sprintf("final_releases: %t here, %t in the store", r.FinalReleases, o.FinalReleases)
	case r.Soak != o.Soak:
		return fmt.Sprintf("soak: %s here, %s in the store", ShortDuration(time.Duration(r.Soak)), ShortDuration(time.Duration(o.Soak)))
	}
	a, _ := json.Marshal(r)
	b, _ := json.Marshal(o)
	if string(a) != string(b) {
		return fmt.Sprintf("rule: %s here, %s in the store", a, b)
	}
	return ""
}

// ShortDuration writes a duration without zero minutes and seconds: 1h, 1h30m, 90s → 1m30s.
func ShortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
