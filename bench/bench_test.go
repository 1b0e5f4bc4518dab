package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestQuick runs the whole benchmark at -quick scale, end to end, so that
// `go test ./...` keeps it working. It checks that every bar was measured,
// not that the bars hold: that is for `make bench` at full scale.
func TestQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("runs versitygw and the compiled binaries")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	only, err := parseOnly("")
	if err != nil {
		t.Fatal(err)
	}
	var out, log bytes.Buffer
	start := time.Now()
	err = run(ctx, options{only: only, quick: true, content: "random"}, &out, &log)
	t.Logf("quick bench in %s:\n%s", time.Since(start).Round(time.Second), out.String())
	if err != nil {
		t.Fatalf("bench -quick: %v\nprogress:\n%s", err, log.String())
	}
	table := out.String()
	for _, want := range []string{
		"check default from the newest: S3 requests", "check default from the newest: wall",
		"check default, no version: S3 requests", "check default, no version: wall",
		"check eligible_for from the newest: S3 requests", "check eligible_for, no version: wall",
		"check live_in from the newest: wall", "check live_in, no version: S3 requests",
		"publish", "peak RSS of out", "get", "peak RSS of in",
		"pack", "empty bucket: wall (median)", "empty bucket: wall (median), absolute", "P6",
		"check default over 2000, from the newest: peak RSS", "check eligible_for over 2000, no version: peak RSS",
		"check live_in over 2000, from the newest: peak RSS",
		"publish (params.version): S3 requests", "publish (no version): S3 requests",
		"record a pass (1 upstream env): S3 requests", "get (2 envs with passes, 2 passes): S3 requests",
		"publish (params.version), small candidate: wall", "record a pass (1 upstream env), small candidate: wall",
	} {
		if !strings.Contains(table, want) {
			t.Errorf("the table has no row %q", want)
		}
	}
	if strings.Contains(table, "ERROR") {
		t.Errorf("a bar was not measured:\n%s", table)
	}
}

func TestParseOnly(t *testing.T) {
	got, err := parseOnly("p1a, P5, p9")
	if err != nil || !got["P1"] || !got["P5"] || !got["P9"] || got["P2"] || len(got) != 3 {
		t.Errorf("parseOnly(\"p1a, P5, p9\") = %v, %v", got, err)
	}
	if _, err := parseOnly("P10"); err == nil {
		t.Error("parseOnly(\"P10\") accepted an unknown bar")
	}
}
