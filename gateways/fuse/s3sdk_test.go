package fuse_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/annal-storage/annal/gateways/fuse"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestCrossProtocolS3SDK: the same round trips as TestCrossProtocol, with
// a real S3 client (aws-sdk-go-v2) against the node's S3 listener.
func TestCrossProtocolS3SDK(t *testing.T) {
	n := startNode(t)
	n.CreateBucket(t, "cross") // S3 bucket names have 3 to 63 characters
	mnt := mountNode(t, n, "cross", fuse.MountOptions{})
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://" + n.S3Addr), UsePathStyle: true,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: n.Creds.AccessKeyID, SecretAccessKey: n.Creds.SecretAccessKey}, nil
		})})
	ctx := context.Background()
	body := pattern(2<<20+11, 21)
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cross"), Key: aws.String("s3/dir/obj.bin"), Body: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("cross"), Key: aws.String("s3/folder/"), Body: bytes.NewReader(nil)}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an S3 PUT as a file", func() bool {
		got, err := os.ReadFile(join(mnt, "s3", "dir", "obj.bin"))
		return err == nil && bytes.Equal(got, body)
	})
	if st := stat(t, join(mnt, "s3", "folder")); st.Mode&syscall.S_IFMT != syscall.S_IFDIR {
		t.Fatalf("folder key: mode %o", st.Mode)
	}
	data := pattern(1<<20+5, 22)
	mustMkdir(t, join(mnt, "posix"))
	writeFile(t, join(mnt, "posix", "file.bin"), data)
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("cross"), Key: aws.String("posix/file.bin")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	sameBytes(t, "GET of a file written through the mount", got, data)
	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cross"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var prefixes []string
	for _, p := range list.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	if strings.Join(prefixes, ",") != "posix/,s3/" {
		t.Fatalf("common prefixes %v", prefixes)
	}
	list, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("cross"), Prefix: aws.String("posix/")})
	if err != nil || len(list.Contents) != 2 || aws.ToString(list.Contents[0].Key) != "posix/" || aws.ToString(list.Contents[1].Key) != "posix/file.bin" {
		t.Fatalf("a mkdir'ed directory lists as the folder object: %+v %v", list.Contents, err)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("cross"), Key: aws.String("s3/dir/obj.bin")}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "an S3 delete on the mount", func() bool {
		_, err := os.Stat(join(mnt, "s3", "dir", "obj.bin"))
		return err != nil
	})
}
