package s3xml

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Goal: documents render with the element names, namespace and
// timestamp format S3 uses, decode back to the same values, and request
// decoders enforce S3's limits. Method: golden strings for the shapes,
// round trips for every type, and table tests for each refusal. SDK
// compatibility is checked separately in sdk_test.go.

var t0 = time.Date(2009, 10, 12, 17, 50, 30, 123456789, time.UTC)

func TestGoldenListBucketResultV2(t *testing.T) {
	doc := ListBucketResultV2{
		Name: "bucket", Prefix: "photos/", KeyCount: 1, MaxKeys: 1000, Delimiter: "/",
		NextContinuationToken: "tok", IsTruncated: true,
		Contents: []Object{{Key: "photos/a&b.jpg", LastModified: Timestamp{t0}, ETag: `"9b2cf535f27731c974343645a3985328"`,
			Size: 434234, StorageClass: "STANDARD"}},
		CommonPrefixes: []CommonPrefix{{Prefix: "photos/2006/"}},
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>bucket</Name><Prefix>photos/</Prefix>` +
		`<NextContinuationToken>tok</NextContinuationToken><KeyCount>1</KeyCount><MaxKeys>1000</MaxKeys>` +
		`<Delimiter>/</Delimiter><IsTruncated>true</IsTruncated><Contents><Key>photos/a&amp;b.jpg</Key>` +
		`<LastModified>2009-10-12T17:50:30.123Z</LastModified><ETag>&#34;9b2cf535f27731c974343645a3985328&#34;</ETag>` +
		`<Size>434234</Size><StorageClass>STANDARD</StorageClass></Contents>` +
		`<CommonPrefixes><Prefix>photos/2006/</Prefix></CommonPrefixes></ListBucketResult>`
	checkGolden(t, doc, want)
}

func TestGoldenListVersionsInterleaved(t *testing.T) {
	doc := ListVersionsResult{
		Name: "b", MaxKeys: 2,
		Entries: []VersionEntry{
			{DeleteMarker: true, Key: "a", VersionID: "v2", IsLatest: true, LastModified: Timestamp{t0}},
			{Key: "a", VersionID: "v1", LastModified: Timestamp{t0}, ETag: `"e"`, Size: 3, StorageClass: "STANDARD"},
		},
	}
	want := `<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
		`<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Prefix></Prefix>` +
		`<KeyMarker></KeyMarker><VersionIdMarker></VersionIdMarker><MaxKeys>2</MaxKeys><IsTruncated>false</IsTruncated>` +
		`<DeleteMarker><Key>a</Key><VersionId>v2</VersionId><IsLatest>true</IsLatest><LastModified>2009-10-12T17:50:30.123Z</LastModified></DeleteMarker>` +
		`<Version><Key>a</Key><VersionId>v1</VersionId><IsLatest>false</IsLatest><LastModified>2009-10-12T17:50:30.123Z</LastModified>` +
		`<ETag>&#34;e&#34;</ETag><Size>3</Size><StorageClass>STANDARD</StorageClass></Version></ListVersionsResult>`
	checkGolden(t, doc, want)
}

func TestGoldenSmallDocuments(t *testing.T) {
	checkGolden(t, LocationConstraint{Region: "eu-west-1"}, xml.Header+
		`<LocationConstraint xmlns="http://s3.amazonaws.com/doc/2006-03-01/">eu-west-1</LocationConstraint>`)
	checkGolden(t, VersioningConfiguration{}, xml.Header+
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></VersioningConfiguration>`)
	checkGolden(t, InitiateMultipartUploadResult{Bucket: "b", Key: "k", UploadID: "u"}, xml.Header+
		`<InitiateMultipartUploadResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Bucket>b</Bucket><Key>k</Key><UploadId>u</UploadId></InitiateMultipartUploadResult>`)
	checkGolden(t, DeleteResult{Deleted: []DeletedObject{{Key: "a", DeleteMarker: true, DeleteMarkerVersionID: "m"}},
		Errors: []DeleteError{{Key: "b", Code: s3err.AccessDenied, Message: "Access Denied"}}}, xml.Header+
		`<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Deleted><Key>a</Key><DeleteMarker>true</DeleteMarker>`+
		`<DeleteMarkerVersionId>m</DeleteMarkerVersionId></Deleted><Error><Key>b</Key><Code>AccessDenied</Code>`+
		`<Message>Access Denied</Message></Error></DeleteResult>`)
	checkGolden(t, OwnerFullControl(Owner{ID: "tenant-1"}), xml.Header+
		`<AccessControlPolicy xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Owner><ID>tenant-1</ID></Owner>`+
		`<AccessControlList><Grant><Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="CanonicalUser">`+
		`<ID>tenant-1</ID></Grantee><Permission>FULL_CONTROL</Permission></Grant></AccessControlList></AccessControlPolicy>`)
}

func checkGolden(t *testing.T, v any, want string) {
	t.Helper()
	got, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Errorf("%T:\n got %s\nwant %s", v, got, want)
	}
}

// roundTrip marshals v, decodes into a fresh value of its type, and
// compares, ignoring XMLName.
func roundTrip(t *testing.T, v any) {
	t.Helper()
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	fresh := reflect.New(reflect.TypeOf(v))
	if err := xml.Unmarshal(b, fresh.Interface()); err != nil {
		t.Fatalf("%T: %v\n%s", v, err, b)
	}
	opts := cmp.Options{cmpopts.IgnoreTypes(xml.Name{}), cmpopts.EquateEmpty(), cmp.AllowUnexported(VersionEntry{}),
		cmp.Comparer(func(a, b Timestamp) bool { return a.Truncate(time.Millisecond).Equal(b.Truncate(time.Millisecond)) })}
	if d := cmp.Diff(v, fresh.Elem().Interface(), opts); d != "" {
		t.Errorf("%T round trip (-want +got):\n%s", v, d)
	}
	again, err := Marshal(fresh.Elem().Interface())
	if err != nil || !bytes.Equal(again, b) {
		t.Errorf("%T: encode→decode→encode not byte-identical:\n%s\n%s", v, b, again)
	}
}

func TestRoundTripEveryType(t *testing.T) {
	owner := &Owner{ID: "o", DisplayName: "d"}
	sums := Checksums{ChecksumCRC32: "AAAAAA==", ChecksumSHA256: "x"}
	for _, v := range []any{
		ListAllMyBucketsResult{Owner: *owner, Buckets: []Bucket{{Name: "a", CreationDate: Timestamp{t0}}, {Name: "b", CreationDate: Timestamp{t0}, BucketRegion: "r"}}},
		ListBucketResult{Name: "b", Prefix: "p", Marker: "m", NextMarker: "n", MaxKeys: 5, Delimiter: "/", EncodingType: "url", IsTruncated: true,
			Contents:       []Object{{Key: "k", LastModified: Timestamp{t0}, ETag: `"e"`, Size: 1, StorageClass: "STANDARD", Owner: owner, ChecksumAlgorithm: []string{"CRC32"}}},
			CommonPrefixes: []CommonPrefix{{"p/a/"}, {"p/b/"}}},
		ListBucketResultV2{Name: "b", Prefix: "", StartAfter: "s", ContinuationToken: "c", NextContinuationToken: "n", KeyCount: 2, MaxKeys: 2,
			Contents: []Object{{Key: "a", LastModified: Timestamp{t0}, ETag: `"1"`, StorageClass: "STANDARD"}, {Key: "b", LastModified: Timestamp{t0}, ETag: `"2"`, Size: 9, StorageClass: "STANDARD"}}},
		ListVersionsResult{Name: "b", KeyMarker: "k", VersionIDMarker: "v", NextKeyMarker: "nk", NextVersionIDMarker: "nv", MaxKeys: 3, IsTruncated: true,
			Entries: []VersionEntry{{Key: "a", VersionID: "3", IsLatest: true, LastModified: Timestamp{t0}, ETag: `"e"`, Size: 4, StorageClass: "STANDARD"},
				{DeleteMarker: true, Key: "a", VersionID: "2", LastModified: Timestamp{t0}, Owner: owner},
				{Key: "a", VersionID: "1", LastModified: Timestamp{t0}, ETag: `"d"`, StorageClass: "STANDARD"}},
			CommonPrefixes: []CommonPrefix{{"x/"}}},
		InitiateMultipartUploadResult{Bucket: "b", Key: "k", UploadID: "u", ChecksumAlgorithm: "CRC32"},
		CompleteMultipartUploadResult{Location: "http://h/b/k", Bucket: "b", Key: "k", ETag: `"e-2"`, Checksums: sums, ChecksumType: "COMPOSITE"},
		ListMultipartUploadsResult{Bucket: "b", KeyMarker: "k", UploadIDMarker: "u", NextKeyMarker: "nk", NextUploadIDMarker: "nu", Prefix: "p", MaxUploads: 10, IsTruncated: true,
			Uploads: []Upload{{Key: "k", UploadID: "u", Initiator: Initiator(*owner), Owner: *owner, StorageClass: "STANDARD", Initiated: Timestamp{t0}}}},
		ListPartsResult{Bucket: "b", Key: "k", UploadID: "u", PartNumberMarker: 1, NextPartNumberMarker: 3, MaxParts: 2, IsTruncated: true,
			Parts:     []Part{{PartNumber: 2, LastModified: Timestamp{t0}, ETag: `"p2"`, Size: 5 << 20, Checksums: sums}, {PartNumber: 3, LastModified: Timestamp{t0}, ETag: `"p3"`, Size: 1}},
			Initiator: Initiator(*owner), Owner: *owner, StorageClass: "STANDARD"},
		CopyObjectResult{LastModified: Timestamp{t0}, ETag: `"e"`, Checksums: sums},
		CopyPartResult{LastModified: Timestamp{t0}, ETag: `"e"`},
		DeleteResult{Deleted: []DeletedObject{{Key: "a"}, {Key: "b", VersionID: "v"}}, Errors: []DeleteError{{Key: "c", VersionID: "w", Code: s3err.NoSuchVersion, Message: "m"}}},
		VersioningConfiguration{Status: VersioningEnabled},
		Tagging{TagSet: []Tag{{"k1", "v1"}, {"k2", ""}}},
		LocationConstraint{Region: "us-west-2"},
		CreateBucketConfiguration{LocationConstraint: "eu-central-1"},
		CompleteMultipartUpload{Parts: []CompletePart{{PartNumber: 1, ETag: `"a"`, Checksums: sums}, {PartNumber: 2, ETag: `"b"`}}},
		Delete{Quiet: true, Objects: []ObjectIdentifier{{Key: "a"}, {Key: "b/c d", VersionID: "v"}}},
	} {
		roundTrip(t, v)
	}
}

func TestTimestamp(t *testing.T) {
	b, _ := Timestamp{time.Date(2024, 2, 29, 23, 59, 59, 999999999, time.FixedZone("x", 3600))}.MarshalText()
	if string(b) != "2024-02-29T22:59:59.999Z" {
		t.Errorf("timestamp %s", b)
	}
	var ts Timestamp
	for _, s := range []string{"2024-02-29T22:59:59.999Z", "2024-02-29T22:59:59Z", "2024-02-29T23:59:59.999+01:00"} {
		if err := ts.UnmarshalText([]byte(s)); err != nil || ts.Year() != 2024 || ts.Location() != time.UTC {
			t.Errorf("%s: %v %v", s, ts, err)
		}
	}
	if err := ts.UnmarshalText([]byte("yesterday")); err == nil {
		t.Error("bad timestamp accepted")
	}
}

func TestListVersionsDropsUnknownElements(t *testing.T) {
	doc := `<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><Future>x</Future>` +
		`<Version><Key>a</Key><VersionId>1</VersionId></Version><DeleteMarker><Key>a</Key><VersionId>2</VersionId></DeleteMarker></ListVersionsResult>`
	var l ListVersionsResult
	if err := xml.Unmarshal([]byte(doc), &l); err != nil {
		t.Fatal(err)
	}
	if len(l.Entries) != 2 || l.Entries[0].DeleteMarker || !l.Entries[1].DeleteMarker {
		t.Errorf("entries %+v", l.Entries)
	}
}

func completeBody(n int, ns bool) string {
	var b strings.Builder
	if ns {
		b.WriteString(`<CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	} else {
		b.WriteString(`<CompleteMultipartUpload>`)
	}
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, `<Part><PartNumber>%d</PartNumber><ETag>"etag-%d"</ETag></Part>`, i, i)
	}
	b.WriteString(`</CompleteMultipartUpload>`)
	return b.String()
}

