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
		deployments, err = ReadDeployments(ctx, st, gov.Policy.HistoryNeeds(target))
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

// Deployments are what was read of some environments' deployment histories.
type Deployments map[string]policy.History

// Of gives what was read of env's deployments, and known false when nothing
// was.
func (d Deployments) Of(env string) (policy.History, bool) {
	h, ok := d[env]
	return h, ok
}

// ReadDeployments reads what the needs ask of each environment's
// deployments (policy.HistoryNeeds), so that a check costs what is new, not
// the history. A history that fits one listing page is read whole, every
// environment at once, as one request each. A longer one: the newest
// deployment (store.NewestDeployment); for the tested environment of an
// upgrade rule, its runs from the first pass there of what the rule's
// environment runs now (one listing of that version's passes, then the
// deployments from its time on).
func ReadDeployments(ctx context.Context, st *store.Store, needs []policy.HistoryNeed) (Deployments, error) {
	heads := make([][]store.Deployment, len(needs))
	whole := make([]bool, len(needs))
	tasks := make([]func(context.Context) error, len(needs))
	for i, n := range needs {
		tasks[i] = func(ctx context.Context) (err error) {
			heads[i], whole[i], err = st.FirstDeployments(ctx, n.Env)
			if err == nil && !whole[i] && n.Whole {
				heads[i], err = st.Deployments(ctx, n.Env, time.Time{})
				whole[i] = true
			}
			return err
		}
	}
	if err := Parallel(ctx, tasks...); err != nil {
		return nil, err
	}
	out := make(Deployments, len(needs))
	for i, n := range needs {
		if whole[i] {
			out[n.Env] = HistoryOf(heads[i], false)
		}
	}
	// The newest deployments first: the windows start from them.
	tasks = tasks[:0]
	newest := make([]policy.History, len(needs))
	for i, n := range needs {
		if whole[i] || n.UpgradeOf != "" {
			continue
		}
		tasks = append(tasks, func(ctx context.Context) error {
			d, ok, err := st.NewestDeployment(ctx, n.Env, heads[i])
			newest[i] = policy.History{Partial: true}
			if ok {
				newest[i] = HistoryOf([]store.Deployment{d}, true)
			}
			return err
		})
	}
	if err := Parallel(ctx, tasks...); err != nil {
		return nil, err
	}
	for i, n := range needs {
		if !whole[i] && n.UpgradeOf == "" {
			out[n.Env] = newest[i]
		}
	}
	tasks = tasks[:0]
	windows := make([]policy.History, len(needs))
	for i, n := range needs {
		if whole[i] || n.UpgradeOf == "" {
			continue
		}
		tasks = append(tasks, func(ctx context.Context) (err error) {
			windows[i], err = upgradeWindow(ctx, st, n, out[n.UpgradeOf])
			return err
		})
	}
	if err := Parallel(ctx, tasks...); err != nil {
		return nil, err
	}
	for i, n := range needs {
		if !whole[i] && n.UpgradeOf != "" {
			out[n.Env] = windows[i]
		}
	}
	return out, nil
}

// upgradeWindow reads the deployments of the tested environment n.Env from
// its first pass of what n.UpgradeOf runs now (live) on. Without a
// deployment in n.UpgradeOf there is no window to read: the rule holds
// vacuously, or is refused for what was not read.
func upgradeWindow(ctx context.Context, st *store.Store, n policy.HistoryNeed, live policy.History) (policy.History, error) {
	if len(live.Deployments) == 0 {
		return policy.History{Partial: true}, nil
	}
	runs := live.Deployments[len(live.Deployments)-1].Version
	passes, err := st.PassesOf(ctx, runs, []string{n.Env})
	if err != nil || len(passes) == 0 {
		return policy.History{Partial: true}, err
	}
	deps, err := st.Deployments(ctx, n.Env, passes[0].Time)
	return HistoryOf(deps, true), err
}

// HistoryOf is the policy's view of deployments read from the store.
func HistoryOf(deps []store.Deployment, partial bool) policy.History {
	h := policy.History{Deployments: make([]policy.Deployment, 0, len(deps)), Partial: partial}
	for _, d := range deps {
		h.Deployments = append(h.Deployments, policy.Deployment{Version: d.Version, Time: d.Time})
	}
	return h
}
