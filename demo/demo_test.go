package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestDemo runs the whole demo in-process (the S3 server in this process, the
// three binaries compiled from this repository) and requires it to tell the
// story as narrated.
func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("the demo compiles the binaries and waits out two soaks; skipped with -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	var out bytes.Buffer
	d := &Demo{Out: &out, Soak: 2 * time.Second}
	err := d.Run(ctx)
	if testing.Verbose() || err != nil {
		t.Logf("demo output:\n%s", out.String())
	}
	if err != nil {
		t.Fatalf("demo failed: %v", err)
	}
	for _, want := range []string{
		"✗ refused", // the gates refused
		"--- staging/manifest.yml",
		"+++ production/manifest.yml",
		"CANDIDATE  dev1",
		"live now",
		"staging tested 0.1.2 as an upgrade from 0.1.1, but production runs 0.1.0",
		"The whole story ran as narrated",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the narration lacks %q", want)
		}
	}
	if _, err := os.Stat(d.work); !os.IsNotExist(err) {
		t.Errorf("the demo left its working directory %s behind", d.work)
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\ni\nj\n"
	b := "a\nb\nC\nd\ne\nf\ng\nh\ni\nj\nk\n"
	got := unifiedDiff("x", "y", a, b, 2)
	want := `--- x
+++ y
@@ -1,5 +1,5 @@
 a
 b
-c
+C
 d
 e
@@ -9,2 +9,3 @@
 i
 j
+k
`
	if got != want {
		t.Errorf("unifiedDiff:\n%s\nwant:\n%s", got, want)
	}
	if unifiedDiff("x", "y", a, a, 2) != "" {
		t.Errorf("equal texts must give no diff")
	}
	if got := unifiedDiff("x", "y", "", "new\n", 2); got != "--- x\n+++ y\n@@ -0,0 +1 @@\n+new\n" {
		t.Errorf("diff from empty: %q", got)
	}
}

func TestScaleUp(t *testing.T) {
	dir := t.TempDir()
	ops := filepath.Join(dir, "environments", "production", "ops")
	if err := os.MkdirAll(ops, 0o755); err != nil {
		t.Fatal(err)
	}
	scaling := "- type: replace\n  path: /instance_groups/name=redis/instances\n  value: 3\n"
	if err := os.WriteFile(filepath.Join(ops, "scaling.yml"), []byte(scaling), 0o644); err != nil {
		t.Fatal(err)
	}
	change, err := scaleUp(dir)
	if err != nil {
		t.Fatal(err)
	}
	if change != "environments/production/ops/scaling.yml: /instance_groups/name=redis/instances 3 → 4" {
		t.Errorf("change: %q", change)
	}
	data, _ := os.ReadFile(filepath.Join(ops, "scaling.yml"))
	if !strings.Contains(string(data), "value: 4\n") {
		t.Errorf("scaling.yml now:\n%s", data)
	}
}
