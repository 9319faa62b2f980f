package s3_test

import (
	"bytes"
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// BenchmarkPutObject: PUTs through the SDK (plain HTTP, its default
// checksums) into the shared node, in parallel, for inline and chunked
// sizes. Each object is distinct so nothing deduplicates.
func BenchmarkPutObject(b *testing.B) {
	f := node(b)
	c := f.plain.sdk(f.a)
	bucket := fmt.Sprintf("bench-put-%d", b.N)
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		b.Fatal(err)
	}
	for _, size := range []int{4 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			var n atomic.Int64
			b.SetBytes(int64(size))
			b.RunParallel(func(pb *testing.PB) {
				data := make([]byte, size)
				src := mathrand.NewChaCha8([32]byte{byte(n.Add(1))})
				for pb.Next() {
					i := n.Add(1)
					_, _ = src.Read(data)
					if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket),
						Key: aws.String(fmt.Sprintf("%d/%d", size, i)), Body: bytes.NewReader(data)}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
