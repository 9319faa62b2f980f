package commands

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/namespace"
	"pgregory.net/rapid"
)

// The POSIX commands are exercised through the Service on a memLog with a
// 16-byte inline threshold and 8-byte chunks, so short test data crosses
// every boundary: inline content, the inline-to-extents cover, several
// chunks per write, and segments rewritten by random writes.

// tester is what the helpers need of *testing.T and *rapid.T.
type tester interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

func posixBucket(t testing.TB, seed byte) (*Service, Principal, string) {
	t.Helper()
	svc, _, p := testService(t, seed)
	if err := svc.CreateBucket(context.Background(), p, "fs"); err != nil {
		t.Fatal(err)
	}
	return svc, p, "fs"
}

func mustCreate(t tester, svc *Service, p Principal, kind uint8, parent uint64, name string) Attr {
	t.Helper()
	a, err := svc.CreateNode(context.Background(), p, "fs", kind, NodeInput{Parent: parent, Name: name, Mode: 0o644, Uid: 7, Gid: 8, Target: "target"})
	if err != nil {
		t.Fatalf("create %q: %v", name, err)
	}
	return a
}

func writeAt(t tester, svc *Service, p Principal, ino uint64, off int64, data []byte) Attr {
	t.Helper()
	a, err := svc.WriteFile(context.Background(), p, "fs", WriteInput{Ino: ino,
		Spans: []WriteSpan{{Offset: off, Len: int64(len(data))}}, Data: bytes.NewReader(data)})
	if err != nil {
		t.Fatalf("write %d bytes at %d: %v", len(data), off, err)
	}
	return a
}

