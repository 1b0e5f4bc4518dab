package store

import (
	"context"
	"path"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Stream is a listing read in the background, one page ahead of its
// reader: a check over a long history holds two pages of keys at most,
// whatever its length, and listings of several prefixes run at once.
type Stream[T any] struct {
	pages  chan []T
	page   []T
	err    error // set before pages is closed
	cancel context.CancelFunc
}

// streamPage is how many items a stream hands over at a time: a listing's page.
const streamPage = 1000

func startStream[T any](ctx context.Context, s *Store, l listing, parse func(name string, obj types.Object) (T, bool)) *Stream[T] {
	ctx, cancel := context.WithCancel(ctx)
	st := &Stream[T]{pages: make(chan []T, 1), cancel: cancel}
	go func() {
		defer close(st.pages)
		var batch []T
		flush := func() bool {
			if len(batch) == 0 {
				return true
			}
			select {
			case st.pages <- batch:
				batch = nil
				return true
			case <-ctx.Done():
				return false
			}
		}
		st.err = s.list(ctx, l, func(name string, obj types.Object) bool {
			if v, ok := parse(name, obj); ok {
				batch = append(batch, v)
				if len(batch) >= streamPage {
					return flush()
				}
			}
			return true
		})
		if st.err == nil {
			flush()
		}
		// A listing cut short because its context ended (Close, or the
		// command's deadline) is not the whole: it must not read as one.
		if st.err == nil && ctx.Err() != nil {
			st.err = ctx.Err()
		}
	}()
	return st
}

// Peek is the next item without taking it; ok is false at the end.
func (st *Stream[T]) Peek() (v T, ok bool) {
	for len(st.page) == 0 {
		p, open := <-st.pages
		if !open {
			return v, false
		}
		st.page = p
	}
	return st.page[0], true
}

// Next takes the next item; ok is false at the end (see Err).
func (st *Stream[T]) Next() (v T, ok bool) {
	if v, ok = st.Peek(); ok {
		st.page = st.page[1:]
	}
	return v, ok
}

// Err is why the stream ended early, once Next said it ended.
func (st *Stream[T]) Err() error { return st.err }

// Close stops the listing.
func (st *Stream[T]) Close() {
	st.cancel()
	for range st.pages {
	}
}

// listedKey is a key of candidates/: a commit record, or a revocation.
type listedKey struct {
	Candidate
	revocation bool
}

// CandidateStream reads the committed candidates in semver order, each with
// its revocation (which sorts right after its commit record).
type CandidateStream struct{ keys *Stream[listedKey] }

// StreamCandidates lists the committed candidates from a version on (all
// with from ""), a page ahead.
func (s *Store) StreamCandidates(ctx context.Context, from string) (*CandidateStream, error) {
	l := listing{dir: candidatesDir}
	if from != "" {
		vk, err := keyOf(from)
		if err != nil {
			return nil, err
		}
		l.startAfter = startAt(vk)
	}
	return &CandidateStream{keys: startStream(ctx, s, l, func(name string, obj types.Object) (listedKey, bool) {
		if c, ok := parseCommitName(name); ok {
			c.Published = aws.ToTime(obj.LastModified).UTC()
			return listedKey{Candidate: c}, true
		}
		if v, ok := parseRevocationName(name); ok {
			return listedKey{Candidate: Candidate{Version: v}, revocation: true}, true
		}
		return listedKey{}, false
	})}, nil
}

// Next is the next committed candidate; ok false at the end (see Err). A
// revocation sorts beside its commit record, after it for every policy
// number below 10^18 and before it above: either order marks the candidate.
func (cs *CandidateStream) Next() (Candidate, bool) {
	revoked := ""
	for {
		k, ok := cs.keys.Next()
		if !ok {
			return Candidate{}, false
		}
		if k.revocation {
			revoked = k.Version
			continue
		}
		k.Revoked = revoked == k.Version
		if next, ok := cs.keys.Peek(); ok && next.revocation && next.Version == k.Version {
			cs.keys.Next()
			k.Revoked = true
		}
		return k.Candidate, true
	}
}

// Err is why the listing ended early, once Next said it ended.
func (cs *CandidateStream) Err() error { return cs.keys.Err() }

// Close stops the listing.
func (cs *CandidateStream) Close() { cs.keys.Close() }

// StreamPasses lists the passes of env in version order (then time) from a
// version on (all with from ""), a page ahead.
func (s *Store) StreamPasses(ctx context.Context, env, from string) (*Stream[PassKey], error) {
	l := listing{dir: path.Join(passesDir, env)}
	if from != "" {
		vk, err := keyOf(from)
		if err != nil {
			return nil, err
		}
		l.startAfter = startAt(vk)
	}
	return startStream(ctx, s, l, func(name string, _ types.Object) (PassKey, bool) {
		p, ok := parsePassName(env, name)
		if ok {
			p.Key = path.Join(l.dir, name)
		}
		return p, ok
	}), nil
}

// StreamDeployments lists the deployments of env in time order from a time
// on (all with a zero time), a page ahead.
func (s *Store) StreamDeployments(ctx context.Context, env string, from time.Time) *Stream[Deployment] {
	l := listing{dir: path.Join(deploysDir, env)}
	if !from.IsZero() {
		l.startAfter = from.UTC().Format(timeLayout)
	}
	return startStream(ctx, s, l, func(name string, _ types.Object) (Deployment, bool) {
		return parseDeployName(env, name)
	})
}

// FirstDeployments reads the first listing page of env's deployments (up to
// 1,000, in time order) and reports whether that is all of them.
func (s *Store) FirstDeployments(ctx context.Context, env string) ([]Deployment, bool, error) {
	var out []Deployment
	more, err := s.listPages(ctx, listing{dir: path.Join(deploysDir, env), onePage: true}, func(name string, _ types.Object) bool {
		if d, ok := parseDeployName(env, name); ok {
			out = append(out, d)
		}
		return true
	})
	return out, !more, err
}

// newestWindows are how far back from the store's time NewestDeployment
// looks, one after the other.
var newestWindows = []time.Duration{time.Hour, 24 * time.Hour, 30 * 24 * time.Hour, 365 * 24 * time.Hour}

// NewestDeployment finds the newest deployment of env when its history is
// longer than a listing page (head, from FirstDeployments): it lists from
// the store's time back an hour, a day, 30 days, a year, and takes the first
// of those windows that holds a deployment; failing all, everything after
// head. Deployment keys sort in time order, so a window holds the newest
// whenever it holds any. ok is false when env has no deployment.
func (s *Store) NewestDeployment(ctx context.Context, env string, head []Deployment) (Deployment, bool, error) {
	now, err := s.Now()
	if err != nil {
		return Deployment{}, false, err
	}
	froms := make([]time.Time, 0, len(newestWindows)+1)
	for _, back := range newestWindows {
		froms = append(froms, now.Add(-back))
	}
	var afterHead time.Time // zero: all
	if n := len(head); n > 0 {
		afterHead = head[n-1].Time
	}
	for _, from := range append(froms, afterHead) {
		recent, err := s.Deployments(ctx, env, from)
		if err != nil {
			return Deployment{}, false, err
		}
		if n := len(recent); n > 0 {
			return recent[n-1], true, nil
		}
	}
	return Deployment{}, false, nil
}

// collect reads a stream to its end.
func collect[T any](next func() (T, bool), err func() error) ([]T, error) {
	var out []T
	for v, ok := next(); ok; v, ok = next() {
		out = append(out, v)
	}
	return out, err()
}

// Candidates lists the committed candidates in semver order, each with its
// revocation: every one, or with from set, from that version on.
func (s *Store) Candidates(ctx context.Context, from string) ([]Candidate, error) {
	cs, err := s.StreamCandidates(ctx, from)
	if err != nil {
		return nil, err
	}
	defer cs.Close()
	return collect(cs.Next, cs.Err)
}

// Passes lists the passes recorded in env in version order (then time):
// every one, or with from set, those of that version and higher.
func (s *Store) Passes(ctx context.Context, env, from string) ([]PassKey, error) {
	ps, err := s.StreamPasses(ctx, env, from)
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	return collect(ps.Next, ps.Err)
}

// Deployments lists the passes of env in time order: every one, or with
// from set, those at or after that time.
func (s *Store) Deployments(ctx context.Context, env string, from time.Time) ([]Deployment, error) {
	ds := s.StreamDeployments(ctx, env, from)
	defer ds.Close()
	return collect(ds.Next, ds.Err)
}
