package sim

import (
	"math"
	"testing"
)

// hop builds a history operation; ret < 0 means ambiguous (no answer).
func hop(obj string, call, ret int64, in, out any) *op {
	o := &op{obj: obj, call: call, ret: ret, in: in, out: out, state: opOK}
	if ret < 0 {
		o.ret, o.state, o.out = math.MaxInt64, opPending, nil
	}
	return o
}

// TestLinearizableS3: the checker accepts histories some order of the
// operations explains and rejects those none does, including ambiguous
// writes that may or may not have happened.
func TestLinearizableS3(t *testing.T) {
	get := func(id, hash string) s3GetOut { return s3GetOut{Found: id != "", VersionID: id, Hash: hash} }
	cases := []struct {
		name string
		ops  []*op
		want bool
	}{
		{"sequential", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, 4, s3Get{}, get("null", "v1")),
		}, true},
		{"stale read", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, 4, s3Put{VersionID: "null", Hash: "v2"}, nil),
			hop("k", 5, 6, s3Get{}, get("null", "v1")),
		}, false},
		{"concurrent write seen early", []*op{
			hop("k", 1, 10, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 2, 3, s3Get{}, get("null", "v1")),
			hop("k", 4, 5, s3Get{}, get("null", "v1")),
		}, true},
		{"value flips back", []*op{
			hop("k", 1, 10, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 2, 3, s3Get{}, get("null", "v1")),
			hop("k", 4, 5, s3Get{}, get("", "")),
		}, false},
		{"ambiguous write seen", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, -1, s3Put{VersionID: "null", Hash: "v2"}, nil),
			hop("k", 5, 6, s3Get{}, get("null", "v2")),
		}, true},
		{"ambiguous write never seen", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, -1, s3Put{VersionID: "null", Hash: "v2"}, nil),
			hop("k", 5, 6, s3Get{}, get("null", "v1")),
			hop("k", 7, 8, s3Get{}, get("null", "v1")),
		}, true},
		{"ambiguous write seen then unseen", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, -1, s3Put{VersionID: "null", Hash: "v2"}, nil),
			hop("k", 5, 6, s3Get{}, get("null", "v2")),
			hop("k", 7, 8, s3Get{}, get("null", "v1")),
		}, false},
		{"acked write lost", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, 4, s3Get{}, get("", "")),
		}, false},
		{"versions and markers", []*op{
			hop("k", 1, 2, s3Put{VersionID: "a1", Hash: "v1"}, nil),
			hop("k", 3, 4, s3Put{VersionID: "a2", Hash: "v2"}, nil),
			hop("k", 5, 6, s3Delete{Marker: "m1"}, nil),
			hop("k", 7, 8, s3List{}, []string{"m1!", "a2", "a1"}),
			hop("k", 9, 10, s3Get{}, get("", "")),
			hop("k", 11, 12, s3Delete{VersionID: "m1"}, nil),
			hop("k", 13, 14, s3Get{}, get("a2", "v2")),
			hop("k", 15, 16, s3NoVersion{VersionID: "m1"}, nil),
		}, true},
		{"null replaces null in place", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1"}, nil),
			hop("k", 3, 4, s3Put{VersionID: "a2", Hash: "v2"}, nil),
			hop("k", 5, 6, s3Put{VersionID: "null", Hash: "v3"}, nil),
			hop("k", 7, 8, s3List{}, []string{"null", "a2"}),
		}, true},
		{"acked delete of a missing version", []*op{
			hop("k", 1, 2, s3Delete{VersionID: "x"}, nil),
		}, false},
		{"conditional puts", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1", ETag: "e1", IfNoneMatch: true}, nil),
			hop("k", 3, 4, s3Put{VersionID: "null", Hash: "v2", ETag: "e2", IfMatch: "e1"}, nil),
			hop("k", 5, -1, s3Put{VersionID: "null", Hash: "v3", ETag: "e3", IfMatch: "e1"}, nil),
			hop("k", 7, 8, s3Get{}, get("null", "v2")),
			hop("k", 9, 10, s3Head{}, s3HeadOut{Found: true, VersionID: "null"}),
		}, true},
		{"if-none-match put over an object", []*op{
			hop("k", 1, 2, s3Put{VersionID: "null", Hash: "v1", ETag: "e1"}, nil),
			hop("k", 3, 4, s3Put{VersionID: "null", Hash: "v2", ETag: "e2", IfNoneMatch: true}, nil),
		}, false},
		{"ambiguous delete of a missing version", []*op{
			hop("k", 1, -1, s3Delete{VersionID: "x"}, nil),
			hop("k", 2, 3, s3Absent{}, nil),
		}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, done, stuck := linearizable(s3Model{}, tc.ops, 100000)
			if !done || ok != tc.want {
				t.Fatalf("linearizable = %v (done %v), want %v: %s", ok, done, tc.want, stuck)
			}
		})
	}
}

