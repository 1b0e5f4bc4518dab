package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
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
	if req.Params.Candidate != "" {
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

// describeBuild is a short human name of the build, for created_by.
func describeBuild(b store.Build) string {
	switch {
	case b.Job != "":
		return fmt.Sprintf("%s/%s/%s #%s", b.Team, b.Pipeline, b.Job, b.Name)
	case b.ID != "":
		return "build " + b.ID
	}
	return ""
}

// recordPass records that the candidate in params.candidate passed
// params.environment, if the policy admits it there now.
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
	claim, err := committedClaim(ctx, st, version)
	if err != nil {
		return nil, fmt.Errorf("params.candidate: %w", err)
	}
	if claim.SHA256 != digest {
		return nil, fmt.Errorf("params.candidate: %s/sha256 is %s but candidate %s in the store has %s", p.Candidate, digest, version, claim.SHA256)
	}
	// Only the passes the rule looks at: its upstream environments.
	keys, err := st.PassesOf(ctx, version, req.Source.Environments.Upstream(p.Environment))
	if err != nil {
		return nil, err
	}
	now := env.Now().UTC()
	ev := policy.Evidence{Version: version, Published: claim.Created, Releases: claimReleases(claim)}
	for _, k := range keys {
		ev.Passes = append(ev.Passes, policy.Pass{Environment: k.Environment, Time: k.Time})
	}
	if err := req.Source.Environments.Admit(p.Environment, ev, now); err != nil {
		return nil, err
	}
	build := buildOf(env)
	key, err := st.PutPass(ctx, store.PassRecord{
		Environment: p.Environment, Version: version, SHA256: digest, Time: now, Build: build, Note: p.Note,
	})
	if err != nil {
		return nil, fmt.Errorf("recording pass %s for %s: %w", p.Environment, version, err)
	}
	env.Logf("recorded: candidate %s passed %s", version, p.Environment)
	out := protocol.Version{Version: version}
	if req.Source.LiveIn == p.Environment {
		out = deployedVersion(key)
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
	return protocol.Response{Version: out, Metadata: meta}, nil
}

// readCandidateDir reads the version and sha256 files a get wrote.
func readCandidateDir(dir, rel string) (version, digest string, err error) {
	read := func(name string) (string, error) {
		b, err := readCandidateFile(dir, name)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return "", fmt.Errorf("params.candidate: %s is not the directory of a get of this resource (no %s file)", rel, name)
			}
			return "", fmt.Errorf("params.candidate: %s/%w", rel, err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if version, err = read(versionFile); err != nil {
		return "", "", err
	}
	if _, err := fileVersion("params.candidate", rel+"/version", version); err != nil {
		return "", "", err
	}
	if digest, err = read(sha256File); err != nil {
		return "", "", err
	}
	if b, err := hex.DecodeString(digest); err != nil || len(b) != sha256.Size || strings.ToLower(digest) != digest {
		return "", "", fmt.Errorf("params.candidate: %s/sha256 does not hold a sha256 digest", rel)
	}
	return version, digest, nil
}

// claimReleases gives the policy the releases recorded at publish time.
func claimReleases(claim *store.Claim) func(string) ([]policy.Release, error) {
	return func(env string) ([]policy.Release, error) {
		releases, ok := claim.Releases[env]
		if !ok {
			return nil, fmt.Errorf("candidate %s was published before %s was declared, so its releases for %s are unknown: publish the templates again as a new version", claim.Version, env, env)
		}
		return releases, nil
	}
}

// publish stores a new candidate, or confirms an identical existing one.
func publish(ctx context.Context, src string, req protocol.OutRequest, env Env) (any, error) {
	p := req.Params
	body, err := candidateContent(src, p, limits(req.Source), req.Source.Environments)
	if err != nil {
		return nil, err
	}
	version, explicit, err := requestedVersion(src, p)
	if err != nil {
		return nil, err
	}
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	if !explicit {
		claimed, err := st.ClaimedVersions(ctx)
		if err != nil {
			return nil, err
		}
		if version, err = nextPatch(claimed); err != nil {
			return nil, err
		}
	} else if existing, err := st.Claim(ctx, version); err != nil {
		return nil, err
	} else if existing != nil {
		return confirmExisting(ctx, st, existing, body, env)
	}

	claim, err := upload(ctx, st, body, buildOf(env), env.Now())
	if err != nil {
		return nil, err
	}
	claim.Releases = body.releases
	if claim, err = claimVersion(ctx, st, claim, version, explicit); err != nil {
		return nil, err
	}
	version = claim.Version
	if err := st.Commit(ctx, *claim); err != nil {
		return nil, fmt.Errorf("committing %s: %w", version, err)
	}
	env.Logf("published candidate %s (%d bytes, sha256 %s)", version, claim.Size, claim.SHA256)
	return protocol.Response{Version: protocol.Version{Version: version}, Metadata: candidateMetadata(claim, nil)}, nil
}

// claimVersion claims version for the uploaded content. When another put
// claimed it first: identical content is that put's candidate (a retry);
// different content is refused for an explicit version, or moves on to the
// next patch when the version was chosen here.
func claimVersion(ctx context.Context, st *store.Store, claim *store.Claim, version string, explicit bool) (*store.Claim, error) {
	for attempt := 0; ; attempt++ {
		claim.Version = version
		err := st.PutClaim(ctx, *claim)
		if err == nil {
			return claim, nil
		}
		if !errors.Is(err, store.ErrExists) {
			return nil, fmt.Errorf("publishing %s: %w", version, err)
		}
		existing, err := st.Claim(ctx, version)
		if err != nil {
			return nil, err
		}
		if existing != nil && existing.SHA256 == claim.SHA256 {
			return existing, nil
		}
		if explicit || attempt >= maxClaimAttempts {
			return nil, fmt.Errorf("version %s was just published by another put with different content (sha256 %s, ours %s)", version, shaOf(existing), claim.SHA256)
		}
		claimed, err := st.ClaimedVersions(ctx)
		if err != nil {
			return nil, err
		}
		if version, err = nextPatch(append(claimed, version)); err != nil {
			return nil, err
		}
	}
}

// maxClaimAttempts bounds how often a publish without a version moves on to
// the next patch when concurrent publishes keep taking it.
const maxClaimAttempts = 20

func shaOf(c *store.Claim) string {
	if c == nil {
		return "unknown"
	}
	return c.SHA256
}

// confirmExisting makes a retried publish safe: identical content returns the
// existing version (committing it if a previous put stopped short); different
// content is refused.
func confirmExisting(ctx context.Context, st *store.Store, existing *store.Claim, body *content, env Env) (any, error) {
	r, err := body.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	hash := sha256.New()
	if _, err := io.Copy(hash, r); err != nil {
		return nil, err
	}
	if digest := hex.EncodeToString(hash.Sum(nil)); digest != existing.SHA256 {
		return nil, fmt.Errorf("version %s already exists with different content (stored sha256 %s, %s has %s): candidates are immutable, publish a new version", existing.Version, existing.SHA256, body.describe, digest)
	}
	if err := st.Commit(ctx, *existing); err != nil {
		return nil, fmt.Errorf("committing %s: %w", existing.Version, err)
	}
	env.Logf("candidate %s already published with the same content", existing.Version)
	return protocol.Response{Version: protocol.Version{Version: existing.Version}, Metadata: candidateMetadata(existing, nil)}, nil
}

// upload streams the content to a new blob, hashing it on the way.
func upload(ctx context.Context, st *store.Store, body *content, build store.Build, now time.Time) (*store.Claim, error) {
	r, err := body.open()
	if err != nil {
		return nil, err
	}
	defer r.Close()
	hash := sha256.New()
	source := &sourceReader{r: r}
	blob, size, err := st.UploadBlob(ctx, io.TeeReader(source, hash))
	if source.err != nil {
		return nil, source.err
	}
	if err != nil {
		return nil, err
	}
	return &store.Claim{
		SHA256:    hex.EncodeToString(hash.Sum(nil)),
		Size:      size,
		Blob:      blob,
		Created:   now.UTC(),
		CreatedBy: describeBuild(build),
	}, nil
}

// requestedVersion reads params.version or params.version_file; explicit is
// false when neither is given (the next patch is then chosen).
func requestedVersion(src string, p protocol.OutParams) (version string, explicit bool, err error) {
	if p.VersionFile != "" {
		v, err := readVersionFile(src, p.VersionFile)
		return v, err == nil, err
	}
	if p.Version == "" {
		return "", false, nil
	}
	v, err := parseVersion("params.version", p.Version)
	if err != nil {
		return "", false, err
	}
	return v, true, nil
}
