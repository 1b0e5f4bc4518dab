// Package timeouts bounds the time of every S3 request and of each command,
// so that a stalled connection is cut and retried instead of holding a step
// until Concourse's own timeout.
package timeouts

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// Every S3 request has a bounded time, phase by phase (the retryer's attempts
// are bounded too):
//
//   - connecting: dialTimeout; the TLS handshake: tlsHandshakeTimeout;
//   - the answer's headers, once the request is sent: responseHeaderTimeout;
//   - any read or write on the connection: idleTimeout without a byte moving
//     either way. This is what bounds transfers: a 1 GiB candidate streams as
//     long as it takes while bytes flow, and a connection silent for
//     idleTimeout fails (a download resumes where it stopped, an upload part
//     is retried);
//   - a small request (a listing, a HEAD, a record of at most
//     smallRequestBytes) as a whole, per attempt: smallRequestTimeout.
const (
	dialTimeout           = 5 * time.Second
	tlsHandshakeTimeout   = 5 * time.Second
	responseHeaderTimeout = 15 * time.Second
	idleTimeout           = 30 * time.Second
	smallRequestTimeout   = 30 * time.Second
	smallRequestBytes     = 1 << 20
)

// TimeoutScaleEnv names the environment variable that scales every time
// bound of the resource down (the S3 bounds above and each command's own
// deadline), so that test suites can drive a stalled store in seconds. It
// takes a number in (0, 1]: it can only shorten the bounds, never lengthen
// or lift them. Unset, the bounds are as documented.
const TimeoutScaleEnv = "TEMPLATES_CANDIDATE_TIMEOUT_SCALE"

// TimeoutScale reads TimeoutScaleEnv through getenv: 1 when it is unset.
func TimeoutScale(getenv func(string) string) (float64, error) {
	raw := strings.TrimSpace(getenv(TimeoutScaleEnv))
	if raw == "" {
		return 1, nil
	}
	scale, err := strconv.ParseFloat(raw, 64)
	if err != nil || math.IsNaN(scale) || scale <= 0 || scale > 1 {
		return 0, fmt.Errorf("%s: %q is not a number in (0, 1]: it can only shorten the time bounds (for tests); unset it otherwise", TimeoutScaleEnv, raw)
	}
	return scale, nil
}

// Scaled is d times scale, at least a millisecond.
func Scaled(d time.Duration, scale float64) time.Duration {
	return max(time.Duration(float64(d)*scale), time.Millisecond)
}

// Bounds are the bounds of S3 requests, scaled.
type Bounds struct {
	dial, tlsHandshake, responseHeader, idle, smallRequest time.Duration
}

// FromEnv reads the scale (TimeoutScaleEnv) through getenv and returns the
// bounds it gives.
func FromEnv(getenv func(string) string) (Bounds, error) {
	scale, err := TimeoutScale(getenv)
	if err != nil {
		return Bounds{}, err
	}
	return For(scale), nil
}

// For returns the bounds scaled by scale (1: as documented).
func For(scale float64) Bounds {
	return Bounds{
		dial:           Scaled(dialTimeout, scale),
		tlsHandshake:   Scaled(tlsHandshakeTimeout, scale),
		responseHeader: Scaled(responseHeaderTimeout, scale),
		idle:           Scaled(idleTimeout, scale),
		smallRequest:   Scaled(smallRequestTimeout, scale),
	}
}

// Transport sets the bounds of connecting, the handshake and the headers on
// the SDK's buildable client (so that they hold for every client made from
// the configuration, STS included).
func (t Bounds) Transport(b *awshttp.BuildableClient) *awshttp.BuildableClient {
	return b.
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = t.dial
			d.KeepAlive = 15 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.TLSHandshakeTimeout = t.tlsHandshake
			tr.ResponseHeaderTimeout = t.responseHeader
			// Closed by the pool before the idle bound would cut it.
			tr.IdleConnTimeout = t.idle / 2
		})
}

