package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// recordPass records that the candidate in params.candidate passed
// params.environment, if the stored policy admits it there now by the
// store's clock.
func recordPass(ctx context.Context, src string, req protocol.OutRequest, env Env) (any, error) {
	p := req.Params
	dir, err := inside(src, "candidate", p.Candidate)
	if err != nil {
		return nil, err
	}
	version, digest, err := readCandidateDir(dir, p.Candidate)
	if err != nil {
		return nil, err
	}
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	gov, err := governingPolicy(ctx, st, req.Source)
	if err != nil {
		return nil, err
	}
	if err := gov.requireStored(); err != nil {
		return nil, err
	}
	if err := gov.Policy.Declared("params.environment", p.Environment); err != nil {
		return nil, err
	}
	if err := st.CheckKeys(version, []string{p.Environment}, len(gov.Policy)); err != nil {
		return nil, fmt.Errorf("recording pass %s for %s: %w", p.Environment, version, err)
	}
	// The store's time, from the policy listing's answer.
	now, err := st.Now()
	if err != nil {
		return nil, err
	}
	var cand *candidateEvidence
	var passTime time.Time
	err = parallel(ctx, func(ctx context.Context) (err error) {
		if cand, err = readEvidence(ctx, st, gov, version, gov.Policy.Upstream(p.Environment)); err != nil {
			err = fmt.Errorf("params.candidate: %w", err)
		}
		return err
	}, func(ctx context.Context) (err error) {
		passTime, err = st.NextDeploymentTime(ctx, p.Environment, now)
		return err
	})
	if err != nil {
		return nil, err
	}
	if cand.claim.SHA256 != digest {
		return nil, fmt.Errorf("params.candidate: %s/sha256 is %s but candidate %s in the store has %s", p.Candidate, digest, version, cand.claim.SHA256)
	}
	if err := gov.Policy.Admit(p.Environment, cand.evidence, now); err != nil {
		return nil, err
	}
	// After every pass this one builds on, too: the clock has whole seconds.
	for _, k := range cand.passes {
		if !k.Time.Before(passTime) {
			passTime = k.Time.Add(time.Microsecond)
		}
	}
	now = passTime
	build := buildOf(env)
	key, err := st.PutPass(ctx, store.PassRecord{
		Environment: p.Environment, Version: version, SHA256: digest, Time: now, Build: build, Note: p.Note, Policy: gov.Digest,
	})
	if err != nil {
		return nil, fmt.Errorf("recording pass %s for %s: %w", p.Environment, version, err)
	}
	env.Logf("recorded: candidate %s passed %s", version, p.Environment)
	out := protocol.Version{Version: version}
	if req.Source.LiveIn == p.Environment {
		out = deployedVersion(version, key.Time)
	}
	meta := []protocol.MetadataField{
		{Name: "version", Value: version},
		{Name: "sha256", Value: digest},
		{Name: "environment", Value: p.Environment},
		{Name: "passed_at", Value: now.Format(time.RFC3339Nano)},
	}
	if build.URL != "" {
		meta = append(meta, protocol.MetadataField{Name: "build", Value: build.URL})
	}
	if build.CreatedBy != "" {
		meta = append(meta, protocol.MetadataField{Name: "approved_by", Value: build.CreatedBy})
	}
	return protocol.Response{Version: out, Metadata: meta}, nil
}

// candidateEvidence is what the store says of one committed candidate: its
// claim, and what a gate decides on.
type candidateEvidence struct {
	claim     *store.Claim
	published time.Time
	passes    []store.PassKey
	evidence  policy.Evidence
}

// readEvidence reads a committed candidate's claim and its passes in the
// given environments (at once), then when it was published.
func readEvidence(ctx context.Context, st *store.Store, gov *governing, version string, envs []string) (*candidateEvidence, error) {
	c := &candidateEvidence{}
	err := parallel(ctx, func(ctx context.Context) (err error) {
		c.claim, err = st.Claim(ctx, version)
		return err
	}, func(ctx context.Context) (err error) {
		c.passes, err = st.PassesOf(ctx, version, envs)
		return err
	})
	if err != nil {
		return nil, err
	}
	if c.claim == nil {
		return nil, fmt.Errorf("candidate %s does not exist in the store", version)
	}
	claimEnvs, err := gov.environmentsOf(ctx, c.claim.PolicySeq)
	if err != nil {
		return nil, err
	}
	published, committed, err := st.Published(ctx, c.claim, claimEnvs)
	if err != nil {
		return nil, err
	}
	if !committed {
		return nil, fmt.Errorf("candidate %s does not exist in the store", version)
	}
	c.published = published
	c.evidence = policy.Evidence{Version: version, Published: published, Releases: claimReleases(c.claim)}
	for _, k := range c.passes {
		c.evidence.Passes = append(c.evidence.Passes, policy.Pass{Environment: k.Environment, Time: k.Time})
	}
	return c, nil
}

// claimReleases gives the policy the releases recorded at publish time: an
// environment the candidate was not validated for has unknown releases.
func claimReleases(claim *store.Claim) func(string) ([]policy.Release, bool) {
	return func(env string) ([]policy.Release, bool) {
		releases, ok := claim.Releases[env]
		return releases, ok
	}
}
