// Command candidates is the status view of a templates-candidate store:
// candidates x environments (passes, live, eligible now or why not, soak
// left, revoked), the explanation of one admission, and an environment's
// deployment history. Run candidates --help; the logic is pkg/status.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/templates-candidate/templates-candidate-resource/pkg/status"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := status.Main(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
