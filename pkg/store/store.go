// Package store keeps candidates, their pass records and the promotion policy
// in S3, in the key layout of layout.go.
//
// Every write is create-only (If-None-Match: *) and verified: only 412 means
// "someone wrote this key first", and after a lost answer the key is read
// back and must hold our bytes. Nothing is overwritten or deleted. Key names
// carry what check needs, so check reads listings only, from a known
// version's key on.
package store

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

// ErrExists is returned by a create-only write whose key another writer
// created first (412 Precondition Failed, and the key does not hold our bytes).
var ErrExists = errors.New("already exists")

// ErrNotRecord marks an object that is not a record of this resource: too
// large, or not its JSON. Readers skip such a record with a warning rather
// than let it make a candidate unreadable for good.
var ErrNotRecord = errors.New("not a record of this resource")

// maxRecordBytes bounds every JSON record read from the store: a record
// beyond it was not written by this resource and is refused, not read.
const maxRecordBytes = 64 << 10

// nonceHex is the length of the random part of pass and deployment keys.
const nonceHex = 8

// Store is one resource's view of its bucket and prefix.
type Store struct {
	client   *s3.Client
	clock    *Clock
	endpoint string
	bucket   string
	prefix   string
	sse      types.ServerSideEncryption
	kmsKeyID *string
}

// New connects a store for the source.
func New(ctx context.Context, src protocol.Source) (*Store, error) {
	clock := &Clock{}
	client, err := newClient(ctx, src, clock)
	if err != nil {
		return nil, err
	}
	endpoint := src.Endpoint
	if u, err := url.Parse(endpoint); err == nil && u.User != nil {
		endpoint = u.Redacted()
	}
	if endpoint == "" {
		endpoint = "(AWS S3 in " + src.RegionName + ")"
	}
	s := &Store{client: client, clock: clock, endpoint: endpoint, bucket: src.Bucket, prefix: src.Prefix}
	if src.ServerSideEncryption != "" {
		s.sse = types.ServerSideEncryption(src.ServerSideEncryption)
	}
	if src.SSEKMSKeyID != "" {
		s.kmsKeyID = aws.String(src.SSEKMSKeyID)
	}
	return s, nil
}

// Now is the store's time (see Clock); it needs one answered request first.
func (s *Store) Now() (time.Time, error) { return s.clock.Now() }

func (s *Store) key(rel string) string { return s.prefix + rel }

// listing is one listing of keys under a directory of the layout.
type listing struct {
	dir        string // relative to the prefix, without a trailing slash
	startAfter string // relative to dir; "" lists from the start
	maxKeys    int32  // 0: pages of 1000
	delimiter  bool   // list the directory's subdirectories instead
	onePage    bool   // the first page alone
}

// list calls fn for each key (relative to the listing's directory) and
// stops early when fn returns false.
func (s *Store) list(ctx context.Context, l listing, fn func(name string, obj types.Object) bool) error {
	_, err := s.listPages(ctx, l, fn)
	return err
}

// listPages is list, and reports whether it stopped before the listing's
// end: with onePage, that the listing has more than one page.
func (s *Store) listPages(ctx context.Context, l listing, fn func(name string, obj types.Object) bool) (more bool, err error) {
	full := s.key(l.dir) + "/"
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full)}
	if l.startAfter != "" {
		in.StartAfter = aws.String(full + l.startAfter)
	}
	if l.maxKeys > 0 {
		in.MaxKeys = aws.Int32(l.maxKeys)
	}
	if l.delimiter {
		in.Delimiter = aws.String("/")
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		if l.onePage && more {
			return true, nil
		}
		more = true
		page, err := pages.NextPage(ctx)
		if err != nil {
			return false, fmt.Errorf("listing %s: %w", full, s.explain(err))
		}
		for _, p := range page.CommonPrefixes {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), full), "/")
			if !fn(name, types.Object{}) {
				return true, nil
			}
		}
		for _, obj := range page.Contents {
			if !fn(strings.TrimPrefix(aws.ToString(obj.Key), full), obj) {
				return true, nil
			}
		}
	}
	return false, nil
}

