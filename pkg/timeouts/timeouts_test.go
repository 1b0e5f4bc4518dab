package timeouts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

func TestTimeouts(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Timeouts Suite")
}

var _ = Describe("the time bounds of S3 requests", func() {
	It("are as documented", func() {
		b := For(1)
		Expect(b).To(Equal(Bounds{
			dial: 5 * time.Second, tlsHandshake: 5 * time.Second, responseHeader: 15 * time.Second,
			idle: 30 * time.Second, smallRequest: 30 * time.Second,
		}))
		client := b.Transport(awshttp.NewBuildableClient())
		tr := client.GetTransport()
		Expect(tr.TLSHandshakeTimeout).To(Equal(5 * time.Second))
		Expect(tr.ResponseHeaderTimeout).To(Equal(15 * time.Second))
		Expect(client.GetDialer().Timeout).To(Equal(5 * time.Second))
		Expect(client.GetTimeout()).To(BeZero(), "no whole-request timeout: it would cut a 1 GiB transfer")
	})

	It("fit inside a check's deadline: a stall met at once is cut and retried well within it", func() {
		b := For(1)
		Expect(b.dial + b.tlsHandshake + b.responseHeader).To(BeNumerically("<=", b.smallRequest))
		Expect(2*b.smallRequest).To(BeNumerically("<", 61*time.Second), "two attempts fit in a minute")
	})

	DescribeTable("scale down for tests only, by a number in (0, 1]",
		func(raw string, want float64, wantErr bool) {
			scale, err := TimeoutScale(func(k string) string {
				Expect(k).To(Equal("TEMPLATES_CANDIDATE_TIMEOUT_SCALE"))
				return raw
			})
			if wantErr {
				Expect(err).To(MatchError(ContainSubstring("is not a number in (0, 1]: it can only shorten the time bounds")))
				return
			}
			Expect(err).NotTo(HaveOccurred())
			Expect(scale).To(Equal(want))
		},
		Entry("unset", "", 1.0, false),
		Entry("a tenth", "0.1", 0.1, false),
		Entry("one", "1", 1.0, false),
		Entry("longer bounds", "10", 0.0, true),
		Entry("no bounds", "0", 0.0, true),
		Entry("negative", "-1", 0.0, true),
		Entry("infinite", "+Inf", 0.0, true),
		Entry("words", "slow", 0.0, true),
	)

	Describe("against a store that stalls", func() {
		// A fiftieth: headers 300ms, idle 600ms, a small request 600ms.
		bounds := For(0.02)

		var (
			ctx      context.Context // a spec that hangs fails instead
			requests atomic.Int32
			handler  http.HandlerFunc
			release  chan struct{}
			client   *s3.Client
		)

		BeforeEach(func() {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(context.Background(), 10*time.Second)
			DeferCleanup(cancel)
			requests.Store(0)
			release = make(chan struct{})
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				requests.Add(1)
				handler(w, r)
			}))
			DeferCleanup(srv.Close)
			DeferCleanup(func() { close(release) })
			client = s3.New(s3.Options{
				Region:       "us-east-1",
				BaseEndpoint: aws.String(srv.URL),
				UsePathStyle: true,
				Credentials:  credentials.NewStaticCredentialsProvider("k", "s", ""),
				HTTPClient:   bounds.Transport(awshttp.NewBuildableClient()),
				Retryer:      retry.NewStandard(func(o *retry.StandardOptions) { o.MaxAttempts = 3; o.MaxBackoff = 10 * time.Millisecond }),
			}, bounds.Apply)
		})

		// stall holds the request unanswered until the client hangs up.
		stall := func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-release:
			}
		}
		emptyListing := func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated></ListBucketResult>`)
		}
		list := func() (time.Duration, error) {
			started := time.Now()
			_, err := client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("b")})
			return time.Since(started), err
		}

		It("cuts an attempt whose answer does not come and retries it", func() {
			handler = func(w http.ResponseWriter, r *http.Request) {
				if requests.Load() == 1 {
					stall(w, r)
					return
				}
				emptyListing(w, r)
			}
			took, err := list()
			Expect(err).NotTo(HaveOccurred())
			Expect(requests.Load()).To(BeEquivalentTo(2))
			Expect(took).To(BeNumerically(">=", bounds.responseHeader))
			Expect(took).To(BeNumerically("<", bounds.responseHeader+time.Second))
		})

		It("gives up after its attempts when the answer never comes", func() {
			handler = stall
			took, err := list()
			Expect(err).To(MatchError(ContainSubstring("timeout awaiting response headers")))
			Expect(requests.Load()).To(BeEquivalentTo(3))
			Expect(took).To(BeNumerically("<", 3*bounds.responseHeader+2*time.Second))
		})

		It("cuts a small request that trickles on past its bound, and retries it", func() {
			handler = func(w http.ResponseWriter, r *http.Request) {
				if requests.Load() > 1 {
					emptyListing(w, r)
					return
				}
				w.Header().Set("Content-Type", "application/xml")
				fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>`)
				for { // a byte at a time: never idle, never done
					if _, err := w.Write([]byte(" ")); err != nil {
						return
					}
					_ = http.NewResponseController(w).Flush()
					select {
					case <-r.Context().Done():
						return
					case <-release:
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}
			took, err := list()
			Expect(err).NotTo(HaveOccurred())
			Expect(requests.Load()).To(BeEquivalentTo(2))
			Expect(took).To(BeNumerically(">=", bounds.smallRequest))
		})

		It("cuts a download whose body stops moving, however long it is", func() {
			blob := bytes.Repeat([]byte("x"), 4<<20)
			handler = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", fmt.Sprint(len(blob)))
				w.WriteHeader(http.StatusOK)
				_, _ = w.Write(blob[:1<<20])
				_ = http.NewResponseController(w).Flush()
				stall(w, r)
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("blobs/x.tgz")})
			Expect(err).NotTo(HaveOccurred())
			defer out.Body.Close()
			started := time.Now()
			n, err := io.Copy(io.Discard, out.Body)
			Expect(n).To(BeNumerically(">=", 1<<20))
			Expect(err).To(MatchError(ContainSubstring("the connection stalled (no data for 600ms)")))
			var timeout interface{ Timeout() bool }
			Expect(errors.As(err, &timeout) && timeout.Timeout()).To(BeTrue(), "a timeout, which callers retry")
			Expect(time.Since(started)).To(BeNumerically("<", bounds.idle+time.Second))
		})

		It("lets a slow download that keeps moving run past every bound", func() {
			handler = func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "40")
				w.WriteHeader(http.StatusOK)
				for range 40 { // 40 × 50ms = 2s: past the 600ms bounds, never idle
					_, _ = w.Write([]byte("x"))
					_ = http.NewResponseController(w).Flush()
					time.Sleep(50 * time.Millisecond)
				}
			}
			out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("blobs/x.tgz")})
			Expect(err).NotTo(HaveOccurred())
			defer out.Body.Close()
			b, err := io.ReadAll(out.Body)
			Expect(err).NotTo(HaveOccurred())
			Expect(b).To(HaveLen(40))
		})

		It("cuts an upload the store stops reading", func() {
			handler = func(w http.ResponseWriter, r *http.Request) {
				select { // never reads the body
				case <-r.Context().Done():
				case <-release:
				}
			}
			started := time.Now()
			_, err := client.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String("b"), Key: aws.String("blobs/x.tgz"), UploadId: aws.String("u"), PartNumber: aws.Int32(1),
				Body: bytes.NewReader(make([]byte, 64<<20)),
			})
			Expect(err).To(HaveOccurred())
			Expect(err.Error()).To(Or(ContainSubstring("the connection stalled"), ContainSubstring("timeout awaiting response headers")))
			Expect(time.Since(started)).To(BeNumerically("<", 3*(bounds.idle+bounds.responseHeader)+2*time.Second))
		})
	})
})
