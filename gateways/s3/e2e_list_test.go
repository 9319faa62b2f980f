package s3_test

import (
	"context"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
)

// listKeys are stored once for the listing tests: nested folders, an
// explicit folder object, keys around the delimiter in byte order, and
// characters that need URL encoding.
var listKeys = []string{
	"a.txt", "a-b", "a/b", "a/c/d", "a/c/e", "a0", "b/", "b/x", "c d/e+f", "c d/g", "p/q/r/s", "z", "é/ü", "tab\tkey",
}

func listFixture(t *testing.T) (*s3.Client, string) {
	t.Helper()
	f := node(t)
	c := f.plain.sdk(f.a)
	b := bucketName(t, "l")
	mkBucket(t, c, b)
	for _, k := range listKeys {
		body := strings.NewReader(k)
		if strings.HasSuffix(k, "/") {
			body = strings.NewReader("")
		}
		sdkPut(t, c, b, k, body)
	}
	return c, b
}

// modelList is the naive listing: filter by prefix and start, roll up
// at the delimiter, sort.
func modelList(prefix, delim, after string) (keys, prefixes []string) {
	seen := map[string]bool{}
	all := append([]string(nil), listKeys...)
	sort.Strings(all)
	for _, k := range all {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if cp > after && !seen[cp] {
					seen[cp] = true
					prefixes = append(prefixes, cp)
				}
				continue
			}
		}
		if k > after {
			keys = append(keys, k)
		}
	}
	return keys, prefixes
}

// TestListObjectsV2Paging: for several prefixes, delimiters and page
// sizes, the pages joined equal the naive listing; KeyCount counts keys
// and prefixes; every page but the last is truncated.
func TestListObjectsV2Paging(t *testing.T) {
	c, b := listFixture(t)
	ctx := context.Background()
	for _, prefix := range []string{"", "a", "a/", "c d/", "zz"} {
		for _, delim := range []string{"", "/", "-", " "} {
			for _, pageSize := range []int32{1, 2, 1000} {
				wantKeys, wantPrefixes := modelList(prefix, delim, "")
				var keys, prefixes []string
				in := &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(prefix), MaxKeys: aws.Int32(pageSize)}
				if delim != "" {
					in.Delimiter = aws.String(delim)
				}
				for pages := 0; ; pages++ {
					out, err := c.ListObjectsV2(ctx, in)
					if err != nil {
						t.Fatalf("prefix %q delim %q: %v", prefix, delim, err)
					}
					for _, o := range out.Contents {
						keys = append(keys, aws.ToString(o.Key))
					}
					for _, p := range out.CommonPrefixes {
						prefixes = append(prefixes, aws.ToString(p.Prefix))
					}
					if n := int32(len(out.Contents) + len(out.CommonPrefixes)); aws.ToInt32(out.KeyCount) != n || n > pageSize {
						t.Errorf("prefix %q delim %q page %d: KeyCount %d for %d entries", prefix, delim, pages, aws.ToInt32(out.KeyCount), n)
					}
					if !aws.ToBool(out.IsTruncated) {
						break
					}
					if pages > len(listKeys) {
						t.Fatalf("prefix %q delim %q: paging does not end", prefix, delim)
					}
					in.ContinuationToken = out.NextContinuationToken
				}
				if diff := cmp.Diff(wantKeys, keys); diff != "" {
					t.Errorf("prefix %q delim %q page %d keys (-want +got):\n%s", prefix, delim, pageSize, diff)
				}
				if diff := cmp.Diff(wantPrefixes, prefixes); diff != "" {
					t.Errorf("prefix %q delim %q page %d prefixes (-want +got):\n%s", prefix, delim, pageSize, diff)
				}
			}
		}
	}
}

