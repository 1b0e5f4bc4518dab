package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
)

// Claim binds a version to the content stored for it. The first claim of a
// version wins; the candidate exists once its commit record is written.
type Claim struct {
	Version   string `json:"version"`
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	Blob      string `json:"blob"`
	CreatedBy string `json:"created_by,omitempty"`
	// PolicySeq and PolicyDigest name the stored policy the templates were
	// validated under.
	PolicySeq    int    `json:"policy_seq"`
	PolicyDigest string `json:"policy_digest"`
	// Releases are the releases of the manifest rendered for each environment
	// of that policy. An environment missing here was not declared then: its
	// releases are unknown.
	Releases map[string][]policy.Release `json:"releases"`
}

// NonFinalMask is the commit key's mark of the environments (of the policy's
// environments, in name order) whose manifest has a release that is not final.
func (c Claim) NonFinalMask(envs []string) string {
	return nonFinalMask(envs, func(env string) bool {
		for _, r := range c.Releases[env] {
			if !r.Final {
				return true
			}
		}
		return false
	})
}

// Candidate is a committed candidate as seen in a listing.
type Candidate struct {
	Version    string
	VersionKey string // the version's key: byte order is semver order
	// Published is the commit record's LastModified: the store's clock.
	Published time.Time
	// PolicySeq is the stored policy the candidate was validated under.
	PolicySeq int
	// NonFinalMask marks the environments of that policy whose manifest has
	// a release that is not final (see NonFinal).
	NonFinalMask string
	// Revoked is set when the candidate was revoked.
	Revoked bool
}

// NonFinal reports whether the manifest of the environment at index i of the
// candidate's policy (environments in name order) has a non-final release.
func (c Candidate) NonFinal(i int) bool { return maskHas(c.NonFinalMask, i) }

// Committed reads the commit record of one version from a listing of its
// keys: whether it is committed, when (the store's clock), and whether it
// was revoked. One request, like a HEAD, that also sees the revocation.
func (s *Store) Committed(ctx context.Context, version string) (c Candidate, ok bool, err error) {
	vk, err := keyOf(version)
	if err != nil {
		return Candidate{}, false, err
	}
	found, revoked := false, false
	err = s.list(ctx, listing{dir: candidatesDir, startAfter: startAt(vk), maxKeys: 4}, func(name string, obj types.Object) bool {
		if !strings.HasPrefix(name, vk+"_") {
			return false
		}
		if cand, isCommit := parseCommitName(name); isCommit && cand.Version == version {
			c, found = cand, true
			c.Published = aws.ToTime(obj.LastModified).UTC()
		} else if _, isRevocation := parseRevocationName(name); isRevocation {
			revoked = true
		}
		return true
	})
	c.Revoked = revoked
	return c, found, err
}

// HighestClaim is the highest version claimed, committed or not, that
// inLine accepts ("" when none): claims list highest first, so with every
// version in line this reads one key.
func (s *Store) HighestClaim(ctx context.Context, inLine func(string) bool) (string, error) {
	highest, seen := "", 0
	find := func(name string, _ types.Object) bool {
		seen++
		if dk, ok := strings.CutSuffix(name, ".json"); ok {
			if v, err := ParseVersionKey(descendingKey(dk)); err == nil && inLine(v) {
				highest = v
				return false
			}
		}
		return true // another line's, or a key someone else wrote: look further
	}
	err := s.list(ctx, listing{dir: claimsDir, maxKeys: 1}, func(name string, obj types.Object) bool {
		find(name, obj)
		return false // one key: the highest
	})
	if err != nil || highest != "" || seen == 0 {
		return highest, err
	}
	// The highest is not in the line: look further, a thousand at a time.
	err = s.list(ctx, listing{dir: claimsDir}, find)
	return highest, err
}

// Claim reads the claim of a version; nil when the version is not claimed.
func (s *Store) Claim(ctx context.Context, version string) (*Claim, error) {
	vk, err := keyOf(version)
	if err != nil {
		return nil, err
	}
	var claim Claim
	found, err := s.getRecord(ctx, claimKey(vk), &claim)
	if err != nil || !found {
		return nil, err
	}
	if claim.Version != version {
		return nil, fmt.Errorf("the claim of %s in the store names version %q", version, claim.Version)
	}
	return &claim, nil
}

// PutClaim claims a version for some content; ErrExists when another claim
// came first.
func (s *Store) PutClaim(ctx context.Context, claim Claim) error {
	vk, err := keyOf(claim.Version)
	if err != nil {
		return err
	}
	return s.putRecord(ctx, claimKey(vk), claim)
}

// Commit writes the commit record of a claimed version, making the candidate
// visible. Committing twice is harmless: the record is the same bytes.
func (s *Store) Commit(ctx context.Context, claim Claim, envs []string) error {
	vk, err := keyOf(claim.Version)
	if err != nil {
		return err
	}
	body := []byte(`{"version":"` + claim.Version + `","sha256":"` + claim.SHA256 + `"}`)
	return s.putCreate(ctx, commitKey(vk, claim.PolicySeq, claim.NonFinalMask(envs)), body, "application/json")
}

// VersionsWithContent lists the versions whose claim recorded this content
// digest, in semver order.
func (s *Store) VersionsWithContent(ctx context.Context, sha string) ([]string, error) {
	var out []string
	err := s.list(ctx, listing{dir: contentsDir + "/" + sha}, func(name string, _ types.Object) bool {
		if v, err := ParseVersionKey(name); err == nil {
			out = append(out, v)
		}
		return true
	})
	return out, err
}

// PutContent records that version holds the content with this digest.
func (s *Store) PutContent(ctx context.Context, sha, version string) error {
	vk, err := keyOf(version)
	if err != nil {
		return err
	}
	err = s.putCreate(ctx, contentKey(sha, vk), []byte(version), "text/plain")
	if errors.Is(err, ErrExists) {
		return nil // the index holds this fact already, whoever wrote it
	}
	return err
}
