package s3xml

import (
	"bytes"
	"errors"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"pgregory.net/rapid"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Fuzz targets: request decoders face untrusted bodies; they must never
// panic, must fail only with known S3 errors, and whatever they accept
// must satisfy the documented limits and survive a re-encode.

func FuzzDecodeCompleteMultipartUpload(f *testing.F) {
	f.Add([]byte(completeBody(3, true)))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`))
	f.Add([]byte(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag><ChecksumCRC32>x</ChecksumCRC32></Part>`))
	f.Add([]byte(`<!DOCTYPE a><a/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		c, err := DecodeCompleteMultipartUpload(bytes.NewReader(body))
		if err != nil {
			requireKnown(t, err)
			return
		}
		if len(c.Parts) == 0 || len(c.Parts) > PartsMax {
			t.Fatalf("accepted %d parts", len(c.Parts))
		}
		for i, p := range c.Parts {
			if p.PartNumber < 1 || p.PartNumber > PartsMax || p.ETag == "" || (i > 0 && p.PartNumber <= c.Parts[i-1].PartNumber) {
				t.Fatalf("accepted invalid part list %+v", c.Parts)
			}
		}
		reencoded, err := Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		again, err := DecodeCompleteMultipartUpload(bytes.NewReader(reencoded))
		if err != nil || len(again.Parts) != len(c.Parts) {
			t.Fatalf("re-encoded body refused: %v\n%s", err, reencoded)
		}
	})
}

func FuzzDecodeDelete(f *testing.F) {
	f.Add([]byte(deleteBody(2, "true")))
	f.Add([]byte(`<Delete><Object><Key>a</Key></Object></Delete>`))
	f.Add([]byte(`<Delete xmlns="x"><Quiet>1</Quiet></Delete>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		d, err := DecodeDelete(bytes.NewReader(body))
		if err != nil {
			requireKnown(t, err)
			return
		}
		if len(d.Objects) == 0 || len(d.Objects) > DeleteObjectsMax {
			t.Fatalf("accepted %d objects", len(d.Objects))
		}
		for _, o := range d.Objects {
			if o.Key == "" {
				t.Fatal("accepted an empty key")
			}
		}
	})
}

func FuzzDecodeTagging(f *testing.F) {
	f.Add([]byte(`<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		tg, err := DecodeTagging(bytes.NewReader(body), ObjectTagsMax)
		if err != nil {
			requireKnown(t, err)
			return
		}
		if len(tg.TagSet) > ObjectTagsMax {
			t.Fatalf("accepted %d tags", len(tg.TagSet))
		}
	})
}

func requireKnown(t *testing.T, err error) {
	t.Helper()
	var e *s3err.Error
	if !errors.As(err, &e) || !s3err.Known(e.Code) {
		t.Fatalf("error %v is not a known *s3err.Error", err)
	}
}

// xmlText draws strings of characters XML 1.0 can carry, which is every
// character an S3 key may hold in an XML listing.
func xmlText() *rapid.Generator[string] {
	return rapid.StringOf(rapid.RuneFrom(nil, unicode.L, unicode.N, unicode.P, unicode.S, unicode.Zs)).
		Filter(func(s string) bool { return utf8.ValidString(s) })
}

// TestRapidListingRoundTrip: any listing survives encode → decode →
// encode byte-identically.
func TestRapidListingRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		n := rapid.IntRange(0, 5).Draw(t, "n")
		doc := ListBucketResultV2{
			Name: "bucket", Prefix: xmlText().Draw(t, "prefix"), Delimiter: xmlText().Draw(t, "delimiter"),
			MaxKeys: rapid.IntRange(0, 1000).Draw(t, "max"), KeyCount: n,
			IsTruncated: rapid.Bool().Draw(t, "truncated"), NextContinuationToken: xmlText().Draw(t, "token"),
		}
		for i := 0; i < n; i++ {
			doc.Contents = append(doc.Contents, Object{
				Key:          xmlText().Draw(t, "key"),
				LastModified: Timestamp{time.UnixMilli(rapid.Int64Range(0, 1<<42).Draw(t, "ms")).UTC()},
				ETag:         `"` + xmlText().Draw(t, "etag") + `"`, Size: rapid.Int64Range(0, 5<<40).Draw(t, "size"),
				StorageClass: "STANDARD",
			})
		}
		first, err := Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		var back ListBucketResultV2
		if err := decodeBounded(bytes.NewReader(first), 1<<20, "ListBucketResult", &back); err != nil {
			t.Fatalf("decode: %v\n%s", err, first)
		}
		second, err := Marshal(back)
		if err != nil || !bytes.Equal(first, second) {
			t.Fatalf("not byte-identical:\n%s\n%s", first, second)
		}
	})
}
