// Package gate decides admissions against the policy stored for a prefix:
// it holds each request to the stored policy (one policy per store) and
// gathers what the store says of a candidate for the policy to decide on.
package gate

import (
	"context"
	"fmt"
	"slices"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Governing is the stored policy that governs a request: one policy per
// store. A source may omit environments (the stored policy applies) but may
// not differ from it.
type Governing struct {
	// Seq is the stored policy's number; 0 when nothing is stored yet (no
	// candidate was ever published under this prefix).
	Seq    int
	Digest string
	Policy policy.Policy
	// NextSeq is the number a new policy takes (store.Policies).
	NextSeq int
	keys    []store.PolicyKey
	older   map[int]policy.Policy // earlier policies, read on demand
	parity  map[int]func(string) bool
	st      *store.Store
}

// Stored reads the stored policy and holds the request's
// source.environments to it.
func Stored(ctx context.Context, st *store.Store, src protocol.Source) (*Governing, error) {
	keys, next, err := st.Policies(ctx)
	if err != nil {
		return nil, err
	}
	return holdTo(ctx, st, src, keys, next)
}

// holdTo decides the governing policy from the listed policy keys.
func holdTo(ctx context.Context, st *store.Store, src protocol.Source, keys []store.PolicyKey, next int) (*Governing, error) {
	g := &Governing{NextSeq: next, keys: keys, st: st, older: map[int]policy.Policy{}, parity: map[int]func(string) bool{}}
	if len(keys) == 0 {
		g.Policy = src.Environments
		return g, nil
	}
	newest := keys[len(keys)-1]
	g.Seq, g.Digest = newest.Seq, newest.Digest
	if src.Environments != nil && src.Environments.Digest() == newest.Digest {
		g.Policy = src.Environments
		return g, src.CheckDeclared(g.Policy)
	}
	rec, err := st.ReadPolicy(ctx, newest)
	if err != nil {
		return nil, err
	}
	if src.Environments != nil {
		return nil, fmt.Errorf("source.environments differs from the policy stored for this prefix (policy %d%s): %s; omit source.environments to use the stored policy, or change it with a put of params.update_policy: true",
			rec.Seq, storedBy(rec), src.Environments.FirstDifference(rec.Environments))
	}
	g.Policy = rec.Environments
	return g, src.CheckDeclared(g.Policy)
}

func storedBy(rec store.PolicyRecord) string {
	if b := DescribeBuild(rec.Build); b != "" {
		return ", stored by " + b
	}
	return ""
}

// DescribeBuild is a short human name of a build ("main/redis/deploy #7").
func DescribeBuild(b store.Build) string {
	switch {
	case b.Job != "":
		return fmt.Sprintf("%s/%s/%s #%s", b.Team, b.Pipeline, b.Job, b.Name)
	case b.ID != "":
		return "build " + b.ID
	}
	return ""
}

// RequireStored reports whether a policy is stored, failing with a line that says
// what to do when none is.
func (g *Governing) RequireStored() error {
	if g.Seq == 0 {
		return fmt.Errorf("nothing is published under this prefix yet: the first publish stores source.environments as the policy")
	}
	return nil
}

// EnvironmentsOf lists, in name order, the environments of policy seq: the
// environments a candidate validated under it has releases recorded for.
func (g *Governing) EnvironmentsOf(ctx context.Context, seq int) ([]string, error) {
	p, err := g.PolicyOf(ctx, seq)
	return p.Names(), err
}

// PolicyOf is stored policy number seq (read on demand); nil for a number
// that is not stored: nothing validated under it is known.
func (g *Governing) PolicyOf(ctx context.Context, seq int) (policy.Policy, error) {
	if seq == g.Seq {
		return g.Policy, nil
	}
	if p, ok := g.older[seq]; ok {
		return p, nil
	}
	i := slices.IndexFunc(g.keys, func(k store.PolicyKey) bool { return k.Seq == seq })
	if i < 0 {
		g.older[seq] = nil
		return nil, nil
	}
	rec, err := g.st.ReadPolicy(ctx, g.keys[i])
	if err != nil {
		return nil, err
	}
	g.older[seq] = rec.Environments
	return rec.Environments, nil
}

// ParityChecked reports, for each environment, whether a candidate
// validated under policy seq had its manifest checked against the parity
// rule the governing policy has for it now: the same rule, then. A rule
// declared or changed since was never checked for the candidate.
func (g *Governing) ParityChecked(ctx context.Context, seq int) (func(string) bool, error) {
	if checked, ok := g.parity[seq]; ok {
		return checked, nil
	}
	validated, err := g.PolicyOf(ctx, seq)
	if err != nil {
		return nil, err
	}
	now, then := g.Policy.Canonical(), validated.Canonical()
	g.parity[seq] = func(env string) bool {
		a, b := now[env].Parity, then[env].Parity
		return a != nil && b != nil && a.With == b.With && slices.Equal(a.Allow, b.Allow)
	}
	return g.parity[seq], nil
}
