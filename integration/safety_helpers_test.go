package integration_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"github.com/onsi/gomega/gexec"
)

// Helpers of the reliability and security specs (README "Safety").

// successFiles are what a successful get writes into its directory; a failed
// get must leave none of them.
var successFiles = []string{"version", "sha256", "passed.json", "candidate.tgz", "templates", "manifest.yml", "releases.json"}

// expectNoSuccessFiles asserts that a failed in left nothing that claims
// success in dest (dest itself may exist, empty).
func expectNoSuccessFiles(dest string) {
	GinkgoHelper()
	for _, name := range successFiles {
		_, err := os.Lstat(filepath.Join(dest, name))
		Expect(os.IsNotExist(err)).To(BeTrue(), "a failed get must not leave %s behind", name)
	}
}

// closedEndpoint is an http URL on 127.0.0.1 where nothing listens.
func closedEndpoint() string {
	GinkgoHelper()
	return fmt.Sprintf("http://127.0.0.1:%d", freePort())
}

// bigTarball writes a candidate of about size bytes: the Redis templates plus
// files/noise.bin of random (incompressible) bytes, stored without
// compression so it is quick to make.
func bigTarball(path, marker string, size int) {
	GinkgoHelper()
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.NoCompression)
	Expect(err).NotTo(HaveOccurred())
	tw := tar.NewWriter(gz)
	files := redisTemplates(marker)
	for _, name := range []string{"manifest.yml", "ops/10-scale.yml"} {
		Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(files[name])), ModTime: time.Unix(1e9, 0)})).To(Succeed())
		_, err := tw.Write([]byte(files[name]))
		Expect(err).NotTo(HaveOccurred())
	}
	noise := make([]byte, size)
	rng := rand.NewChaCha8([32]byte([]byte(fmt.Sprintf("%-32.32s", marker))))
	_, _ = rng.Read(noise)
	Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "files/noise.bin", Mode: 0o644, Size: int64(size), ModTime: time.Unix(1e9, 0)})).To(Succeed())
	_, err = tw.Write(noise)
	Expect(err).NotTo(HaveOccurred())
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	Expect(os.MkdirAll(filepath.Dir(path), 0o755)).To(Succeed())
	Expect(os.WriteFile(path, buf.Bytes(), 0o644)).To(Succeed())
}

// bombTgz is a decompression bomb: a valid candidate (a manifest) plus one
// entry name of size bytes of fill, made of concatenated gzip members (which
// every gzip reader must accept) so that even a GiB-scale bomb takes a few
// MiB and milliseconds to make. Its ratio is about 1000:1.
func bombTgz(name string, size int64, fill byte) []byte {
	GinkgoHelper()
	var out bytes.Buffer
	member := func(b []byte) {
		gz, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
		Expect(err).NotTo(HaveOccurred())
		_, err = gz.Write(b)
		Expect(err).NotTo(HaveOccurred())
		Expect(gz.Close()).To(Succeed())
	}
	var head bytes.Buffer
	tw := tar.NewWriter(&head)
	Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "manifest.yml", Mode: 0o644, Size: int64(len(manifest)), ModTime: time.Unix(1e9, 0)})).To(Succeed())
	_, err := tw.Write([]byte(manifest))
	Expect(err).NotTo(HaveOccurred())
	// WriteHeader writes the header through at once; the content follows
	// in the members below, never through tw.
	Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: size, ModTime: time.Unix(1e9, 0)})).To(Succeed())
	member(head.Bytes())

	const chunk = 64 << 20
	block := bytes.Repeat([]byte{fill}, chunk)
	var whole bytes.Buffer
	gz, err := gzip.NewWriterLevel(&whole, gzip.BestCompression)
	Expect(err).NotTo(HaveOccurred())
	_, err = gz.Write(block)
	Expect(err).NotTo(HaveOccurred())
	Expect(gz.Close()).To(Succeed())
	for left := size; left > 0; left -= chunk {
		if left >= chunk {
			out.Write(whole.Bytes())
		} else {
			member(block[:left])
		}
	}
	// Padding to the 512-byte block, then the two zero blocks that end a tar.
	member(make([]byte, (512-size%512)%512+1024))
	return out.Bytes()
}