// TestListObjectsV2Options: start-after, max-keys=0, fetch-owner,
// encoding-type=url and a bad continuation token.
func TestListObjectsV2Options(t *testing.T) {
	c, b := listFixture(t)
	ctx := context.Background()
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), StartAfter: aws.String("a0")})
	wantKeys, _ := modelList("", "", "a0")
	if err != nil || len(out.Contents) != len(wantKeys) || aws.ToString(out.Contents[0].Key) != wantKeys[0] {
		t.Errorf("start-after: %v %+v", err, out.Contents)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), MaxKeys: aws.Int32(0)})
	if err != nil || len(out.Contents) != 0 || aws.ToBool(out.IsTruncated) {
		t.Errorf("max-keys=0: %v %+v", err, out)
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), FetchOwner: aws.Bool(true), MaxKeys: aws.Int32(1)})
	if err != nil || out.Contents[0].Owner == nil || aws.ToString(out.Contents[0].Owner.ID) == "" ||
		out.Contents[0].StorageClass != types.ObjectStorageClassStandard ||
		aws.ToInt64(out.Contents[0].Size) != int64(len(aws.ToString(out.Contents[0].Key))) {
		t.Errorf("fetch-owner: %v %+v", err, out.Contents)
	}
	// The SDK asks for encoding-type=url itself and decodes the answer.
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), EncodingType: types.EncodingTypeUrl, Prefix: aws.String("c d/")})
	if err != nil || len(out.Contents) != 2 {
		t.Fatalf("encoding-type=url: %v %+v", err, out)
	}
	if k := aws.ToString(out.Contents[0].Key); k != "c%20d/e%2Bf" && k != "c d/e+f" {
		t.Errorf("encoded key %q", k)
	}
	f := node(t)
	raw := f.plain.signed(t, f.a, "GET", "/"+b+"?list-type=2&encoding-type=url&prefix=c%20d%2F", nil)
	if !strings.Contains(string(raw.body), "<Key>c%20d/e%2Bf</Key>") || !strings.Contains(string(raw.body), "<EncodingType>url</EncodingType>") {
		t.Errorf("raw encoded listing: %s", raw.body)
	}
	raw = f.plain.signed(t, f.a, "GET", "/"+b+"?list-type=2&encoding-type=url", nil)
	if !strings.Contains(string(raw.body), "<Key>tab%09key</Key>") {
		t.Errorf("control character not encoded: %s", raw.body)
	}
	raw = f.plain.signed(t, f.a, "GET", "/"+b+"?list-type=2&continuation-token="+url.QueryEscape("!!!"), nil)
	if raw.status != 400 || !strings.Contains(string(raw.body), "InvalidArgument") {
		t.Errorf("bad continuation token: %d %s", raw.status, raw.body)
	}
	raw = f.plain.signed(t, f.a, "GET", "/"+b+"?list-type=2&max-keys=-1", nil)
	if raw.status != 400 {
		t.Errorf("max-keys=-1: %d %s", raw.status, raw.body)
	}
}

// TestListObjectsV1: marker paging, and NextMarker only with a
// delimiter, as S3 sends it.
func TestListObjectsV1(t *testing.T) {
	c, b := listFixture(t)
	ctx := context.Background()
	var keys []string
	in := &s3.ListObjectsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(3)}
	for {
		out, err := c.ListObjects(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if out.NextMarker != nil {
			t.Errorf("NextMarker %q without a delimiter", aws.ToString(out.NextMarker))
		}
		for _, o := range out.Contents {
			keys = append(keys, aws.ToString(o.Key))
			if o.Owner == nil {
				t.Error("v1 listing without Owner")
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			break
		}
		in.Marker = aws.String(keys[len(keys)-1])
	}
	want, _ := modelList("", "", "")
	if diff := cmp.Diff(want, keys); diff != "" {
		t.Errorf("v1 keys (-want +got):\n%s", diff)
	}
	out, err := c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), MaxKeys: aws.Int32(3)})
	if err != nil || !aws.ToBool(out.IsTruncated) || aws.ToString(out.NextMarker) != "a/" {
		t.Errorf("v1 with delimiter: %v NextMarker %q truncated %v", err, aws.ToString(out.NextMarker), aws.ToBool(out.IsTruncated))
	}
	out, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String(b), Delimiter: aws.String("/"), Marker: out.NextMarker})
	if err != nil || len(out.Contents) == 0 || aws.ToString(out.Contents[0].Key) != "a0" {
		t.Errorf("v1 after NextMarker: %v %+v", err, out)
	}
}

// TestListEmptyFolders: keys deleted from a folder leave no common
// prefix behind, and an explicit folder object lists as a key.
func TestListEmptyFolders(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	sdkPut(t, c, b, "gone/x", strings.NewReader("x"))
	sdkPut(t, c, b, "kept/", strings.NewReader(""))
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("gone/x")}); err != nil {
		t.Fatal(err)
	}
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Delimiter: aws.String("/")})
	if err != nil || len(out.CommonPrefixes) != 1 || aws.ToString(out.CommonPrefixes[0].Prefix) != "kept/" {
		t.Errorf("delimited listing: %v %s", err, fmt.Sprint(out.CommonPrefixes))
	}
	out, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b)})
	if err != nil || len(out.Contents) != 1 || aws.ToString(out.Contents[0].Key) != "kept/" {
		t.Errorf("flat listing: %v %+v", err, out.Contents)
	}
}
