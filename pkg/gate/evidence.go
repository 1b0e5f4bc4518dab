package gate

import (
	"context"
	"fmt"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Candidate is what the store says of one committed candidate: its
// claim, and what a gate decides on.
type Candidate struct {
	Claim     *store.Claim
	Published time.Time
	Passes    []store.PassKey
	Evidence  policy.Evidence
}

// ReadCandidate reads a committed candidate's claim and its passes in the
// given environments (at once), then when it was published.
func ReadCandidate(ctx context.Context, st *store.Store, gov *Governing, version string, envs []string) (*Candidate, error) {
	c := &Candidate{}
	err := Parallel(ctx, func(ctx context.Context) (err error) {
		c.Claim, err = st.Claim(ctx, version)
		return err
	}, func(ctx context.Context) (err error) {
		c.Passes, err = st.PassesOf(ctx, version, envs)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Claim == nil {
		return nil, fmt.Errorf("candidate %s does not exist in the store", version)
	}
	claimEnvs, err := gov.EnvironmentsOf(ctx, c.Claim.PolicySeq)
	if err != nil {
		return nil, err
	}
	published, committed, err := st.Published(ctx, c.Claim, claimEnvs)
	if err != nil {
		return nil, err
	}
	if !committed {
		return nil, fmt.Errorf("candidate %s does not exist in the store", version)
	}
	c.Published = published
	c.Evidence = policy.Evidence{Version: version, Published: published, Releases: ClaimReleases(c.Claim)}
	for _, k := range c.Passes {
		c.Evidence.Passes = append(c.Evidence.Passes, policy.Pass{Environment: k.Environment, Time: k.Time})
	}
	return c, nil
}

// ClaimReleases gives the policy the releases recorded at publish time: an
// environment the candidate was not validated for has unknown releases.
func ClaimReleases(claim *store.Claim) func(string) ([]policy.Release, bool) {
	return func(env string) ([]policy.Release, bool) {
		releases, ok := claim.Releases[env]
		return releases, ok
	}
}

// ListedReleases gives the policy what a candidate's commit key knows of its
// releases: for each environment of the policy it was validated under,
// whether the manifest has a release that is not final. An environment that
// policy did not declare has unknown releases.
func ListedReleases(ctx context.Context, gov *Governing, c store.Candidate) (func(string) ([]policy.Release, bool), error) {
	envs, err := gov.EnvironmentsOf(ctx, c.PolicySeq)
	if err != nil {
		return nil, err
	}
	return func(env string) ([]policy.Release, bool) {
		i, found := slices.BinarySearch(envs, env)
		switch {
		case !found:
			return nil, false
		case c.NonFinal(i):
			return []policy.Release{{Name: "a release of the " + env + " manifest", Version: "not final"}}, true
		}
		return nil, true
	}, nil
}

// Parallel runs the tasks at once and returns the first error.
func Parallel(ctx context.Context, tasks ...func(context.Context) error) error {
	group, gctx := errgroup.WithContext(ctx)
	for _, task := range tasks {
		group.Go(func() error { return task(gctx) })
	}
	return group.Wait()
}
