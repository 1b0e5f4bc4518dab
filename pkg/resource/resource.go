// Package resource runs a command of the Concourse resource protocol as a
// process: the request on stdin, the response on stdout, progress on
// stderr, and on failure one line on stderr (secrets redacted) and a
// non-zero exit. check, in and out each hand it their command.
package resource

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
)

// Command is one of Check, In, Out.
type Command func(ctx context.Context, request []byte, args []string, env Env) (any, error)

// Env is what a command takes from its surroundings. (The worker's clock is
// not among them: times come from the store.)
type Env struct {
	Getenv func(string) string
	Log    io.Writer
}

// Logf writes one progress line to the log (stderr).
func (e Env) Logf(format string, args ...any) {
	fmt.Fprintf(e.Log, format+"\n", args...)
}

// Main runs a command as a process: the request on stdin, the response on
// stdout, and on failure one line on stderr and exit status 1. Secrets of
// the request never reach the output.
func Main(cmd Command) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, cmd, os.Stdin, os.Stdout, os.Stderr, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, cmd Command, stdin io.Reader, stdout, stderr io.Writer, args []string) int {
	request, err := io.ReadAll(stdin)
	if err != nil {
		fmt.Fprintf(stderr, "error: reading the request from stdin: %v\n", err)
		return 1
	}
	env := Env{Getenv: os.Getenv, Log: stderr}
	response, err := cmd(ctx, request, args, env)
	if err == nil {
		err = json.NewEncoder(stdout).Encode(response)
	}
	if err != nil {
		fmt.Fprintf(stderr, "error: %s\n", OneLine(Redact(err.Error(), secretsOf(request))))
		return 1
	}
	return 0
}

// secretsOf picks the secret values out of a request, even a request that
// fails strict decoding, so that no error message can print them.
func secretsOf(request []byte) []string {
	var loose struct {
		Source map[string]any `json:"source"`
	}
	_ = json.Unmarshal(request, &loose)
	var secrets []string
	for _, s := range protocol.SecretsIn(loose.Source) {
		if len(s) >= 4 {
			secrets = append(secrets, s)
		}
	}
	return secrets
}

// Redact replaces every secret in msg.
func Redact(msg string, secrets []string) string {
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return msg
}

// OneLine is msg on one line: the reason a failed command prints.
func OneLine(msg string) string {
	return strings.Join(strings.Fields(msg), " ")
}
