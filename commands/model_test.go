package commands

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"sort"
	"strings"
	"testing"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// The model of one bucket: every key's versions, newest first.
type modelVersion struct {
	id     string
	data   []byte
	marker bool
}

type model struct {
	versioning string
	keys       map[string][]modelVersion // file keys
	folders    map[string]bool           // explicit folder keys ("c/")
}

func (m *model) fileExists(k string) bool { return len(m.keys[k]) > 0 }

func (m *model) dirExists(d string) bool {
	if m.folders[d+"/"] {
		return true
	}
	for k, vs := range m.keys {
		if len(vs) > 0 && strings.HasPrefix(k, d+"/") {
			return true
		}
	}
	for f := range m.folders {
		if strings.HasPrefix(f, d+"/") {
			return true
		}
	}
	return false
}

// putAllowed applies the tree rule: no component may be a file, and a file
// key may not name a directory.
func (m *model) putAllowed(k string) bool {
	parts := strings.Split(strings.TrimSuffix(k, "/"), "/")
	for i := 1; i < len(parts); i++ {
		if m.fileExists(strings.Join(parts[:i], "/")) {
			return false
		}
	}
	if strings.HasSuffix(k, "/") {
		return !m.fileExists(strings.TrimSuffix(k, "/"))
	}
	return !m.dirExists(k)
}

// visible lists the keys a listing shows, in order.
func (m *model) visible() []string {
	var out []string
	for k, vs := range m.keys {
		if len(vs) > 0 && !vs[0].marker {
			out = append(out, k)
		}
	}
	for f := range m.folders {
		if m.folders[f] {
			out = append(out, f)
		}
	}
	sort.Strings(out)
	return out
}

var (
	fileKeys   = []string{"a", "b", "a/x", "a/y/z", "c/d", "e/f", "a-b"}
	folderKeys = []string{"c/", "e/", "a/y/"}
	bodies     = [][]byte{nil, []byte("tiny"), []byte("exactly sixteen!"), bytes.Repeat([]byte("ab"), 20), bytes.Repeat([]byte("ab"), 21),
		[]byte("0123456789abcdefghijklmnopqrstuvwxyz0123456789")}
)

// TestNamespaceAgainstModel drives random S3 operations through the real
// Service, apply path and namespace projection, and after each checks
// reads, listings, version listings and chunk reference counts against a
// naive model; at the end, replaying every shard's events must rebuild
// the live state byte for byte.
func TestNamespaceAgainstModel(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		svc, ml, p := testService(t, byte(rapid.IntRange(0, 255).Draw(rt, "seed")))
		ctx := context.Background()
		if err := svc.CreateBucket(ctx, p, "bkt"); err != nil {
			rt.Fatal(err)
		}
		m := &model{keys: map[string][]modelVersion{}, folders: map[string]bool{}}
		for n := rapid.IntRange(1, 40).Draw(rt, "ops"); n > 0; n-- {
			step(rt, svc, p, m)
			check(rt, svc, ml, p, m)
		}
		checkReplay(rt, ml)
	})
}

