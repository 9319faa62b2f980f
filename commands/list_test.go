package commands

import (
	"context"
	"slices"
	"strings"
	"testing"
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
