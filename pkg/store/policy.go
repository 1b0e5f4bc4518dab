package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// Policies lists the stored policies, oldest first, one per number; the
// last one rules. next is the number a new policy takes: after every number
// stored or claimed.
//
// A number goes to one policy through its create-only claim (PutPolicy).
// Two records under one number were written without a claim deciding
// between them (by an earlier release of this resource, or by hand): the
// claim is read, and without one naming either the store does not say which
// rules, so nothing is decided on it.
func (s *Store) Policies(ctx context.Context) (keys []PolicyKey, next int, err error) {
	records := map[int][]string{}
	highest := 0
	err = s.list(ctx, listing{dir: policiesDir}, func(name string, _ types.Object) bool {
		seq, rest, ok := parseSeqKey(name)
		if !ok {
			return true
		}
		if rest != "" { // a record, not a claim
			digest, isJSON := strings.CutSuffix(strings.TrimPrefix(rest, "_"), ".json")
			if !isJSON || len(digest) != 64 || !strings.HasPrefix(rest, "_") {
				return true
			}
			records[seq] = append(records[seq], digest)
		}
		highest = max(highest, seq)
		return true
	})
	if err != nil {
		return nil, 0, err
	}
	for seq, digests := range records {
		digest := digests[0]
		if len(digests) > 1 {
			if digest, err = s.claimedPolicy(ctx, seq, digests); err != nil {
				return nil, 0, err
			}
		}
		keys = append(keys, PolicyKey{Seq: seq, Digest: digest})
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].Seq < keys[j].Seq })
	return keys, highest + 1, nil
}

// claimedPolicy is the digest, among those stored under number seq, that the
// number's claim names.
func (s *Store) claimedPolicy(ctx context.Context, seq int, digests []string) (string, error) {
	b, found, err := s.getBytes(ctx, policyClaimKey(seq), maxRecordBytes)
	if err != nil {
		return "", fmt.Errorf("reading the claim of policy %d: %w", seq, err)
	}
	if claimed := strings.TrimSpace(string(b)); found && slices.Contains(digests, claimed) {
		return claimed, nil
	}
	return "", fmt.Errorf("%d policies are stored as number %d (%s) and %s names none of them: the store does not say which rules; store the intended one with a put of params.update_policy: true",
		len(digests), seq, s.key(policyKey(seq, digests[0]))+", …", s.key(policyClaimKey(seq)))
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

// PutPolicy stores a policy as number rec.Seq: it claims the number first
// (create-only, the digest as body), then writes the record. ErrExists when
// another put claimed that number for another policy. The same environments
// stored at once by two puts are stored once.
func (s *Store) PutPolicy(ctx context.Context, rec PolicyRecord) error {
	rec.Digest = rec.Environments.Digest()
	if err := s.putCreate(ctx, policyClaimKey(rec.Seq), []byte(rec.Digest), "text/plain"); err != nil {
		return err
	}
	err := s.putRecord(ctx, policyKey(rec.Seq, rec.Digest), rec)
	if errors.Is(err, ErrExists) {
		return nil // the same environments, under the number claimed for them
	}
	return err
}