func step(rt *rapid.T, svc *Service, p Principal, m *model) {
	ctx := context.Background()
	switch rapid.IntRange(0, 9).Draw(rt, "op") {
	case 0, 1, 2, 3:
		k := rapid.SampledFrom(fileKeys).Draw(rt, "key")
		body := rapid.SampledFrom(bodies).Draw(rt, "body")
		info, err := svc.PutObject(ctx, p, PutInput{Bucket: "bkt", Key: k, Body: bytes.NewReader(body)})
		if !m.putAllowed(k) {
			expectErr(rt, err, ErrParentNotDirectory, ErrIsDirectory)
			return
		}
		if err != nil {
			rt.Fatalf("put %s: %v", k, err)
		}
		m.addVersion(k, modelVersion{id: info.VersionID, data: body})
	case 4:
		f := rapid.SampledFrom(folderKeys).Draw(rt, "folder")
		_, err := svc.PutObject(ctx, p, PutInput{Bucket: "bkt", Key: f, Body: bytes.NewReader(nil)})
		if !m.putAllowed(f) {
			expectErr(rt, err, ErrParentNotDirectory)
			return
		}
		if err != nil {
			rt.Fatalf("put folder %s: %v", f, err)
		}
		m.folders[f] = true
	case 5, 6:
		k := rapid.SampledFrom(append(append([]string(nil), fileKeys...), folderKeys...)).Draw(rt, "delete")
		res, err := svc.DeleteObject(ctx, p, "bkt", k, "")
		if err != nil {
			rt.Fatalf("delete %s: %v", k, err)
		}
		m.delete(rt, k, res)
	case 7:
		k := rapid.SampledFrom(fileKeys).Draw(rt, "key")
		if len(m.keys[k]) == 0 {
			return
		}
		i := rapid.IntRange(0, len(m.keys[k])-1).Draw(rt, "version")
		id := m.keys[k][i].id
		if _, err := svc.DeleteObject(ctx, p, "bkt", k, id); err != nil {
			rt.Fatalf("delete %s version %s: %v", k, id, err)
		}
		m.keys[k] = append(m.keys[k][:i:i], m.keys[k][i+1:]...)
	case 8:
		status := rapid.SampledFrom([]string{namespace.VersioningEnabled, namespace.VersioningSuspended}).Draw(rt, "versioning")
		if err := svc.SetVersioning(ctx, p, "bkt", status); err != nil {
			rt.Fatal(err)
		}
		m.versioning = status
	case 9:
		src := rapid.SampledFrom(fileKeys).Draw(rt, "src")
		dst := rapid.SampledFrom(fileKeys).Draw(rt, "dst")
		o, err := svc.GetObject(ctx, p, "bkt", src, "")
		if len(m.keys[src]) == 0 || m.keys[src][0].marker {
			expectErr(rt, err, ErrNotFound)
			return
		}
		if err != nil {
			rt.Fatalf("get copy source %s: %v", src, err)
		}
		info, err := svc.CopyObject(ctx, p, o, CopyInput{Bucket: "bkt", Key: dst})
		if !m.putAllowed(dst) {
			expectErr(rt, err, ErrParentNotDirectory, ErrIsDirectory)
			return
		}
		if err != nil {
			rt.Fatalf("copy %s to %s: %v", src, dst, err)
		}
		m.addVersion(dst, modelVersion{id: info.VersionID, data: m.keys[src][0].data})
	}
}

func expectErr(rt *rapid.T, err error, kinds ...error) {
	for _, k := range kinds {
		if errors.Is(err, k) {
			return
		}
	}
	rt.Fatalf("error %v, want one of %v", err, kinds)
}

func (m *model) addVersion(k string, v modelVersion) {
	vs := m.keys[k]
	if m.versioning != namespace.VersioningEnabled {
		vs = removeNull(vs)
	}
	m.keys[k] = append([]modelVersion{v}, vs...)
}

func removeNull(vs []modelVersion) []modelVersion {
	var out []modelVersion
	for _, v := range vs {
		if v.id != namespace.NullVersion {
			out = append(out, v)
		}
	}
	return out
}

func (m *model) delete(rt *rapid.T, k string, res DeleteResult) {
	if strings.HasSuffix(k, "/") {
		delete(m.folders, k)
		return
	}
	if len(m.keys[k]) == 0 {
		if res.DeleteMarker {
			rt.Fatalf("delete of absent %s placed a marker", k)
		}
		return
	}
	if m.versioning == "" {
		delete(m.keys, k)
		return
	}
	if !res.DeleteMarker {
		rt.Fatalf("versioned delete of %s placed no marker", k)
	}
	m.addVersion(k, modelVersion{id: res.VersionID, marker: true})
}

