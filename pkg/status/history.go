package status

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// History is the deployments of one environment in time order: the JSON
// of `candidates history --json`.
type History struct {
	Store       string    `json:"store"`
	Policy      int       `json:"policy"`
	Now         time.Time `json:"now"`
	Environment string    `json:"environment"`
	// SemverConstraint is the source's version line: only deployments of
	// versions it matches are listed.
	SemverConstraint string `json:"semver_constraint,omitempty"`
	// Live is the newest deployment, whatever its version line; nil when
	// nothing was deployed.
	Live *Deployment `json:"live,omitempty"`
	// Deployments are oldest first; the live one is marked.
	Deployments []HistoryEntry `json:"deployments"`
}

// HistoryEntry is one deployment (pass) of the environment.
type HistoryEntry struct {
	Version string `json:"version"`
	Pass
	// Live marks the newest deployment: what the environment runs now.
	Live bool `json:"live"`
	// Revoked is set when the candidate was revoked since.
	Revoked bool `json:"revoked,omitempty"`
}

// History reads the deployments of env, oldest first.
func (v *View) History(ctx context.Context, env string) (*History, error) {
	if err := v.gov.Policy.Declared("ENV", env); err != nil {
		return nil, err
	}
	var (
		deploys []store.Deployment
		passes  []store.PassKey
		revoked map[string]bool
	)
	err := gate.Parallel(ctx, func(ctx context.Context) (err error) {
		deploys, err = v.st.Deployments(ctx, env, time.Time{})
		return err
	}, func(ctx context.Context) (err error) {
		passes, err = v.st.Passes(ctx, env, "")
		return err
	}, func(ctx context.Context) (err error) {
		revoked, err = v.st.Revoked(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	// A deployment entry and its pass record carry the same version and time.
	type at struct {
		version string
		time    time.Time
	}
	keyOf := map[at]store.PassKey{}
	for _, k := range passes {
		keyOf[at{k.Version, k.Time.UTC()}] = k
	}
	h := &History{Store: v.storeName(), Policy: v.gov.Seq, Environment: env, SemverConstraint: v.src.SemverConstraint, Deployments: []HistoryEntry{}}
	if n := len(deploys); n > 0 {
		h.Live = &Deployment{Version: deploys[n-1].Version, Time: deploys[n-1].Time}
	}
	var inLine []store.Deployment
	for i, d := range deploys {
		if v.src.InLine(d.Version) {
			inLine = append(inLine, d)
			h.Deployments = append(h.Deployments, HistoryEntry{Version: d.Version, Pass: Pass{Time: d.Time}, Live: i == len(deploys)-1, Revoked: revoked[d.Version]})
		}
	}
	group, gctx := errgroup.WithContext(ctx)
	group.SetLimit(readers)
	for i, d := range inLine {
		k, ok := keyOf[at{d.Version, d.Time.UTC()}]
		if !ok {
			v.warn("warning: the deployment of " + d.Version + " to " + env + " at " + d.Time.UTC().Format(time.RFC3339Nano) + " has no pass record")
			h.Deployments[i].Unreadable = true
			continue
		}
		group.Go(func() error {
			p, err := v.pass(gctx, k)
			h.Deployments[i].Pass = p
			return err
		})
	}
	if err := group.Wait(); err != nil {
		return nil, err
	}
	if h.Now, err = v.st.Now(); err != nil {
		return nil, err
	}
	return h, nil
}
