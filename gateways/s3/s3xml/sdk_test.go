package s3xml_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/annal-storage/annal/gateways/s3/route"
	"github.com/annal-storage/annal/gateways/s3/s3err"
	"github.com/annal-storage/annal/gateways/s3/s3xml"
)

// Goal: aws-sdk-go-v2 deserialises every document s3xml renders, and
// s3xml's request decoders accept every body the SDK serialises.
// Method: an httptest server classifies each SDK request with route,
// answers with an s3xml document (or an s3err error), and keeps the
// request body; the test then reads the SDK's typed output field by field
// and feeds the captured bodies to the decoders.

var when = time.Date(2024, 3, 1, 12, 30, 45, 250_000_000, time.UTC)

type sdkServer struct {
	t      *testing.T
	router *route.Router
	mu     sync.Mutex
	bodies map[route.Operation][]byte
}

func (s *sdkServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, err := s.router.Classify(r)
	if err != nil {
		s3err.Write(w, r, err, "req", "")
		return
	}
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	s.bodies[req.Operation] = body
	s.mu.Unlock()
	doc, status := response(req)
	switch v := doc.(type) {
	case nil:
		w.WriteHeader(status)
	case error:
		s3err.Write(w, r, v, "req-404", "host-1")
	default:
		if err := s3xml.WriteResponse(w, status, doc); err != nil {
			s.t.Errorf("write %T: %v", doc, err)
		}
	}
}

func ts() s3xml.Timestamp { return s3xml.Timestamp{Time: when} }

var owner = s3xml.Owner{ID: "tenant-7", DisplayName: "seven"}

// response is the canned answer for each operation.
func response(req route.Request) (any, int) {
	switch req.Operation {
	case route.ListBuckets:
		return s3xml.ListAllMyBucketsResult{Owner: owner, Buckets: []s3xml.Bucket{
			{Name: "alpha", CreationDate: ts()}, {Name: "beta", CreationDate: ts()}}}, 200
	case route.ListObjectsV2:
		return s3xml.ListBucketResultV2{Name: req.Bucket, Prefix: "p/", Delimiter: "/", MaxKeys: 2, KeyCount: 2,
			IsTruncated: true, ContinuationToken: "c1", NextContinuationToken: "c2", StartAfter: "p/0",
			Contents: []s3xml.Object{{Key: "p/a b", LastModified: ts(), ETag: `"e1"`, Size: 11, StorageClass: "STANDARD"},
				{Key: "p/ሴ", LastModified: ts(), ETag: `"e2"`, Size: 0, StorageClass: "STANDARD", Owner: &owner}},
			CommonPrefixes: []s3xml.CommonPrefix{{Prefix: "p/dir/"}}}, 200
	case route.ListObjects:
		return s3xml.ListBucketResult{Name: req.Bucket, Marker: "m", NextMarker: "n", MaxKeys: 1, IsTruncated: true,
			Contents: []s3xml.Object{{Key: "k", LastModified: ts(), ETag: `"e"`, Size: 3, StorageClass: "STANDARD"}}}, 200
	case route.ListObjectVersions:
		return s3xml.ListVersionsResult{Name: req.Bucket, MaxKeys: 10, NextKeyMarker: "nk", NextVersionIDMarker: "nv", IsTruncated: true,
			Entries: []s3xml.VersionEntry{
				{DeleteMarker: true, Key: "k", VersionID: "v3", IsLatest: true, LastModified: ts(), Owner: &owner},
				{Key: "k", VersionID: "v2", LastModified: ts(), ETag: `"e2"`, Size: 5, StorageClass: "STANDARD"},
				{Key: "k", VersionID: "v1", LastModified: ts(), ETag: `"e1"`, Size: 4, StorageClass: "STANDARD"},
			}}, 200
	case route.CreateMultipartUpload:
		return s3xml.InitiateMultipartUploadResult{Bucket: req.Bucket, Key: req.Key, UploadID: "upload-1"}, 200
	case route.CompleteMultipartUpload:
		return s3xml.CompleteMultipartUploadResult{Location: "http://x/b/k", Bucket: req.Bucket, Key: req.Key,
			ETag: `"abc-2"`, Checksums: s3xml.Checksums{ChecksumCRC32: "AAAAAA=="}}, 200
	case route.ListMultipartUploads:
		return s3xml.ListMultipartUploadsResult{Bucket: req.Bucket, MaxUploads: 5, Uploads: []s3xml.Upload{
			{Key: "k", UploadID: "u1", Initiator: s3xml.Initiator(owner), Owner: owner, StorageClass: "STANDARD", Initiated: ts()}}}, 200
	case route.ListParts:
		return s3xml.ListPartsResult{Bucket: req.Bucket, Key: req.Key, UploadID: "u1", MaxParts: 2, NextPartNumberMarker: 2, IsTruncated: true,
			Parts: []s3xml.Part{{PartNumber: 1, LastModified: ts(), ETag: `"p1"`, Size: 5 << 20, Checksums: s3xml.Checksums{ChecksumSHA256: "c2hh"}},
				{PartNumber: 2, LastModified: ts(), ETag: `"p2"`, Size: 1}}, Owner: owner, StorageClass: "STANDARD"}, 200
	case route.CopyObject:
		return s3xml.CopyObjectResult{LastModified: ts(), ETag: `"copied"`}, 200
	case route.UploadPartCopy:
		return s3xml.CopyPartResult{LastModified: ts(), ETag: `"part-copied"`}, 200
	case route.DeleteObjects:
		return s3xml.DeleteResult{Deleted: []s3xml.DeletedObject{{Key: "a"}, {Key: "b", DeleteMarker: true, DeleteMarkerVersionID: "dm"}},
			Errors: []s3xml.DeleteError{{Key: "c", Code: s3err.AccessDenied, Message: "Access Denied"}}}, 200
	case route.GetBucketVersioning:
		return s3xml.VersioningConfiguration{Status: s3xml.VersioningSuspended}, 200
	case route.GetBucketTagging, route.GetObjectTagging:
		return s3xml.Tagging{TagSet: []s3xml.Tag{{Key: "team", Value: "storage"}, {Key: "empty", Value: ""}}}, 200
	case route.GetBucketLocation:
		return s3xml.LocationConstraint{Region: "eu-west-1"}, 200
	case route.GetBucketAcl, route.GetObjectAcl:
		return s3xml.OwnerFullControl(owner), 200
	case route.GetObject, route.HeadObject:
		return s3err.New(s3err.NoSuchKey, "").WithResource(req.Bucket, req.Key), 0
	case route.PutBucketTagging, route.PutObjectTagging, route.PutBucketVersioning, route.CreateBucket:
		return nil, 200
	}
	return s3err.New(s3err.NotImplemented, ""), 0
}