func check(rt *rapid.T, svc *Service, ml *memLog, p Principal, m *model) {
	ctx := context.Background()
	for _, k := range fileKeys {
		o, err := svc.GetObject(ctx, p, "bkt", k, "")
		vs := m.keys[k]
		if len(vs) == 0 || vs[0].marker {
			if !errors.Is(err, ErrNotFound) {
				rt.Fatalf("get %s: %v, model says absent", k, err)
			}
			continue
		}
		if err != nil {
			rt.Fatalf("get %s: %v", k, err)
		}
		r := o.Open(0, o.Info.Size)
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || !bytes.Equal(got, vs[0].data) {
			rt.Fatalf("get %s = %q (%v), want %q", k, got, err, vs[0].data)
		}
	}
	out, err := svc.ListObjects(ctx, p, "bkt", ListInput{MaxKeys: 1000})
	if err != nil {
		rt.Fatal(err)
	}
	var listed []string
	for _, o := range out.Objects {
		listed = append(listed, o.Key)
	}
	if d := cmp.Diff(m.visible(), listed); d != "" {
		rt.Fatalf("listing (-model +got):\n%s", d)
	}
	checkVersions(rt, svc, p, m)
	checkRefs(rt, ml, m)
}

func checkVersions(rt *rapid.T, svc *Service, p Principal, m *model) {
	out, err := svc.ListVersions(context.Background(), p, "bkt", VersionsInput{MaxKeys: 10000})
	if err != nil {
		rt.Fatal(err)
	}
	got := map[string][]string{}
	for _, v := range out.Versions {
		if !strings.HasSuffix(v.Key, "/") {
			got[v.Key] = append(got[v.Key], v.VersionID)
		}
	}
	want := map[string][]string{}
	for k, vs := range m.keys {
		for _, v := range vs {
			want[k] = append(want[k], v.id)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		rt.Fatalf("versions (-model +got):\n%s", d)
	}
}

// checkRefs: the shard's per-chunk reference counts equal the chunk
// references of every live version in the model (8-byte fixed chunks of
// every body over the inline threshold).
func checkRefs(rt *rapid.T, ml *memLog, m *model) {
	want := map[[32]byte]uint64{}
	for _, vs := range m.keys {
		for _, v := range vs {
			if len(v.data) <= 16 {
				continue
			}
			for i := 0; i < len(v.data); i += 8 {
				want[sha256.Sum256(v.data[i:min(i+8, len(v.data))])]++
			}
		}
	}
	got := map[[32]byte]uint64{}
	v := ml.LocalRead(1000)
	defer v.Close()
	if err := namespace.ChunkRefTotals(v, func(c [32]byte, n uint64) error {
		got[c] = n
		return nil
	}); err != nil {
		rt.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		rt.Fatalf("chunk reference counts (-model +got):\n%s", d)
	}
}

// checkReplay: folding each shard's stored events into a fresh store gives
// the live state byte for byte.
func checkReplay(rt *rapid.T, ml *memLog) {
	ids, err := annallog.Shards(ml.store)
	if err != nil {
		rt.Fatal(err)
	}
	for _, id := range ids {
		kind, err := annallog.StoredKind(ml.store, id)
		if err != nil {
			rt.Fatal(err)
		}
		fresh := kv.NewMem()
		b := fresh.NewBatch()
		if _, err := annallog.Replay(ml.store, id, kind, ml.payloads, b, nil); err != nil {
			rt.Fatalf("replay shard %d: %v", id, err)
		}
		if err := b.Commit(false); err != nil {
			rt.Fatal(err)
		}
		// The live store also holds applied indexes, which DiffShard skips.
		diff, err := annallog.DiffShard(ml.store, fresh, id)
		if err != nil {
			rt.Fatal(err)
		}
		if diff != "" {
			rt.Fatalf("shard %d: replay differs from live state: %s", id, diff)
		}
	}
}
