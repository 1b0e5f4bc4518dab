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
}

// Secrets lists the values that must never be printed.
func (s Source) Secrets() []string {
	return []string{s.SecretAccessKey, s.SessionToken}
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
			return fmt.Errorf("source.endpoint: %q is not an http(s) URL", s.Endpoint)
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
	if s.EligibleFor != "" {
		if err := s.Environments.Declared("source.eligible_for", s.EligibleFor); err != nil {
			return err
		}
	}
	if s.LiveIn != "" {
		if err := s.Environments.Declared("source.live_in", s.LiveIn); err != nil {
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
		if err := req.Source.Environments.Declared("params.render", req.Params.Render); err != nil {
			return req, err
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
	if err := checkNote(p.Note); err != nil {
		return req, err
	}
	publish := p.Directory != "" || p.Tarball != ""
	pass := p.Candidate != "" || p.Environment != ""
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
		if err := req.Source.Environments.Declared("params.environment", p.Environment); err != nil {
			return req, err
		}
	default:
		return req, fmt.Errorf("params: give directory or tarball to publish, or candidate and environment to record a pass")
	}
	return req, nil
}
