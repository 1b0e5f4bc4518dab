package commands

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// revoke withdraws a candidate (params.revoke, a get directory or a
// version, with params.reason): it is never admitted anywhere again, drops
// out of every eligible_for and of the default listing, and shows as revoked
// everywhere; live_in keeps it in the history of what ran.
func revoke(ctx context.Context, src string, req protocol.OutRequest, env resource.Env) (any, error) {
	p := req.Params
	version, digest, err := revokedCandidate(src, p.Revoke)
	if err != nil {
		return nil, err
	}
	st, _, err := governed(ctx, req.Source, "params.revoke", version)
	if err != nil {
		return nil, err
	}
	var claim *store.Claim
	var listed store.Candidate
	var committed bool
	err = gate.Parallel(ctx, func(ctx context.Context) (err error) {
		claim, err = st.Claim(ctx, version)
		return err
	}, func(ctx context.Context) (err error) {
		listed, committed, err = st.Committed(ctx, version)
		return err
	})
	if err != nil {
		return nil, err
	}
	if claim == nil || !committed {
		return nil, fmt.Errorf("params.revoke: candidate %s does not exist in the store", version)
	}
	if digest != "" && digest != claim.SHA256 {
		return nil, fmt.Errorf("params.revoke: %s/sha256 is %s but candidate %s in the store has %s", p.Revoke, digest, version, claim.SHA256)
	}
	rec := store.Revocation{Version: version, SHA256: claim.SHA256, Reason: p.Reason, Build: buildOf(env)}
	if !listed.Revoked {
		if rec.Time, err = st.Now(); err != nil {
			return nil, err
		}
		err = st.PutRevocation(ctx, rec)
	}
	if listed.Revoked || errors.Is(err, store.ErrExists) {
		// Revoked already (a retried put, or someone else): the first
		// record stands.
		existing, err := st.Revocation(ctx, version)
		if err != nil {
			return nil, err
		}
		if existing == nil {
			return nil, fmt.Errorf("params.revoke: %s is marked revoked but its record cannot be read", version)
		}
		env.Logf("candidate %s was revoked already, at %s: %s", version, existing.Time.Format("2006-01-02T15:04:05Z07:00"), existing.Reason)
		rec = *existing
	} else if err != nil {
		return nil, fmt.Errorf("revoking %s: %w", version, err)
	} else {
		env.Logf("revoked candidate %s: %s; it is never admitted anywhere again", version, p.Reason)
	}
	meta := []protocol.MetadataField{
		{Name: "version", Value: version},
		{Name: "sha256", Value: claim.SHA256},
		{Name: "revoked", Value: rec.Reason},
	}
	if by := gate.DescribeBuild(rec.Build); by != "" {
		meta = append(meta, protocol.MetadataField{Name: "revoked_by", Value: by})
	}
	return protocol.Response{Version: protocol.Version{Version: version}, Metadata: meta}, nil
}

// revokedCandidate reads params.revoke: the directory of a get of this
// resource when $1 holds one by that name, otherwise a version.
func revokedCandidate(src, name string) (version, digest string, err error) {
	dir, pathErr := inside(src, "revoke", name)
	if pathErr == nil {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return readCandidateDir("params.revoke", dir, name)
		}
	}
	version, err = parseVersion("params.revoke", name)
	if err != nil && pathErr != nil {
		return "", "", pathErr // a directory out of $1 (through .. or a symlink)
	}
	if err != nil {
		return "", "", fmt.Errorf("params.revoke: %q is neither the directory of a get of this resource nor a version", name)
	}
	return version, "", nil
}