func readAll(t tester, svc *Service, p Principal, ino uint64) []byte {
	t.Helper()
	r, _, err := svc.ReadFile(context.Background(), p, "fs", ino, 0, 1<<40)
	if err != nil {
		t.Fatalf("read inode %d: %v", ino, err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read inode %d: %v", ino, err)
	}
	return b
}

func TestCreateLookupReadDir(t *testing.T) {
	svc, p, b := posixBucket(t, 1)
	ctx := context.Background()
	dir := mustCreate(t, svc, p, namespace.KindDir, namespace.RootIno, "d")
	f := mustCreate(t, svc, p, namespace.KindFile, dir.Ino, "f")
	l := mustCreate(t, svc, p, namespace.KindSymlink, dir.Ino, "l")
	if dir.Mode != ModeDir|0o644 || f.Mode != ModeFile|0o644 || l.Mode&ModeTypeMask != ModeSymlink || l.Target != "target" {
		t.Fatalf("modes: dir %o file %o link %o %q", dir.Mode, f.Mode, l.Mode, l.Target)
	}
	if f.Uid != 7 || f.Gid != 8 || f.Nlink != 1 || f.Size != 0 || l.Size != int64(len("target")) {
		t.Fatalf("file attrs %+v link %+v", f, l)
	}
	got, err := svc.Lookup(ctx, p, b, dir.Ino, "f")
	if err != nil || got.Ino != f.Ino {
		t.Fatalf("lookup: %+v %v", got, err)
	}
	if _, err := svc.Lookup(ctx, p, b, dir.Ino, "nope"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("lookup of a missing name: %v", err)
	}
	if _, err := svc.Lookup(ctx, p, b, f.Ino, "x"); !errors.Is(err, ErrNotDirectory) {
		t.Fatalf("lookup in a file: %v", err)
	}
	if _, err := svc.CreateNode(ctx, p, b, namespace.KindFile, NodeInput{Parent: dir.Ino, Name: "f"}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("O_EXCL create of an existing name: %v", err)
	}
	es, err := svc.ReadDir(ctx, p, b, dir.Ino, "", 0)
	if err != nil || len(es) != 2 || es[0].Name != "f" || es[1].Name != "l" || es[0].Attr.Ino != f.Ino {
		t.Fatalf("readdir: %+v %v", es, err)
	}
	page, err := svc.ReadDir(ctx, p, b, dir.Ino, es[0].Cursor, 0)
	if err != nil || len(page) != 1 || page[0].Name != "l" {
		t.Fatalf("readdir after cursor: %+v %v", page, err)
	}
}

func TestSetgidDirectoryPassesGroupOn(t *testing.T) {
	svc, p, b := posixBucket(t, 2)
	ctx := context.Background()
	dir := mustCreate(t, svc, p, namespace.KindDir, namespace.RootIno, "g")
	mode, gid := uint32(0o2775), uint32(99)
	if _, err := svc.SetAttr(ctx, p, b, dir.Ino, SetAttrInput{Mode: &mode, Gid: &gid}); err != nil {
		t.Fatal(err)
	}
	f := mustCreate(t, svc, p, namespace.KindFile, dir.Ino, "f")
	sub := mustCreate(t, svc, p, namespace.KindDir, dir.Ino, "sub")
	if f.Gid != 99 || sub.Gid != 99 || sub.Mode&0o2000 == 0 || f.Mode&0o2000 != 0 {
		t.Fatalf("file gid %d mode %o, subdir gid %d mode %o", f.Gid, f.Mode, sub.Gid, sub.Mode)
	}
}

func TestUnlinkRmdirRenameLink(t *testing.T) {
	svc, p, b := posixBucket(t, 3)
	ctx := context.Background()
	d := mustCreate(t, svc, p, namespace.KindDir, namespace.RootIno, "d")
	f := mustCreate(t, svc, p, namespace.KindFile, d.Ino, "f")
	if err := svc.Remove(ctx, p, b, namespace.RootIno, "d", true); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("rmdir of a non-empty directory: %v", err)
	}
	a, err := svc.Link(ctx, p, b, f.Ino, namespace.RootIno, "hard")
	if err != nil || a.Nlink != 2 {
		t.Fatalf("link: %+v %v", a, err)
	}
	if _, err := svc.Link(ctx, p, b, d.Ino, namespace.RootIno, "dirlink"); !errors.Is(err, ErrIsDirectory) {
		t.Fatalf("hard link to a directory: %v", err)
	}
	if err := svc.Remove(ctx, p, b, d.Ino, "f", false); err != nil {
		t.Fatal(err)
	}
	if a, err := svc.GetAttr(ctx, p, b, f.Ino); err != nil || a.Nlink != 1 {
		t.Fatalf("after unlinking one of two names: %+v %v", a, err)
	}
	if err := svc.Remove(ctx, p, b, namespace.RootIno, "d", true); err != nil {
		t.Fatalf("rmdir of the emptied directory: %v", err)
	}
	// rename replaces a file target atomically
	g := mustCreate(t, svc, p, namespace.KindFile, namespace.RootIno, "g")
	writeAt(t, svc, p, g.Ino, 0, []byte("g data"))
	if err := svc.Rename(ctx, p, b, RenameInput{SourceParent: 1, SourceName: "g", TargetParent: 1, TargetName: "hard", NoReplace: true}); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("RENAME_NOREPLACE onto an existing name: %v", err)
	}
	if err := svc.Rename(ctx, p, b, RenameInput{SourceParent: 1, SourceName: "g", TargetParent: 1, TargetName: "hard"}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.GetAttr(ctx, p, b, f.Ino); !errors.Is(err, ErrNotFound) {
		t.Fatalf("the replaced file's last name is gone, its inode must be too: %v", err)
	}
	if got, _ := svc.Lookup(ctx, p, b, 1, "hard"); got.Ino != g.Ino || string(readAll(t, svc, p, g.Ino)) != "g data" {
		t.Fatalf("rename target resolves to inode %d", got.Ino)
	}
	// a directory cannot move into itself
	x := mustCreate(t, svc, p, namespace.KindDir, namespace.RootIno, "x")
	y := mustCreate(t, svc, p, namespace.KindDir, x.Ino, "y")
	if err := svc.Rename(ctx, p, b, RenameInput{SourceParent: 1, SourceName: "x", TargetParent: y.Ino, TargetName: "x"}); !errors.Is(err, ErrLoop) {
		t.Fatalf("rename into a subdirectory: %v", err)
	}
	// a directory replaces an empty directory, not a non-empty one
	mustCreate(t, svc, p, namespace.KindDir, namespace.RootIno, "empty")
	if err := svc.Rename(ctx, p, b, RenameInput{SourceParent: y.Ino, SourceName: "..", TargetParent: 1, TargetName: "z"}); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalid) {
		t.Fatalf("rename of '..': %v", err)
	}
	if err := svc.Rename(ctx, p, b, RenameInput{SourceParent: 1, SourceName: "empty", TargetParent: 1, TargetName: "x"}); !errors.Is(err, ErrNotEmpty) {
		t.Fatalf("rename onto a non-empty directory: %v", err)
	}
	if err := svc.Rename(ctx, p, b, RenameInput{SourceParent: 1, SourceName: "x", TargetParent: 1, TargetName: "empty"}); err != nil {
		t.Fatalf("rename onto an empty directory: %v", err)
	}
	if got, err := svc.Lookup(ctx, p, b, 1, "empty"); err != nil || got.Ino != x.Ino {
		t.Fatalf("after replacing a directory: %+v %v", got, err)
	}
}

