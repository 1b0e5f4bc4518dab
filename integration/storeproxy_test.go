package integration_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// storeProxy stands in front of the real server and makes it behave like
// another store: a clock hours off (Date, Last-Modified and listings'
// LastModified shifted), 409 Conflict answers to conditional writes, or no
// honouring of If-None-Match at all. Requests keep their signatures: the
// proxy never edits what the client signed.
type storeProxy struct {
	URL string

	mu sync.Mutex
	// shift moves every time the server tells by this much.
	shift time.Duration
	// conflicts answers this many matching PutObjects with 409
	// ConditionalRequestConflict (negative: all of them).
	conflicts     int
	conflictMatch func(key string) bool
	conflicted    int
	// ignoreIfNoneMatch makes a create-only PUT of an existing key succeed,
	// overwriting it (the proxy writes the body itself), as a store that
	// ignores the header would.
	ignoreIfNoneMatch bool
}

var lastModifiedXML = regexp.MustCompile(`<LastModified>([^<]+)</LastModified>`)

func startStoreProxy(backend string) *storeProxy {
	GinkgoHelper()
	target, err := url.Parse(backend)
	Expect(err).NotTo(HaveOccurred())
	p := &storeProxy{}
	transport := &http.Transport{}
	DeferCleanup(transport.CloseIdleConnections)
	rp := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme = target.Scheme
			r.Out.URL.Host = target.Host
			p.mu.Lock()
			shift := p.shift
			p.mu.Unlock()
			if shift != 0 {
				// The SDK corrects its signing clock to the Date it is told
				// (as it must, to talk to AWS from a skewed worker): sign
				// again with the real server's time, as if it were the
				// shifted store that checked the signature.
				resign(r.Out)
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			p.mu.Lock()
			shift := p.shift
			p.mu.Unlock()
			if shift == 0 {
				return nil
			}
			for _, h := range []string{"Date", "Last-Modified"} {
				if t, err := http.ParseTime(resp.Header.Get(h)); err == nil {
					resp.Header.Set(h, t.Add(shift).UTC().Format(http.TimeFormat))
				}
			}
			if !strings.Contains(resp.Header.Get("Content-Type"), "xml") {
				return nil
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if err != nil {
				return err
			}
			body = lastModifiedXML.ReplaceAllFunc(body, func(m []byte) []byte {
				raw := lastModifiedXML.FindSubmatch(m)[1]
				t, err := time.Parse(time.RFC3339Nano, string(raw))
				if err != nil {
					return m
				}
				return []byte("<LastModified>" + t.Add(shift).UTC().Format("2006-01-02T15:04:05.000Z") + "</LastModified>")
			})
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
			return nil
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op, key := s3Operation(r), objectKey(r)
		if op == "PutObject" && r.Header.Get("If-None-Match") == "*" {
			p.mu.Lock()
			conflict := p.conflicts != 0 && (p.conflictMatch == nil || p.conflictMatch(key))
			if conflict {
				p.conflicts--
				p.conflicted++
			}
			ignore := p.ignoreIfNoneMatch
			p.mu.Unlock()
			if conflict {
				_, _ = io.Copy(io.Discard, r.Body)
				w.Header().Set("Content-Type", "application/xml")
				w.WriteHeader(http.StatusConflict)
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress against this resource.</Message></Error>`)
				return
			}
			if ignore {
				p.overwrite(w, r, rp)
				return
			}
		}
		rp.ServeHTTP(w, r)
	}))
	DeferCleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// overwrite forwards a create-only PUT; when the server refuses it because
// the key exists, the proxy stores the body itself and answers 200, as a
// store that ignores If-None-Match does.
func (p *storeProxy) overwrite(w http.ResponseWriter, r *http.Request, rp *httputil.ReverseProxy) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := httptest.NewRecorder()
	rp.ServeHTTP(rec, r)
	if rec.Code != http.StatusPreconditionFailed {
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return
	}
	bucket, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	_, err = s3Client.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(objectKey(r)), Body: bytes.NewReader(body)})
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.WriteHeader(http.StatusOK)
}

// resign signs a forwarded request again, now, with the suite's root keys.
func resign(r *http.Request) {
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if payload == "" {
		payload = "UNSIGNED-PAYLOAD"
	}
	r.Header.Del("Authorization")
	r.Header.Del("X-Amz-Date")
	r.Header.Del("X-Amz-Security-Token")
	creds := aws.Credentials{AccessKeyID: accessKeyID, SecretAccessKey: cfg.SecretKey}
	_ = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(), creds, r, payload, "s3", regionName, time.Now().UTC())
}

// Shift makes the store's clock read d later than the real server's.
func (p *storeProxy) Shift(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.shift = d
}

// Conflict answers n create-only PutObjects of keys that match with 409
// (n < 0: every one).
func (p *storeProxy) Conflict(n int, match func(key string) bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.conflicts, p.conflictMatch = n, match
}

// Conflicted is how many 409s the proxy sent.
func (p *storeProxy) Conflicted() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conflicted
}

// IgnoreIfNoneMatch makes the store overwrite keys a create-only PUT names.
func (p *storeProxy) IgnoreIfNoneMatch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ignoreIfNoneMatch = true
}