func TestDecodeCompleteMultipartUpload(t *testing.T) {
	for _, ns := range []bool{true, false} {
		c, err := DecodeCompleteMultipartUpload(strings.NewReader(xml.Header + completeBody(3, ns) + "\n<!-- end -->\n"))
		if err != nil || len(c.Parts) != 3 || c.Parts[2].ETag != `"etag-3"` || c.Parts[0].PartNumber != 1 {
			t.Fatalf("ns=%v: %+v %v", ns, c, err)
		}
	}
	if c, err := DecodeCompleteMultipartUpload(strings.NewReader(completeBody(PartsMax, true))); err != nil || len(c.Parts) != PartsMax {
		t.Fatalf("10,000 parts refused: %v", err)
	}
	withChecksum := `<CompleteMultipartUpload><Part><ETag>e</ETag><PartNumber>7</PartNumber><ChecksumCRC32C>sOO8/Q==</ChecksumCRC32C><Unknown/></Part></CompleteMultipartUpload>`
	if c, err := DecodeCompleteMultipartUpload(strings.NewReader(withChecksum)); err != nil || c.Parts[0].ChecksumCRC32C != "sOO8/Q==" {
		t.Errorf("checksum part: %+v %v", c, err)
	}

	for name, tc := range map[string]struct {
		body string
		code s3err.Code
	}{
		"too many parts":   {completeBody(PartsMax+1, true), s3err.MalformedXML},
		"no parts":         {`<CompleteMultipartUpload></CompleteMultipartUpload>`, s3err.MalformedXML},
		"empty body":       {"  \n", s3err.MissingRequestBodyError},
		"descending":       {`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>1</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`, s3err.InvalidPartOrder},
		"duplicate":        {`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>a</ETag></Part><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part></CompleteMultipartUpload>`, s3err.InvalidPartOrder},
		"part zero":        {`<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`, s3err.InvalidArgument},
		"part 10001":       {`<CompleteMultipartUpload><Part><PartNumber>10001</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`, s3err.InvalidArgument},
		"no etag":          {`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>`, s3err.MalformedXML},
		"bad number":       {`<CompleteMultipartUpload><Part><PartNumber>one</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`, s3err.MalformedXML},
		"wrong root":       {`<Delete><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Delete>`, s3err.MalformedXML},
		"wrong namespace":  {`<CompleteMultipartUpload xmlns="urn:other"><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>`, s3err.MalformedXML},
		"unclosed":         {`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>`, s3err.MalformedXML},
		"trailing element": {completeBody(1, false) + `<CompleteMultipartUpload/>`, s3err.MalformedXML},
		"trailing text":    {completeBody(1, false) + `junk`, s3err.MalformedXML},
		"leading text":     {`junk` + completeBody(1, false), s3err.MalformedXML},
		"doctype":          {`<!DOCTYPE x [<!ENTITY a "b">]>` + completeBody(1, false), s3err.MalformedXML},
		"oversized":        {`<CompleteMultipartUpload>` + strings.Repeat(" ", CompleteBodyBytesMax) + `</CompleteMultipartUpload>`, s3err.MalformedXML},
	} {
		_, err := DecodeCompleteMultipartUpload(strings.NewReader(tc.body))
		if got := s3err.CodeOf(err); got != tc.code {
			t.Errorf("%s: code %q (%v), want %q", name, got, err, tc.code)
		}
	}
}

