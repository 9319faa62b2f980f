package s3_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestVersioning: with versioning enabled every PUT makes a version
// readable by id; DELETE places a delete marker that hides the key
// (404 with x-amz-delete-marker) until the marker itself is deleted by
// version id; deleting a version by id removes it; ListObjectVersions
// shows versions and markers newest first.
func TestVersioning(t *testing.T) {
	f := node(t)
	c := f.plain.sdk(f.a)
	ctx := context.Background()
	b := bucketName(t, "b")
	mkBucket(t, c, b)
	vc, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	if err != nil || vc.Status != "" {
		t.Fatalf("new bucket versioning: %v %q", err, vc.Status)
	}
	setVersioning(t, c, b, types.BucketVersioningStatusEnabled)
	vc, err = c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(b)})
	if err != nil || vc.Status != types.BucketVersioningStatusEnabled {
		t.Fatalf("versioning after enable: %v %q", err, vc.Status)
	}
	v1 := aws.ToString(sdkPut(t, c, b, "k", strings.NewReader("one")).VersionId)
	v2 := aws.ToString(sdkPut(t, c, b, "k", strings.NewReader("two, longer")).VersionId)
	if v1 == "" || v2 == "" || v1 == v2 || v1 == "null" {
		t.Fatalf("version ids %q %q", v1, v2)
	}
	if got := getVersion(t, c, b, "k", v1); got != "one" {
		t.Errorf("GET v1: %q", got)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(v1)})
	if err != nil || aws.ToInt64(head.ContentLength) != 3 || aws.ToString(head.VersionId) != v1 {
		t.Errorf("HEAD v1: %v %+v", err, head)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String("0000")})
	wantCode(t, "bogus version", err, "NoSuchVersion", 404)

	del, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k")})
	if err != nil || !aws.ToBool(del.DeleteMarker) || aws.ToString(del.VersionId) == "" {
		t.Fatalf("DELETE in a versioned bucket: %v %+v", err, del)
	}
	marker := aws.ToString(del.VersionId)
	r := f.plain.signed(t, f.a, "GET", "/"+b+"/k", nil)
	if r.status != 404 || r.header.Get("X-Amz-Delete-Marker") != "true" || !strings.Contains(string(r.body), "NoSuchKey") {
		t.Errorf("GET behind a delete marker: %d %v %s", r.status, r.header, r.body)
	}
	if r := f.plain.signed(t, f.a, "GET", "/"+b+"/k?versionId="+marker, nil); r.status != 405 || r.header.Get("X-Amz-Delete-Marker") != "true" {
		t.Errorf("GET of the delete marker by id: %d %v", r.status, r.header)
	}
	if got := getVersion(t, c, b, "k", v2); got != "two, longer" {
		t.Errorf("GET v2 behind the marker: %q", got)
	}
	lv, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b)})
	if err != nil || len(lv.Versions) != 2 || len(lv.DeleteMarkers) != 1 {
		t.Fatalf("ListObjectVersions: %v %+v", err, lv)
	}
	if aws.ToString(lv.Versions[0].VersionId) != v2 || aws.ToString(lv.Versions[1].VersionId) != v1 ||
		aws.ToBool(lv.Versions[0].IsLatest) || !aws.ToBool(lv.DeleteMarkers[0].IsLatest) ||
		aws.ToString(lv.DeleteMarkers[0].VersionId) != marker || aws.ToInt64(lv.Versions[1].Size) != 3 {
		t.Errorf("versions %+v markers %+v", lv.Versions, lv.DeleteMarkers)
	}
	page, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(1)})
	if err != nil || !aws.ToBool(page.IsTruncated) || aws.ToString(page.NextKeyMarker) != "k" {
		t.Fatalf("first page: %v %+v", err, page)
	}
	page, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), MaxKeys: aws.Int32(5),
		KeyMarker: page.NextKeyMarker, VersionIdMarker: page.NextVersionIdMarker})
	if err != nil || len(page.Versions) != 2 || aws.ToBool(page.IsTruncated) {
		t.Errorf("second page: %v %+v", err, page)
	}

	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(marker)}); err != nil {
		t.Fatalf("delete the marker: %v", err)
	}
	if got := string(sdkGet(t, c, b, "k")); got != "two, longer" {
		t.Errorf("after removing the marker: %q", got)
	}
	out, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String("k"), VersionId: aws.String(v2)})
	if err != nil || aws.ToString(out.VersionId) != v2 {
		t.Fatalf("delete v2: %v %+v", err, out)
	}
	if got := string(sdkGet(t, c, b, "k")); got != "one" {
		t.Errorf("after deleting v2: %q", got)
	}
	del2, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(b), Delete: &types.Delete{Objects: []types.ObjectIdentifier{
		{Key: aws.String("k")}, {Key: aws.String("k"), VersionId: aws.String(v1)}}}})
	if err != nil || len(del2.Deleted) != 2 || !aws.ToBool(del2.Deleted[0].DeleteMarker) {
		t.Errorf("versioned DeleteObjects: %v %+v", err, del2)
	}

	setVersioning(t, c, b, types.BucketVersioningStatusSuspended)
	s1 := sdkPut(t, c, b, "s", strings.NewReader("a"))
	sdkPut(t, c, b, "s", strings.NewReader("b"))
	if v := aws.ToString(s1.VersionId); v != "" && v != "null" {
		t.Errorf("suspended bucket made version %q", v)
	}
	lv, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(b), Prefix: aws.String("s")})
	if err != nil || len(lv.Versions) != 1 || aws.ToString(lv.Versions[0].VersionId) != "null" {
		t.Errorf("suspended versions: %v %+v", err, lv.Versions)
	}
	r = f.plain.signed(t, f.a, "PUT", "/"+b+"?versioning", []byte(`<VersioningConfiguration><Status>Sometimes</Status></VersioningConfiguration>`))
	if r.status != 400 || !strings.Contains(string(r.body), "IllegalVersioningConfigurationException") {
		t.Errorf("bad versioning status: %d %s", r.status, r.body)
	}
}

func setVersioning(t *testing.T, c *s3.Client, b string, status types.BucketVersioningStatus) {
	t.Helper()
	if _, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(b),
		VersioningConfiguration: &types.VersioningConfiguration{Status: status}}); err != nil {
		t.Fatalf("PutBucketVersioning %s: %v", status, err)
	}
}

func getVersion(t *testing.T, c *s3.Client, b, key, version string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key), VersionId: aws.String(version)})
	if err != nil {
		t.Fatalf("GET %s?versionId=%s: %v", key, version, err)
	}
	defer out.Body.Close()
	body, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.VersionId) != version {
		t.Errorf("GET %s?versionId=%s answered version %q", key, version, aws.ToString(out.VersionId))
	}
	return string(body)
}
