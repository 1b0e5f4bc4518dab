// Package store keeps candidates and their pass records in S3.
//
// Layout, under source.prefix:
//
//	blobs/<random>.tgz                          tarball bytes; invisible until committed
//	versions/<version>.json                     claim of a version: its sha256 and blob (create-only)
//	candidates/<version>/<sha256>[.nonfinal=<env>,<env>].json
//	                                            commit record, written last: the candidate exists;
//	                                            names the environments whose manifest has a release that is not final
//	passes/<env>/<version>/<time>_<random>.json one immutable record per pass
//
// Every write is create-only (If-None-Match: *): nothing is overwritten or
// deleted. Key names carry what check needs (version, digest, environment,
// time), so check reads listings only.
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
	"net/url"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

// ErrExists is returned by a create-only write whose key exists already.
var ErrExists = errors.New("already exists")

// timeLayout is the fixed-width, sortable time in pass keys.
const timeLayout = "20060102T150405.000000000Z"

// Store is one resource's view of its bucket and prefix.
type Store struct {
	client   *s3.Client
	endpoint string
	bucket   string
	prefix   string
	sse      types.ServerSideEncryption
	kmsKeyID *string
}

// New connects a store for the source.
func New(ctx context.Context, src protocol.Source) (*Store, error) {
	client, err := newClient(ctx, src)
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
	s := &Store{client: client, endpoint: endpoint, bucket: src.Bucket, prefix: src.Prefix}
	if src.ServerSideEncryption != "" {
		s.sse = types.ServerSideEncryption(src.ServerSideEncryption)
	}
	if src.SSEKMSKeyID != "" {
		s.kmsKeyID = aws.String(src.SSEKMSKeyID)
	}
	return s, nil
}

// Claim binds a version to the content stored for it. The first claim of a
// version wins; the candidate exists once its commit record is written.
type Claim struct {
	Version   string    `json:"version"`
	SHA256    string    `json:"sha256"`
	Size      int64     `json:"size"`
	Blob      string    `json:"blob"`
	Created   time.Time `json:"created"`
	CreatedBy string    `json:"created_by,omitempty"`
	// Releases are the releases of the manifest rendered for each environment
	// declared when the candidate was published.
	Releases map[string][]policy.Release `json:"releases,omitempty"`
}

// NonFinal lists, in name order, the environments whose rendered manifest has
// a release that is not final.
func (c Claim) NonFinal() []string {
	var envs []string
	for env, releases := range c.Releases {
		for _, r := range releases {
			if !r.Final {
				envs = append(envs, env)
				break
			}
		}
	}
	sort.Strings(envs)
	return envs
}

// Candidate is a committed candidate as seen in a listing.
type Candidate struct {
	Version   string
	SHA256    string
	Published time.Time
	// NonFinal lists the environments whose manifest has a release that is
	// not final.
	NonFinal []string
}

// PassKey is a pass as seen in a listing.
type PassKey struct {
	Environment string
	Version     string
	Time        time.Time
	Key         string
}

// Build identifies the Concourse build that recorded a pass.
type Build struct {
	ID       string `json:"id,omitempty"`
	Name     string `json:"name,omitempty"`
	Job      string `json:"job,omitempty"`
	Pipeline string `json:"pipeline,omitempty"`
	Team     string `json:"team,omitempty"`
	URL      string `json:"url,omitempty"`
}

// PassRecord is the body of a pass object.
type PassRecord struct {
	Environment string    `json:"environment"`
	Version     string    `json:"version"`
	SHA256      string    `json:"sha256"`
	Time        time.Time `json:"time"`
	Build       Build     `json:"build"`
	Note        string    `json:"note,omitempty"`
}

func (s *Store) key(parts ...string) string {
	return s.prefix + path.Join(parts...)
}

func claimKey(version string) string { return path.Join("versions", version+".json") }

const nonFinalMark = ".nonfinal="

func commitKey(claim Claim) string {
	name := claim.SHA256
	if envs := claim.NonFinal(); len(envs) > 0 {
		name += nonFinalMark + strings.Join(envs, ",")
	}
	return path.Join("candidates", claim.Version, name+".json")
}