func deleteBody(n int, quiet string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`)
	if quiet != "" {
		b.WriteString("<Quiet>" + quiet + "</Quiet>")
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, `<Object><Key>dir/key %d &amp; more</Key><VersionId>v%d</VersionId></Object>`, i, i)
	}
	b.WriteString(`</Delete>`)
	return b.String()
}

func TestDecodeDelete(t *testing.T) {
	d, err := DecodeDelete(strings.NewReader(deleteBody(2, "true")))
	if err != nil || !d.Quiet || len(d.Objects) != 2 || d.Objects[1] != (ObjectIdentifier{"dir/key 1 & more", "v1"}) {
		t.Fatalf("%+v %v", d, err)
	}
	if d, err := DecodeDelete(strings.NewReader(deleteBody(DeleteObjectsMax, ""))); err != nil || d.Quiet {
		t.Fatalf("1000 objects: %v", err)
	}
	// 1000 keys of the maximum length still fit the byte limit.
	var long strings.Builder
	long.WriteString(`<Delete>`)
	for i := 0; i < DeleteObjectsMax; i++ {
		fmt.Fprintf(&long, `<Object><Key>%04d%s</Key><VersionId>%s</VersionId></Object>`, i, strings.Repeat("k", 1020), strings.Repeat("v", 32))
	}
	long.WriteString(`</Delete>`)
	if _, err := DecodeDelete(strings.NewReader(long.String())); err != nil {
		t.Errorf("1000 maximum-length keys refused: %v", err)
	}
	for name, body := range map[string]string{
		"1001 objects": deleteBody(DeleteObjectsMax+1, ""),
		"no objects":   `<Delete><Quiet>true</Quiet></Delete>`,
		"empty key":    `<Delete><Object><Key></Key></Object></Delete>`,
		"bad quiet":    `<Delete><Quiet>maybe</Quiet><Object><Key>a</Key></Object></Delete>`,
		"not xml":      `{"Objects": []}`,
		"oversized":    `<Delete>` + strings.Repeat("<!-- -->", DeleteBodyBytesMax/8+1) + `</Delete>`,
	} {
		_, err := DecodeDelete(strings.NewReader(body))
		if got := s3err.CodeOf(err); got != s3err.MalformedXML {
			t.Errorf("%s: code %q (%v)", name, got, err)
		}
	}
}

func TestDecodeTagging(t *testing.T) {
	ok := `<Tagging><TagSet><Tag><Key>project</Key><Value>annal</Value></Tag><Tag><Key>ü</Key><Value></Value></Tag></TagSet></Tagging>`
	if tg, err := DecodeTagging(strings.NewReader(ok), ObjectTagsMax); err != nil || len(tg.TagSet) != 2 || tg.TagSet[1].Key != "ü" {
		t.Fatalf("%+v %v", tg, err)
	}
	tags := func(n int, key func(int) string, value string) string {
		var b strings.Builder
		b.WriteString("<Tagging><TagSet>")
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "<Tag><Key>%s</Key><Value>%s</Value></Tag>", key(i), value)
		}
		b.WriteString("</TagSet></Tagging>")
		return b.String()
	}
	distinct := func(i int) string { return fmt.Sprint("k", i) }
	if _, err := DecodeTagging(strings.NewReader(tags(50, distinct, "v")), BucketTagsMax); err != nil {
		t.Errorf("50 bucket tags: %v", err)
	}
	if _, err := DecodeTagging(strings.NewReader(tags(1, func(int) string { return strings.Repeat("é", 128) }, strings.Repeat("ü", 256))), ObjectTagsMax); err != nil {
		t.Errorf("maximum-length key and value (in characters): %v", err)
	}
	for name, body := range map[string]string{
		"11 object tags": tags(11, distinct, "v"),
		"duplicate key":  tags(2, func(int) string { return "same" }, "v"),
		"empty key":      tags(1, func(int) string { return "" }, "v"),
		"long key":       tags(1, func(int) string { return strings.Repeat("k", 129) }, "v"),
		"long value":     tags(1, distinct, strings.Repeat("v", 257)),
	} {
		_, err := DecodeTagging(strings.NewReader(body), ObjectTagsMax)
		if got := s3err.CodeOf(err); got != s3err.InvalidTag {
			t.Errorf("%s: code %q (%v)", name, got, err)
		}
	}
}

func TestDecodeVersioningAndCreateBucket(t *testing.T) {
	for body, code := range map[string]s3err.Code{
		`<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Status>Enabled</Status></VersioningConfiguration>`: "",
		`<VersioningConfiguration><Status>Suspended</Status><MfaDelete>Disabled</MfaDelete></VersioningConfiguration>`:                "",
		`<VersioningConfiguration><Status>On</Status></VersioningConfiguration>`:                                                      s3err.IllegalVersioningConfiguration,
		`<VersioningConfiguration></VersioningConfiguration>`:                                                                         s3err.IllegalVersioningConfiguration,
		`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Enabled</MfaDelete></VersioningConfiguration>`:                   s3err.NotImplemented,
		`<VersioningConfiguration><Status>Enabled</Status><MfaDelete>Sometimes</MfaDelete></VersioningConfiguration>`:                 s3err.IllegalVersioningConfiguration,
	} {
		_, err := DecodeVersioningConfiguration(strings.NewReader(body))
		if got := s3err.CodeOf(err); got != code {
			t.Errorf("%s: code %q (%v), want %q", body, got, err, code)
		}
	}
	c, err := DecodeCreateBucketConfiguration(strings.NewReader(""))
	if err != nil || c.LocationConstraint != "" {
		t.Errorf("empty CreateBucket body: %+v %v", c, err)
	}
	c, err = DecodeCreateBucketConfiguration(strings.NewReader(
		`<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`))
	if err != nil || c.LocationConstraint != "eu-west-1" {
		t.Errorf("%+v %v", c, err)
	}
	_, err = DecodeCreateBucketConfiguration(strings.NewReader(`<CreateBucketConfiguration>`))
	if s3err.CodeOf(err) != s3err.MalformedXML {
		t.Errorf("unclosed CreateBucketConfiguration: %v", err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, fmt.Errorf("connection reset") }

func TestDecodeReadError(t *testing.T) {
	if _, err := DecodeDelete(failingReader{}); s3err.CodeOf(err) != s3err.IncompleteBody {
		t.Errorf("read failure: %v", err)
	}
}

func TestURLEncodeKey(t *testing.T) {
	for in, want := range map[string]string{
		"plain/key.txt": "plain/key.txt", "a b+c": "a%20b%2Bc", "ሴ": "%E1%88%B4",
		"ctl\x01\r\n": "ctl%01%0D%0A", "%": "%25", "~_-.": "~_-.", "": "",
	} {
		got := URLEncodeKey(in)
		if got != want {
			t.Errorf("URLEncodeKey(%q) = %q, want %q", in, got, want)
		}
		if back, err := url.PathUnescape(got); err != nil || back != in {
			t.Errorf("%q does not decode back: %q %v", got, back, err)
		}
		if back, err := url.QueryUnescape(got); err != nil || back != in {
			t.Errorf("%q does not query-decode back: %q %v", got, back, err)
		}
	}
}
