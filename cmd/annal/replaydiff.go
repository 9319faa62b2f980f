package main

import (
	"fmt"
	"io"
	"sort"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// Forensic diff (ADR-014): `annal replay --diff-from T1 --until T2`
// rebuilds every namespace shard as of T1 and as of T2 and lists, per
// bucket, the keys added, changed (new current version or content) and
// removed between the two moments.

// objectState is what the diff compares of one key.
type objectState struct {
	version string
	mtime   int64
	size    int64
}

// namespaceAt replays one namespace shard up to stop into a scratch store
// and returns its bucket name and visible keys.
func namespaceAt(live kv.Reader, shard uint64, keys event.PayloadCipher, stop func(*event.Envelope) bool) (string, map[string]objectState, error) {
	dst := kv.NewMem()
	b := dst.NewBatch()
	if _, err := annallog.Replay(live, shard, annallog.KindNamespace, keys, b, stop); err != nil {
		b.Close()
		return "", nil, err
	}
	if err := b.Commit(false); err != nil {
		return "", nil, err
	}
	v := annallog.ProjectionReader(dst, shard)
	meta, err := namespace.GetMeta(v)
	if err != nil {
		return "", map[string]objectState{}, nil // not opened yet then
	}
	out := map[string]objectState{}
	err = namespace.Walk(v, namespace.WalkOptions{}, func(e namespace.WalkEntry) (bool, error) {
		st := objectState{mtime: e.Inode.MtimeNs}
		if ver, ok, err := namespace.CurrentVersion(v, e.Inode); err == nil && ok {
			st.version, st.size = ver.ID, ver.Content.Size
		}
		out[e.Key] = st
		return true, nil
	})
	return meta.Name, out, err
}

// diffNamespaces prints the changes of every namespace shard between the
// moments from and to; it returns how many it found.
func diffNamespaces(w io.Writer, live kv.Reader, shards []uint64, keys event.PayloadCipher, from, to func(*event.Envelope) bool) (int, error) {
	n := 0
	for _, id := range shards {
		if k, _ := annallog.StoredKind(live, id); k != annallog.KindNamespace {
			continue
		}
		nameA, a, err := namespaceAt(live, id, keys, from)
		if err != nil {
			return n, fmt.Errorf("shard %d at --diff-from: %w", id, err)
		}
		nameB, b, err := namespaceAt(live, id, keys, to)
		if err != nil {
			return n, fmt.Errorf("shard %d at --until: %w", id, err)
		}
		bucket := nameB
		if bucket == "" {
			bucket = nameA
		}
		for _, line := range diffKeys(a, b) {
			fmt.Fprintf(w, "%s\t%s/%s\n", line[0], bucket, line[1])
			n++
		}
	}
	return n, nil
}

// diffKeys lists (change, key) pairs in key order.
func diffKeys(a, b map[string]objectState) [][2]string {
	var out [][2]string
	for k, sb := range b {
		sa, ok := a[k]
		switch {
		case !ok:
			out = append(out, [2]string{"added", k})
		case sa != sb:
			out = append(out, [2]string{"changed", k})
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, [2]string{"removed", k})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i][1] < out[j][1] })
	return out
}
