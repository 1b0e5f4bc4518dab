package integration_test

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Connection faults of the counting proxy: what a dying S3 server, a reset
// load balancer or a flaky network does to a request, as opposed to the
// well-formed 5xx answers of FailFirstAttempts and FailAll.

// cutMode is where a connFault breaks the connection.
type cutMode int

const (
	// cutRequest reads AfterBytes of the request body, then closes the
	// client's connection without answering: the request never reaches the
	// server, the client sees its connection die in the middle of its body.
	cutRequest cutMode = iota + 1
	// dropResponse forwards the request whole and lets the server answer,
	// then closes the client's connection instead of relaying the answer:
	// the server did the work, the client never hears of it.
	dropResponse
	// cutResponse forwards the request and relays the status, the headers
	// and AfterBytes of the response body, then closes the connection.
	cutResponse
)

// connFault breaks the connection of the requests it matches.
type connFault struct {
	Name       string
	Mode       cutMode
	Match      func(op, key string) bool
	Times      int   // how many matching requests to break; negative: all of them
	AfterBytes int64 // for cutRequest and cutResponse

	hits int
}

// proxyEvent is one request seen by the proxy, in arrival order.
type proxyEvent struct {
	Op, Key    string
	Status     int    // the server's status (0: never forwarded)
	Fault      string // the fault applied, if any
	Start, End time.Time
}

// Cut adds a connection fault; faults are tried in the order added.
func (p *countingProxy) Cut(f *connFault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cuts = append(p.cuts, f)
}

// Heal removes every connection fault.
func (p *countingProxy) Heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cuts = nil
}

// Hits is how many requests the named fault broke.
func (p *countingProxy) Hits(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.cuts {
		if f.Name == name {
			return f.hits
		}
	}
	return 0
}

// Events is the request log so far.
func (p *countingProxy) Events() []proxyEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.events)
}

// matchCut picks the fault for a request and counts the hit; p.mu is held.
func (p *countingProxy) matchCut(op, key string) *connFault {
	for _, f := range p.cuts {
		if (f.Times < 0 || f.hits < f.Times) && f.Match(op, key) {
			f.hits++
			return f
		}
	}
	return nil
}

func (p *countingProxy) record(e proxyEvent) {
	e.End = time.Now()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

func (p *countingProxy) serveCut(f *connFault, w http.ResponseWriter, r *http.Request, op, key string, started time.Time) {
	ev := proxyEvent{Op: op, Key: key, Fault: f.Name, Start: started}
	defer func() { p.record(ev) }()
	if f.Mode == cutRequest {
		_, _ = io.CopyN(io.Discard, r.Body, f.AfterBytes)
		hangUp(w)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	resp, err := p.transport.RoundTrip(out)
	if err != nil {
		hangUp(w)
		return
	}
	defer resp.Body.Close()
	ev.Status = resp.StatusCode
	if f.Mode == dropResponse {
		_, _ = io.Copy(io.Discard, resp.Body)
		hangUp(w)
		return
	}
	for k, vs := range resp.Header {
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.CopyN(w, resp.Body, f.AfterBytes)
	_ = http.NewResponseController(w).Flush()
	hangUp(w)
}

// hangUp closes the client's connection without (the rest of) an answer.
func hangUp(w http.ResponseWriter) {
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		panic(http.ErrAbortHandler) // closes the connection too
	}
	_ = conn.Close()
}

// statusRecorder remembers the status a handler answered with.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) Status() int { return s.status }

// objectKey is the key of a path-style request ("" for a bucket request).
func objectKey(r *http.Request) string {
	_, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	return key
}

// isBlobUpload matches the requests that carry a candidate's bytes.
func isBlobUpload(op, key string) bool {
	return op == "UploadPart" || (op == "PutObject" && strings.Contains(key, "blobs/"))
}

// isWriteUnder matches a PutObject of a key under prefix.
func isWriteUnder(prefix string) func(op, key string) bool {
	return func(op, key string) bool { return op == "PutObject" && strings.HasPrefix(key, prefix) }
}

// firstEvent is the first logged request matching, and whether there is one.
func firstEvent(events []proxyEvent, match func(proxyEvent) bool) (proxyEvent, bool) {
	for _, e := range events {
		if match(e) {
			return e, true
		}
	}
	return proxyEvent{}, false
}
