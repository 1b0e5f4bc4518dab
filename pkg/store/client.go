package store

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/templates-candidate/templates-candidate-resource/pkg/protocol"
	"github.com/templates-candidate/templates-candidate-resource/pkg/timeouts"
)

// Retry bounds: transient errors (5xx, SlowDown, throttling, broken
// connections) are retried with exponential backoff and jitter.
const (
	maxAttempts = 6
	maxBackoff  = 4 * time.Second
)

// newClient builds the S3 client for a source. TLS settings are made on the
// SDK's own buildable HTTP client so that ca_bundle and skip_ssl_verification
// compose with AWS_CA_BUNDLE from the environment. Every request's time is
// bounded (pkg/timeouts).
func newClient(ctx context.Context, src protocol.Source, clock *Clock) (*s3.Client, error) {
	bounds, err := timeouts.FromEnv(os.Getenv)
	if err != nil {
		return nil, err
	}
	httpClient := bounds.Transport(awshttp.NewBuildableClient())
	if src.SkipSSLVerification || src.CABundle != "" {
		var pool *x509.CertPool
		if src.CABundle != "" {
			var err error
			if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
				pool = x509.NewCertPool()
			}
			if !pool.AppendCertsFromPEM([]byte(src.CABundle)) {
				return nil, errors.New("source.ca_bundle: no PEM certificate found")
			}
		}
		httpClient = httpClient.WithTransportOptions(func(tr *http.Transport) {
			if tr.TLSClientConfig == nil {
				tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
			}
			if pool != nil {
				tr.TLSClientConfig.RootCAs = pool
			}
			tr.TLSClientConfig.InsecureSkipVerify = src.SkipSSLVerification //nolint:gosec // the user asked for it
		})
	}

	opts := []func(*config.LoadOptions) error{
		config.WithRegion(src.RegionName),
		config.WithHTTPClient(httpClient),
		config.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxAttempts = maxAttempts
				o.MaxBackoff = maxBackoff
				o.Retryables = append([]retry.IsErrorRetryable{permanentTLS}, o.Retryables...)
			})
		}),
	}
	if src.AccessKeyID != "" {
		opts = append(opts, config.WithCredentialsProvider(
			credentials.NewStaticCredentialsProvider(src.AccessKeyID, src.SecretAccessKey, src.SessionToken)))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("loading AWS configuration: %w", err)
	}
	if src.AWSRoleARN != "" {
		provider := stscreds.NewAssumeRoleProvider(sts.NewFromConfig(cfg), src.AWSRoleARN, func(o *stscreds.AssumeRoleOptions) {
			o.RoleSessionName = "templates-candidate"
		})
		cfg.Credentials = aws.NewCredentialsCache(provider)
	}
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if src.Endpoint != "" {
			o.BaseEndpoint = aws.String(src.Endpoint)
		}
		o.UsePathStyle = src.UsePathStyle
		// Every request's time is bounded (see pkg/timeouts). Apply needs
		// the SDK's own buildable client, as the SDK resolved it: so it goes
		// here, before anything wraps that client (a wrapped client would
		// silently lose the idle bound that cuts stalled transfers).
		bounds.Apply(o)
		// Wrapped here, after the configuration applied AWS_CA_BUNDLE to
		// the buildable client: every response's Date sets the store's clock.
		o.HTTPClient = clockedClient{next: o.HTTPClient, clock: clock}
		// Candidates are verified end to end by their sha256; the SDK's note
		// about stores that send no response checksum is noise on stderr.
		o.DisableLogOutputChecksumValidationSkipped = true
	}), nil
}

// permanentTLS stops retries on certificate errors: they will not heal.
var permanentTLS = retry.IsErrorRetryableFunc(func(err error) aws.Ternary {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &invalid) || errors.As(err, &verify) {
		return aws.FalseTernary
	}
	return aws.UnknownTernary
})

// isStatus reports whether err is an S3 response with one of the codes.
func isStatus(err error, codes ...int) bool {
	var resp *awshttp.ResponseError
	if !errors.As(err, &resp) {
		return false
	}
	for _, code := range codes {
		if resp.HTTPStatusCode() == code {
			return true
		}
	}
	return false
}

func isNotFound(err error) bool {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchKey", "NotFound":
			return true
		}
	}
	return isStatus(err, http.StatusNotFound) && !isNoSuchBucket(err)
}

func isNoSuchBucket(err error) bool {
	var apiErr smithy.APIError
	return errors.As(err, &apiErr) && apiErr.ErrorCode() == "NoSuchBucket"
}

// isExists reports a create-only write refused because the key exists (412).
// A 409 is not that: see putCreate.
func isExists(err error) bool {
	return isStatus(err, http.StatusPreconditionFailed)
}

// explain turns an SDK error into one short line without request IDs.
func (s *Store) explain(err error) error {
	if err == nil {
		return nil
	}
	var maxErr *retry.MaxAttemptsError
	if errors.As(err, &maxErr) && maxErr.Err != nil {
		return fmt.Errorf("gave up after %d attempts: %w", maxErr.Attempt, s.explain(maxErr.Err))
	}
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		switch apiErr.ErrorCode() {
		case "NoSuchBucket":
			return fmt.Errorf("bucket %q does not exist", s.bucket)
		case "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "InvalidToken", "ExpiredToken", "XAdminUserNotFound":
			return fmt.Errorf("access to bucket %q refused (%s): check the credentials in source", s.bucket, apiErr.ErrorCode())
		}
		msg := strings.TrimSpace(apiErr.ErrorMessage())
		if msg == "" {
			return fmt.Errorf("S3 error %s", apiErr.ErrorCode())
		}
		return fmt.Errorf("S3 error %s: %s", apiErr.ErrorCode(), msg)
	}
	var verify *tls.CertificateVerificationError
	if errors.As(err, &verify) {
		return fmt.Errorf("TLS to the S3 endpoint failed: %v (trust its CA with source.ca_bundle)", verify.Err)
	}
	var netErr *net.OpError
	if errors.As(err, &netErr) {
		if netErr.Op == "dial" {
			return fmt.Errorf("cannot reach the S3 endpoint %s: %v", s.endpoint, netErr.Err)
		}
		return fmt.Errorf("connection to the S3 endpoint %s broke: %v", s.endpoint, netErr.Err)
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return fmt.Errorf("cannot reach the S3 endpoint %s: %v", s.endpoint, dnsErr)
	}
	return err
}
