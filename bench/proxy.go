package main

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// countingProxy is a reverse proxy in front of the S3 server that records
// the requests it forwards: S3 operation, key (or a listing's prefix),
// body size and the status answered. It keeps the client's Host header,
// which SigV4 signs.
type countingProxy struct {
	URL string
	srv *http.Server

	mu   sync.Mutex
	reqs []request
}

// request is one request the proxy forwarded.
type request struct {
	op        string // S3 operation, e.g. ListObjectsV2
	key       string // the object key, or a listing's prefix (bucket-relative)
	delimiter bool   // a listing with a delimiter
	after     string // a listing's start-after
	maxKeys   int32  // a listing's max-keys (0: the default)
	size      int64  // request body bytes (PUT)
	status    int    // answered status
}

func startProxy(target string) (*countingProxy, error) {
	u, err := url.Parse(target)
	if err != nil {
		return nil, err
	}
	p := &countingProxy{}
	rp := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			r.Out.Host = r.In.Host
		},
		ModifyResponse: func(resp *http.Response) error {
			p.record(resp.Request, resp.StatusCode)
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			p.record(r, http.StatusBadGateway)
			w.WriteHeader(http.StatusBadGateway)
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p.URL = "http://" + l.Addr().String()
	p.srv = &http.Server{Handler: rp}
	go func() { _ = p.srv.Serve(l) }()
	return p, nil
}

func (p *countingProxy) record(r *http.Request, status int) {
	path := strings.TrimPrefix(r.URL.Path, "/")
	_, key, _ := strings.Cut(path, "/")
	q := r.URL.Query()
	x := request{op: operation(r), key: key, size: r.ContentLength, status: status}
	if n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64); err == nil {
		x.size = n // aws-chunked: the object's own bytes
	}
	x.size = max(0, x.size)
	if x.op == "ListObjectsV2" {
		x.key, x.delimiter, x.after = q.Get("prefix"), q.Get("delimiter") != "", q.Get("start-after")
		if n, err := strconv.Atoi(q.Get("max-keys")); err == nil {
			x.maxKeys = int32(n)
		}
	}
	p.mu.Lock()
	p.reqs = append(p.reqs, x)
	p.mu.Unlock()
}

func (p *countingProxy) close() { _ = p.srv.Close() }

// take returns the requests since the last take and forgets them.
func (p *countingProxy) take() traffic {
	p.mu.Lock()
	defer p.mu.Unlock()
	reqs := p.reqs
	p.reqs = nil
	return traffic(reqs)
}

// traffic is the requests of one run, in the order they were answered.
type traffic []request

func (t traffic) ops() opCounts {
	c := opCounts{}
	for _, r := range t {
		c[r.op]++
	}
	return c
}

func (t traffic) String() string { return t.ops().String() }

func (t traffic) total() int { return len(t) }

// listsPerPrefix counts the listings of each prefix; other is the number of
// requests that are not listings.
func (t traffic) listsPerPrefix() (lists map[string]int, other int) {
	lists = map[string]int{}
	for _, r := range t {
		if r.op == "ListObjectsV2" {
			lists[r.key]++
		} else {
			other++
		}
	}
	return lists, other
}

// breakdown groups the requests by kind and what they touch, in order of
// first appearance: "LIST policies/ + GET claims/ (404) + 2 PUT blobs/".
// prefix is the source's prefix, left out of the names.
func (t traffic) breakdown(prefix string) string {
	type group struct {
		name string
		n    int
	}
	var groups []group
	for _, r := range t {
		name := shortOp(r.op) + " " + keyClass(strings.TrimPrefix(r.key, prefix), r.delimiter)
		if r.status >= 300 {
			name += fmt.Sprintf(" (%d)", r.status)
		}
		i := slices.IndexFunc(groups, func(g group) bool { return g.name == name })
		if i < 0 {
			groups = append(groups, group{name: name})
			i = len(groups) - 1
		}
		groups[i].n++
	}
	parts := make([]string, len(groups))
	for i, g := range groups {
		parts[i] = g.name
		if g.n > 1 {
			parts[i] = fmt.Sprintf("%d %s", g.n, g.name)
		}
	}
	return strings.Join(parts, " + ")
}

func shortOp(op string) string {
	switch op {
	case "ListObjectsV2":
		return "LIST"
	case "GetObject":
		return "GET"
	case "HeadObject":
		return "HEAD"
	case "PutObject":
		return "PUT"
	}
	return op
}

// keyClass names the part of the layout a key or prefix belongs to:
// "claims/", "passes/dev/", "passes/ (environments)" for a delimited listing.
func keyClass(rel string, delimiter bool) string {
	segs := strings.Split(rel, "/")
	n := 1
	if segs[0] == "passes" || segs[0] == "deploys" {
		n = 2
	}
	n = min(n, len(segs)-1)
	if n <= 0 {
		return rel // a key at the top, e.g. layout.json
	}
	class := strings.Join(segs[:n], "/") + "/"
	if delimiter {
		class += " (names)"
	}
	return class
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