func newSDK(t *testing.T) (*s3.Client, *sdkServer) {
	t.Helper()
	rt, err := route.New("localhost")
	if err != nil {
		t.Fatal(err)
	}
	s := &sdkServer{t: t, router: rt, bodies: map[route.Operation][]byte{}}
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: aws.AnonymousCredentials{}, HTTPClient: srv.Client(),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported})
	return c, s
}

func (s *sdkServer) body(op route.Operation) []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bodies[op]
}

// must(call(...))(t) fails the test on a non-nil error.
func must[T any](v T, err error) func(*testing.T) T {
	return func(t *testing.T) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var ctx = context.Background()
var b = aws.String("bucket")

func TestSDKReadsListings(t *testing.T) {
	c, _ := newSDK(t)
	buckets := must(c.ListBuckets(ctx, &s3.ListBucketsInput{}))(t)
	if len(buckets.Buckets) != 2 || *buckets.Buckets[1].Name != "beta" || !buckets.Buckets[0].CreationDate.Equal(when) ||
		*buckets.Owner.ID != "tenant-7" {
		t.Errorf("ListBuckets: %+v", buckets)
	}

	v2 := must(c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: b}))(t)
	if *v2.KeyCount != 2 || !*v2.IsTruncated || *v2.NextContinuationToken != "c2" || *v2.ContinuationToken != "c1" ||
		*v2.StartAfter != "p/0" || *v2.Delimiter != "/" || *v2.MaxKeys != 2 || len(v2.CommonPrefixes) != 1 ||
		*v2.CommonPrefixes[0].Prefix != "p/dir/" {
		t.Errorf("ListObjectsV2 header fields: %+v", v2)
	}
	o := v2.Contents[1]
	if *v2.Contents[0].Key != "p/a b" || *o.Key != "p/ሴ" || *o.ETag != `"e2"` || *o.Size != 0 ||
		o.StorageClass != types.ObjectStorageClassStandard || !o.LastModified.Equal(when) || *o.Owner.ID != "tenant-7" {
		t.Errorf("ListObjectsV2 contents: %+v", v2.Contents)
	}

	v1 := must(c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: b}))(t)
	if *v1.Marker != "m" || *v1.NextMarker != "n" || len(v1.Contents) != 1 || *v1.Contents[0].Size != 3 {
		t.Errorf("ListObjects: %+v", v1)
	}

	vers := must(c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: b}))(t)
	if len(vers.Versions) != 2 || len(vers.DeleteMarkers) != 1 || *vers.DeleteMarkers[0].VersionId != "v3" ||
		!*vers.DeleteMarkers[0].IsLatest || *vers.Versions[0].VersionId != "v2" || *vers.Versions[1].Size != 4 ||
		*vers.NextKeyMarker != "nk" || *vers.NextVersionIdMarker != "nv" {
		t.Errorf("ListObjectVersions: %+v", vers)
	}
}

