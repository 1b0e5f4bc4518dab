package commands

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// publish stores a new candidate, or confirms an identical existing one. It
// reads straight down: the version asked for, the governing policy and the
// templates validated under it, the keys checked, then (first publish only)
// the store probed and the policy stored, then blob, claim, and the commit
// with the content index.
func publish(ctx context.Context, src string, req protocol.OutRequest, env resource.Env) (any, error) {
	p := req.Params
	version, explicit, err := requestedVersion(src, p)
	if err != nil {
		return nil, err
	}
	if explicit && !req.Source.InLine(version) {
		return nil, fmt.Errorf("params.version: %s is outside source.semver_constraint %q", version, req.Source.SemverConstraint)
	}
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	// The policy, the version's claim (or the highest, to take the next
	// patch) and, when the source gives the policy, the templates' rendering
	// go at once: round trips are a publish's cost.
	var (
		gov      *gate.Governing
		existing *store.Claim
		body     *content
	)
	validate := func(pol policy.Policy) (err error) {
		if pol == nil {
			return fmt.Errorf("source.environments: required for the first publish under this prefix, which stores it as the policy")
		}
		body, err = candidateContent(src, p, limits(req.Source), pol)
		return err
	}
	err = gate.Parallel(ctx, func(ctx context.Context) (err error) {
		gov, err = gate.Stored(ctx, st, req.Source)
		return err
	}, func(ctx context.Context) (err error) {
		if explicit {
			existing, err = st.Claim(ctx, version)
		} else {
			version, err = nextUnclaimed(ctx, st, req.Source)
		}
		return err
	}, func(context.Context) error {
		if req.Source.Environments == nil {
			return nil // the stored policy, once read
		}
		return validate(req.Source.Environments)
	})
	if err != nil {
		return nil, err
	}
	if req.Source.Environments == nil {
		if err := validate(gov.Policy); err != nil {
			return nil, err
		}
	}
	if existing != nil {
		return confirmExisting(ctx, st, gov, existing, body, env)
	}
	envs := gov.Policy.Names()
	if err := st.CheckKeys(version, envs, len(envs)); err != nil {
		return nil, fmt.Errorf("publishing %s: %w", version, err)
	}
	if gov.Seq == 0 {
		if err := bootstrap(ctx, st, req.Source, gov.NextSeq, body, buildOf(env)); err != nil {
			return nil, err
		}
		if gov, err = gate.Stored(ctx, st, req.Source); err != nil {
			return nil, err
		}
		if gov.Seq == 0 {
			return nil, fmt.Errorf("storing the policy: another first publish claimed policy number %d and has not stored it yet: run again", gov.NextSeq-1)
		}
	}

	claim, err := upload(ctx, st, body, buildOf(env))
	if err != nil {
		return nil, err
	}
	claim.Releases = body.releases
	claim.PolicySeq, claim.PolicyDigest = gov.Seq, gov.Digest
	if !explicit {
		// The same content published before: that candidate is this put's
		// answer (a retried put is idempotent).
		if existing, err := withSameContent(ctx, st, claim.SHA256); err != nil || existing != nil {
			if err != nil {
				return nil, err
			}
			return confirmExisting(ctx, st, gov, existing, body, env)
		}
	}
	if claim, err = claimVersion(ctx, st, req.Source, claim, version, explicit); err != nil {
		return nil, err
	}
	version = claim.Version
	logReleases(env, gov.Policy, version, body.releases)
	return commit(ctx, st, gov, claim, env, "published candidate %s (%d bytes, sha256 %s)")
}