// parseCommitKey reads "<version>/<sha256>[.nonfinal=<envs>].json".
func parseCommitKey(rel string) (Candidate, bool) {
	version, file, ok := strings.Cut(rel, "/")
	name, isJSON := strings.CutSuffix(file, ".json")
	if !ok || !isJSON || strings.Contains(name, "/") {
		return Candidate{}, false
	}
	c := Candidate{Version: version, SHA256: name}
	if sha, envs, found := strings.Cut(name, nonFinalMark); found {
		c.SHA256, c.NonFinal = sha, strings.Split(envs, ",")
	}
	return c, true
}

// list calls fn for each key under prefix (relative to the store's prefix),
// one ListObjectsV2 page of up to 1000 keys at a time.
func (s *Store) list(ctx context.Context, prefix string, fn func(rel string, obj types.Object)) error {
	full := s.key(prefix) + "/"
	return s.pages(ctx, full, "", func(page *s3.ListObjectsV2Output) {
		for _, obj := range page.Contents {
			fn(strings.TrimPrefix(aws.ToString(obj.Key), full), obj)
		}
	})
}

// pages calls fn for each ListObjectsV2 page under the full key prefix.
func (s *Store) pages(ctx context.Context, full, delimiter string, fn func(*s3.ListObjectsV2Output)) error {
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.bucket), Prefix: aws.String(full)}
	if delimiter != "" {
		in.Delimiter = aws.String(delimiter)
	}
	pages := s3.NewListObjectsV2Paginator(s.client, in)
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("listing %s: %w", full, s.explain(err))
		}
		fn(page)
	}
	return nil
}

// Candidates lists the committed candidates, in no particular order.
func (s *Store) Candidates(ctx context.Context) ([]Candidate, error) {
	var out []Candidate
	err := s.list(ctx, "candidates", func(rel string, obj types.Object) {
		if c, ok := parseCommitKey(rel); ok {
			c.Published = aws.ToTime(obj.LastModified)
			out = append(out, c)
		}
	})
	return out, err
}

// ClaimedVersions lists every claimed version, committed or not.
func (s *Store) ClaimedVersions(ctx context.Context) ([]string, error) {
	var out []string
	err := s.list(ctx, "versions", func(rel string, _ types.Object) {
		if v, ok := strings.CutSuffix(rel, ".json"); ok && !strings.Contains(v, "/") {
			out = append(out, v)
		}
	})
	return out, err
}

// Passes lists every pass recorded in env, oldest first.
func (s *Store) Passes(ctx context.Context, env string) ([]PassKey, error) {
	out, err := s.passesUnder(ctx, env, "", nil)
	sortPasses(out)
	return out, err
}

// PassesOf lists the passes of one version in the given environments,
// oldest first.
func (s *Store) PassesOf(ctx context.Context, version string, envs []string) ([]PassKey, error) {
	var out []PassKey
	for _, env := range envs {
		var err error
		if out, err = s.passesUnder(ctx, env, version, out); err != nil {
			return nil, err
		}
	}
	sortPasses(out)
	return out, nil
}

// passesUnder appends to out the passes listed under passes/<env>/[<version>/].
func (s *Store) passesUnder(ctx context.Context, env, version string, out []PassKey) ([]PassKey, error) {
	err := s.list(ctx, path.Join("passes", env, version), func(rel string, obj types.Object) {
		if version != "" {
			rel = version + "/" + rel
		}
		if p, ok := parsePassKey(env, rel); ok {
			p.Key = aws.ToString(obj.Key)
			out = append(out, p)
		}
	})
	return out, err
}

// Environments lists the environments that have pass records.
func (s *Store) Environments(ctx context.Context) ([]string, error) {
	full := s.key("passes") + "/"
	var envs []string
	err := s.pages(ctx, full, "/", func(page *s3.ListObjectsV2Output) {
		for _, p := range page.CommonPrefixes {
			envs = append(envs, strings.TrimSuffix(strings.TrimPrefix(aws.ToString(p.Prefix), full), "/"))
		}
	})
	return envs, err
}

func parsePassKey(env, rel string) (PassKey, bool) {
	version, file, ok := strings.Cut(rel, "/")
	if !ok || strings.Contains(file, "/") {
		return PassKey{}, false
	}
	stamp, _, ok := strings.Cut(file, "_")
	if !ok {
		return PassKey{}, false
	}
	t, err := time.Parse(timeLayout, stamp)
	if err != nil {
		return PassKey{}, false
	}
	return PassKey{Environment: env, Version: version, Time: t}, true
}