func TestSetAttr(t *testing.T) {
	svc, p, b := posixBucket(t, 4)
	ctx := context.Background()
	f := mustCreate(t, svc, p, namespace.KindFile, 1, "f")
	mode, uid, at, mt := uint32(0o4750), uint32(42), int64(1_000_000_123), int64(2_000_000_456)
	a, err := svc.SetAttr(ctx, p, b, f.Ino, SetAttrInput{Mode: &mode, Uid: &uid, AtimeNs: &at, MtimeNs: &mt})
	if err != nil || a.Mode != ModeFile|0o4750 || a.Uid != 42 || a.Gid != 8 || a.AtimeNs != at || a.MtimeNs != mt || a.CtimeNs <= f.CtimeNs {
		t.Fatalf("setattr: %+v %v", a, err)
	}
	size := int64(100)
	a, err = svc.SetAttr(ctx, p, b, f.Ino, SetAttrInput{Size: &size, MtimeNow: true})
	if err != nil || a.Size != 100 || a.MtimeNs == mt {
		t.Fatalf("grow: %+v %v", a, err)
	}
	if got := readAll(t, svc, p, f.Ino); !bytes.Equal(got, make([]byte, 100)) {
		t.Fatalf("a grown file reads %q", got)
	}
	d := mustCreate(t, svc, p, namespace.KindDir, 1, "d")
	if _, err := svc.SetAttr(ctx, p, b, d.Ino, SetAttrInput{Size: &size}); !errors.Is(err, ErrIsDirectory) {
		t.Fatalf("truncate of a directory: %v", err)
	}
}

func TestWriteInlineThenChunked(t *testing.T) {
	svc, p, _ := posixBucket(t, 5)
	f := mustCreate(t, svc, p, namespace.KindFile, 1, "f")
	writeAt(t, svc, p, f.Ino, 0, []byte("hello"))
	writeAt(t, svc, p, f.Ino, 8, []byte("world"))
	want := []byte("hello\x00\x00\x00world")
	if got := readAll(t, svc, p, f.Ino); !bytes.Equal(got, want) {
		t.Fatalf("inline writes read %q", got)
	}
	if c := content(t, svc, p, f.Ino); len(c.Inline) == 0 || len(c.Segments) != 0 {
		t.Fatalf("13 bytes under a 16-byte threshold must stay inline: %+v", c)
	}
	// crossing the threshold rewrites the inline bytes as extents (cover)
	a := writeAt(t, svc, p, f.Ino, 10, []byte("0123456789abcdefXYZ"))
	want = append(want[:10], []byte("0123456789abcdefXYZ")...)
	if got := readAll(t, svc, p, f.Ino); !bytes.Equal(got, want) || a.Size != int64(len(want)) {
		t.Fatalf("after crossing the threshold: %q (size %d)", got, a.Size)
	}
	if c := content(t, svc, p, f.Ino); len(c.Inline) != 0 || len(c.Segments) == 0 {
		t.Fatalf("content must be segmented now: %+v", c)
	}
}

