package commands

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Out publishes a candidate (params.directory or params.tarball) or records a
// pass (params.candidate and params.environment).
func Out(ctx context.Context, request []byte, args []string, env Env) (any, error) {
	src, err := dirArg(args, "out")
	if err != nil {
		return nil, err
	}
	req, err := protocol.DecodeOut(bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	switch {
	case req.Params.UpdatePolicy:
		return updatePolicy(ctx, req, env)
	case req.Params.Revoke != "":
		return revoke(ctx, src, req, env)
	case req.Params.Candidate != "":
		return recordPass(ctx, src, req, env)
	}
	return publish(ctx, src, req, env)
}

// buildOf reads the Concourse build from the environment of the put.
func buildOf(env Env) store.Build {
	b := store.Build{
		ID:       env.Getenv("BUILD_ID"),
		Name:     env.Getenv("BUILD_NAME"),
		Job:      env.Getenv("BUILD_JOB_NAME"),
		Pipeline: env.Getenv("BUILD_PIPELINE_NAME"),
		Team:     env.Getenv("BUILD_TEAM_NAME"),
		// The user who triggered a manual build: who approved.
		CreatedBy: env.Getenv("BUILD_CREATED_BY"),
	}
	atc := strings.TrimSuffix(env.Getenv("ATC_EXTERNAL_URL"), "/")
	switch {
	case atc == "":
	case b.Job != "" && b.Pipeline != "" && b.Team != "" && b.Name != "":
		b.URL = fmt.Sprintf("%s/teams/%s/pipelines/%s/jobs/%s/builds/%s", atc,
			url.PathEscape(b.Team), url.PathEscape(b.Pipeline), url.PathEscape(b.Job), url.PathEscape(b.Name))
	case b.ID != "":
		b.URL = fmt.Sprintf("%s/builds/%s", atc, url.PathEscape(b.ID))
	}
	return b
}

// governed opens the store for a put about an existing candidate: the
// version must be in the source's line, and a policy stored (so the
// candidate can exist), which then governs the put.
func governed(ctx context.Context, src protocol.Source, key, version string) (*store.Store, *gate.Governing, error) {
	if !src.InLine(version) {
		return nil, nil, fmt.Errorf("%s: %s is outside source.semver_constraint %q", key, version, src.SemverConstraint)
	}
	st, err := store.New(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	gov, err := gate.Stored(ctx, st, src)
	if err != nil {
		return nil, nil, err
	}
	return st, gov, gov.RequireStored()
}