func sortPasses(passes []PassKey) {
	sort.SliceStable(passes, func(i, j int) bool {
		if !passes[i].Time.Equal(passes[j].Time) {
			return passes[i].Time.Before(passes[j].Time)
		}
		return passes[i].Key < passes[j].Key
	})
}

// Claim reads the claim of a version; nil when the version is not claimed.
func (s *Store) Claim(ctx context.Context, version string) (*Claim, error) {
	var claim Claim
	found, err := s.getJSON(ctx, claimKey(version), &claim)
	if err != nil || !found {
		return nil, err
	}
	return &claim, nil
}

// Committed reports whether the candidate of the claim is committed.
func (s *Store) Committed(ctx context.Context, claim *Claim) (bool, error) {
	_, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(commitKey(*claim))),
	})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) {
		return false, nil
	}
	return false, fmt.Errorf("reading candidate %s: %w", claim.Version, s.explain(err))
}

// PutClaim claims a version for some content; ErrExists when another claim
// came first.
func (s *Store) PutClaim(ctx context.Context, claim Claim) error {
	return s.putJSON(ctx, claimKey(claim.Version), claim)
}

// Commit writes the commit record of a claimed version, making the candidate
// visible. Committing twice is harmless.
func (s *Store) Commit(ctx context.Context, claim Claim) error {
	err := s.putJSON(ctx, commitKey(claim), claim)
	if errors.Is(err, ErrExists) {
		return nil
	}
	return err
}

// PutPass stores a pass record under a new key and returns its listing view.
func (s *Store) PutPass(ctx context.Context, rec PassRecord) (PassKey, error) {
	rel := path.Join("passes", rec.Environment, rec.Version, rec.Time.UTC().Format(timeLayout)+"_"+randomHex(8)+".json")
	// The key is this call's own (time and a random suffix): when it exists,
	// a retry of this very write met the answer of a first attempt lost on
	// the way back, and the pass is recorded.
	if err := s.putJSON(ctx, rel, rec); err != nil && !errors.Is(err, ErrExists) {
		return PassKey{}, err
	}
	return PassKey{Environment: rec.Environment, Version: rec.Version, Time: rec.Time, Key: s.key(rel)}, nil
}

// Pass reads one pass record.
func (s *Store) Pass(ctx context.Context, p PassKey) (PassRecord, error) {
	var rec PassRecord
	found, err := s.getJSON(ctx, strings.TrimPrefix(p.Key, s.prefix), &rec)
	if err == nil && !found {
		err = fmt.Errorf("pass record %s vanished", p.Key)
	}
	return rec, err
}

// UploadBlob streams r to a new blob key, in parallel parts, and returns the
// key and the number of bytes stored. The blob is invisible until a claim and
// commit name it.
func (s *Store) UploadBlob(ctx context.Context, r io.Reader) (key string, size int64, err error) {
	rel := path.Join("blobs", randomHex(16)+".tgz")
	// The transfer manager's defaults (8 MiB parts, 5 at once) keep memory
	// bounded (about 50 MiB of part buffers) whatever the candidate's size.
	uploader := transfermanager.New(s.client)
	counted := &countingReader{r: r}
	in := &transfermanager.UploadObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.key(rel)),
		Body:        counted,
		ContentType: aws.String("application/gzip"),
		IfNoneMatch: aws.String("*"),
	}
	if s.sse != "" {
		in.ServerSideEncryption = tmtypes.ServerSideEncryption(s.sse)
		in.SSEKMSKeyID = s.kmsKeyID
	}
	if _, err := uploader.UploadObject(ctx, in); err != nil {
		// The key is this call's own (128 random bits): when it exists with
		// every byte read, a retry met the answer of a first attempt that was
		// lost on the way back, and the blob is stored.
		if !isExists(err) || !s.hasSize(ctx, rel, counted.n) {
			return "", 0, fmt.Errorf("uploading %s: %w", rel, s.explain(err))
		}
	}
	return rel, counted.n, nil
}