func content(t tester, svc *Service, p Principal, ino uint64) event.Content {
	t.Helper()
	shard, err := svc.bucketShard(context.Background(), p, "fs")
	if err != nil {
		t.Fatal(err)
	}
	v := svc.log.LocalRead(shard)
	defer v.Close()
	in, err := namespace.GetInode(v, ino)
	if err != nil {
		t.Fatal(err)
	}
	c, err := namespace.FileContent(v, in)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// chunkIDs lists the chunks a file's content references, in order.
func chunkIDs(t tester, svc *Service, p Principal, ino uint64) []event.ChunkID {
	t.Helper()
	c := content(t, svc, p, ino)
	shard, _ := svc.bucketShard(context.Background(), p, "fs")
	v := svc.log.LocalRead(shard)
	defer v.Close()
	xs, err := namespace.ContentExtents(v, c, 0, c.Size)
	if err != nil {
		t.Fatal(err)
	}
	var out []event.ChunkID
	for _, x := range xs {
		if !x.IsHole() {
			out = append(out, x.Chunk)
		}
	}
	return out
}

// TestRandomWriteRewritesOnlyAffectedChunks: a small write into a large
// file leaves every chunk outside the written range referenced as before;
// the written bytes become new chunks.
func TestRandomWriteRewritesOnlyAffectedChunks(t *testing.T) {
	svc, p, _ := posixBucket(t, 6)
	f := mustCreate(t, svc, p, namespace.KindFile, 1, "big")
	data := make([]byte, 4096)
	for i := range data {
		data[i] = byte(i * 7)
	}
	writeAt(t, svc, p, f.Ino, 0, data)
	before := chunkIDs(t, svc, p, f.Ino)
	writeAt(t, svc, p, f.Ino, 2050, []byte("XYZ"))
	after := chunkIDs(t, svc, p, f.Ino)
	copy(data[2050:], "XYZ")
	if got := readAll(t, svc, p, f.Ino); !bytes.Equal(got, data) {
		t.Fatal("content differs after a random write")
	}
	old := map[event.ChunkID]bool{}
	for _, c := range before {
		old[c] = true
	}
	fresh := 0
	for _, c := range after {
		if !old[c] {
			fresh++
		}
	}
	if fresh != 1 || len(after) != len(before)+2 {
		t.Fatalf("a 3-byte write in the middle of a chunk: %d new chunks, %d → %d chunk references (want 1 new, +2: the split chunk's two ends)",
			fresh, len(before), len(after))
	}
}

// TestManySmallWritesShareChunks: one batch's spans are chunked as one
// stream, so 64 scattered 4-byte writes need a handful of 8-byte chunks,
// not one chunk each.
func TestManySmallWritesShareChunks(t *testing.T) {
	svc, p, _ := posixBucket(t, 7)
	f := mustCreate(t, svc, p, namespace.KindFile, 1, "scatter")
	var spans []WriteSpan
	var body []byte
	want := make([]byte, 64*100)
	for i := range 64 {
		off := int64(i * 100)
		chunk := []byte{byte(i), 1, 2, 3}
		spans = append(spans, WriteSpan{Offset: off, Len: 4})
		body = append(body, chunk...)
		copy(want[off:], chunk)
	}
	want = want[:63*100+4]
	if _, err := svc.WriteFile(context.Background(), p, "fs", WriteInput{Ino: f.Ino, Spans: spans, Data: bytes.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, svc, p, f.Ino); !bytes.Equal(got, want) {
		t.Fatal("scattered writes read back differently")
	}
	distinct := map[event.ChunkID]bool{}
	for _, c := range chunkIDs(t, svc, p, f.Ino) {
		distinct[c] = true
	}
	if len(distinct) > 256/8 {
		t.Fatalf("%d distinct chunks for 256 bytes in 8-byte chunks", len(distinct))
	}
}

func TestAppend(t *testing.T) {
	svc, p, b := posixBucket(t, 8)
	f := mustCreate(t, svc, p, namespace.KindFile, 1, "log")
	var want []byte
	for _, line := range []string{"one\n", "two\n", "a line longer than the inline threshold\n", "three\n"} {
		_, err := svc.WriteFile(context.Background(), p, b, WriteInput{Ino: f.Ino, Append: true,
			Spans: []WriteSpan{{Offset: 999, Len: int64(len(line))}}, Data: strings.NewReader(line)})
		if err != nil {
			t.Fatalf("append %q: %v", line, err)
		}
		want = append(want, line...)
	}
	if got := readAll(t, svc, p, f.Ino); !bytes.Equal(got, want) {
		t.Fatalf("appends read %q", got)
	}
}

func TestXattrs(t *testing.T) {
	svc, p, b := posixBucket(t, 9)
	ctx := context.Background()
	f := mustCreate(t, svc, p, namespace.KindFile, 1, "f")
	if _, err := svc.GetXattr(ctx, p, b, f.Ino, "user.a"); !errors.Is(err, ErrNoData) {
		t.Fatalf("missing xattr: %v", err)
	}
	if err := svc.SetXattr(ctx, p, b, f.Ino, "user.a", []byte("1"), XattrReplace); !errors.Is(err, ErrNoData) {
		t.Fatalf("XATTR_REPLACE of a missing xattr: %v", err)
	}
	if err := svc.SetXattr(ctx, p, b, f.Ino, "user.a", []byte("1"), XattrCreate); err != nil {
		t.Fatal(err)
	}
	if err := svc.SetXattr(ctx, p, b, f.Ino, "user.a", []byte("2"), XattrCreate); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("XATTR_CREATE of an existing xattr: %v", err)
	}
	if err := svc.SetXattr(ctx, p, b, f.Ino, "user.b", nil, XattrAny); err != nil {
		t.Fatal(err)
	}
	names, err := svc.ListXattrs(ctx, p, b, f.Ino)
	if err != nil || strings.Join(names, ",") != "user.a,user.b" {
		t.Fatalf("list: %v %v", names, err)
	}
	if v, err := svc.GetXattr(ctx, p, b, f.Ino, "user.b"); err != nil || len(v) != 0 {
		t.Fatalf("empty xattr: %q %v", v, err)
	}
	if err := svc.RemoveXattr(ctx, p, b, f.Ino, "user.a"); err != nil {
		t.Fatal(err)
	}
	if err := svc.RemoveXattr(ctx, p, b, f.Ino, "user.a"); !errors.Is(err, ErrNoData) {
		t.Fatalf("removing a missing xattr: %v", err)
	}
}

// TestCrossProtocol: an S3 PUT is a file under implied directories; a
// POSIX-written file is the same bytes through GetObject; mkdir is an
// explicit directory ("dir/" object) and a delete marker hides a file
// from POSIX.
func TestCrossProtocol(t *testing.T) {
	svc, p, b := posixBucket(t, 10)
	ctx := context.Background()
	put := func(key, body string) {
		if _, err := svc.PutObject(ctx, p, PutInput{Bucket: b, Key: key, Body: strings.NewReader(body)}); err != nil {
			t.Fatalf("put %s: %v", key, err)
		}
	}
	put("a/b/c.txt", "from s3, longer than sixteen bytes")
	a, err := svc.Lookup(ctx, p, b, 1, "a")
	if err != nil || a.Kind != namespace.KindDir {
		t.Fatalf("implied directory: %+v %v", a, err)
	}
	bdir, _ := svc.Lookup(ctx, p, b, a.Ino, "b")
	c, err := svc.Lookup(ctx, p, b, bdir.Ino, "c.txt")
	if err != nil || c.Mode&ModeTypeMask != ModeFile || string(readAll(t, svc, p, c.Ino)) != "from s3, longer than sixteen bytes" {
		t.Fatalf("S3 object as a file: %+v %v", c, err)
	}
	f := mustCreate(t, svc, p, namespace.KindFile, bdir.Ino, "posix.bin")
	writeAt(t, svc, p, f.Ino, 0, []byte("written through POSIX, chunked"))
	o, err := svc.GetObject(ctx, p, b, "a/b/posix.bin", "")
	if err != nil {
		t.Fatal(err)
	}
	r := o.Open(0, o.Info.Size)
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "written through POSIX, chunked" {
		t.Fatalf("GET of a POSIX file: %q", got)
	}
	// Its ETag cannot be an MD5 of bytes S3 never saw: it must read as a
	// non-MD5 tag (with a dash), not the empty body's MD5.
	if etag := o.Info.ETag(); etag == EmptyETag || !strings.Contains(etag, "-") {
		t.Fatalf("ETag of a POSIX-written file: %s", etag)
	}
	mustCreate(t, svc, p, namespace.KindDir, a.Ino, "made")
	out, err := svc.ListObjects(ctx, p, b, ListInput{Prefix: "a/", Delimiter: "/", MaxKeys: 100})
	if err != nil || strings.Join(out.CommonPrefixes, ",") != "a/b/,a/made/" {
		t.Fatalf("common prefixes: %v %v", out.CommonPrefixes, err)
	}
	all, _ := svc.ListObjects(ctx, p, b, ListInput{MaxKeys: 100})
	var keys []string
	for _, o := range all.Objects {
		keys = append(keys, o.Key)
	}
	if strings.Join(keys, ",") != "a/b/c.txt,a/b/posix.bin,a/made/" {
		t.Fatalf("keys: %v", keys)
	}
	if err := svc.SetVersioning(ctx, p, b, namespace.VersioningEnabled); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DeleteObject(ctx, p, b, "a/b/c.txt", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Lookup(ctx, p, b, bdir.Ino, "c.txt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("a delete marker must hide the file: %v", err)
	}
	if _, err := svc.GetAttr(ctx, p, b, c.Ino); !errors.Is(err, ErrNotFound) {
		t.Fatalf("getattr of a hidden inode: %v", err)
	}
}

// TestWritesAgainstModel: random writes, appends and truncates of one
// file, read back after each step, match a byte-slice model.
func TestWritesAgainstModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		svc, p, b := posixBucket(t, 11)
		f := mustCreate(rt, svc, p, namespace.KindFile, 1, "m")
		var model []byte
		for step := range rapid.IntRange(1, 12).Draw(rt, "steps") {
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1:
				n := rapid.IntRange(1, 40).Draw(rt, "spans")
				spans, body := drawSpans(rt, n)
				if _, err := svc.WriteFile(context.Background(), p, b, WriteInput{Ino: f.Ino, Spans: spans, Data: bytes.NewReader(body)}); err != nil {
					rt.Fatal(err)
				}
				pos := 0
				for _, s := range spans {
					model = writeModel(model, s.Offset, body[pos:pos+int(s.Len)])
					pos += int(s.Len)
				}
			case 2:
				data := []byte(rapid.StringN(1, 30, -1).Draw(rt, "append"))
				if _, err := svc.WriteFile(context.Background(), p, b, WriteInput{Ino: f.Ino, Append: true,
					Spans: []WriteSpan{{Len: int64(len(data))}}, Data: bytes.NewReader(data)}); err != nil {
					rt.Fatal(err)
				}
				model = append(model, data...)
			case 3:
				size := int64(rapid.IntRange(0, 200).Draw(rt, "size"))
				if _, err := svc.SetAttr(context.Background(), p, b, f.Ino, SetAttrInput{Size: &size}); err != nil {
					rt.Fatal(err)
				}
				model = writeModel(model[:min(len(model), int(size))], size, nil)
			}
			if got := readAll(rt, svc, p, f.Ino); !bytes.Equal(got, model) {
				rt.Fatalf("step %d: read %q, model %q", step, got, model)
			}
		}
	})
}

