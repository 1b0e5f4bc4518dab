package store

import (
	"context"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	tmtypes "github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

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
