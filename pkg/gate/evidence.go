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
	// Revocation is the candidate's revocation record; nil when it was not
	// revoked.
	Revocation *store.Revocation
}

// ReadCandidate reads a committed candidate's claim, its passes in the
// given environments and the deployments deciding admission to target (at
// once), then when it was published. target may be "" (no decision).
func ReadCandidate(ctx context.Context, st *store.Store, gov *Governing, version string, envs []string, target string) (*Candidate, error) {
	c := &Candidate{}
	var deployments Deployments
	var listed store.Candidate
	var committed bool
	err := Parallel(ctx, func(ctx context.Context) (err error) {
		c.Claim, err = st.Claim(ctx, version)
		return err
	}, func(ctx context.Context) (err error) {
		listed, committed, err = st.Committed(ctx, version)
		return err
	}, func(ctx context.Context) (err error) {
		c.Passes, err = st.PassesOf(ctx, version, envs)
		return err
	}, func(ctx context.Context) (err error) {
		deployments, err = ReadDeployments(ctx, st, gov.Policy.DeploymentsFor(target))
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.Claim == nil || !committed {
		return nil, fmt.Errorf("candidate %s does not exist in the store", version)
	}
	parity, err := gov.ParityChecked(ctx, c.Claim.PolicySeq)
	if err != nil {
		return nil, err
	}
	c.Published = listed.Published
	c.Evidence = policy.Evidence{Version: version, Published: listed.Published, Releases: ClaimReleases(c.Claim), ParityChecked: parity, Deployments: deployments.Of}
	if listed.Revoked {
		c.Evidence.Revoked = "revoked"
		if rec, err := st.Revocation(ctx, version); err != nil {
			return nil, err
		} else if rec != nil {
			c.Evidence.Revoked, c.Revocation = rec.Reason, rec
		}
	}
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

// Deployments are the deployments of some environments, in time order.
type Deployments map[string][]policy.Deployment

// Of gives the deployments of env, and known false when they were not read.
func (d Deployments) Of(env string) ([]policy.Deployment, bool) {
	deps, ok := d[env]
	return deps, ok
}

// ReadDeployments lists the whole deployment history of each environment,
// at once.
func ReadDeployments(ctx context.Context, st *store.Store, envs []string) (Deployments, error) {
	listed := make([][]store.Deployment, len(envs))
	tasks := make([]func(context.Context) error, len(envs))
	for i, env := range envs {
		tasks[i] = func(ctx context.Context) (err error) {
			listed[i], err = st.Deployments(ctx, env, time.Time{})
			return err
		}
	}
	if err := Parallel(ctx, tasks...); err != nil {
		return nil, err
	}
	out := make(Deployments, len(envs))
	for i, env := range envs {
		deps := make([]policy.Deployment, 0, len(listed[i]))
		for _, d := range listed[i] {
			deps = append(deps, policy.Deployment{Version: d.Version, Time: d.Time})
		}
		out[env] = deps
	}
	return out, nil
}
