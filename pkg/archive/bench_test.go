package archive_test

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"
)

// The benchmarks pack and unpack a generated folder of benchFiles files of
// YAML-like text, 200 MB in all by default (the README's performance bar P4); set
// ARCHIVE_BENCH_BYTES to another total for a quicker run. Each has a
// side-by-side baseline, GNU tar on the same data in the same run, so the
// ratio holds on a noisy machine:
//
//	go test ./pkg/archive/ -run '^$' -bench . -benchtime 3x
const benchFiles = 10000

func benchBytes(b *testing.B) int64 {
	if s := os.Getenv("ARCHIVE_BENCH_BYTES"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			b.Fatalf("ARCHIVE_BENCH_BYTES: %v", err)
		}
		return n
	}
	return 200 << 20
}

// makeBenchTree writes files files of about total/files bytes each, spread
// over 50×10 directories, and returns the bytes written.
func makeBenchTree(b *testing.B, root string, files int, total int64) int64 {
	r := rand.New(rand.NewPCG(1, 2))
	words := make([]string, 2000)
	for i := range words {
		w := make([]byte, 3+r.IntN(9))
		for j := range w {
			w[j] = byte('a' + r.IntN(26))
		}
		words[i] = string(w)
	}
	per := total / int64(files)
	var written int64
	for i := range files {
		p := filepath.Join(root, fmt.Sprintf("d%02d/s%02d/f%05d.yml", i%50, (i/50)%10, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		f, err := os.Create(p)
		if err != nil {
			b.Fatal(err)
		}
		w := bufio.NewWriter(f)
		var n int64
		for n < per {
			m, _ := fmt.Fprintf(w, "%*s%s: %s-%d %s\n", 2*r.IntN(4), "",
				words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100000), words[r.IntN(len(words))])
			n += int64(m)
		}
		if err := w.Flush(); err != nil {
			b.Fatal(err)
		}
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		written += n
	}
	return written
}

func BenchmarkPack(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	size := makeBenchTree(b, src, benchFiles, benchBytes(b))
	out := filepath.Join(b.TempDir(), "candidate.tgz")

	b.Run("archive.Pack", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			f, err := os.Create(out)
			if err != nil {
				b.Fatal(err)
			}
			if err := archive.Pack(src, f); err != nil {
				b.Fatal(err)
			}
			if err := f.Close(); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("tar_czf", func(b *testing.B) {
		tarBin, err := exec.LookPath("tar")
		if err != nil {
			b.Skip("no tar on PATH")
		}
		b.SetBytes(size)
		for b.Loop() {
			if output, err := exec.Command(tarBin, "czf", out, "-C", src, ".").CombinedOutput(); err != nil {
				b.Fatalf("tar czf: %v: %s", err, output)
			}
		}
	})
}

func BenchmarkUnpack(b *testing.B) {
	src := filepath.Join(b.TempDir(), "src")
	size := makeBenchTree(b, src, benchFiles, benchBytes(b))
	tarball := filepath.Join(b.TempDir(), "candidate.tgz")
	f, err := os.Create(tarball)
	if err != nil {
		b.Fatal(err)
	}
	if err := archive.Pack(src, f); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()

	b.Run("archive.Unpack", func(b *testing.B) {
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dest := filepath.Join(work, "dest")
			if err := os.RemoveAll(dest); err != nil {
				b.Fatal(err)
			}
			in, err := os.Open(tarball)
			if err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := archive.Unpack(in, dest, archive.Limits{}); err != nil {
				b.Fatal(err)
			}
			in.Close()
		}
	})

	b.Run("tar_xzf", func(b *testing.B) {
		tarBin, err := exec.LookPath("tar")
		if err != nil {
			b.Skip("no tar on PATH")
		}
		b.SetBytes(size)
		for b.Loop() {
			b.StopTimer()
			dest := filepath.Join(work, "dest")
			if err := os.RemoveAll(dest); err != nil {
				b.Fatal(err)
			}
			if err := os.Mkdir(dest, 0o755); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if output, err := exec.Command(tarBin, "xzf", tarball, "-C", dest).CombinedOutput(); err != nil {
				b.Fatalf("tar xzf: %v: %s", err, output)
			}
		}
	})
}
