// Command sdkcalls is the baseline of bar P9: a process that makes a given
// list of bare SDK calls (ListObjectsV2, GetObject, HeadObject, PutObject)
// one after the other, as a user could write by hand. The plan is a JSON
// array on stdin, the requests a resource command made (recorded by the
// bench's counting proxy), so the baseline makes the same calls:
//
//	[{"op":"list","key":"prefix/","delimiter":true,"start_after":"…","max_keys":1},
//	 {"op":"get","key":"k"}, {"op":"head","key":"k"}, {"op":"put","key":"k","size":123}]
//
// A put goes to the key with a random suffix (create-only, If-None-Match: *,
// as the resource writes), with size bytes; a get or head of a key the
// resource found absent goes to a key that does not exist ("absent": true).
//
//	sdkcalls -endpoint URL -bucket B -access-key K -secret-key S < plan.json
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/templates-candidate/templates-candidate-resource/bench/sdkplan"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "bucket")
	accessKey := flag.String("access-key", "", "access key id")
	secretKey := flag.String("secret-key", "", "secret access key")
	flag.Parse()
	var plan []sdkplan.Call
	if err := json.NewDecoder(os.Stdin).Decode(&plan); err != nil {
		fmt.Fprintln(os.Stderr, "sdkcalls: reading the plan:", err)
		os.Exit(2)
	}
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(*endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(*accessKey, *secretKey, ""),
	})
	ctx := context.Background()
	suffix := randomHex(8)
	for i, c := range plan {
		if err := call(ctx, client, *bucket, c, fmt.Sprintf("-%s-%d", suffix, i)); err != nil {
			fmt.Fprintf(os.Stderr, "sdkcalls: %s %s: %v\n", c.Op, c.Key, err)
			os.Exit(1)
		}
	}
	fmt.Println(len(plan))
}

func call(ctx context.Context, client *s3.Client, bucket string, c sdkplan.Call, suffix string) error {
	key := c.Key
	if c.Absent {
		key += suffix + ".absent"
	}
	switch c.Op {
	case "list":
		in := &s3.ListObjectsV2Input{Bucket: aws.String(bucket), Prefix: aws.String(c.Key)}
		if c.Delimiter {
			in.Delimiter = aws.String("/")
		}
		if c.StartAfter != "" {
			in.StartAfter = aws.String(c.StartAfter)
		}
		if c.MaxKeys > 0 {
			in.MaxKeys = aws.Int32(c.MaxKeys)
		}
		_, err := client.ListObjectsV2(ctx, in)
		return err
	case "get":
		out, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if c.Absent {
			return wantNotFound(err)
		}
		if err != nil {
			return err
		}
		defer out.Body.Close()
		_, err = io.Copy(io.Discard, out.Body)
		return err
	case "head":
		_, err := client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
		if c.Absent {
			return wantNotFound(err)
		}
		return err
	case "put":
		body := make([]byte, c.Size)
		_, err := client.PutObject(ctx, &s3.PutObjectInput{
			Bucket:      aws.String(bucket),
			Key:         aws.String(c.Key + suffix),
			Body:        bytes.NewReader(body),
			IfNoneMatch: aws.String("*"),
		})
		return err
	}
	return fmt.Errorf("unknown op %q", c.Op)
}

// wantNotFound accepts the 404 of a key that is absent.
func wantNotFound(err error) error {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && (apiErr.ErrorCode() == "NoSuchKey" || apiErr.ErrorCode() == "NotFound") {
		return nil
	}
	if err == nil {
		return errors.New("the key exists")
	}
	return err
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
