package store

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Revocation is the record of a revoked candidate.
type Revocation struct {
	Version string    `json:"version"`
	SHA256  string    `json:"sha256"`
	Reason  string    `json:"reason"`
	Time    time.Time `json:"time"`
	Build   Build     `json:"build"`
}

// Revoked lists the revoked versions (keys only: a listing, no GET).
func (s *Store) Revoked(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	err := s.list(ctx, listing{dir: revokedDir}, func(name string, _ types.Object) bool {
		if vk, ok := strings.CutSuffix(name, ".json"); ok {
			if v, err := ParseVersionKey(vk); err == nil {
				out[v] = true
			}
		}
		return true
	})
	return out, err
}

// Revocation reads the record of a revoked version; nil when not revoked.
func (s *Store) Revocation(ctx context.Context, version string) (*Revocation, error) {
	vk, ok := VersionKey(version)
	if !ok {
		return nil, fmt.Errorf("%q is not a semantic version", version)
	}
	var rec Revocation
	found, err := s.getRecord(ctx, path.Join(revokedDir, vk+".json"), &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// PutRevocation revokes a version; ErrExists when it was revoked already.
func (s *Store) PutRevocation(ctx context.Context, rec Revocation) error {
	vk, ok := VersionKey(rec.Version)
	if !ok {
		return fmt.Errorf("%q is not a semantic version", rec.Version)
	}
	return s.putRecord(ctx, path.Join(revokedDir, vk+".json"), rec)
}
