package commands

import (
	"context"
	"errors"
	"fmt"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// updatePolicy stores source.environments as the new policy (params.update_policy),
// with the build that changed it. The put answers with the newest candidate,
// which is in the resource's history already, so nothing new triggers.
func updatePolicy(ctx context.Context, req protocol.OutRequest, env resource.Env) (any, error) {
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	var keys []store.PolicyKey
	var next int
	var candidates []store.Candidate
	err = gate.Parallel(ctx, func(ctx context.Context) (err error) {
		keys, next, err = st.Policies(ctx)
		return err
	}, func(ctx context.Context) (err error) {
		candidates, err = st.Candidates(ctx, "")
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 || len(candidates) == 0 {
		return nil, fmt.Errorf("params.update_policy: nothing is published under this prefix yet: the first publish stores source.environments as the policy")
	}
	answer, err := answerOf(candidates, req.Source)
	if err != nil {
		return nil, err
	}
	newest := keys[len(keys)-1]
	pol := req.Source.Environments.Canonical()
	response := protocol.Response{Version: protocol.Version{Version: answer}}
	if pol.Digest() == newest.Digest {
		env.Logf("the stored policy %d already holds these environments: nothing to change", newest.Seq)
		response.Metadata = []protocol.MetadataField{{Name: "policy", Value: fmt.Sprintf("%d (unchanged)", newest.Seq)}}
		return response, nil
	}
	now, err := st.Now()
	if err != nil {
		return nil, err
	}
	rec := store.PolicyRecord{Seq: next, Environments: pol, Time: now, Build: buildOf(env), Note: req.Params.Note}
	if err := st.PutPolicy(ctx, rec); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("params.update_policy: another put stored policy %d at the same time: look at it, then run again", rec.Seq)
		}
		return nil, fmt.Errorf("params.update_policy: storing policy %d: %w", rec.Seq, err)
	}
	env.Logf("stored policy %d (sha256 %s); passes from now on are decided by it", rec.Seq, pol.Digest())
	response.Metadata = []protocol.MetadataField{{Name: "policy", Value: fmt.Sprintf("%d", rec.Seq)}, {Name: "policy_sha256", Value: pol.Digest()}}
	return response, nil
}

// answerOf is the version an update_policy put answers with: the newest
// candidate of the source's version line that is not revoked, which the
// resource's history holds already and its get fetches.
func answerOf(candidates []store.Candidate, src protocol.Source) (string, error) {
	for i := len(candidates) - 1; i >= 0; i-- {
		if c := candidates[i]; !c.Revoked && src.InLine(c.Version) {
			return c.Version, nil
		}
	}
	which := "every candidate is revoked"
	if src.SemverConstraint != "" {
		which = fmt.Sprintf("none in source.semver_constraint %q is not revoked", src.SemverConstraint)
	}
	return "", fmt.Errorf("params.update_policy: no candidate to answer with (%s): change the policy through a resource that has one", which)
}