// manyEntriesTgz is a candidate with a manifest and n empty files.
func manyEntriesTgz(n int) []byte {
	GinkgoHelper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "manifest.yml", Mode: 0o644, Size: int64(len(manifest)), ModTime: time.Unix(1e9, 0)})).To(Succeed())
	_, err := tw.Write([]byte(manifest))
	Expect(err).NotTo(HaveOccurred())
	for i := range n {
		Expect(tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("files/%06d", i), Mode: 0o644, ModTime: time.Unix(1e9, 0)})).To(Succeed())
	}
	Expect(tw.Close()).To(Succeed())
	Expect(gz.Close()).To(Succeed())
	return buf.Bytes()
}

// outPeakRSS runs out through bench/rusage and returns the session and out's
// own peak RSS in bytes. On Linux a child started with vfork (as Go starts
// it) reports at least its parent's peak RSS, which here would be this
// suite's: rusage, a small process, starts out with a real fork and reports
// out's own figure.
func outPeakRSS(dir string, req any) (*gexec.Session, int64) {
	GinkgoHelper()
	stdin, err := json.Marshal(req)
	Expect(err).NotTo(HaveOccurred())
	report, err := os.CreateTemp(GinkgoT().TempDir(), "rusage-*.json")
	Expect(err).NotTo(HaveOccurred())
	defer report.Close()
	cmd := exec.Command(cfg.Rusage, cfg.Out, dir)
	cmd.Env = controlledEnv(nil)
	cmd.Stdin = bytes.NewReader(stdin)
	cmd.ExtraFiles = []*os.File{report}
	fmt.Fprintf(GinkgoWriter, "[out] rusage out %s <<< %s\n", dir, redact(string(stdin)))
	sess, err := gexec.Start(cmd,
		gexec.NewPrefixedWriter("[out stdout] ", GinkgoWriter),
		gexec.NewPrefixedWriter("[out stderr] ", GinkgoWriter))
	Expect(err).NotTo(HaveOccurred())
	finish(sess)
	var r struct {
		MaxRSSKiB int64 `json:"maxrss_kib"`
	}
	b, err := os.ReadFile(report.Name())
	Expect(err).NotTo(HaveOccurred())
	Expect(json.Unmarshal(b, &r)).To(Succeed(), "rusage report %q", b)
	return sess, r.MaxRSSKiB * 1024
}

// observation is one look at the store from outside while a put runs.
type observation struct {
	At    time.Time // when the look started
	Done  time.Time // when check had answered
	Keys  []string  // claims/ and candidates/ keys
	Check string    // check's stdout
	Err   error
}

// watchStore lists claims/ and candidates/ and runs check (against src)
// over and over until done is closed, and returns what it saw.
func watchStore(bucket string, src map[string]any, done <-chan struct{}) <-chan []observation {
	result := make(chan []observation, 1)
	req := []byte(mustJSON(map[string]any{"source": src}))
	go func() {
		defer GinkgoRecover()
		var seen []observation
		for {
			select {
			case <-done:
				result <- seen
				return
			default:
			}
			o := observation{At: time.Now()}
			for _, prefix := range []string{"claims/", "candidates/"} {
				keys, err := listKeys(bucket, prefix)
				o.Keys = append(o.Keys, keys...)
				if err != nil {
					o.Err = err
				}
			}
			cmd := execCommand(cfg.Check, nil, req)
			stdout, err := cmd.Output()
			if err != nil {
				o.Err = fmt.Errorf("check: %w", err)
			}
			o.Check = string(bytes.TrimSpace(stdout))
			o.Done = time.Now()
			seen = append(seen, o)
		}
	}()
	return result
}

// listKeys lists keys under prefix without asserting (for goroutines).
func listKeys(bucket, prefix string) ([]string, error) {
	var keys []string
	p := s3.NewListObjectsV2Paginator(s3Client, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			return keys, err
		}
		for _, o := range page.Contents {
			keys = append(keys, aws.ToString(o.Key))
		}
	}
	return keys, nil
}

// execCommand is a resource process with the controlled environment and
// stdin, for goroutines that cannot assert.
func execCommand(bin string, args []string, stdin []byte) *exec.Cmd {
	cmd := exec.Command(bin, args...)
	cmd.Env = controlledEnv(nil)
	cmd.Stdin = bytes.NewReader(stdin)
	return cmd
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// metaSHA is the sha256 of an in or out response.
func metaSHA(r Response) string {
	GinkgoHelper()
	v, ok := r.Meta("sha256")
	Expect(ok).To(BeTrue(), "the response has no sha256 metadata: %+v", r.Metadata)
	return v
}
