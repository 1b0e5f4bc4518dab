package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"
	"github.com/templates-candidate/templates-candidate-resource/pkg/gate"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

// Files written by in.
const (
	tarballFile   = "candidate.tgz"
	versionFile   = "version"
	sha256File    = "sha256"
	passedFile    = "passed.json"
	templatesDir  = "templates"
	manifestFile  = "manifest.yml"
	releasesFile  = "releases.json"
	parityFile    = "parity.diff"
	fileMode      = 0o644
	directoryMode = 0o755
)

// PassedRecord is one entry of passed.json.
type PassedRecord struct {
	Environment string      `json:"environment"`
	Time        string      `json:"time"`
	Build       store.Build `json:"build"`
	Note        string      `json:"note"`
	Reset       bool        `json:"reset,omitempty"`
	// Revoked marks the record of the candidate's revocation, last in
	// passed.json (environment "revoked", note: the reason).
	Revoked  bool            `json:"revoked,omitempty"`
	Override *store.Override `json:"override,omitempty"`
}

// In fetches exactly the requested candidate into the directory $1, verifying
// its sha256 while it streams. A get that fails leaves nothing it created.
func In(ctx context.Context, request []byte, args []string, env Env) (_ any, err error) {
	dest, err := dirArg(args, "in")
	if err != nil {
		return nil, err
	}
	defer cleanOnFailure(dest)(&err)
	req, err := protocol.DecodeIn(bytes.NewReader(request))
	if err != nil {
		return nil, err
	}
	version := req.Version.Version
	if _, err := parseVersion("version.version", version); err != nil {
		return nil, err
	}
	if !req.Source.InLine(version) {
		return nil, fmt.Errorf("version.version: %s is outside source.semver_constraint %q", version, req.Source.SemverConstraint)
	}
	st, err := store.New(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	var gov *gate.Governing
	var envs []string
	err = gate.Parallel(ctx, func(ctx context.Context) (err error) {
		gov, err = gate.Stored(ctx, st, req.Source)
		return err
	}, func(ctx context.Context) (err error) {
		envs, err = st.PassEnvironments(ctx)
		return err
	})
	if err != nil {
		return nil, err
	}
	if target := req.Params.Render; target != "" {
		if err := gov.Policy.Declared("params.render", target); err != nil {
			return nil, err
		}
	}
	if gov.Seq == 0 {
		return nil, fmt.Errorf("candidate %s does not exist in the store", version)
	}
	cand, err := gate.ReadCandidate(ctx, st, gov, version, envs, req.Source.EligibleFor)
	if err != nil {
		return nil, err
	}
	claim := cand.Claim
	if gate := req.Source.EligibleFor; gate != "" {
		// The get that feeds a deploy never hands over what the gate refuses.
		now, err := st.Now()
		if err != nil {
			return nil, err
		}
		if err := gov.Policy.Admit(gate, cand.Evidence, now); err != nil {
			return nil, fmt.Errorf("this resource is a gate (eligible_for: %s) and hands over nothing it does not admit now: %w", gate, err)
		}
	}
	passed, err := passRecords(ctx, st, cand.Passes, env)
	if err != nil {
		return nil, err
	}
	revocation := cand.Revocation
	if err := os.MkdirAll(dest, directoryMode); err != nil {
		return nil, fmt.Errorf("creating %s: %w", dest, err)
	}
	if !req.Params.SkipDownload {
		if err := download(ctx, st, claim, dest, unpacked(req.Params), limits(req.Source)); err != nil {
			return nil, fmt.Errorf("getting candidate %s: %w", version, err)
		}
		env.Logf("fetched candidate %s (%d bytes, sha256 %s verified)", version, claim.Size, claim.SHA256)
	}
	meta := candidateMetadata(claim, cand.Published, passed)
	if revocation != nil {
		passed = append(passed, PassedRecord{
			Environment: "revoked", Time: revocation.Time.UTC().Format(time.RFC3339Nano),
			Build: revocation.Build, Note: revocation.Reason, Revoked: true,
		})
		meta = append(meta, protocol.MetadataField{Name: "revoked", Value: revocation.Reason})
	}
	if target := req.Params.Render; target != "" {
		releases, err := renderInto(dest, target, gov.Policy, unpacked(req.Params), limits(req.Source))
		if err != nil {
			return nil, err
		}
		meta = append(meta, protocol.MetadataField{Name: "releases", Value: describeReleases(releases)})
	}
	passedJSON, err := json.MarshalIndent(passed, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := writeFiles(dest, map[string][]byte{
		versionFile: []byte(version),
		sha256File:  []byte(claim.SHA256),
		passedFile:  append(passedJSON, '\n'),
	}); err != nil {
		return nil, err
	}
	return protocol.Response{Version: *req.Version, Metadata: meta}, nil
}

func unpacked(p protocol.InParams) bool { return p.Unpack == nil || *p.Unpack }

func limits(src protocol.Source) archive.Limits {
	return archive.Limits{MaxBytes: src.MaxUnpackedBytes, MaxEntries: src.MaxEntries}
}

// renderInto writes manifest.yml and releases.json for one environment, from
// templates/ when it was unpacked, else from candidate.tgz.
func renderInto(dest, target string, pol policy.Policy, fromTemplates bool, lim archive.Limits) ([]policy.Release, error) {
	var templates fs.FS
	if fromTemplates {
		templates = os.DirFS(filepath.Join(dest, templatesDir))
	} else {
		f, err := os.Open(filepath.Join(dest, tarballFile))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		if templates, err = archive.Inspect(f, lim); err != nil {
			return nil, fmt.Errorf("reading %s: %w", tarballFile, err)
		}
	}
	manifest, releases, err := renderFor(templates, target)
	if err != nil {
		return nil, err
	}
	releasesJSON, err := json.MarshalIndent(releases, "", "  ")
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		manifestFile: manifest,
		releasesFile: append(releasesJSON, '\n'),
	}
	// With a parity rule, the differences from the partner's manifest too.
	if diff, err := parityDiff(templates, pol, target, manifest); err != nil {
		return nil, err
	} else if diff != nil {
		files[parityFile] = diff
	}
	if err := writeFiles(dest, files); err != nil {
		return nil, err
	}
	return releases, nil
}

func describeReleases(releases []policy.Release) string {
	parts := make([]string, len(releases))
	for i, r := range releases {
		parts[i] = r.Name + " " + r.Version
		if !r.Final {
			parts[i] += " (not final)"
		}
	}
	return strings.Join(parts, ", ")
}

// passRecords reads the pass records of a candidate, oldest first. A record
// that is not one of this resource's (too large, not its JSON, not what its
// key says: written by someone else) is skipped with one warning naming its
// key, so it can never make the candidate unreadable.
func passRecords(ctx context.Context, st *store.Store, keys []store.PassKey, env Env) ([]PassedRecord, error) {
	records := make([]PassedRecord, 0, len(keys))
	for _, k := range keys {
		rec, err := st.Pass(ctx, k)
		if errors.Is(err, store.ErrNotRecord) {
			env.Logf("warning: skipping the pass record %s: %v", st.PassKeyName(k), err)
			continue
		}
		if err != nil {
			return nil, err
		}
		records = append(records, PassedRecord{
			Environment: rec.Environment,
			Time:        rec.Time.UTC().Format(time.RFC3339Nano),
			Build:       rec.Build,
			Note:        rec.Note,
			Reset:       rec.Reset,
			Override:    rec.Override,
		})
	}
	return records, nil
}

// download streams the blob into candidate.tgz and, when asked, unpacks it
// into templates/ in the same pass, then checks the digest. On any failure the
// files it wrote are removed.
func download(ctx context.Context, st *store.Store, claim *store.Claim, dest string, unpack bool, limits archive.Limits) (err error) {
	tarball := filepath.Join(dest, tarballFile)
	templates := filepath.Join(dest, templatesDir)
	defer func() {
		if err != nil {
			os.Remove(tarball)
			os.RemoveAll(templates)
		}
	}()
	body, err := st.OpenBlob(ctx, claim.Blob)
	if err != nil {
		return err
	}
	defer body.Close()
	file, err := os.OpenFile(tarball, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, fileMode)
	if err != nil {
		return fmt.Errorf("creating %s: %w", tarball, err)
	}
	defer file.Close()

	hash := sha256.New()
	counted := &countingWriter{}
	sinks := []io.Writer{hash, file, counted}
	// waitUnpack ends the unpacking (if any) once the download is over.
	waitUnpack := func(error) error { return nil }
	if unpack {
		// Unpacking runs beside the download, fed through a pipe, so that
		// decompression overlaps reading, hashing and writing the tarball.
		pr, pw := io.Pipe()
		unpacked := make(chan error, 1)
		go func() {
			err := archive.Unpack(pr, templates, limits)
			// Keep taking bytes whatever Unpack thought of them: the
			// digest covers every byte, and a damaged blob often shows
			// first as a bad archive when the true problem is the digest.
			_, _ = io.Copy(io.Discard, pr)
			unpacked <- err
		}()
		sinks = append(sinks, pw)
		waitUnpack = func(downloadErr error) error {
			pw.CloseWithError(downloadErr)
			return <-unpacked
		}
	}
	// One byte past the published size: a longer blob fails the digest too.
	_, err = io.Copy(io.MultiWriter(sinks...), io.LimitReader(body, claim.Size+1))
	unpackErr := waitUnpack(err)
	if err != nil {
		return fmt.Errorf("downloading: %w", err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", tarball, err)
	}
	if got := hex.EncodeToString(hash.Sum(nil)); got != claim.SHA256 {
		return fmt.Errorf("sha256 mismatch: the stored tarball has %s (%d bytes) but the candidate was published with %s (%d bytes)", got, counted.n, claim.SHA256, claim.Size)
	}
	if unpackErr != nil {
		return fmt.Errorf("unpacking: %w", unpackErr)
	}
	return nil
}

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

func writeFiles(dir string, files map[string][]byte) error {
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, fileMode); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return nil
}

// candidateMetadata is what the Concourse UI shows for a candidate.
func candidateMetadata(claim *store.Claim, published time.Time, passed []PassedRecord) []protocol.MetadataField {
	envs := map[string]bool{}
	var names []string
	for _, p := range passed {
		if !envs[p.Environment] {
			envs[p.Environment] = true
			names = append(names, p.Environment)
		}
	}
	sort.Strings(names)
	meta := []protocol.MetadataField{
		{Name: "version", Value: claim.Version},
		{Name: "sha256", Value: claim.SHA256},
		{Name: "size", Value: strconv.FormatInt(claim.Size, 10)},
		{Name: "created_at", Value: published.UTC().Format(time.RFC3339)},
	}
	if claim.CreatedBy != "" {
		meta = append(meta, protocol.MetadataField{Name: "created_by", Value: claim.CreatedBy})
	}
	if len(names) > 0 {
		meta = append(meta, protocol.MetadataField{Name: "passed", Value: strings.Join(names, ", ")})
	}
	return meta
}
