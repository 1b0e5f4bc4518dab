package main

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/klauspost/compress/gzip"

	"github.com/templates-candidate/templates-candidate-resource/pkg/policy"
	"github.com/templates-candidate/templates-candidate-resource/pkg/store"
)

const transferBucket = "bench-p2"

// benchPublish is P2: `out` publishing a large tarball vs the SDK transfer
// manager uploading the same file; peak RSS of `out`.
func (h *harness) benchPublish(ctx context.Context, rep *report) error {
	tgz, size, err := h.candidateTarball(ctx)
	if err != nil {
		return err
	}
	baseline := func() (proc, error) {
		return h.transfer(ctx, "upload", "baseline/candidate.tgz", tgz)
	}
	run := 0
	ourRun := func() (proc, error) {
		// Keep one blob at a time in the store.
		if err := h.deletePrefix(ctx, transferBucket, "blobs/"); err != nil {
			return proc{}, err
		}
		p, version, err := h.publish(ctx, tgz, run)
		run++
		h.published = version
		return p, err
	}
	ourRuns, baseRuns, err := interleave(h.sc.transferRuns, ourRun, baseline)
	if err != nil {
		return err
	}
	ours, ourCPU := walls(ourRuns), cpus(ourRuns)
	base, baseCPU := walls(baseRuns), cpus(baseRuns)
	peak, basePeak := peakRSS(ourRuns), peakRSS(baseRuns)
	om, bm := median(ours), median(base)
	ot, bt := throughput(size, om), throughput(size, bm)
	rep.add(row{
		bar: "P2", measure: fmt.Sprintf("publish %.0f MiB tarball (%s): throughput", mib(size), h.opt.content),
		ours: fmt.Sprintf("%.0f MiB/s (%s)", ot, fmtDur(om)), baseline: fmt.Sprintf("%.0f MiB/s (%s)", bt, fmtDur(bm)),
		ratio: fmt.Sprintf("%.2f", ot/bt), target: "≥ 0.80", result: passFail(ot/bt >= 0.80),
	})
	rep.add(row{
		bar: "P2", measure: "publish: peak RSS of out",
		ours: fmt.Sprintf("%.0f MiB", float64(peak)/1024), baseline: fmt.Sprintf("%.0f MiB (info)", float64(basePeak)/1024), ratio: "-",
		target: "≤ 128 MiB", result: passFail(peak <= 128<<10),
	})
	rep.note("P2: median of %d runs each, interleaved (ABBA); out (whole process, params.tarball, source.environments {}: nothing to render) vs bench/transfer, a process running transfermanager.UploadObject with its defaults (8 MiB parts, 5 in flight) on the same file.", h.sc.transferRuns)
	rep.note("P2: CPU time (user+sys, median): out %s, transfer manager %s.", fmtDur(median(ourCPU)), fmtDur(median(baseCPU)))
	h.logf("P2: out %s; transfer manager %s; peak RSS %d KiB", fmtDurs(ours), fmtDurs(base), peak)
	return nil
}

// publish runs `out` on the tarball as version 9.0.<i>.
func (h *harness) publish(ctx context.Context, tgz string, i int) (proc, string, error) {
	version := fmt.Sprintf("9.0.%d", i)
	p, err := h.resource(ctx, "out", map[string]any{
		"source": h.transferSource(),
		"params": map[string]any{"tarball": filepath.Base(tgz), "version": version},
	}, filepath.Dir(tgz))
	if err != nil {
		return p, "", err
	}
	var resp struct {
		Version struct {
			Version string `json:"version"`
		} `json:"version"`
	}
	if err := json.Unmarshal(p.stdout, &resp); err != nil || resp.Version.Version != version {
		return p, "", fmt.Errorf("out printed %q, want version %s", p.stdout, version)
	}
	return p, version, nil
}

