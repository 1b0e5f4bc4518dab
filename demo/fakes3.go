package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// fakeS3 is an S3 server in this process: gofakes3 over its memory backend,
// listening on 127.0.0.1 on a free port. Plain HTTP: gofakes3 does not decode
// aws-chunked bodies with trailing checksums, which the AWS SDK only sends
// over TLS.
type fakeS3 struct {
	Endpoint string
	server   *http.Server
	done     chan error
}

func startFakeS3(bucket string) (*fakeS3, error) {
	backend := s3mem.New()
	if err := backend.CreateBucket(bucket); err != nil {
		return nil, fmt.Errorf("creating bucket %s: %w", bucket, err)
	}
	faker := gofakes3.New(backend,
		gofakes3.WithoutVersioning(),
		gofakes3.WithLogger(gofakes3.DiscardLog()),
	)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening on 127.0.0.1: %w", err)
	}
	s := &fakeS3{
		Endpoint: "http://" + ln.Addr().String(),
		server:   &http.Server{Handler: faker.Server(), ReadHeaderTimeout: 10 * time.Second},
		done:     make(chan error, 1),
	}
	go func() { s.done <- s.server.Serve(ln) }()
	return s, nil
}

func (s *fakeS3) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.server.Shutdown(ctx); err != nil {
		return err
	}
	if err := <-s.done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