// Apply must be the last option of the S3 client: it runs after the SDK has
// resolved its HTTP client (its defaults mode may set the dialer, which
// replaces the transport's DialContext), so the bounds set here stand.
func (t Bounds) Apply(o *s3.Options) {
	if b, ok := o.HTTPClient.(*awshttp.BuildableClient); ok {
		o.HTTPClient = t.Transport(b).WithTransportOptions(func(tr *http.Transport) {
			tr.DialContext = idleDialer(tr.DialContext, t.idle)
		})
	}
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		bound := &attemptBound{limit: t.smallRequest}
		if err := stack.Finalize.Insert(bound, "Retry", middleware.After); err != nil {
			return stack.Finalize.Add(bound, middleware.After)
		}
		return nil
	})
}

// idleDialer wraps each connection dialled so that a read or a write that
// moves no byte for idle fails.
func idleDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), idle time.Duration) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if dial == nil {
		dial = (&net.Dialer{Timeout: dialTimeout}).DialContext
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &idleConn{Conn: conn, idle: idle}, nil
	}
}

// idleConn moves its deadline on before every read and every write, in both
// directions at once: a pending read (net/http always has one) is not cut
// while the request body is still being written, nor a write while a
// response streams. Only a connection on which nothing moves for idle fails.
type idleConn struct {
	net.Conn
	idle time.Duration
	// timedOut is set once a read or a write found the connection silent:
	// the other direction then fails with "use of closed network
	// connection" (net/http closes it), which is the same stall.
	timedOut atomic.Bool
}

func (c *idleConn) Read(p []byte) (int, error) {
	c.touch()
	n, err := c.Conn.Read(p)
	return n, c.stalled(err)
}

func (c *idleConn) Write(p []byte) (int, error) {
	c.touch()
	n, err := c.Conn.Write(p)
	return n, c.stalled(err)
}

func (c *idleConn) touch() { _ = c.Conn.SetDeadline(time.Now().Add(c.idle)) }

func (c *idleConn) stalled(err error) error {
	if err == nil {
		return nil
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		c.timedOut.Store(true)
		return &stallError{idle: c.idle, err: err}
	}
	if c.timedOut.Load() {
		return &stallError{idle: c.idle, err: err}
	}
	return err
}

// stallError is a connection on which nothing moved for idle: a timeout,
// retried as a broken connection is.
type stallError struct {
	idle time.Duration
	err  error
}

func (e *stallError) Error() string {
	return fmt.Sprintf("the connection stalled (no data for %s)", e.idle)
}
func (e *stallError) Unwrap() error   { return e.err }
func (e *stallError) Timeout() bool   { return true }
func (e *stallError) Temporary() bool { return true }

// attemptBound bounds one attempt of a small request as a whole (the
// retryer runs around it, so an attempt cut is retried).
type attemptBound struct{ limit time.Duration }

func (*attemptBound) ID() string { return "TemplatesCandidateAttemptBound" }

func (m *attemptBound) HandleFinalize(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	op := awsmiddleware.GetOperationName(ctx)
	if !isSmallRequest(op, in.Request) {
		return next.HandleFinalize(ctx, in)
	}
	attempt, cancel := context.WithTimeout(ctx, m.limit)
	defer cancel()
	out, md, err := next.HandleFinalize(attempt, in)
	if err != nil && ctx.Err() == nil && errors.Is(attempt.Err(), context.DeadlineExceeded) {
		// Not the SDK's CanceledError (which is never retried): a timeout.
		err = &attemptTimeoutError{op: op, limit: m.limit}
	}
	return out, md, err
}

// isSmallRequest reports whether an operation's request and answer are small
// and read whole within the attempt: not a blob's transfer (GetObject's body
// is read after the call returns, an upload part is large).
func isSmallRequest(op string, request any) bool {
	switch op {
	case "ListObjectsV2", "HeadObject", "HeadBucket", "DeleteObject", "CreateMultipartUpload", "AbortMultipartUpload":
		return true
	case "PutObject":
		req, ok := request.(*smithyhttp.Request)
		if !ok {
			return false
		}
		n, known, err := req.StreamLength()
		return err == nil && known && n <= smallRequestBytes
	}
	return false
}

// attemptTimeoutError is an attempt of a small request that ran out of time.
type attemptTimeoutError struct {
	op    string
	limit time.Duration
}

func (e *attemptTimeoutError) Error() string {
	return fmt.Sprintf("%s got no complete answer within %s", e.op, e.limit)
}
func (e *attemptTimeoutError) Timeout() bool        { return true }
func (e *attemptTimeoutError) RetryableError() bool { return true }
