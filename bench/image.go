package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// benchImage is P6: the size of the image's root filesystem, build/image
// (`make image-context`), which the Dockerfile copies FROM scratch whole.
func (h *harness) benchImage(ctx context.Context, rep *report) error {
	rootfs := filepath.Join(h.root, "build", "image")
	resource := filepath.Join(rootfs, "opt", "resource")
	built := true
	for _, b := range []string{"check", "in", "out"} {
		if _, err := os.Stat(filepath.Join(resource, b)); err != nil {
			built = false
		}
	}
	if !built {
		if !h.sc.buildImageDir {
			rep.add(row{bar: "P6", measure: "image rootfs size", ours: "not built", baseline: "-", ratio: "-", target: "≤ 40 MB", result: "SKIP"})
			rep.note("P6: build/image is not built; -quick does not run `make image-context`.")
			return nil
		}
		h.logf("P6: running make image-context")
		cmd := exec.CommandContext(ctx, "make", "image-context")
		cmd.Dir = h.root
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("make image-context: %v\n%s", err, out)
		}
	}
	size, err := dirSize(rootfs)
	if err != nil {
		return err
	}
	// The same binaries built from the current source with the image's flags.
	var current, inImage int64
	for _, b := range []string{"check", "in", "out"} {
		ci, err := os.Stat(filepath.Join(h.bin, b))
		if err != nil {
			return err
		}
		ii, err := os.Stat(filepath.Join(resource, b))
		if err != nil {
			return err
		}
		current += ci.Size()
		inImage += ii.Size()
	}
	const mb = 1e6
	rep.add(row{
		bar: "P6", measure: "image rootfs size (build/image)",
		ours: fmt.Sprintf("%.1f MB", float64(size)/mb), baseline: "-", ratio: "-",
		target: "≤ 40 MB", result: passFail(size <= 40*mb),
	})
	fresh := "they match the current source"
	if current != inImage {
		fresh = fmt.Sprintf("STALE: built from the current source they take %.1f MB, so the rootfs would be %.1f MB; run `make image-context`",
			float64(current)/mb, float64(size-inImage+current)/mb)
	}
	rep.note("P6: build/image = check+in+out %.1f MB + CA bundle and /tmp; binaries: %s. The image itself is tested by `make image-test`.",
		float64(inImage)/mb, fresh)
	return nil
}
