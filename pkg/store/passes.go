package store

import (
	"context"
	"fmt"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// PassKey is a pass as seen in a listing.
type PassKey struct {
	Environment string
	Version     string
	VersionKey  string // the version's key: byte order is semver order
	Time        time.Time
	Key         string // relative to the prefix
}

// Deployment is a pass as seen in its environment's time-ordered listing.
type Deployment struct {
	Environment string
	Version     string
	Time        time.Time
}

// Build identifies the Concourse build that recorded a pass.
type Build struct {
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Job       string `json:"job,omitempty"`
	Pipeline  string `json:"pipeline,omitempty"`
	Team      string `json:"team,omitempty"`
	URL       string `json:"url,omitempty"`
	CreatedBy string `json:"created_by,omitempty"`
}

// PassRecord is the body of a pass object.
type PassRecord struct {
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	SHA256      string    `json:"sha256"`
	Time        time.Time `json:"time"`
	Build       Build     `json:"build"`
	Note        string    `json:"note,omitempty"`
	// Policy is the digest of the stored policy that admitted the pass.
	Policy string `json:"policy"`
	// Override is set when the pass was recorded by break-glass
	// (params.override) although the rule refused it.
	Override *Override `json:"override,omitempty"`
	// Reset marks a pass of the candidate the upgrade path's target
	// environment runs now: the environment was reset to it.
	Reset bool `json:"reset,omitempty"`
}

// Override is a pass recorded although its rule refused it.
type Override struct {
	Reason  string `json:"reason"`
	Refusal string `json:"refusal"` // the refusal it overrode, word for word
}

// PassesOf lists the passes of one version in the given environments,
// oldest first.
func (s *Store) PassesOf(ctx context.Context, version string, envs []string) ([]PassKey, error) {
	vk, err := keyOf(version)
	if err != nil {
		return nil, err
	}
	var out []PassKey
	for _, env := range envs {
		dir := path.Join(passesDir, env, vk)
		err := s.list(ctx, listing{dir: dir}, func(name string, _ types.Object) bool {
			if p, ok := parsePassName(env, vk+"/"+name); ok {
				p.Key = path.Join(dir, name)
				out = append(out, p)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	SortPasses(out)
	return out, nil
}

// PassEnvironments lists the environments that have pass records.
func (s *Store) PassEnvironments(ctx context.Context) ([]string, error) {
	var envs []string
	err := s.list(ctx, listing{dir: passesDir, delimiter: true}, func(name string, obj types.Object) bool {
		if obj.Key == nil && name != "" && !strings.Contains(name, "/") {
			envs = append(envs, name)
		}
		return true
	})
	return envs, err
}

// NextDeploymentTime is the time to give a new pass of env: the store's time
// now, or just after the newest deployment of env when that is later. The
// store's Date has whole seconds, so two passes within one second would
// otherwise tie or invert; deployments of one environment are totally
// ordered this way. Only the last minute is listed.
func (s *Store) NextDeploymentTime(ctx context.Context, env string, now time.Time) (time.Time, error) {
	recent, err := s.Deployments(ctx, env, now.Add(-time.Minute))
	if err != nil {
		return time.Time{}, err
	}
	t := now
	for _, d := range recent {
		t = after(t, d.Time)
	}
	return t, nil
}

// After is t, or just after the newest of the passes when that is not
// earlier: a pass is timed after every pass it builds on.
func After(t time.Time, passes []PassKey) time.Time {
	for _, p := range passes {
		t = after(t, p.Time)
	}
	return t
}

func after(t, than time.Time) time.Time {
	if !than.Before(t) {
		return than.Add(time.Microsecond)
	}
	return t
}

// PutPass stores a pass record under a new key, then its entry in the
// environment's deployment order, and returns its listing view. The record
// comes first: a deployment entry never exists without its pass.
func (s *Store) PutPass(ctx context.Context, rec PassRecord) (PassKey, error) {
	vk, err := keyOf(rec.Version)
	if err != nil {
		return PassKey{}, err
	}
	nonce := randomHex(nonceHex / 2)
	rel := passKey(rec.Environment, vk, rec.Time, nonce)
	if err := s.putRecord(ctx, rel, rec); err != nil {
		return PassKey{}, err
	}
	if err := s.putCreate(ctx, deployKey(rec.Environment, rec.Time, nonce, vk), []byte(rel), "text/plain"); err != nil {
		return PassKey{}, fmt.Errorf("the pass is recorded at %s, but its deployment entry is not: %w", s.key(rel), err)
	}
	return PassKey{Environment: rec.Environment, Version: rec.Version, Time: rec.Time, Key: rel}, nil
}

// Pass reads one pass record.
func (s *Store) Pass(ctx context.Context, p PassKey) (PassRecord, error) {
	var rec PassRecord
	found, err := s.getRecord(ctx, p.Key, &rec)
	switch {
	case err != nil:
		return rec, err
	case !found:
		return rec, fmt.Errorf("pass record %s vanished", s.key(p.Key))
	case rec.Environment != p.Environment || rec.Version != p.Version || !rec.Time.Equal(p.Time):
		return rec, fmt.Errorf("reading %s: its body says %s %s at %s, its key %s %s at %s: %w", p.Key,
			rec.Environment, rec.Version, rec.Time.Format(time.RFC3339Nano), p.Environment, p.Version, p.Time.Format(time.RFC3339Nano), ErrNotRecord)
	}
	return rec, nil
}

// PassKeyName is the key of a pass, for messages.
func (s *Store) PassKeyName(p PassKey) string { return s.key(p.Key) }

// SortPasses orders passes by time, then key.
func SortPasses(passes []PassKey) {
	sort.SliceStable(passes, func(i, j int) bool {
		if !passes[i].Time.Equal(passes[j].Time) {
			return passes[i].Time.Before(passes[j].Time)
		}
		return passes[i].Key < passes[j].Key
	})
}
