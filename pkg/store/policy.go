package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// PolicyKey is a stored policy as seen in a listing.
type PolicyKey struct {
	Seq    int
	Digest string
}

// PolicyRecord is the body of a stored policy: the environments of
// source.environments, and who stored them.
type PolicyRecord struct {
	Seq          int           `json:"seq"`
	Digest       string        `json:"digest"`
	Environments policy.Policy `json:"environments"`
	Time         time.Time     `json:"time"`
	Build        Build         `json:"build"`
	Note         string        `json:"note,omitempty"`
}

// Policies lists the stored policies, oldest first; the last one rules.
func (s *Store) Policies(ctx context.Context) ([]PolicyKey, error) {
	var out []PolicyKey
	err := s.list(ctx, listing{dir: policiesDir}, func(name string, _ types.Object) bool {
		seq, rest, ok := parseSeqKey(name)
		digest, isJSON := strings.CutSuffix(strings.TrimPrefix(rest, "_"), ".json")
		if ok && isJSON && len(digest) == 64 && strings.HasPrefix(rest, "_") {
			out = append(out, PolicyKey{Seq: seq, Digest: digest})
		}
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Seq < out[j].Seq })
	return out, err
}

// ReadPolicy reads a stored policy and checks that it is what its key says.
func (s *Store) ReadPolicy(ctx context.Context, k PolicyKey) (PolicyRecord, error) {
	var rec PolicyRecord
	rel := policyKey(k.Seq, k.Digest)
	found, err := s.getRecord(ctx, rel, &rec)
	if err != nil {
		return rec, fmt.Errorf("reading the stored policy: %w", err)
	}
	if !found {
		return rec, fmt.Errorf("reading the stored policy: %s vanished", s.key(rel))
	}
	if err := rec.Environments.Validate(); err != nil {
		return rec, fmt.Errorf("the stored policy %s is not valid: %w", s.key(rel), err)
	}
	if rec.Seq != k.Seq || rec.Environments.Digest() != k.Digest {
		return rec, fmt.Errorf("the stored policy %s does not hold what its key says (digest %s)", s.key(rel), rec.Environments.Digest())
	}
	return rec, nil
}

// PutPolicy stores a policy as number rec.Seq; ErrExists when another put
// stored that number first.
func (s *Store) PutPolicy(ctx context.Context, rec PolicyRecord) error {
	rec.Digest = rec.Environments.Digest()
	return s.putRecord(ctx, policyKey(rec.Seq, rec.Digest), rec)
}