// hasSize reports whether the object at rel exists with size bytes.
func (s *Store) hasSize(ctx context.Context, rel string, size int64) bool {
	head, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(rel)),
	})
	return err == nil && aws.ToInt64(head.ContentLength) == size
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// OpenBlob streams a blob. A download cut on the way is resumed where it
// stopped (a ranged GET pinned to the same object by its ETag), with backoff.
func (s *Store) OpenBlob(ctx context.Context, rel string) (io.ReadCloser, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(rel)),
	})
	if err != nil {
		if isNotFound(err) {
			return nil, fmt.Errorf("blob %s is missing from the store", rel)
		}
		return nil, fmt.Errorf("downloading %s: %w", rel, s.explain(err))
	}
	return &blobReader{ctx: ctx, store: s, rel: rel, etag: out.ETag, size: aws.ToInt64(out.ContentLength), body: out.Body}, nil
}

// blobReader resumes a download whose connection broke.
type blobReader struct {
	ctx      context.Context
	store    *Store
	rel      string
	etag     *string
	size     int64
	offset   int64
	body     io.ReadCloser
	attempts int
}

func (b *blobReader) Read(p []byte) (int, error) {
	for {
		n, err := b.body.Read(p)
		b.offset += int64(n)
		if err == io.EOF && b.offset < b.size {
			err = io.ErrUnexpectedEOF
		}
		if err == nil || err == io.EOF {
			return n, err
		}
		if resumeErr := b.resume(err); resumeErr != nil {
			return n, resumeErr
		}
		if n > 0 {
			return n, nil
		}
	}
}

// resume reopens the blob at the current offset after a read failed.
func (b *blobReader) resume(cause error) error {
	if b.offset >= b.size {
		return cause // every byte arrived: nothing to resume (a checksum error, say)
	}
	for {
		b.attempts++
		if b.attempts >= maxAttempts || b.ctx.Err() != nil {
			return fmt.Errorf("downloading %s: connection lost at byte %d of %d, gave up after %d attempts: %w", b.rel, b.offset, b.size, b.attempts, cause)
		}
		select {
		case <-time.After(backoff(b.attempts)):
		case <-b.ctx.Done():
			continue
		}
		b.body.Close()
		out, err := b.store.client.GetObject(b.ctx, &s3.GetObjectInput{
			Bucket:  aws.String(b.store.bucket),
			Key:     aws.String(b.store.key(b.rel)),
			Range:   aws.String(fmt.Sprintf("bytes=%d-", b.offset)),
			IfMatch: b.etag,
		})
		if err != nil {
			b.body, cause = io.NopCloser(strings.NewReader("")), b.store.explain(err)
			continue
		}
		b.body = out.Body
		return nil
	}
}

func (b *blobReader) Close() error { return b.body.Close() }

// backoff is the wait before retry attempt n (1, 2, …): exponential from
// 200 ms, capped at maxBackoff.
func backoff(n int) time.Duration {
	d := 200 * time.Millisecond << min(n-1, 8)
	return min(d, maxBackoff)
}

func (s *Store) putJSON(ctx context.Context, rel string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	in := &s3.PutObjectInput{
		Bucket:      aws.String(s.bucket),
		Key:         aws.String(s.key(rel)),
		Body:        bytes.NewReader(body),
		ContentType: aws.String("application/json"),
		IfNoneMatch: aws.String("*"),
	}
	if s.sse != "" {
		in.ServerSideEncryption = s.sse
		in.SSEKMSKeyId = s.kmsKeyID
	}
	if _, err := s.client.PutObject(ctx, in); err != nil {
		if isExists(err) {
			return fmt.Errorf("writing %s: %w", rel, ErrExists)
		}
		return fmt.Errorf("writing %s: %w", rel, s.explain(err))
	}
	return nil
}

func (s *Store) getJSON(ctx context.Context, rel string, v any) (bool, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.bucket),
		Key:    aws.String(s.key(rel)),
	})
	if err != nil {
		if isNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("reading %s: %w", rel, s.explain(err))
	}
	defer out.Body.Close()
	if err := json.NewDecoder(io.LimitReader(out.Body, 1<<20)).Decode(v); err != nil {
		return false, fmt.Errorf("reading %s: %w", rel, err)
	}
	return true, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