func drawSpans(rt *rapid.T, n int) ([]WriteSpan, []byte) {
	var spans []WriteSpan
	var body []byte
	for i := range n {
		off := int64(rapid.IntRange(0, 150).Draw(rt, "off"))
		l := rapid.IntRange(1, 20).Draw(rt, "len")
		spans = append(spans, WriteSpan{Offset: off, Len: int64(l)})
		for j := range l {
			body = append(body, byte('a'+(i+j)%26))
		}
	}
	return spans, body
}

// writeModel writes data at off, zero-filling any gap.
func writeModel(m []byte, off int64, data []byte) []byte {
	end := off + int64(len(data))
	if int64(len(m)) < end {
		m = append(m, make([]byte, end-int64(len(m)))...)
	}
	copy(m[off:], data)
	return m
}

func TestSliceStream(t *testing.T) {
	a, b := event.ChunkID{1}, event.ChunkID{2}
	xs := []event.Extent{{Len: 10, Chunk: a, ChunkLen: 10}, {Len: 6, Chunk: b, ChunkLen: 6}}
	got := sliceStream(xs, 8, 12)
	want := []event.Extent{{Len: 2, Chunk: a, ChunkOff: 8, ChunkLen: 10}, {Len: 2, Chunk: b, ChunkLen: 6}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("slice [8,12): %+v", got)
	}
	if got := sliceStream(xs, 10, 16); len(got) != 1 || got[0] != xs[1] {
		t.Fatalf("slice [10,16): %+v", got)
	}
}

func TestKeyOfWalksToTheRoot(t *testing.T) {
	svc, p, _ := posixBucket(t, 12)
	a := mustCreate(t, svc, p, namespace.KindDir, 1, "a")
	bdir := mustCreate(t, svc, p, namespace.KindDir, a.Ino, "b")
	shard, _ := svc.bucketShard(context.Background(), p, "fs")
	v := svc.log.LocalRead(shard)
	defer v.Close()
	if k := keyOf(v, bdir.Ino, "f", namespace.KindFile); k != "a/b/f" {
		t.Fatalf("file key %q", k)
	}
	if k := keyOf(v, bdir.Ino, "d", namespace.KindDir); k != "a/b/d/" {
		t.Fatalf("directory key %q", k)
	}
}
