// Package protocol holds the Concourse resource protocol of templates-candidate:
// the requests read on stdin, the responses written on stdout, and their strict
// decoding and validation. Every error names the key at fault.
package protocol

import (
	"bytes"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/constraint"
	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// Defaults for unpacking bounds.
const (
	DefaultMaxUnpackedBytes = 4 << 30
	DefaultMaxEntries       = 100_000
	DefaultRegion           = "us-east-1"
)

// Source is the resource's configuration. Names follow concourse/s3-resource
// where the meaning is the same.
type Source struct {
	Bucket               string        `json:"bucket"`
	Prefix               string        `json:"prefix,omitempty"`
	RegionName           string        `json:"region_name,omitempty"`
	Endpoint             string        `json:"endpoint,omitempty"`
	UsePathStyle         bool          `json:"use_path_style,omitempty"`
	AccessKeyID          string        `json:"access_key_id,omitempty"`
	SecretAccessKey      string        `json:"secret_access_key,omitempty"`
	SessionToken         string        `json:"session_token,omitempty"`
	AWSRoleARN           string        `json:"aws_role_arn,omitempty"`
	SkipSSLVerification  bool          `json:"skip_ssl_verification,omitempty"`
	CABundle             string        `json:"ca_bundle,omitempty"`
	ServerSideEncryption string        `json:"server_side_encryption,omitempty"`
	SSEKMSKeyID          string        `json:"sse_kms_key_id,omitempty"`
	MaxUnpackedBytes     int64         `json:"max_unpacked_bytes,omitempty"`
	MaxEntries           int           `json:"max_entries,omitempty"`
	Environments         policy.Policy `json:"environments,omitempty"`
	EligibleFor          string        `json:"eligible_for,omitempty"`
	LiveIn               string        `json:"live_in,omitempty"`
	// SemverConstraint limits every mode to the versions it matches
	// (pkg/constraint: the syntax of registry-image-resource).
	SemverConstraint string `json:"semver_constraint,omitempty"`

	// line is SemverConstraint parsed once by Validate: check asks it of
	// every candidate it lists.
	line *constraint.Set
}

// Validate checks the source and fills in defaults.
func (s *Source) Validate() error {
	if strings.TrimSpace(s.Bucket) == "" {
		return fmt.Errorf("source.bucket: required")
	}
	if err := checkPrefix(s.Prefix); err != nil {
		return err
	}
	if s.Prefix != "" && !strings.HasSuffix(s.Prefix, "/") {
		s.Prefix += "/"
	}
	if s.RegionName == "" {
		s.RegionName = DefaultRegion
	}
	if s.Endpoint != "" {
		u, err := url.Parse(s.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("source.endpoint: %q is not an http(s) URL", redactedEndpoint(s.Endpoint))
		}
	}
	if (s.AccessKeyID == "") != (s.SecretAccessKey == "") {
		return fmt.Errorf("source.access_key_id and source.secret_access_key: give both or neither")
	}
	if s.SessionToken != "" && s.AccessKeyID == "" {
		return fmt.Errorf("source.session_token: needs access_key_id and secret_access_key")
	}
	switch s.ServerSideEncryption {
	case "", "AES256", "aws:kms", "aws:kms:dsse":
	default:
		return fmt.Errorf("source.server_side_encryption: %q is not one of AES256, aws:kms, aws:kms:dsse", s.ServerSideEncryption)
	}
	if s.SSEKMSKeyID != "" && !strings.HasPrefix(s.ServerSideEncryption, "aws:kms") {
		return fmt.Errorf("source.sse_kms_key_id: needs server_side_encryption aws:kms")
	}
	if s.MaxUnpackedBytes < 0 {
		return fmt.Errorf("source.max_unpacked_bytes: must be positive")
	}
	if s.MaxUnpackedBytes == 0 {
		s.MaxUnpackedBytes = DefaultMaxUnpackedBytes
	}
	if s.MaxEntries < 0 {
		return fmt.Errorf("source.max_entries: must be positive")
	}
	if s.MaxEntries == 0 {
		s.MaxEntries = DefaultMaxEntries
	}
	if err := s.Environments.Validate(); err != nil {
		return err
	}
	if s.EligibleFor != "" && s.LiveIn != "" {
		return fmt.Errorf("source.eligible_for and source.live_in: give at most one")
	}
	if s.SemverConstraint != "" {
		line, err := s.Constraint()
		if err != nil {
			return err
		}
		s.line = line
	}
	if s.Environments != nil {
		return s.CheckDeclared(s.Environments)
	}
	return nil
}

// Constraint is source.semver_constraint parsed; nil when there is none.
func (s Source) Constraint() (*constraint.Set, error) {
	if s.SemverConstraint == "" {
		return nil, nil
	}
	c, err := constraint.Parse(s.SemverConstraint)
	if err != nil {
		return nil, fmt.Errorf("source.semver_constraint: %q is not a semver constraint (e.g. ~1.4, >= 1.2, < 2): %v", s.SemverConstraint, err)
	}
	return c, nil
}

// InLine reports whether version is within source.semver_constraint (every
// version is, without one).
func (s Source) InLine(version string) bool {
	c := s.line
	if c == nil && s.SemverConstraint != "" {
		var err error
		if c, err = s.Constraint(); err != nil {
			return false
		}
	}
	return c == nil || c.Allows(version)
}

// CheckDeclared checks that the environments the source names are declared
// in the policy that governs it (source.environments, or the stored policy
// when the source omits it).
func (s Source) CheckDeclared(p policy.Policy) error {
	if s.EligibleFor != "" {
		if err := p.Declared("source.eligible_for", s.EligibleFor); err != nil {
			return err
		}
	}
	if s.LiveIn != "" {
		if err := p.Declared("source.live_in", s.LiveIn); err != nil {
			return err
		}
	}
	return nil
}

// Version identifies a candidate; Deployed is set for live_in versions: the
// time of the pass that deployed it.
type Version struct {
	Version  string `json:"version"`
	Deployed string `json:"deployed,omitempty"`
}

// DeployedVersion is the live_in version of a deployment: the version and
// the pass's time in RFC 3339 UTC with nanoseconds.
func DeployedVersion(version string, t time.Time) Version {
	return Version{Version: version, Deployed: t.UTC().Format(time.RFC3339Nano)}
}

// MetadataField is one line of metadata shown in the Concourse UI.
type MetadataField struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// CheckRequest is check's stdin.
type CheckRequest struct {
	Source  Source   `json:"source"`
	Version *Version `json:"version"`
}

// InParams are get's params.
type InParams struct {
	Unpack       *bool  `json:"unpack,omitempty"`
	Render       string `json:"render,omitempty"`
	SkipDownload bool   `json:"skip_download,omitempty"`
}

// InRequest is in's stdin.
type InRequest struct {
	Source  Source   `json:"source"`
	Version *Version `json:"version"`
	Params  InParams `json:"params"`
}

// OutParams are put's params: either publish (directory or tarball, optional
// version or version_file) or record a pass (candidate and environment).
type OutParams struct {
	Directory   string `json:"directory,omitempty"`
	Tarball     string `json:"tarball,omitempty"`
	Version     string `json:"version,omitempty"`
	VersionFile string `json:"version_file,omitempty"`
	Candidate   string `json:"candidate,omitempty"`
	Environment string `json:"environment,omitempty"`
	Note        string `json:"note,omitempty"`
	// UpdatePolicy stores source.environments as the new policy.
	UpdatePolicy bool `json:"update_policy,omitempty"`
	// Revoke names a candidate to revoke: the directory of a get of this
	// resource, or a version. Reason is required with it.
	Revoke string `json:"revoke,omitempty"`
	Reason string `json:"reason,omitempty"`
	// Override records a pass its rule refuses (break-glass), giving the
	// reason; the rule must have allow_override.
	Override string `json:"override,omitempty"`
}

// OutRequest is out's stdin.
type OutRequest struct {
	Source Source    `json:"source"`
	Params OutParams `json:"params"`
}

// Response is the stdout of in and out.
type Response struct {
	Version  Version         `json:"version"`
	Metadata []MetadataField `json:"metadata"`
}

// decode reads a request strictly and validates its source.
func decode(r io.Reader, req any, src *Source) error {
	if err := decodeStrict(r, req); err != nil {
		return err
	}
	return src.Validate()
}

// DecodeCheck reads and validates check's request.
func DecodeCheck(r io.Reader) (CheckRequest, error) {
	var req CheckRequest
	err := decode(r, &req, &req.Source)
	return req, err
}

// DecodeIn reads and validates in's request.
func DecodeIn(r io.Reader) (InRequest, error) {
	var req InRequest
	if err := decode(r, &req, &req.Source); err != nil {
		return req, err
	}
	if req.Version == nil || req.Version.Version == "" {
		return req, fmt.Errorf("version.version: required")
	}
	if req.Params.Render != "" {
		if req.Source.Environments != nil {
			if err := req.Source.Environments.Declared("params.render", req.Params.Render); err != nil {
				return req, err
			}
		}
		if req.Params.SkipDownload {
			return req, fmt.Errorf("params.render: rendering needs the candidate, so it cannot go with skip_download")
		}
	}
	return req, nil
}

// DecodeOut reads and validates out's request.
func DecodeOut(r io.Reader) (OutRequest, error) {
	var req OutRequest
	data, err := io.ReadAll(r)
	if err != nil {
		return req, fmt.Errorf("reading request: %w", err)
	}
	if err := decode(bytes.NewReader(data), &req, &req.Source); err != nil {
		return req, err
	}
	if err := checkGivenEmpty(data); err != nil {
		return req, err
	}
	p := req.Params
	for _, text := range []struct{ key, value string }{{"params.note", p.Note}, {"params.reason", p.Reason}, {"params.override", p.Override}} {
		if err := checkStoredText(text.key, text.value); err != nil {
			return req, err
		}
	}
	publish := p.Directory != "" || p.Tarball != ""
	pass := p.Candidate != "" || p.Environment != ""
	if src := req.Source; src.EligibleFor != "" {
		return req, fmt.Errorf("this resource is a gate (source.eligible_for: %s): put through a resource without eligible_for", src.EligibleFor)
	} else if src.LiveIn != "" && (!pass || p.Environment != src.LiveIn) {
		return req, fmt.Errorf("this resource shows what is live in %s (source.live_in): it records passes of %s only; publish, update the policy or record other passes through a resource without live_in", src.LiveIn, src.LiveIn)
	}
	if p.Revoke != "" || p.Reason != "" {
		switch {
		case p.Revoke == "":
			return req, fmt.Errorf("params.reason: only for revoking a candidate (params.revoke)")
		case strings.TrimSpace(p.Reason) == "":
			return req, fmt.Errorf("params.reason: required to revoke %s: say why it must never be deployed", p.Revoke)
		case publish || pass || p.UpdatePolicy || p.Version != "" || p.VersionFile != "" || p.Override != "":
			return req, fmt.Errorf("params.revoke: goes alone (with params.reason and an optional note), not with publishing, recording a pass or update_policy")
		}
		return req, nil
	}
	if p.Override != "" && !pass {
		return req, fmt.Errorf("params.override: only for recording a pass (params.candidate and params.environment)")
	}
	if p.Override != "" && strings.TrimSpace(p.Override) == "" {
		return req, fmt.Errorf("params.override: give the reason for breaking the glass")
	}
	if p.UpdatePolicy {
		switch {
		case publish || pass || p.Version != "" || p.VersionFile != "":
			return req, fmt.Errorf("params.update_policy: goes alone (with an optional note), not with publishing or recording a pass")
		case req.Source.Environments == nil:
			return req, fmt.Errorf("params.update_policy: source.environments is the new policy, and it is missing")
		}
		return req, nil
	}
	switch {
	case p.Directory != "" && p.Tarball != "":
		return req, fmt.Errorf("params.directory and params.tarball: give only one")
	case publish && pass:
		return req, fmt.Errorf("params: publish (directory/tarball) and record a pass (candidate/environment) are separate puts")
	case publish:
		if p.Version != "" && p.VersionFile != "" {
			return req, fmt.Errorf("params.version and params.version_file: give only one")
		}
		if p.Note != "" {
			return req, fmt.Errorf("params.note: only for recording a pass")
		}
	case pass:
		if p.Candidate == "" {
			return req, fmt.Errorf("params.candidate: required to record a pass in %q", p.Environment)
		}
		if p.Environment == "" {
			return req, fmt.Errorf("params.environment: required to record a pass")
		}
		if p.Version != "" || p.VersionFile != "" {
			return req, fmt.Errorf("params.version: the version of a pass comes from params.candidate")
		}
		if req.Source.Environments != nil {
			if err := req.Source.Environments.Declared("params.environment", p.Environment); err != nil {
				return req, err
			}
		}
	default:
		return req, fmt.Errorf("params: give directory or tarball to publish, candidate and environment to record a pass, or update_policy: true")
	}
	return req, nil
}