func TestSDKReadsMultipartAndCopy(t *testing.T) {
	c, srv := newSDK(t)
	k := aws.String("obj")
	up := must(c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: b, Key: k}))(t)
	if *up.UploadId != "upload-1" || *up.Key != "obj" {
		t.Errorf("CreateMultipartUpload: %+v", up)
	}
	done := must(c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: b, Key: k, UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: []types.CompletedPart{
			{PartNumber: aws.Int32(1), ETag: aws.String(`"p1"`), ChecksumCRC32: aws.String("AAAAAA==")},
			{PartNumber: aws.Int32(2), ETag: aws.String(`"p2"`)}}}}))(t)
	if *done.ETag != `"abc-2"` || *done.Location != "http://x/b/k" || *done.ChecksumCRC32 != "AAAAAA==" {
		t.Errorf("CompleteMultipartUpload: %+v", done)
	}
	// The SDK's own Complete body must pass our strict decoder.
	sent, err := s3xml.DecodeCompleteMultipartUpload(bytes.NewReader(srv.body(route.CompleteMultipartUpload)))
	if err != nil || len(sent.Parts) != 2 || sent.Parts[0].ChecksumCRC32 != "AAAAAA==" || sent.Parts[1].ETag != `"p2"` {
		t.Errorf("decoding the SDK's CompleteMultipartUpload body: %+v %v\n%s", sent, err, srv.body(route.CompleteMultipartUpload))
	}

	uploads := must(c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: b}))(t)
	if len(uploads.Uploads) != 1 || *uploads.Uploads[0].UploadId != "u1" || !uploads.Uploads[0].Initiated.Equal(when) ||
		*uploads.Uploads[0].Initiator.ID != "tenant-7" {
		t.Errorf("ListMultipartUploads: %+v", uploads)
	}
	parts := must(c.ListParts(ctx, &s3.ListPartsInput{Bucket: b, Key: k, UploadId: aws.String("u1")}))(t)
	if len(parts.Parts) != 2 || *parts.Parts[0].Size != 5<<20 || *parts.Parts[0].ChecksumSHA256 != "c2hh" ||
		*parts.NextPartNumberMarker != "2" || !*parts.IsTruncated {
		t.Errorf("ListParts: %+v", parts)
	}
	cp := must(c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: b, Key: k, CopySource: aws.String("src/key")}))(t)
	if *cp.CopyObjectResult.ETag != `"copied"` || !cp.CopyObjectResult.LastModified.Equal(when) {
		t.Errorf("CopyObject: %+v", cp.CopyObjectResult)
	}
	pc := must(c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: b, Key: k, CopySource: aws.String("src/key"),
		PartNumber: aws.Int32(1), UploadId: aws.String("u1")}))(t)
	if *pc.CopyPartResult.ETag != `"part-copied"` {
		t.Errorf("UploadPartCopy: %+v", pc.CopyPartResult)
	}
}

