package store

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Clock is the store's clock: the latest Date among the S3 server's
// responses. The worker's clock never enters. Date has whole seconds and no
// estimate of the fraction is added, so every process that heard from the
// server within one second agrees on "now": a check that finds a soak over
// is never contradicted by a put a moment later. The clock runs up to a
// second behind the server's: a soak ends a little later, never earlier.
type Clock struct {
	mu   sync.Mutex
	date time.Time
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
	return c.date, nil
}

func (c *Clock) observe(resp *http.Response) {
	if resp == nil {
		return
	}
	d, err := http.ParseTime(resp.Header.Get("Date"))
	if err != nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// An older response arriving late never moves the clock back.
	if d.After(c.date) {
		c.date = d.UTC()
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
		c.clock.observe(resp)
	}
	return resp, err
}
