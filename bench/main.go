// Command bench measures the performance bars of the README's "Performance" (P1a/P1b–P9),
// each against a baseline run on the same data in the same run, and prints
// rows of one table:
//
//	make bench                  # or: go run ./bench
//	go run ./bench -only P1,P5  # a subset (P1 is P1a and P1b)
//	go run ./bench -quick       # a small-scale smoke run (what bench_test.go runs)
//	go run ./bench -only P2,P3 -content coded  # a tarball that is costly to inflate
//
// It starts versitygw (v1.8.0, from $VERSITYGW, ~/.cache/tc-tools/bin or PATH;
// scripts/install-tools.sh otherwise) on 127.0.0.1 with a fresh data
// directory, compiles check, in and out once with the image's flags, and
// runs them as whole processes, as Concourse does.
//
// A missed bar prints FAIL in its row; the exit status is non-zero only when
// something could not be measured (a harness error, or a resource command
// that failed).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// scale is the size of a run.
type scale struct {
	candidates    int   // P1: candidates, each with one pass in each of 3 environments
	checkRuns     int   // P1: timed runs of check (each way) and of the baseline, per mode
	bigCandidates int   // P7: candidates, each with one pass in one environment
	memoryRuns    int   // P7: runs of check each way, per mode
	smallRuns     int   // P9: timed runs of each operation and of its baseline
	tarballBytes  int64 // P2/P3: compressed size of the candidate tarball
	transferRuns  int   // P2/P3: runs of ours and of the baseline
	packFiles     int   // P4
	packBytes     int64 // P4
	packRuns      int   // P4
	emptyRuns     int   // P5
	buildImageDir bool  // P6: run `make image-context` when build/image is missing
}

var (
	fullScale = scale{
		candidates: 10000, checkRuns: 7,
		bigCandidates: 100000, memoryRuns: 2, smallRuns: 11,
		tarballBytes: 1 << 30, transferRuns: 3,
		packFiles: 10000, packBytes: 200 << 20, packRuns: 3,
		emptyRuns: 30, buildImageDir: true,
	}
	quickScale = scale{
		candidates: 500, checkRuns: 3,
		bigCandidates: 2000, memoryRuns: 1, smallRuns: 3,
		tarballBytes: 64 << 20, transferRuns: 2,
		packFiles: 1000, packBytes: 20 << 20, packRuns: 2,
		emptyRuns: 5, buildImageDir: false,
	}
)

var allBars = []string{"P1", "P2", "P3", "P4", "P5", "P6", "P7", "P8", "P9"}

type options struct {
	only    map[string]bool
	quick   bool
	keep    bool
	content string // of the P2/P3 tarball: random or coded
}

func parseOnly(s string) (map[string]bool, error) {
	only := map[string]bool{}
	if strings.TrimSpace(s) == "" {
		for _, b := range allBars {
			only[b] = true
		}
		return only, nil
	}
	for _, part := range strings.Split(s, ",") {
		b := strings.ToUpper(strings.TrimSpace(part))
		if b == "P1A" || b == "P1B" {
			b = "P1" // measured together, on the same seeds
		}
		known := false
		for _, k := range allBars {
			known = known || k == b
		}
		if !known {
			return nil, fmt.Errorf("-only: unknown bar %q (want some of %s)", part, strings.Join(allBars, ","))
		}
		only[b] = true
	}
	return only, nil
}

func main() {
	only := flag.String("only", "", "comma-separated bars to run, e.g. P1,P5 (default: all)")
	quick := flag.Bool("quick", false, "small-scale smoke run (500 candidates, 64 MiB tarball, 2,000 for P7, ...)")
	keep := flag.Bool("keep", false, "keep the temporary directory (data, binaries, logs)")
	content := flag.String("content", "random", "P2/P3 tarball content: random (incompressible bytes, stored by deflate)\n"+
		"or coded (base64-like text, Huffman-coded: every byte costs a decode)")
	flag.Parse()
	if *content != "random" && *content != "coded" {
		fmt.Fprintln(os.Stderr, "bench: -content: want random or coded")
		os.Exit(2)
	}
	sel, err := parseOnly(*only)
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err = run(ctx, options{only: sel, quick: *quick, keep: *keep, content: *content}, os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// run measures the selected bars and prints the table to out, progress to log.
// It returns an error when something could not be measured.
func run(ctx context.Context, opt options, out, log io.Writer) error {
	start := time.Now()
	sc := fullScale
	if opt.quick {
		sc = quickScale
	}
	h, err := newHarness(ctx, opt, sc, log)
	if err != nil {
		return err
	}
	defer h.close()

	rep := &report{}
	type bar struct {
		name string
		fn   func(context.Context, *report) error
	}
	bars := []bar{
		{"P1", h.benchCheck},
		{"P2", h.benchPublish},
		{"P3", h.benchGet},
		{"P4", h.benchPack},
		{"P5", h.benchEmptyCheck},
		{"P6", h.benchImage},
		{"P7", h.benchMemory},
		{"P8", h.benchRequests},
		{"P9", h.benchSmallWall},
	}
	for _, b := range bars {
		if !opt.only[b.name] {
			continue
		}
		t0 := time.Now()
		h.logf("%s: start", b.name)
		if err := b.fn(ctx, rep); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			rep.fail(b.name, err)
		}
		h.logf("%s: done in %s", b.name, time.Since(t0).Round(100*time.Millisecond))
	}

	fmt.Fprintf(out, "templates-candidate bench (%s scale)\n", map[bool]string{true: "quick", false: "full"}[opt.quick])
	fmt.Fprintf(out, "machine: nproc=%d GOMAXPROCS=%d %s/%s, %s, load average at start %s\n",
		runtime.NumCPU(), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version(), h.loadAtStart)
	fmt.Fprintf(out, "date: %s; S3: versitygw posix on 127.0.0.1 (%s)\n\n", start.UTC().Format(time.RFC3339), h.gatewayBin)
	rep.print(out)
	fmt.Fprintf(out, "\nwhole run: %s (load average at end %s)\n", time.Since(start).Round(100*time.Millisecond), loadAverage())
	if rep.errors > 0 {
		return fmt.Errorf("%d measurement(s) failed (see ERROR rows)", rep.errors)
	}
	return nil
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}