func TestSDKReadsDeleteResultAndSendsDelete(t *testing.T) {
	c, srv := newSDK(t)
	out := must(c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: b, Delete: &types.Delete{Quiet: aws.Bool(false),
		Objects: []types.ObjectIdentifier{{Key: aws.String("a")}, {Key: aws.String("b & <c>"), VersionId: aws.String("v9")}}}}))(t)
	if len(out.Deleted) != 2 || !*out.Deleted[1].DeleteMarker || *out.Deleted[1].DeleteMarkerVersionId != "dm" ||
		len(out.Errors) != 1 || *out.Errors[0].Code != "AccessDenied" {
		t.Errorf("DeleteObjects: %+v", out)
	}
	d, err := s3xml.DecodeDelete(bytes.NewReader(srv.body(route.DeleteObjects)))
	if err != nil || d.Quiet || len(d.Objects) != 2 || d.Objects[1] != (s3xml.ObjectIdentifier{Key: "b & <c>", VersionID: "v9"}) {
		t.Errorf("decoding the SDK's Delete body: %+v %v", d, err)
	}
}

func TestSDKReadsConfigsAndSendsThem(t *testing.T) {
	c, srv := newSDK(t)
	ver := must(c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b}))(t)
	if ver.Status != types.BucketVersioningStatusSuspended {
		t.Errorf("GetBucketVersioning: %+v", ver)
	}
	must(c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))(t)
	if v, err := s3xml.DecodeVersioningConfiguration(bytes.NewReader(srv.body(route.PutBucketVersioning))); err != nil || v.Status != "Enabled" {
		t.Errorf("decoding the SDK's versioning body: %+v %v", v, err)
	}

	tags := must(c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b}))(t)
	if len(tags.TagSet) != 2 || *tags.TagSet[0].Key != "team" || *tags.TagSet[1].Value != "" {
		t.Errorf("GetBucketTagging: %+v", tags)
	}
	otags := must(c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: b, Key: aws.String("k")}))(t)
	if len(otags.TagSet) != 2 {
		t.Errorf("GetObjectTagging: %+v", otags)
	}
	must(c.PutObjectTagging(ctx, &s3.PutObjectTaggingInput{Bucket: b, Key: aws.String("k"),
		Tagging: &types.Tagging{TagSet: []types.Tag{{Key: aws.String("a"), Value: aws.String("1")}}}}))(t)
	if tg, err := s3xml.DecodeTagging(bytes.NewReader(srv.body(route.PutObjectTagging)), s3xml.ObjectTagsMax); err != nil ||
		len(tg.TagSet) != 1 || tg.TagSet[0] != (s3xml.Tag{Key: "a", Value: "1"}) {
		t.Errorf("decoding the SDK's tagging body: %+v %v", tg, err)
	}

	loc := must(c.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: b}))(t)
	if loc.LocationConstraint != types.BucketLocationConstraintEuWest1 {
		t.Errorf("GetBucketLocation: %+v", loc)
	}
	must(c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("new-bucket"),
		CreateBucketConfiguration: &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraintEuWest1}}))(t)
	if cfg, err := s3xml.DecodeCreateBucketConfiguration(bytes.NewReader(srv.body(route.CreateBucket))); err != nil ||
		cfg.LocationConstraint != "eu-west-1" {
		t.Errorf("decoding the SDK's CreateBucketConfiguration: %+v %v", cfg, err)
	}

	acl := must(c.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: b}))(t)
	if *acl.Owner.ID != "tenant-7" || len(acl.Grants) != 1 || acl.Grants[0].Permission != types.PermissionFullControl ||
		*acl.Grants[0].Grantee.ID != "tenant-7" {
		t.Errorf("GetBucketAcl: %+v", acl)
	}
}

func TestSDKReadsErrors(t *testing.T) {
	c, _ := newSDK(t)
	_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: b, Key: aws.String("missing")})
	var nsk *types.NoSuchKey
	if !errors.As(err, &nsk) {
		t.Errorf("GetObject missing: %v (%T)", err, errors.Unwrap(err))
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: b, Key: aws.String("missing")})
	var nf *types.NotFound
	if !errors.As(err, &nf) {
		t.Errorf("HeadObject missing: %v", err)
	}
	_, err = c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
	if err == nil {
		t.Error("GetBucketPolicy should fail")
	}
}
