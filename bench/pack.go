package main

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"
)

// benchPack is P4: pkg/archive.Pack (in-process, to a file) vs a `tar czf`
// process, on the same folder, interleaved.
func (h *harness) benchPack(ctx context.Context, rep *report) error {
	work := filepath.Join(h.tmp, "p4")
	src := filepath.Join(work, "src")
	t0 := time.Now()
	total, err := writeTree(src, h.sc.packFiles, h.sc.packBytes)
	if err != nil {
		return fmt.Errorf("generating the folder: %w", err)
	}
	h.logf("P4: generated %d files, %.0f MiB in %s", h.sc.packFiles, mib(total), time.Since(t0).Round(100*time.Millisecond))

	tarOut := filepath.Join(work, "tar.tgz")
	packOut := filepath.Join(work, "pack.tgz")
	// Warm the page cache the same way for both: one untimed read by tar.
	if _, err := h.runProc(ctx, nil, work, "tar", "cf", os.DevNull, "-C", src, "."); err != nil {
		return err
	}
	var ours, base []time.Duration
	for range h.sc.packRuns {
		_ = os.Remove(tarOut)
		p, err := h.runProc(ctx, nil, work, "tar", "czf", tarOut, "-C", src, ".")
		if err != nil {
			return err
		}
		base = append(base, p.wall)

		_ = os.Remove(packOut)
		t0 := time.Now()
		f, err := os.Create(packOut)
		if err != nil {
			return err
		}
		if err := archive.Pack(src, f); err != nil {
			f.Close()
			return fmt.Errorf("archive.Pack: %w", err)
		}
		if err := f.Close(); err != nil {
			return err
		}
		ours = append(ours, time.Since(t0))
	}
	tarInfo, err := os.Stat(tarOut)
	if err != nil {
		return err
	}
	packInfo, err := os.Stat(packOut)
	if err != nil {
		return err
	}
	_ = os.RemoveAll(work)
	om, bm := median(ours), median(base)
	ratio := om.Seconds() / bm.Seconds()
	rep.add(row{
		bar: "P4", measure: fmt.Sprintf("pack %d files / %.0f MiB: wall (median)", h.sc.packFiles, mib(total)),
		ours: fmtDur(om), baseline: fmtDur(bm), ratio: fmt.Sprintf("%.2f", ratio),
		target: "≤ 1.00", result: passFail(ratio <= 1.00),
	})
	rep.note("P4: ours = pkg/archive.Pack in-process writing a file (pack alone: no upload, no process start); baseline = a `tar czf` process (GNU tar piping to gzip -6); median of %d runs each, interleaved, page cache warm. Output %.1f MiB (Pack) vs %.1f MiB (tar czf).",
		h.sc.packRuns, mib(packInfo.Size()), mib(tarInfo.Size()))
	h.logf("P4: Pack %s; tar czf %s", fmtDurs(ours), fmtDurs(base))
	return nil
}

// writeTree writes files YAML-like text files of about total/files bytes each
// over 50×10 directories, cut at random offsets out of a pool of random lines
// larger than deflate's window, and returns the bytes written.
func writeTree(root string, files int, total int64) (int64, error) {
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 2000)
	for i := range words {
		w := make([]byte, 3+r.IntN(9))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(w)
	}
	var pool []byte
	for len(pool) < 8<<20 {
		pool = fmt.Appendf(pool, "%*s%s: %s-%d %s\n", 2*r.IntN(4), "",
			words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100000), words[r.IntN(len(words))])
	}
	per := int(total / int64(files))
	var written int64
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("d%02d/s%02d/f%05d.yml", i%50, (i/50)%10, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return 0, err
		}
		f, err := os.Create(p)
		if err != nil {
			return 0, err
		}
		w := bufio.NewWriter(f)
		off := r.IntN(len(pool) - per)
		if _, err := w.Write(pool[off : off+per]); err != nil {
			f.Close()
			return 0, err
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return 0, err
		}
		if err := f.Close(); err != nil {
			return 0, err
		}
		written += int64(per)
	}
	return written, nil
}