// benchGet is P3: `in` of the published candidate (download, verify, unpack)
// vs the SDK transfer manager downloading it followed by `tar xzf`.
func (h *harness) benchGet(ctx context.Context, rep *report) error {
	tgz, size, err := h.candidateTarball(ctx)
	if err != nil {
		return err
	}
	if h.published == "" {
		h.logf("P3: publishing the candidate first")
		if _, h.published, err = h.publish(ctx, tgz, 0); err != nil {
			return err
		}
	}
	blob, err := h.blobOf(ctx, h.published)
	if err != nil {
		return err
	}
	work := filepath.Join(h.tmp, "p3")
	var download []time.Duration
	baseline := func() (proc, error) {
		dir := filepath.Join(work, "baseline")
		if err := os.RemoveAll(dir); err != nil {
			return proc{}, err
		}
		if err := os.MkdirAll(filepath.Join(dir, "x"), 0o755); err != nil {
			return proc{}, err
		}
		file := filepath.Join(dir, "candidate.tgz")
		t0 := time.Now()
		dp, err := h.transfer(ctx, "download", blob, file)
		if err != nil {
			return proc{}, err
		}
		download = append(download, dp.wall)
		tp, err := h.runProc(ctx, nil, dir, "tar", "xzf", file, "-C", filepath.Join(dir, "x"))
		if err != nil {
			return proc{}, err
		}
		return proc{wall: time.Since(t0), cpu: dp.cpu + tp.cpu, maxRSS: max(dp.maxRSS, tp.maxRSS)}, nil
	}
	ourRun := func() (proc, error) {
		dest := filepath.Join(work, "in")
		if err := os.RemoveAll(dest); err != nil {
			return proc{}, err
		}
		p, err := h.resource(ctx, "in", map[string]any{
			"source":  h.transferSource(),
			"version": map[string]string{"version": h.published},
			"params":  map[string]any{},
		}, dest)
		if err != nil {
			return p, err
		}
		if _, err := os.Stat(filepath.Join(dest, "templates", "manifest.yml")); err != nil {
			return p, fmt.Errorf("in did not unpack the candidate: %v", err)
		}
		return p, nil
	}
	ourRuns, baseRuns, err := interleave(h.sc.transferRuns, ourRun, baseline)
	if err != nil {
		return err
	}
	ours, ourCPU := walls(ourRuns), cpus(ourRuns)
	base, baseCPU := walls(baseRuns), cpus(baseRuns)
	peak, basePeak := peakRSS(ourRuns), peakRSS(baseRuns)
	_ = os.RemoveAll(work)
	om, bm := median(ours), median(base)
	ot, bt := throughput(size, om), throughput(size, bm)
	rep.add(row{
		bar: "P3", measure: fmt.Sprintf("get %.0f MiB candidate (%s): throughput", mib(size), h.opt.content),
		ours: fmt.Sprintf("%.0f MiB/s (%s)", ot, fmtDur(om)), baseline: fmt.Sprintf("%.0f MiB/s (%s)", bt, fmtDur(bm)),
		ratio: fmt.Sprintf("%.2f", ot/bt), target: "≥ 0.80", result: passFail(ot/bt >= 0.80),
	})
	rep.add(row{
		bar: "P3", measure: "get: peak RSS of in",
		ours: fmt.Sprintf("%.0f MiB", float64(peak)/1024), baseline: fmt.Sprintf("%.0f MiB (info)", float64(basePeak)/1024), ratio: "-",
		target: "≤ 128 MiB", result: passFail(peak <= 128<<10),
	})
	rep.note("P3: median of %d runs each, interleaved (ABBA); in (whole process: download, sha256, unpack, default params) vs bench/transfer, a process running transfermanager.DownloadObject with its defaults, then a `tar xzf` process.", h.sc.transferRuns)
	rep.note("P3: baseline's download alone (median) %s; CPU time (user+sys, median): in %s, transfer manager + tar xzf %s.",
		fmtDur(median(download)), fmtDur(median(ourCPU)), fmtDur(median(baseCPU)))
	h.logf("P3: in %s; transfer manager + tar xzf %s; peak RSS %d KiB", fmtDurs(ours), fmtDurs(base), peak)
	return nil
}

// transferSource is the source of P2 and P3: an empty policy (the first
// publish into an empty prefix needs source.environments), so that nothing
// is rendered.
func (h *harness) transferSource() map[string]any {
	return h.source(h.endpoint, transferBucket, map[string]any{"environments": policy.Policy{}})
}

// transfer runs the baseline bench/transfer: upload file to key, or download
// key to file, in the P2 bucket.
func (h *harness) transfer(ctx context.Context, op, key, file string) (proc, error) {
	return h.runProc(ctx, nil, h.tmp, filepath.Join(h.bin, "transfer"),
		"-endpoint", h.endpoint, "-access-key", accessKey, "-secret-key", h.secretKey, op, transferBucket, key, file)
}

func peakRSS(ps []proc) int64 {
	var peak int64
	for _, p := range ps {
		peak = max(peak, p.maxRSS)
	}
	return peak
}

// blobOf reads the blob key of a published version from its claim.
func (h *harness) blobOf(ctx context.Context, version string) (string, error) {
	out, err := h.client.GetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(transferBucket), Key: aws.String(store.ClaimKey(version)),
	})
	if err != nil {
		return "", fmt.Errorf("reading the claim of %s: %w", version, err)
	}
	defer out.Body.Close()
	var claim struct {
		Blob string `json:"blob"`
	}
	if err := json.NewDecoder(out.Body).Decode(&claim); err != nil || claim.Blob == "" {
		return "", fmt.Errorf("reading the claim of %s: %v", version, err)
	}
	return claim.Blob, nil
}