// putCreate writes body at rel only if the key does not exist, and verifies
// the outcome: success means the key holds exactly these bytes.
//   - 412: someone wrote the key first, or a first attempt of ours landed and
//     its answer was lost. The key is read back: our bytes are success,
//     others' are ErrExists.
//   - 409 (a concurrent conditional write on the key is in flight): retried
//     with backoff, then reported. Never taken as success.
func (s *Store) putCreate(ctx context.Context, rel string, body []byte, contentType string) error {
	full := s.key(rel)
	if err := checkKey(full); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		in := &s3.PutObjectInput{
			Bucket:      aws.String(s.bucket),
			Key:         aws.String(full),
			Body:        bytes.NewReader(body),
			ContentType: aws.String(contentType),
			IfNoneMatch: aws.String("*"),
		}
		if s.sse != "" {
			in.ServerSideEncryption = s.sse
			in.SSEKMSKeyId = s.kmsKeyID
		}
		_, err := s.client.PutObject(ctx, in)
		switch {
		case err == nil:
			return nil
		case isStatus(err, http.StatusPreconditionFailed):
			stored, found, readErr := s.getBytes(ctx, rel, int64(len(body))+1)
			if readErr != nil {
				return fmt.Errorf("writing %s: the key exists and reading it back failed: %w", rel, readErr)
			}
			if found && bytes.Equal(stored, body) {
				return nil
			}
			return fmt.Errorf("writing %s: %w", rel, ErrExists)
		case isStatus(err, http.StatusConflict):
			if attempt >= maxAttempts || ctx.Err() != nil {
				return fmt.Errorf("writing %s: the store answered 409 Conflict %d times (%v); nothing was recorded", rel, attempt, s.explain(err))
			}
			select {
			case <-time.After(backoff(attempt)):
			case <-ctx.Done():
			}
		default:
			return fmt.Errorf("writing %s: %w", rel, s.explain(err))
		}
	}
}

func (s *Store) putRecord(ctx context.Context, rel string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.putCreate(ctx, rel, body, "application/json")
}

// getBytes reads at most limit bytes of the object at rel; found is false
// when there is none. An object larger than limit is an error.
func (s *Store) getBytes(ctx context.Context, rel string, limit int64) ([]byte, bool, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(rel)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, false, nil
		}
		return nil, false, fmt.Errorf("reading %s: %w", rel, s.explain(err))
	}
	defer out.Body.Close()
	b, err := io.ReadAll(io.LimitReader(out.Body, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("reading %s: %w", rel, s.explain(err))
	}
	if int64(len(b)) > limit {
		return nil, false, fmt.Errorf("reading %s: larger than %d bytes: %w", rel, limit, ErrNotRecord)
	}
	return b, true, nil
}

// getRecord reads a JSON record; found is false when there is none.
func (s *Store) getRecord(ctx context.Context, rel string, v any) (bool, error) {
	b, found, err := s.getBytes(ctx, rel, maxRecordBytes)
	if err != nil || !found {
		return false, err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("reading %s: %w (%v)", rel, ErrNotRecord, err)
	}
	return true, nil
}

// ErrNoConditionalWrites refuses a store that ignores If-None-Match.
var ErrNoConditionalWrites = errors.New("this store does not support conditional writes (a second create-only PUT of one key succeeded instead of answering 412 Precondition Failed): every record here is create-only, so concurrent writers would overwrite each other")

// layoutRecord is the body of layout.json.
type layoutRecord struct {
	Layout int    `json:"layout"`
	Note   string `json:"note"`
}

// Bootstrap runs before the first write to a prefix: it writes layout.json
// create-only, then writes it again, which must be refused with 412. A store
// that accepts the second write ignores If-None-Match and is refused before
// any record is written (layout.json, the probe itself, holds the same bytes
// both times).
func (s *Store) Bootstrap(ctx context.Context) error {
	body, _ := json.Marshal(layoutRecord{Layout: Layout, Note: "templates-candidate store layout"})
	full := s.key(layoutKey)
	put := func() error {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(s.bucket),
			Key:         aws.String(full),
			Body:        bytes.NewReader(body),
			ContentType: aws.String("application/json"),
			IfNoneMatch: aws.String("*"),
		})
		return err
	}
	if err := put(); err != nil {
		if isStatus(err, http.StatusPreconditionFailed) {
			return s.checkLayout(ctx)
		}
		return fmt.Errorf("writing %s: %w", layoutKey, s.explain(err))
	}
	err := put()
	if err == nil {
		return ErrNoConditionalWrites
	}
	if !isStatus(err, http.StatusPreconditionFailed) {
		return fmt.Errorf("probing conditional writes on %s: %w", layoutKey, s.explain(err))
	}
	return nil
}

// checkLayout refuses a prefix that holds another layout.
func (s *Store) checkLayout(ctx context.Context) error {
	var rec layoutRecord
	found, err := s.getRecord(ctx, layoutKey, &rec)
	if err != nil {
		return err
	}
	if found && rec.Layout != Layout {
		return fmt.Errorf("%s says layout %d; this resource reads layout %d", s.key(layoutKey), rec.Layout, Layout)
	}
	return nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
