// Command transfer is the baseline of bars P2 and P3: the SDK's transfer
// manager, with its defaults, uploading a file to a key or downloading a key
// to a file, as a user could write by hand. It runs as its own process, like
// the out and in it is compared with.
//
//	transfer -endpoint URL -access-key K -secret-key S upload|download BUCKET KEY FILE
package main

import (
	"context"
	"flag"
	"fmt"
	"os"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	accessKey := flag.String("access-key", "", "access key id")
	secretKey := flag.String("secret-key", "", "secret access key")
	flag.Parse()
	if flag.NArg() != 4 || (flag.Arg(0) != "upload" && flag.Arg(0) != "download") {
		fmt.Fprintln(os.Stderr, "usage: transfer [flags] upload|download BUCKET KEY FILE")
		os.Exit(2)
	}
	op, bucket, key, file := flag.Arg(0), flag.Arg(1), flag.Arg(2), flag.Arg(3)
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(*endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(*accessKey, *secretKey, ""),
	})
	tm := transfermanager.New(client)
	if err := run(context.Background(), tm, op, bucket, key, file); err != nil {
		fmt.Fprintln(os.Stderr, "transfer:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, tm *transfermanager.Client, op, bucket, key, file string) error {
	if op == "upload" {
		f, err := os.Open(file)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
			Bucket: aws.String(bucket), Key: aws.String(key), Body: f,
		})
		return err
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	_, err = tm.DownloadObject(ctx, &transfermanager.DownloadObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), WriterAt: f,
	})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
