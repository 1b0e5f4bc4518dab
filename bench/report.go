package main

import (
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// row is one line of the table.
type row struct {
	bar      string // P1 … P6
	measure  string // what is measured
	ours     string
	baseline string
	ratio    string
	target   string // the bar
	result   string // PASS, FAIL, ERROR, SKIP
}

type report struct {
	rows   []row
	notes  []string
	errors int
}

func (r *report) add(x row) { r.rows = append(r.rows, x) }

func (r *report) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

// fail records a bar that could not be measured.
func (r *report) fail(bar string, err error) {
	r.errors++
	r.add(row{bar: bar, measure: "(not measured)", ours: "-", baseline: "-", ratio: "-", target: "-", result: "ERROR"})
	r.note("%s ERROR: %v", bar, err)
}

func (r *report) print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "bar\tmeasure\tours\tbaseline\tratio\tbar\tresult")
	fmt.Fprintln(tw, "---\t-------\t----\t--------\t-----\t---\t------")
	for _, x := range r.rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.bar, x.measure, x.ours, x.baseline, x.ratio, x.target, x.result)
	}
	tw.Flush()
	if len(r.notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
}

func passFail(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	default:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	}
}

func fmtDurs(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmtDur(d)
	}
	return strings.Join(parts, ", ")
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// throughput in MiB/s.
func throughput(bytes int64, d time.Duration) float64 {
	if d <= 0 {
		return math.Inf(1)
	}
	return mib(bytes) / d.Seconds()
}