func (h *harness) deletePrefix(ctx context.Context, bucket, prefix string) error {
	pages := s3.NewListObjectsV2Paginator(h.client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, o := range page.Contents {
			if _, err := h.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key}); err != nil {
				return err
			}
		}
	}
	return nil
}

// candidateTarball generates (once per run) a valid candidate .tgz of about
// sc.tarballBytes: a manifest.yml and large files. It also creates the P2
// bucket.
//
// With -content random (the default) the files are random bytes, gzipped at
// level 1: incompressible, so deflate stores them, like the bulk of a real
// large candidate, which must be already-compressed content (the default
// max_unpacked_bytes, 4 GiB, leaves no room for 1 GiB of gzipped text). With
// -content coded they are random base64-like text, Huffman-coded only
// (compressed to 75%): every byte costs a Huffman decode, the costliest
// content to inflate.
func (h *harness) candidateTarball(ctx context.Context) (string, int64, error) {
	if h.tarball != "" {
		return h.tarball, h.tarballSize, nil
	}
	if err := h.createBucket(ctx, transferBucket); err != nil {
		return "", 0, err
	}
	dir := filepath.Join(h.tmp, "p2", "src")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", 0, err
	}
	path := filepath.Join(dir, "candidate.tgz")
	t0 := time.Now()
	size, err := writeTarball(path, h.sc.tarballBytes, h.opt.content == "coded")
	if err != nil {
		return "", 0, fmt.Errorf("generating the tarball: %w", err)
	}
	h.logf("generated %s: %.0f MiB in %s", path, mib(size), time.Since(t0).Round(100*time.Millisecond))
	h.tarball, h.tarballSize = path, size
	return path, size, nil
}

const manifestYAML = `---
name: bench
releases:
- name: bench
  version: "1.0.0"
  url: https://example.invalid/bench-1.0.0.tgz
  sha1: 0000000000000000000000000000000000000000
stemcells:
- alias: default
  os: ubuntu-jammy
  version: latest
update: {canaries: 1, max_in_flight: 1, canary_watch_time: 1000-30000, update_watch_time: 1000-30000}
instance_groups: []
`

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func writeTarball(path string, target int64, coded bool) (int64, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 4<<20)
	cw := &countingWriter{w: bw}
	level, ratio := gzip.BestSpeed, int64(4)
	if coded {
		level, ratio = gzip.HuffmanOnly, 3
	}
	gz, err := gzip.NewWriterLevel(cw, level)
	if err != nil {
		return 0, err
	}
	tw := tar.NewWriter(gz)
	write := func(name string, size int64, fill func([]byte)) error {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Size: size, Mode: 0o644, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
		buf := make([]byte, min(size, 1<<20))
		for left := size; left > 0; {
			n := min(left, int64(len(buf)))
			fill(buf[:n])
			if _, err := tw.Write(buf[:n]); err != nil {
				return err
			}
			left -= n
		}
		return nil
	}
	if err := write("manifest.yml", int64(len(manifestYAML)), func(b []byte) { copy(b, manifestYAML) }); err != nil {
		return 0, err
	}
	rng := rand.NewChaCha8([32]byte{'t', 'c', 'b', 'e', 'n', 'c', 'h'})
	fill := func(b []byte) { _, _ = rng.Read(b) }
	if coded {
		const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		fill = func(b []byte) {
			_, _ = rng.Read(b)
			for i, c := range b {
				b[i] = alphabet[c&63]
			}
		}
	}
	// Raw bytes per file; ratio/4 of it once compressed.
	const fileSize = 16 << 20
	i := 0
	for ; cw.n+fileSize*ratio/4 <= target; i++ {
		if err := write(fmt.Sprintf("blobs/part-%04d.bin", i), fileSize, fill); err != nil {
			return 0, err
		}
	}
	// The rest, less what deflate and tar have buffered and will add.
	if rest := (target - cw.n - 2<<20) * 4 / ratio; rest > 0 {
		if err := write(fmt.Sprintf("blobs/part-%04d.bin", i), rest, fill); err != nil {
			return 0, err
		}
	}
	if err := tw.Close(); err != nil {
		return 0, err
	}
	if err := gz.Close(); err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	if err := f.Close(); err != nil {
		return 0, err
	}
	info, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// dirSize sums the sizes of the regular files under dir.
func dirSize(dir string) (int64, error) {
	var total int64
	err := filepath.WalkDir(dir, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		}
		return nil
	})
	return total, err
}