// TestLinearizablePosix: the whole-namespace model follows renames, hard
// links, appends, truncates and inline/extent rules as the projection does.
func TestLinearizablePosix(t *testing.T) {
	const root = 1
	read := func(data string) pxReadOut { return pxReadOut{Exists: true, Hash: contentHash([]byte(data))} }
	cases := []struct {
		name string
		ops  []*op
		want bool
	}{
		{"create, write, rename, read", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 4, pxWrite{Ino: 5, Data: "hello", Inline: true}, nil),
			hop("p", 5, 6, pxRename{SrcParent: root, SrcName: "f", DstParent: root, DstName: "g"}, nil),
			hop("p", 7, 8, pxLookup{Path: "f"}, pxLookupOut{Err: "noent"}),
			hop("p", 9, 10, pxLookup{Path: "g"}, pxLookupOut{Ino: 5}),
			hop("p", 11, 12, pxRead{Ino: 5}, read("hello")),
			hop("p", 13, 14, pxReaddir{Ino: root}, []string{"g"}),
		}, true},
		{"append lands at the size as of apply", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 10, pxWrite{Ino: 5, Data: "ab", Inline: true, Append: true}, nil),
			hop("p", 4, 11, pxWrite{Ino: 5, Data: "cd", Inline: true, Append: true}, nil),
			hop("p", 12, 13, pxRead{Ino: 5}, read("cdab")),
		}, true},
		{"append applied twice", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 4, pxWrite{Ino: 5, Data: "ab", Inline: true, Append: true}, nil),
			hop("p", 5, 6, pxRead{Ino: 5}, read("abab")),
		}, false},
		{"hard link survives unlink of the first name", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 4, pxWrite{Ino: 5, Data: "x", Inline: true}, nil),
			hop("p", 5, 6, pxLink{Ino: 5, Parent: root, Name: "g"}, nil),
			hop("p", 7, 8, pxUnlink{Parent: root, Name: "f"}, nil),
			hop("p", 9, 10, pxRead{Ino: 5}, read("x")),
			hop("p", 11, 12, pxUnlink{Parent: root, Name: "g"}, nil),
			hop("p", 13, 14, pxRead{Ino: 5}, pxReadOut{}),
		}, true},
		{"rename onto another name of the same file does nothing", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 4, pxLink{Ino: 5, Parent: root, Name: "g"}, nil),
			hop("p", 5, 6, pxRename{SrcParent: root, SrcName: "f", DstParent: root, DstName: "g"}, nil),
			hop("p", 7, 8, pxReaddir{Ino: root}, []string{"f", "g"}),
		}, true},
		{"a directory cannot move into itself", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "d", Ino: 5, Dir: true}, nil),
			hop("p", 3, 4, pxCreate{Parent: 5, Name: "e", Ino: 6, Dir: true}, nil),
			hop("p", 5, 6, pxRename{SrcParent: root, SrcName: "d", DstParent: 6, DstName: "x"}, nil),
		}, false},
		{"extent write must cover inline content", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 4, pxWrite{Ino: 5, Data: "abcdef", Inline: true}, nil),
			hop("p", 5, 6, pxWrite{Ino: 5, Off: 1, Data: "XYZXYZXYZ"}, nil),
		}, false},
		{"truncate then extent write", []*op{
			hop("p", 1, 2, pxCreate{Parent: root, Name: "f", Ino: 5}, nil),
			hop("p", 3, 4, pxWrite{Ino: 5, Data: "abcdef", Inline: true}, nil),
			hop("p", 5, 6, pxTruncate{Ino: 5, Size: 0}, nil),
			hop("p", 7, 8, pxWrite{Ino: 5, Off: 2, Data: "XY"}, nil),
			hop("p", 9, 10, pxRead{Ino: 5}, read("\x00\x00XY")),
			hop("p", 11, 12, pxWrite{Ino: 5, Data: "q", Inline: true}, nil),
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ok, done, stuck := linearizable(posixModel{}, tc.ops, 100000)
			if !done || ok != tc.want {
				t.Fatalf("linearizable = %v (done %v), want %v: %s", ok, done, tc.want, stuck)
			}
		})
	}
}
