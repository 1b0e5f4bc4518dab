package commands

import (
	"bytes"
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Check lists versions, oldest first, from the requested version when it is
// still valid, otherwise only the newest. By source mode: every candidate
// (semver order), the candidates eligible_for an environment now (semver
// order), or the deployments live_in an environment (deployment order).
func Check(ctx context.Context, request []byte, _ []string, env Env) (any, error) {
	req, err := protocol.DecodeCheck(bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	var versions []protocol.Version
	switch src := req.Source; {
	case src.LiveIn != "":
		versions, err = liveVersions(ctx, st, src.LiveIn)
	case src.EligibleFor != "":
		versions, err = eligibleVersions(ctx, st, src.Environments, src.EligibleFor, env.Now())
	default:
		versions, err = candidateVersions(ctx, st)
	}
	if err != nil {
		return nil, err
	}
	return fromRequested(versions, req.Version), nil
}

// fromRequested applies the protocol: from the requested version on when it
// is in the list, otherwise the newest alone.
func fromRequested(versions []protocol.Version, requested *protocol.Version) []protocol.Version {
	if len(versions) == 0 {
		return []protocol.Version{}
	}
	if requested != nil {
		for i, v := range versions {
			if v == *requested {
				return versions[i:]
			}
		}
	}
	return versions[len(versions)-1:]
}

func candidateVersions(ctx context.Context, st *store.Store) ([]protocol.Version, error) {
	candidates, err := st.Candidates(ctx)
	if err != nil {
		return nil, err
	}
	return versionsOf(sortCandidates(candidates)), nil
}

func eligibleVersions(ctx context.Context, st *store.Store, pol policy.Policy, target string, now time.Time) ([]protocol.Version, error) {
	// The candidates and each upstream environment's passes are listed at
	// once: each is its own paginated listing.
	var (
		candidates []store.Candidate
		upstreams  = pol.Upstream(target)
		listed     = make([][]store.PassKey, len(upstreams))
	)
	group, gctx := errgroup.WithContext(ctx)
	group.Go(func() (err error) {
		candidates, err = st.Candidates(gctx)
		return err
	})
	for i, upstream := range upstreams {
		group.Go(func() (err error) {
			listed[i], err = st.Passes(gctx, upstream)
			return err
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	passes := map[string][]policy.Pass{}
	for _, keys := range listed {
		for _, p := range keys {
			passes[p.Version] = append(passes[p.Version], policy.Pass{Environment: p.Environment, Time: p.Time})
		}
	}
	var eligible []store.Candidate
	for _, c := range sortCandidates(candidates) {
		ev := policy.Evidence{
			Version:   c.Version,
			Published: c.Published,
			Passes:    passes[c.Version],
			Releases:  listedReleases(c),
		}
		switch err := pol.Admit(target, ev, now); err.(type) {
		case nil:
			eligible = append(eligible, c)
		case *policy.Refusal:
		default:
			return nil, err
		}
	}
	return versionsOf(eligible), nil
}

func liveVersions(ctx context.Context, st *store.Store, envName string) ([]protocol.Version, error) {
	passes, err := st.Passes(ctx, envName)
	if err != nil {
		return nil, err
	}
	versions := make([]protocol.Version, 0, len(passes))
	for _, p := range passes {
		versions = append(versions, deployedVersion(p))
	}
	return versions, nil
}

func deployedVersion(p store.PassKey) protocol.Version {
	return protocol.Version{Version: p.Version, Deployed: p.Time.UTC().Format(time.RFC3339Nano)}
}

func versionsOf(candidates []store.Candidate) []protocol.Version {
	versions := make([]protocol.Version, 0, len(candidates))
	for _, c := range candidates {
		versions = append(versions, protocol.Version{Version: c.Version})
	}
	return versions
}
