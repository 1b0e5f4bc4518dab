package store

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Clock is the store's clock: the Date of the S3 server's latest response,
// advanced by the time elapsed here since (a monotonic reading, so the
// worker's wall clock never enters). Every time a gate or an order depends on
// comes from it. Date has whole seconds, so the clock runs up to a second
// behind the server: a soak then ends a little later, never earlier.
type Clock struct {
	mu       sync.Mutex
	date     time.Time
	received time.Time // local monotonic reading when date arrived
}

// ErrNoClock means no response from the store has carried a Date yet.
var ErrNoClock = errors.New("the store's clock is unknown: no response from the S3 server carried a Date header")

// Now is the store's time now.
func (c *Clock) Now() (time.Time, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.date.IsZero() {
		return time.Time{}, ErrNoClock
	}
	return c.date.Add(time.Since(c.received)).UTC(), nil
}

func (c *Clock) observe(resp *http.Response, received time.Time) {
	if resp == nil {
		return
	}
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// The newest reading wins; an older response arriving late must not
	// move the clock back past what another already showed.
	if c.date.IsZero() || !d.Add(time.Since(received)).Before(c.date.Add(time.Since(c.received))) {
		c.date, c.received = d, received
	}
}

// clockedClient records the Date of every response the SDK receives.
type clockedClient struct {
	next  aws.HTTPClient
	clock *Clock
}

func (c clockedClient) Do(req *http.Request) (*http.Response, error) {
	resp, err := c.next.Do(req)
	if err == nil {
		c.clock.observe(resp, time.Now())
	}
	return resp, err
}
