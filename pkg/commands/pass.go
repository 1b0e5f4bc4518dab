package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// recordPass records that the candidate in params.candidate passed
// params.environment, if the stored policy admits it there now by the
// store's clock.
func recordPass(ctx context.Context, src string, req protocol.OutRequest, env resource.Env) (any, error) {
	p := req.Params
	dir, err := inside(src, "candidate", p.Candidate)
	if err != nil {
		return nil, err
	}
	version, digest, err := readCandidateDir("params.candidate", dir, p.Candidate)
	if err != nil {
		return nil, err
	}
	st, gov, err := governed(ctx, req.Source, "params.candidate", version)
	if err != nil {
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
	var cand *gate.Candidate
	var passTime time.Time
	err = gate.Parallel(ctx, func(ctx context.Context) (err error) {
		if cand, err = gate.ReadCandidate(ctx, st, gov, version, gov.Policy.Upstream(p.Environment), p.Environment); err != nil {
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
	if cand.Claim.SHA256 != digest {
		return nil, fmt.Errorf("params.candidate: %s/sha256 is %s but candidate %s in the store has %s", p.Candidate, digest, version, cand.Claim.SHA256)
	}
	if p.Override != "" && !gov.Policy[p.Environment].AllowOverride {
		return nil, fmt.Errorf("params.override: break-glass is off for %s: its rule has no allow_override: true", p.Environment)
	}
	var override *store.Override
	if err := gov.Policy.Admit(p.Environment, cand.Evidence, now); err != nil {
		var refusal *policy.Refusal
		switch {
		case p.Override == "" || !errors.As(err, &refusal):
			return nil, err
		case refusal.Revoked != "":
			return nil, fmt.Errorf("%w; a revoked candidate cannot be overridden", err)
		}
		override = &store.Override{Reason: p.Override, Refusal: err.Error()}
		env.Logf("warning: break-glass: recording %s's pass in %s although its rule refused it (%s), for: %s", version, p.Environment, err, p.Override)
	} else if p.Override != "" {
		env.Logf("params.override: not needed, the rule admits %s to %s: recorded as a plain pass", version, p.Environment)
	}
	// After every pass this one builds on, too: the clock has whole seconds.
	now = store.After(passTime, cand.Passes)
	build := buildOf(env)
	reset := gov.Policy.IsReset(p.Environment, cand.Evidence)
	key, err := st.PutPass(ctx, store.PassRecord{
		Environment: p.Environment, Version: version, SHA256: digest, Time: now, Build: build, Note: p.Note, Policy: gov.Digest, Reset: reset,
		Override: override,
	})
	if err != nil {
		return nil, fmt.Errorf("recording pass %s for %s: %w", p.Environment, version, err)
	}
	if reset {
		env.Logf("recorded: candidate %s passed %s, a reset: it is what %s runs now", version, p.Environment, strings.Join(gov.Policy.UpgradesTestedIn(p.Environment), ", "))
	} else {
		env.Logf("recorded: candidate %s passed %s", version, p.Environment)
	}
	out := protocol.Version{Version: version}
	if req.Source.LiveIn == p.Environment {
		out = protocol.DeployedVersion(version, key.Time)
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
	if override != nil {
		meta = append(meta, protocol.MetadataField{Name: "override", Value: override.Reason}, protocol.MetadataField{Name: "overrode", Value: override.Refusal})
	}
	if reset {
		meta = append(meta, protocol.MetadataField{Name: "reset", Value: "to what " + strings.Join(gov.Policy.UpgradesTestedIn(p.Environment), ", ") + " runs"})
	}
	if build.CreatedBy != "" {
		meta = append(meta, protocol.MetadataField{Name: "approved_by", Value: build.CreatedBy})
	}
	return protocol.Response{Version: out, Metadata: meta}, nil
}
