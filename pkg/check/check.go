// Package check is the resource's check: the versions of a source's mode,
// from a known version on, by listings only. It links neither rendering nor
// archives, so a check process starts small.
package check

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Check lists versions, oldest first, from the requested version when it is
// still valid, otherwise only the newest. By source mode: every candidate
// (semver order), the candidates eligible_for an environment now (semver
// order), or the deployments live_in an environment (deployment order).
//
// From a known version, each listing starts at that version's key (or that
// deployment's time), so a check costs one request per prefix when nothing
// is new. Only when the requested version is gone does it read the whole
// history, to find the newest.
func Check(ctx context.Context, request []byte, _ []string, env resource.Env) (any, error) {
	req, err := protocol.DecodeCheck(bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	c := &checker{st: st, src: req.Source, log: env}
	var from *protocol.Version
	if req.Version != nil && req.Version.Version != "" {
		from = req.Version
	}
	versions, err := c.run(ctx, from)
	if err != nil {
		return nil, err
	}
	if from != nil {
		if i := slices.Index(versions, *from); i >= 0 {
			c.explain()
			return versions[i:], nil
		}
		// The requested version is not valid any more: the newest alone.
		if versions, err = c.run(ctx, nil); err != nil {
			return nil, err
		}
	}
	c.explain()
	return versions[max(0, len(versions)-1):], nil
}

type checker struct {
	st  *store.Store
	src protocol.Source
	log resource.Env
	// leftOut are the refusals of the candidates eligible_for left out, in
	// version order, from the last listing.
	leftOut []string
}

// revokedInListing is the reason check gives for a revocation: it reads
// listings only, and the reason is in the record.
const revokedInListing = "its revocation record says why"

// maxExplained is how many of the newest left-out candidates check explains.
const maxExplained = 5

// explain writes, for the newest candidates eligible_for left out, one line
// each with the reason: Concourse shows a check's log.
func (c *checker) explain() {
	from := max(0, len(c.leftOut)-maxExplained)
	for _, reason := range c.leftOut[from:] {
		c.log.Logf("not offered: %s", reason)
	}
}

// collected gathers a listing's versions: every one from a known version
// on, or only the newest when there is none, so that a first check holds one
// version whatever the history.
type collected struct {
	all      bool
	versions []protocol.Version
}

func (c *collected) add(v protocol.Version) {
	if c.all || len(c.versions) == 0 {
		c.versions = append(c.versions, v)
		return
	}
	c.versions[0] = v
}

// run lists the versions of the source's mode from a known version on (or
// the newest alone), with the stored policy read beside the listings where
// it decides something. The listings stream, a page ahead of the reader.
func (c *checker) run(ctx context.Context, from *protocol.Version) ([]protocol.Version, error) {
	out := &collected{all: from != nil, versions: []protocol.Version{}}
	switch {
	case c.src.LiveIn != "":
		deps := c.st.StreamDeployments(ctx, c.src.LiveIn, deployedTime(from))
		defer deps.Close()
		// The policy decides nothing here, but a source that differs from
		// the stored one is refused all the same.
		if _, err := gate.Stored(ctx, c.st, c.src); err != nil {
			return nil, err
		}
		for d, ok := deps.Next(); ok; d, ok = deps.Next() {
			if c.src.InLine(d.Version) {
				out.add(protocol.DeployedVersion(d.Version, d.Time))
			}
		}
		return out.versions, deps.Err()
	case c.src.EligibleFor != "":
		return c.eligible(ctx, from, out)
	default:
		candidates, err := c.st.StreamCandidates(ctx, versionOf(from))
		if err != nil {
			return nil, err
		}
		defer candidates.Close()
		// Every candidate is offered whatever the policy, so the stored
		// policy is read only to hold source.environments to it: without
		// them, it decides nothing here and costs a listing and a GET.
		if c.src.Environments != nil {
			if _, err := gate.Stored(ctx, c.st, c.src); err != nil {
				return nil, err
			}
		}
		for cand, ok := candidates.Next(); ok; cand, ok = candidates.Next() {
			// A revoked candidate is offered nowhere again; live_in
			// keeps it in the history of what ran.
			if !cand.Revoked && c.src.InLine(cand.Version) {
				out.add(protocol.Version{Version: cand.Version})
			}
		}
		return out.versions, candidates.Err()
	}
}

// eligible lists the candidates the policy admits to eligible_for now. The
// candidates and each upstream environment's passes stream in version order
// and are walked together, so memory holds a page of each, not the history.
// With source.environments given the listings start beside the policy's;
// without, the stored policy is read first to learn the upstream
// environments.
func (c *checker) eligible(ctx context.Context, from *protocol.Version, out *collected) ([]protocol.Version, error) {
	target, start := c.src.EligibleFor, versionOf(from)
	pol := c.src.Environments
	var gov *gate.Governing
	var err error
	if pol == nil {
		if gov, err = gate.Stored(ctx, c.st, c.src); err != nil {
			return nil, err
		}
		pol = gov.Policy
	}
	candidates, err := c.st.StreamCandidates(ctx, start)
	if err != nil {
		return nil, err
	}
	defer candidates.Close()
	upstreams := pol.Upstream(target)
	passes := make([]*store.Stream[store.PassKey], len(upstreams))
	for i, env := range upstreams {
		if passes[i], err = c.st.StreamPasses(ctx, env, start); err != nil {
			return nil, err
		}
		defer passes[i].Close()
	}
	var deployments gate.Deployments
	err = gate.Parallel(ctx, func(ctx context.Context) (err error) {
		if gov == nil {
			gov, err = gate.Stored(ctx, c.st, c.src)
		}
		return err
	}, func(ctx context.Context) (err error) {
		// The tested upgrade path and resets read deployments (a page,
		// or the newest and the runs since); other rules none.
		deployments, err = gate.ReadDeployments(ctx, c.st, pol.HistoryNeeds(target))
		return err
	})
	if err != nil {
		return nil, err
	}
	now, err := c.st.Now()
	if err != nil {
		return nil, err
	}
	c.leftOut = nil
	for cand, ok := candidates.Next(); ok; cand, ok = candidates.Next() {
		// Every candidate takes its passes from the streams, in line or not,
		// so the streams keep step with the candidates.
		ev := policy.Evidence{Version: cand.Version, Published: cand.Published, Passes: passesOf(passes, cand.VersionKey), Deployments: deployments.Of}
		if !c.src.InLine(cand.Version) {
			continue
		}
		if ev.Releases, err = gate.ListedReleases(ctx, gov, cand); err != nil {
			return nil, err
		}
		if ev.ParityChecked, err = gov.ParityChecked(ctx, cand.PolicySeq); err != nil {
			return nil, err
		}
		if cand.Revoked {
			ev.Revoked = revokedInListing
		}
		switch err := gov.Policy.Admit(target, ev, now); err.(type) {
		case nil:
			out.add(protocol.Version{Version: cand.Version})
		case *policy.Refusal:
			if len(c.leftOut) == maxExplained {
				c.leftOut = c.leftOut[1:]
			}
			c.leftOut = append(c.leftOut, err.Error())
		default:
			return nil, err
		}
	}
	if err := candidates.Err(); err != nil {
		return nil, err
	}
	for _, p := range passes {
		for _, ok := p.Next(); ok; _, ok = p.Next() {
		}
		if err := p.Err(); err != nil {
			return nil, err
		}
	}
	return out.versions, nil
}

// passesOf takes from each stream the passes of the version with key vk,
// skipping those of lower versions (passes of candidates not listed).
func passesOf(streams []*store.Stream[store.PassKey], vk string) []policy.Pass {
	var out []policy.Pass
	for _, s := range streams {
		for p, ok := s.Peek(); ok && p.VersionKey <= vk; p, ok = s.Peek() {
			s.Next()
			if p.VersionKey == vk {
				out = append(out, policy.Pass{Environment: p.Environment, Time: p.Time})
			}
		}
	}
	return out
}

func versionOf(v *protocol.Version) string {
	if v == nil {
		return ""
	}
	return v.Version
}

// deployedTime is the time of a requested live_in version; zero for none (or
// one that is not a deployment: the whole history is read then).
func deployedTime(v *protocol.Version) time.Time {
	if v == nil || v.Deployed == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v.Deployed)
	if err != nil {
		return time.Time{}
	}
	return t
}
