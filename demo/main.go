// Command demo tells the promotion story of templates-candidate on a laptop:
//
//	go run ./demo
//
// It starts an in-process S3 server (gofakes3, memory backend) on 127.0.0.1,
// compiles the three real resource binaries (check, in, out) from this
// repository and drives them through the Concourse resource protocol, the way
// Concourse would: JSON on stdin, a directory argument, BUILD_* variables.
// It publishes the Redis templates of examples/redis as candidates, promotes
// them dev1/dev2 → staging → staging-tests → production, shows the gates
// refusing what they must, rolls production back, renders a candidate for
// staging and production and prints the difference, and ends with a table of
// candidates × environments.
//
// Every step checks that the resource behaved as narrated; the demo exits
// non-zero with one line naming the step that did not, so it doubles as a
// smoke test. It needs Go and nothing else: no Docker, no account, no network.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"
)

func main() {
	soak := flag.Duration("soak", 2*time.Second, "production's soak time in the demo's policy")
	templates := flag.String("templates", "", "the templates folder to publish (default: examples/redis of this repository)")
	logs := flag.Bool("v", false, "also print what each binary logs on stderr")
	keep := flag.Bool("keep", false, "keep the demo's working directory (builds, gets, puts) and print its path")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	d := &Demo{Out: os.Stdout, Soak: *soak, Keep: *keep, Logs: *logs, Templates: *templates}
	if err := d.Run(ctx); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		stop()
		os.Exit(1)
	}
}