// commit writes the commit record of a claimed candidate, which makes it
// visible, beside its entry in the content index, and answers with it.
func commit(ctx context.Context, st *store.Store, gov *gate.Governing, claim *store.Claim, env resource.Env, logFormat string) (any, error) {
	envs, err := gov.EnvironmentsOf(ctx, claim.PolicySeq)
	if err != nil {
		return nil, err
	}
	err = gate.Parallel(ctx, func(ctx context.Context) error {
		if err := st.PutContent(ctx, claim.SHA256, claim.Version); err != nil {
			return fmt.Errorf("publishing %s: %w", claim.Version, err)
		}
		return nil
	}, func(ctx context.Context) error {
		if err := st.Commit(ctx, *claim, envs); err != nil {
			return fmt.Errorf("committing %s: %w", claim.Version, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The store's time just after the commit answered: what its
	// LastModified says, to the second, without another request.
	published, err := st.Now()
	if err != nil {
		return nil, err
	}
	env.Logf(logFormat, claim.Version, claim.Size, claim.SHA256)
	return protocol.Response{Version: protocol.Version{Version: claim.Version}, Metadata: candidateMetadata(claim, published, nil)}, nil
}

// bootstrap prepares a prefix that holds nothing yet: the templates are
// validated in full first (a tarball is otherwise checked while it uploads),
// the store is probed for conditional writes, then the policy is stored as
// number seq (1, unless a claim of a publish that never finished took it).
// Two first publishes at once store it once; if they disagree on it, the
// one that lost the number's claim is refused by the policy check that
// follows.
func bootstrap(ctx context.Context, st *store.Store, src protocol.Source, seq int, body *content, build store.Build) error {
	r, err := body.open()
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, r)
	r.Close()
	if err != nil {
		return err
	}
	if err := st.Bootstrap(ctx); err != nil {
		return err
	}
	now, err := st.Now()
	if err != nil {
		return err
	}
	err = st.PutPolicy(ctx, store.PolicyRecord{Seq: seq, Environments: src.Environments.Canonical(), Time: now, Build: build, Note: "stored by the first publish"})
	if err != nil && !errors.Is(err, store.ErrExists) {
		return fmt.Errorf("storing the policy: %w", err)
	}
	return nil
}

// nextUnclaimed is the next patch after the highest claimed version of the
// source's version line.
func nextUnclaimed(ctx context.Context, st *store.Store, src protocol.Source) (string, error) {
	highest, err := st.HighestClaim(ctx, src.InLine)
	if err != nil {
		return "", err
	}
	next, err := nextPatch([]string{highest})
	if err == nil && !src.InLine(next) {
		err = fmt.Errorf("the next patch, %s, is outside source.semver_constraint %q: publish with an explicit version", next, src.SemverConstraint)
	}
	return next, err
}

// withSameContent finds the highest version whose claim holds this content.
func withSameContent(ctx context.Context, st *store.Store, sha string) (*store.Claim, error) {
	versions, err := st.VersionsWithContent(ctx, sha)
	if err != nil {
		return nil, err
	}
	for i := len(versions) - 1; i >= 0; i-- {
		claim, err := st.Claim(ctx, versions[i])
		if err != nil {
			return nil, err
		}
		if claim != nil && claim.SHA256 == sha {
			return claim, nil
		}
	}
	return nil, nil
}

// claimVersion claims version for the uploaded content. When another put
// claimed it first: identical content is that put's candidate (a retry);
// different content is refused for an explicit version, or moves on to the
// next patch when the version was chosen here.
func claimVersion(ctx context.Context, st *store.Store, src protocol.Source, claim *store.Claim, version string, explicit bool) (*store.Claim, error) {
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
		if version, err = nextUnclaimed(ctx, st, src); err != nil {
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
func confirmExisting(ctx context.Context, st *store.Store, gov *gate.Governing, existing *store.Claim, body *content, env resource.Env) (any, error) {
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
	return commit(ctx, st, gov, existing, env, "candidate %s already published with the same content (%d bytes, sha256 %s)")
}

// upload streams the content to a new blob, hashing it on the way.
func upload(ctx context.Context, st *store.Store, body *content, build store.Build) (*store.Claim, error) {
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
		CreatedBy: gate.DescribeBuild(build),
	}, nil
}

// requestedVersion reads params.version or params.version_file; explicit is
// false when neither is given (the next patch is then chosen).
func requestedVersion(src string, p protocol.OutParams) (version string, explicit bool, err error) {
	if p.VersionFile != "" {
		// Bounded, symlinks resolved inside $1, and never echoing the file.
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

// logReleases is the publish log: each environment rendered, its releases
// with finality, and a warning naming the environments the candidate can
// never reach.
func logReleases(env resource.Env, pol policy.Policy, version string, releases map[string][]policy.Release) {
	for _, name := range pol.Names() {
		described := describeReleases(releases[name])
		if described == "" {
			described = "no releases"
		}
		env.Logf("rendered %s: %s", name, described)
	}
	nonFinal := func(name string) bool {
		for _, r := range releases[name] {
			if !r.Final {
				return true
			}
		}
		return false
	}
	if never := pol.Unreachable(nonFinal); len(never) > 0 {
		env.Logf("warning: %s can never reach %s: a release there is not final, and its rules want final releases", version, strings.Join(never, ", "))
	}
}
