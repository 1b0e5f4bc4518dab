package commands

import (
	"bytes"
	"context"
	"slices"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
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
func Check(ctx context.Context, request []byte, _ []string, env Env) (any, error) {
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
	log Env
	// leftOut are the refusals of the candidates eligible_for left out, in
	// version order, from the last listing.
	leftOut []string
}

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

// run lists the versions of the source's mode from a known version on (or
// all of them), with the stored policy read beside the listings.
func (c *checker) run(ctx context.Context, from *protocol.Version) ([]protocol.Version, error) {
	// The policy decides nothing here, but a source that differs from the
	// stored one is refused all the same.
	readPolicy := func(ctx context.Context) error {
		_, err := gate.Stored(ctx, c.st, c.src)
		return err
	}
	switch {
	case c.src.LiveIn != "":
		var deps []store.Deployment
		err := gate.Parallel(ctx, readPolicy, func(ctx context.Context) (err error) {
			deps, err = c.st.Deployments(ctx, c.src.LiveIn, deployedTime(from))
			return err
		})
		if err != nil {
			return nil, err
		}
		out := make([]protocol.Version, 0, len(deps))
		for _, d := range deps {
			if c.src.InLine(d.Version) {
				out = append(out, deployedVersion(d.Version, d.Time))
			}
		}
		return out, nil
	case c.src.EligibleFor != "":
		return c.eligible(ctx, from)
	default:
		var candidates []store.Candidate
		err := gate.Parallel(ctx, readPolicy, func(ctx context.Context) (err error) {
			candidates, err = c.st.Candidates(ctx, versionOf(from))
			return err
		})
		if err != nil {
			return nil, err
		}
		out := make([]protocol.Version, 0, len(candidates))
		for _, cand := range candidates {
			// A revoked candidate is offered nowhere again; live_in
			// keeps it in the history of what ran.
			if !cand.Revoked && c.src.InLine(cand.Version) {
				out = append(out, protocol.Version{Version: cand.Version})
			}
		}
		return out, nil
	}
}

// eligible lists the candidates the policy admits to eligible_for now. With
// source.environments given, the policy, the candidates and each upstream
// environment's passes are listed at once; without, the stored policy is read
// first to learn the upstream environments.
func (c *checker) eligible(ctx context.Context, from *protocol.Version) ([]protocol.Version, error) {
	target, start := c.src.EligibleFor, versionOf(from)
	var (
		gov         *gate.Governing
		candidates  []store.Candidate
		listed      [][]store.PassKey
		deployments gate.Deployments
	)
	readPolicy := func(ctx context.Context) (err error) {
		gov, err = gate.Stored(ctx, c.st, c.src)
		return err
	}
	listAll := func(ctx context.Context, pol policy.Policy) error {
		upstreams := pol.Upstream(target)
		listed = make([][]store.PassKey, len(upstreams))
		tasks := []func(context.Context) error{func(ctx context.Context) (err error) {
			candidates, err = c.st.Candidates(ctx, start)
			return err
		}, func(ctx context.Context) (err error) {
			// The tested upgrade path and resets read whole deployment
			// histories; other rules none.
			deployments, err = gate.ReadDeployments(ctx, c.st, pol.DeploymentsFor(target))
			return err
		}}
		for i, upstream := range upstreams {
			tasks = append(tasks, func(ctx context.Context) (err error) {
				listed[i], err = c.st.Passes(ctx, upstream, start)
				return err
			})
		}
		return gate.Parallel(ctx, tasks...)
	}
	if c.src.Environments != nil {
		err := gate.Parallel(ctx, readPolicy, func(ctx context.Context) error {
			return listAll(ctx, c.src.Environments)
		})
		if err != nil {
			return nil, err
		}
	} else {
		if err := readPolicy(ctx); err != nil {
			return nil, err
		}
		if err := listAll(ctx, gov.Policy); err != nil {
			return nil, err
		}
	}
	now, err := c.st.Now()
	if err != nil {
		return nil, err
	}
	passes := map[string][]policy.Pass{}
	for _, keys := range listed {
		for _, p := range keys {
			passes[p.Version] = append(passes[p.Version], policy.Pass{Environment: p.Environment, Time: p.Time})
		}
	}
	var eligible []protocol.Version
	c.leftOut = nil
	for _, cand := range candidates {
		if !c.src.InLine(cand.Version) {
			continue
		}
		releases, err := gate.ListedReleases(ctx, gov, cand)
		if err != nil {
			return nil, err
		}
		ev := policy.Evidence{Version: cand.Version, Published: cand.Published, Passes: passes[cand.Version], Releases: releases, Deployments: deployments.Of}
		if cand.Revoked {
			ev.Revoked = "its revocation record says why" // check reads listings only
		}
		switch err := gov.Policy.Admit(target, ev, now); err.(type) {
		case nil:
			eligible = append(eligible, protocol.Version{Version: cand.Version})
		case *policy.Refusal:
			c.leftOut = append(c.leftOut, err.Error())
		default:
			return nil, err
		}
	}
	return eligible, nil
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

func deployedVersion(version string, t time.Time) protocol.Version {
	return protocol.Version{Version: version, Deployed: t.UTC().Format(time.RFC3339Nano)}
}
