package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strings"
	"sync"
)

// countingProxy is a reverse proxy in front of the S3 server that counts the
// requests it forwards by S3 operation. It keeps the client's Host header,
// which SigV4 signs.
type countingProxy struct {
	URL string
	srv *http.Server

	mu  sync.Mutex
	ops map[string]int
}

func startProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &countingProxy{ops: map[string]int{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host
		op := operation(r.In)
		p.mu.Lock()
		p.ops[op]++
		p.mu.Unlock()
	}}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + l.Addr().String()
	p.srv = &http.Server{Handler: rp}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

func (p *countingProxy) close() { _ = p.srv.Close() }

// take returns the counts since the last take and resets them.
func (p *countingProxy) take() opCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	ops := p.ops
	p.ops = map[string]int{}
	return opCounts(ops)
}

type opCounts map[string]int

func (c opCounts) total() int {
	n := 0
	for _, v := range c {
		n += v
	}
	return n
}

// String lists the counts, ListObjectsV2 first: "10 ListObjectsV2 + 1 GetObject".
func (c opCounts) String() string {
	if len(c) == 0 {
		return "0"
	}
	names := make([]string, 0, len(c))
	for k := range c {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int {
		if (a == "ListObjectsV2") != (b == "ListObjectsV2") {
			if a == "ListObjectsV2" {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = fmt.Sprintf("%d %s", c[k], k)
	}
	return strings.Join(parts, " + ")
}

// operation names the S3 operation of a path-style request.
func operation(r *http.Request) string {
	path := strings.TrimPrefix(r.URL.Path, "/")
	bucket, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	has := func(k string) bool { _, ok := q[k]; return ok }
	switch r.Method {
	case http.MethodGet:
		switch {
		case bucket == "":
			return "ListBuckets"
		case key == "" && q.Get("list-type") == "2":
			return "ListObjectsV2"
		case key == "" && has("location"):
			return "GetBucketLocation"
		case key == "" && has("uploads"):
			return "ListMultipartUploads"
		case key == "":
			return "ListObjects"
		case has("uploadId"):
			return "ListParts"
		default:
			return "GetObject"
		}
	case http.MethodHead:
		if key == "" {
			return "HeadBucket"
		}
		return "HeadObject"
	case http.MethodPut:
		switch {
		case key == "":
			return "CreateBucket"
		case has("partNumber"):
			return "UploadPart"
		default:
			return "PutObject"
		}
	case http.MethodPost:
		switch {
		case has("uploads"):
			return "CreateMultipartUpload"
		case has("uploadId"):
			return "CompleteMultipartUpload"
		case has("delete"):
			return "DeleteObjects"
		}
	case http.MethodDelete:
		switch {
		case has("uploadId"):
			return "AbortMultipartUpload"
		case key == "":
			return "DeleteBucket"
		default:
			return "DeleteObject"
		}
	}
	return r.Method + " (other)"
}
