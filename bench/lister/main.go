// Command lister is the baseline of bar P1: the bare paginated ListObjectsV2
// a user could write by hand with the SDK, over the prefixes given, one after
// the other. It prints one line per prefix: the prefix and the number of keys.
//
//	lister -endpoint URL -bucket B -access-key K -secret-key S prefix...
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

func main() {
	endpoint := flag.String("endpoint", "", "S3 endpoint URL")
	bucket := flag.String("bucket", "", "bucket")
	accessKey := flag.String("access-key", "", "access key id")
	secretKey := flag.String("secret-key", "", "secret access key")
	parallel := flag.Bool("parallel", false, "list the prefixes concurrently")
	flag.Parse()

	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(*endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(*accessKey, *secretKey, ""),
	})
	ctx := context.Background()
	list := func(prefix string) (int, error) {
		pages := s3.NewListObjectsV2Paginator(client, &s3.ListObjectsV2Input{
			Bucket: aws.String(*bucket),
			Prefix: aws.String(prefix),
		})
		n := 0
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return 0, err
			}
			n += len(page.Contents)
		}
		return n, nil
	}
	prefixes := flag.Args()
	counts := make([]int, len(prefixes))
	errs := make([]error, len(prefixes))
	if *parallel {
		var wg sync.WaitGroup
		for i, p := range prefixes {
			wg.Go(func() { counts[i], errs[i] = list(p) })
		}
		wg.Wait()
	} else {
		for i, p := range prefixes {
			if counts[i], errs[i] = list(p); errs[i] != nil {
				break
			}
		}
	}
	for i, p := range prefixes {
		if errs[i] != nil {
			fmt.Fprintln(os.Stderr, "lister:", errs[i])
			os.Exit(1)
		}
		fmt.Printf("%s %d\n", p, counts[i])
	}
}
