package store

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/timeouts"
)

var _ = Describe("the store's S3 client", func() {
	It("keeps every time bound, the idle bound on transfers included, with the store's clock wrapped around it", func() {
		// A fiftieth of the bounds: a connection silent for 600ms is cut.
		GinkgoT().Setenv(timeouts.TimeoutScaleEnv, "0.02")
		release := make(chan struct{})
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Length", fmt.Sprint(4<<20))
			w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write([]byte(strings.Repeat("x", 1<<20)))
			_ = http.NewResponseController(w).Flush()
			select { // then silence
			case <-r.Context().Done():
			case <-release:
			}
		}))
		DeferCleanup(srv.Close)
		DeferCleanup(func() { close(release) })

		clock := &Clock{}
		client, err := newClient(context.Background(), protocol.Source{
			Bucket: "b", Endpoint: srv.URL, UsePathStyle: true, RegionName: "us-east-1",
			AccessKeyID: "k", SecretAccessKey: "s",
		}, clock)
		Expect(err).NotTo(HaveOccurred())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("b"), Key: aws.String("blobs/x.tgz")})
		Expect(err).NotTo(HaveOccurred())
		defer out.Body.Close()
		started := time.Now()
		_, err = io.Copy(io.Discard, out.Body)
		Expect(err).To(MatchError(ContainSubstring("the connection stalled (no data for 600ms)")))
		Expect(time.Since(started)).To(BeNumerically("<", 3*time.Second))
		_, err = clock.Now()
		Expect(err).NotTo(HaveOccurred(), "the store's clock still sees every answer")
	})
})

var _ = Describe("a stream cut short", func() {
	It("says so when its context ends before the listing is handed over, rather than reading as the whole", func() {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			var b strings.Builder
			b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated>`)
			for i := range 2*streamPage + 1 {
				fmt.Fprintf(&b, "<Contents><Key>deploys/dev1/%s_%08d_a1a0a%d~</Key><Size>1</Size></Contents>", time.Date(2026, 1, 1, 0, 0, i, 0, time.UTC).Format(timeLayout), i, i%10)
			}
			b.WriteString("</ListBucketResult>")
			w.Header().Set("Date", time.Now().UTC().Format(http.TimeFormat))
			_, _ = io.WriteString(w, b.String())
		}))
		defer srv.Close()
		st, err := New(context.Background(), protocol.Source{Bucket: "b", Endpoint: srv.URL, UsePathStyle: true, RegionName: "us-east-1", AccessKeyID: "k", SecretAccessKey: "s"})
		Expect(err).NotTo(HaveOccurred())

		ctx, cancel := context.WithCancel(context.Background())
		deps := st.StreamDeployments(ctx, "dev1", time.Time{})
		defer deps.Close()
		_, ok := deps.Peek() // the first page is handed over; the next waits for the reader
		Expect(ok).To(BeTrue())
		cancel()
		n := 0
		for _, ok := deps.Next(); ok; _, ok = deps.Next() {
			n++
		}
		Expect(n).To(BeNumerically("<", 2*streamPage+1))
		Expect(deps.Err()).To(MatchError(context.Canceled))
	})
})
