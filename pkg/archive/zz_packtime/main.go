package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/templates-candidate/templates-candidate-resource/pkg/archive"
)

func main() {
	switch os.Args[1] {
	case "gen":
		gen(os.Args[2], 10000, 200<<20)
	case "pack":
		out, _ := os.Create(os.Args[3])
		start := time.Now()
		if err := archive.Pack(os.Args[2], out); err != nil {
			panic(err)
		}
		out.Close()
		fmt.Fprintln(os.Stderr, "pack", time.Since(start))
	case "unpack":
		in, _ := os.Open(os.Args[2])
		start := time.Now()
		if err := archive.Unpack(bufio.NewReaderSize(in, 1<<20), os.Args[3], archive.Limits{}); err != nil {
			panic(err)
		}
		fmt.Fprintln(os.Stderr, "unpack", time.Since(start))
	}
}

var words = func() []string {
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]string, 2000)
	for i := range w {
		b := make([]byte, 3+r.IntN(9))
		for j := range b {
			b[j] = byte('a' + r.IntN(26))
		}
		w[i] = string(b)
	}
	return w
}()

func gen(dir string, files int, total int64) {
	r := rand.New(rand.NewPCG(3, 4))
	per := total / int64(files)
	for i := 0; i < files; i++ {
		p := filepath.Join(dir, fmt.Sprintf("d%02d/s%02d/f%05d.yml", i%50, (i/50)%10, i))
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, _ := os.Create(p)
		w := bufio.NewWriter(f)
		var n int64
		for n < per {
			line := fmt.Sprintf("%*s%s: %s-%d %s\n", 2*r.IntN(4), "", words[r.IntN(len(words))], words[r.IntN(len(words))], r.IntN(100000), words[r.IntN(len(words))])
			m, _ := w.WriteString(line)
			n += int64(m)
		}
		w.Flush()
		f.Close()
	}
}
