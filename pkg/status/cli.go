package status

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/templates-candidate/templates-candidate-resource/pkg/resource"
)

// Usage is the CLI's help text.
const Usage = `usage: candidates <command> -f SOURCE_FILE [--var NAME=VALUE ...] [--json] [flags]

What a templates-candidate store says now: each candidate's passes, what is
live in each environment, and whether each candidate is admitted to each
environment now, and if not why. It reads the store only; "now" is the
store's clock. The stored policy governs (source.environments may be omitted).

commands:
  status               candidates x environments: passes (time, build, override
                       and reset marks), live, eligible now or why not, soak left,
                       revoked; the newest 10 candidates
  explain VERSION ENV  the admission of one candidate to one environment now,
                       every requirement with whether it is met
  history ENV          the deployments of ENV in time order, newest last, the
                       live one marked

flags:
  -f, --file FILE      the resource's source block, YAML or JSON: the keys of a
                       pipeline's source: (or a document with one key, source:)
  --var NAME=VALUE     fills ((NAME)) in the file (repeatable); a var not given
                       is read from the environment variable TC_VAR_NAME (each
                       character other than a letter, digit or _ written as _,
                       so ((s3.secret)) reads TC_VAR_s3_secret)
  --json               JSON on stdout instead of text (fields in the README)
status flags:
  -n N                 the newest N candidates (default 10)
  --all                every candidate
  --html FILE          also write the table as one self-contained HTML page

Without access_key_id in the source, the AWS default credential chain applies
(environment, shared profile, instance role, web identity).
Exit status: 0 when the view was shown, 1 on an error, 2 on a usage error.
`

// usageError is a mistake on the command line.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// Main runs the CLI with its arguments (without the program name) and
// returns the exit status. Errors are one line on stderr, and never hold a
// secret of the source.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	var secrets []string
	err := run(ctx, args, stdout, stderr, getenv, &secrets)
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stdout, Usage)
		return 0
	case errors.As(err, &usage):
		fmt.Fprintf(stderr, "error: %s (candidates --help shows the usage)\n", resource.OneLine(resource.Redact(err.Error(), secrets)))
		return 2
	default:
		fmt.Fprintf(stderr, "error: %s\n", resource.OneLine(resource.Redact(err.Error(), secrets)))
		return 1
	}
}

type common struct {
	file string
	vars map[string]string
	json bool
}

func (c *common) register(fs *flag.FlagSet) {
	c.vars = map[string]string{}
	fs.StringVar(&c.file, "f", "", "")
	fs.StringVar(&c.file, "file", "", "")
	fs.BoolVar(&c.json, "json", false, "")
	fs.Func("var", "", func(s string) error {
		name, value, ok := strings.Cut(s, "=")
		if !ok || strings.TrimSpace(name) == "" {
			return fmt.Errorf("want NAME=VALUE")
		}
		c.vars[strings.TrimSpace(name)] = value
		return nil
	})
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string, secrets *[]string) error {
	if len(args) == 0 {
		return usageError{"give a command: status, explain VERSION ENV or history ENV"}
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var c common
	c.register(fs)
	var (
		limit = fs.Int("n", DefaultLimit, "")
		all   = fs.Bool("all", false, "")
		html  = fs.String("html", "", "")
	)
	var want int
	switch cmd {
	case "-h", "-help", "--help", "help":
		return flag.ErrHelp
	case "status":
		want = 0
	case "explain":
		want = 2
	case "history":
		want = 1
	default:
		return usageError{fmt.Sprintf("unknown command %q: give status, explain VERSION ENV or history ENV", cmd)}
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{cmd + ": " + err.Error()}
	}
	if cmd != "status" {
		for _, name := range []string{"n", "all", "html"} {
			if isSet(fs, name) {
				return usageError{fmt.Sprintf("%s: -%s is a flag of status only", cmd, name)}
			}
		}
	}
	if len(pos) != want {
		return usageError{map[string]string{
			"status":  "status takes no arguments",
			"explain": "explain takes VERSION ENV",
			"history": "history takes ENV",
		}[cmd] + fmt.Sprintf(" (got %d: %s)", len(pos), strings.Join(pos, " "))}
	}
	if c.file == "" {
		return usageError{cmd + ": -f SOURCE_FILE is required (the resource's source block, YAML or JSON)"}
	}
	if *limit < 1 {
		return usageError{"status: -n must be at least 1 (--all shows every candidate)"}
	}

	src, err := LoadSource(c.file, Vars{Given: c.vars, Getenv: getenv})
	if err != nil {
		return err
	}
	*secrets = src.Secrets()
	warn := func(line string) { fmt.Fprintln(stderr, resource.OneLine(resource.Redact(line, *secrets))) }
	view, err := Open(ctx, src, warn)
	if err != nil {
		return err
	}

	var out bytes.Buffer
	switch cmd {
	case "status":
		opts := Options{Limit: *limit}
		if *all {
			opts.Limit = 0
		}
		report, err := view.Status(ctx, opts)
		if err != nil {
			return err
		}
		if *html != "" {
			if err := writePage(*html, report, *secrets); err != nil {
				return err
			}
		}
		if c.json {
			err = WriteJSON(&out, report)
		} else {
			err = WriteStatusText(&out, report)
		}
		if err != nil {
			return err
		}
	case "explain":
		x, err := view.Explain(ctx, pos[0], pos[1])
		if err != nil {
			return err
		}
		if c.json {
			err = WriteJSON(&out, x)
		} else {
			err = WriteExplainText(&out, x)
		}
		if err != nil {
			return err
		}
	case "history":
		h, err := view.History(ctx, pos[0])
		if err != nil {
			return err
		}
		if c.json {
			err = WriteJSON(&out, h)
		} else {
			err = WriteHistoryText(&out, h)
		}
		if err != nil {
			return err
		}
	}
	_, err = stdout.Write([]byte(resource.Redact(out.String(), *secrets)))
	return err
}

// writePage writes the HTML page whole, or not at all.
func writePage(path string, r *Report, secrets []string) error {
	var page bytes.Buffer
	if err := WriteHTML(&page, r); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write([]byte(resource.Redact(page.String(), secrets))); err != nil {
		tmp.Close()
		return fmt.Errorf("--html: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("--html: %w", err)
	}
	return nil
}

// parseInterleaved parses flags anywhere among the arguments and returns
// the arguments that are not flags, in order.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func isSet(fs *flag.FlagSet, name string) bool {
	set := false
	fs.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}
