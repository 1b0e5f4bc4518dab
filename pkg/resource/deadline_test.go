package resource

import (
	"context"
	"errors"
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/timeouts"
)

var _ = Describe("a bounded command", func() {
	env := func(scale string) Env {
		return Env{Getenv: func(k string) string {
			if k == timeouts.TimeoutScaleEnv {
				return scale
			}
			return ""
		}}
	}

	// stalled waits for its context, as a command does on a store that never answers.
	stalled := func(ctx context.Context, _ []byte, _ []string, _ Env) (any, error) {
		<-ctx.Done()
		return nil, fmt.Errorf("listing candidates/: operation error S3: ListObjectsV2: %w", ctx.Err())
	}

	It("gives up at its deadline with one line naming the command and the bound", func() {
		started := time.Now()
		_, err := Bounded("check", CheckDeadline, stalled)(context.Background(), nil, nil, env("0.002"))
		Expect(time.Since(started)).To(BeNumerically("<", 2*time.Second))
		Expect(err).To(MatchError("check gave up after 100ms: the S3 store did not answer in time (listing candidates/: operation error S3: ListObjectsV2: context deadline exceeded)"))
	})

	It("gives a check 50 seconds", func() {
		Expect(CheckDeadline).To(Equal(50 * time.Second))
		var deadline time.Time
		_, err := Bounded("check", CheckDeadline, func(ctx context.Context, _ []byte, _ []string, _ Env) (any, error) {
			deadline, _ = ctx.Deadline()
			return "ok", nil
		})(context.Background(), nil, nil, env(""))
		Expect(err).NotTo(HaveOccurred())
		Expect(time.Until(deadline)).To(BeNumerically("~", 50*time.Second, time.Second))
	})

	It("passes on an answer, and an error that is not about time, unchanged", func() {
		resp, err := Bounded("check", CheckDeadline, func(context.Context, []byte, []string, Env) (any, error) { return "versions", nil })(context.Background(), nil, nil, env(""))
		Expect(err).NotTo(HaveOccurred())
		Expect(resp).To(Equal("versions"))
		_, err = Bounded("check", CheckDeadline, func(context.Context, []byte, []string, Env) (any, error) {
			return nil, errors.New("bucket \"b\" does not exist")
		})(context.Background(), nil, nil, env(""))
		Expect(err).To(MatchError(`bucket "b" does not exist`))
	})

	It("does not call it a timeout when the process is being stopped", func() {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := Bounded("check", CheckDeadline, stalled)(ctx, nil, nil, env(""))
		Expect(err).To(MatchError(ContainSubstring("context canceled")))
		Expect(err.Error()).NotTo(ContainSubstring("gave up"))
	})

	DescribeTable("refuses a test scale that is not a number in (0, 1]: it can only shorten bounds",
		func(scale string) {
			_, err := Bounded("check", CheckDeadline, stalled)(context.Background(), nil, nil, env(scale))
			Expect(err).To(MatchError(fmt.Sprintf("%s: %q is not a number in (0, 1]: it can only shorten the time bounds (for tests); unset it otherwise", timeouts.TimeoutScaleEnv, scale)))
		},
		Entry("longer", "2"),
		Entry("zero", "0"),
		Entry("negative", "-0.5"),
		Entry("not a number", "fast"),
		Entry("NaN", "NaN"),
	)
})
