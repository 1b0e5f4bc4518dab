package resource

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/timeouts"
)

// CheckDeadline bounds a whole check. Concourse checks every resource about
// once a minute, and a check that hangs holds its container until
// Concourse's own (hour-long) timeout: a check gives up well inside a
// minute instead, with one line. Every request inside is bounded too
// (pkg/store), so a stall met early is retried in time.
const CheckDeadline = 50 * time.Second

// Bounded gives cmd at most limit (scaled down by timeouts.TimeoutScaleEnv, for
// tests) and reports running out of time as one line naming the command.
func Bounded(name string, limit time.Duration, cmd Command) Command {
	return func(ctx context.Context, request []byte, args []string, env Env) (any, error) {
		scale, err := timeouts.TimeoutScale(env.Getenv)
		if err != nil {
			return nil, err
		}
		limit := timeouts.Scaled(limit, scale)
		bounded, cancel := context.WithTimeout(ctx, limit)
		defer cancel()
		response, err := cmd(bounded, request, args, env)
		if err != nil && ctx.Err() == nil && errors.Is(bounded.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("%s gave up after %s: the S3 store did not answer in time (%v)", name, limit, err)
		}
		return response, err
	}
}
