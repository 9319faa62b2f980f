package commands

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/annal-storage/annal/log/event"
)

// TestListPagingOtherDelimiter: with a delimiter other than "/", paging
// one entry at a time (resuming after the last key or common prefix, as
// S3 continuation tokens do) ends and returns each common prefix once.
// Regression: resuming after "a-" rolled "a-b" up into "a-" again, so
// the listing never ended.
func TestListPagingOtherDelimiter(t *testing.T) {
	svc, _, p := testService(t, 9)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "dl"); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"a-b", "a-c", "a/x", "b", "b-1-2", "c"} {
		if _, err := svc.PutObject(ctx, p, PutInput{Bucket: "dl", Key: k, Body: strings.NewReader(k)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, delim := range []string{"-", "x"} {
		var got []string
		after := ""
		for page := 0; ; page++ {
			out, err := svc.ListObjects(ctx, p, "dl", ListInput{Delimiter: delim, After: after, MaxKeys: 1})
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range out.Objects {
				got = append(got, o.Key)
			}
			got = append(got, out.CommonPrefixes...)
			if !out.IsTruncated {
				break
			}
			if page > 10 {
				t.Fatalf("delimiter %q: paging does not end: %v", delim, got)
			}
			after = out.NextAfter
		}
		want := map[string][]string{"-": {"a-", "a/x", "b", "b-", "c"}, "x": {"a-b", "a-c", "a/x", "b", "b-1-2", "c"}}[delim]
		if !slices.Equal(got, want) {
			t.Errorf("delimiter %q: %v, want %v", delim, got, want)
		}
	}
	vs, err := svc.ListVersions(ctx, p, "dl", VersionsInput{Delimiter: "-", KeyMarker: "a-", MaxKeys: 10})
	if err != nil || len(vs.CommonPrefixes) != 1 || vs.CommonPrefixes[0] != "b-" {
		t.Errorf("versions after common prefix a-: %v %+v", err, vs)
	}
}

// TestListUploadsPagingSameKey: several uploads of one key page by
// upload id marker without repeats or gaps, in initiation order.
// Regression: the marker was compared with upload ids, which are random,
// while uploads of a key are kept in initiation order, so pages repeated
// uploads.
func TestListUploadsPagingSameKey(t *testing.T) {
	svc, _, p := testService(t, 11)
	ctx := context.Background()
	if err := svc.CreateBucket(ctx, p, "up"); err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, k := range []string{"a", "b", "b", "b", "b", "c"} {
		id, err := svc.CreateUpload(ctx, p, "up", k, event.ObjectAttrs{}, event.PosixAttrs{})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, k+"/"+id)
	}
	var got []string
	keyMarker, idMarker := "", ""
	for page := 0; ; page++ {
		ups, more, err := svc.ListUploads(ctx, p, "up", "", keyMarker, idMarker, 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range ups {
			got = append(got, u.Key+"/"+u.ID)
			keyMarker, idMarker = u.Key, u.ID
		}
		if !more || page > 10 {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged uploads\n got %v\nwant %v", got, want)
	}
	ups, _, err := svc.ListUploads(ctx, p, "up", "", "b", "", 0)
	if err != nil || len(ups) != 1 || ups[0].Key != "c" {
		t.Errorf("after key marker b: %v %+v", err, ups)
	}
}
