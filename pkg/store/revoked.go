package store

import (
	"context"
	"path"
	"strings"
	"time"
)

// Revocation is the record of a revoked candidate. It is stored beside the
// candidate's commit record (candidates/<version key>_revoked), so every
// listing that sees a candidate sees its revocation too, at no extra request.
type Revocation struct {
	Version string    `json:"version"`
	SHA256  string    `json:"sha256"`
	Reason  string    `json:"reason"`
	Time    time.Time `json:"time"`
	Build   Build     `json:"build"`
}

const revokedSuffix = "_revoked"

func revocationKey(vk string) string { return path.Join(candidatesDir, vk+revokedSuffix) }

// parseRevocationName reads "<version key>_revoked".
func parseRevocationName(name string) (string, bool) {
	vk, ok := strings.CutSuffix(name, revokedSuffix)
	if !ok {
		return "", false
	}
	v, err := ParseVersionKey(vk)
	return v, err == nil
}

// Revoked lists the revoked versions (a listing of candidates/, no GET).
func (s *Store) Revoked(ctx context.Context) (map[string]bool, error) {
	candidates, err := s.Candidates(ctx, "")
	out := map[string]bool{}
	for _, c := range candidates {
		if c.Revoked {
			out[c.Version] = true
		}
	}
	return out, err
}

// Revocation reads the record of a revoked version; nil when not revoked.
func (s *Store) Revocation(ctx context.Context, version string) (*Revocation, error) {
	vk, err := keyOf(version)
	if err != nil {
		return nil, err
	}
	var rec Revocation
	found, err := s.getRecord(ctx, revocationKey(vk), &rec)
	if err != nil || !found {
		return nil, err
	}
	return &rec, nil
}

// PutRevocation revokes a version; ErrExists when it was revoked already.
func (s *Store) PutRevocation(ctx context.Context, rec Revocation) error {
	vk, err := keyOf(rec.Version)
	if err != nil {
		return err
	}
	return s.putRecord(ctx, revocationKey(vk), rec)
}
