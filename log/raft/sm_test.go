package raft

import (
	"bytes"
	"fmt"
	"testing"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/kv"
)

func filledStore(t *testing.T, shard uint64, n int) *kv.Mem {
	t.Helper()
	m := kv.NewMem()
	b := m.NewBatch()
	pre := annallog.ShardPrefix(shard)
	for i := range n {
		_ = b.Set(append(append([]byte(nil), pre...), fmt.Sprintf("p/key-%05d", i)...), bytes.Repeat([]byte{byte(i)}, i%300))
	}
	_ = annallog.SetAppliedIndex(b, shard, 4242)
	// A neighbour shard's keys must not travel with the snapshot.
	_ = b.Set(append(annallog.ShardPrefix(shard+1), "p/other"...), []byte("x"))
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	return m
}

func snapshotBytes(t *testing.T, sm *stateMachine) []byte {
	t.Helper()
	ctx, err := sm.PrepareSnapshot()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := sm.SaveSnapshot(ctx, &buf, make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestSnapshotRoundTrip: a shard's key space streams out (encrypted, the
// applied index last) and restores into another store exactly, replacing
// what the shard had there; a flipped byte or a truncated stream is
// refused.
func TestSnapshotRoundTrip(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	src := &stateMachine{shard: 7, store: filledStore(t, 7, 5000), snapshotKey: key}
	raw := snapshotBytes(t, src)
	if bytes.Contains(raw, []byte("key-00042")) {
		t.Fatal("snapshot stream holds plaintext")
	}
	dstStore := kv.NewMem()
	b := dstStore.NewBatch()
	_ = b.Set(append(annallog.ShardPrefix(7), "p/stale"...), []byte("old"))
	_ = b.Commit(false)
	dst := &stateMachine{shard: 7, store: dstStore, snapshotKey: key}
	if err := dst.RecoverFromSnapshot(bytes.NewReader(raw), make(chan struct{})); err != nil {
		t.Fatal(err)
	}
	if diff, err := annallog.DiffShard(src.store, dstStore, 7); err != nil || diff != "" {
		t.Fatalf("restored shard differs: %s %v", diff, err)
	}
	if idx, _ := annallog.AppliedIndex(dstStore, 7); idx != 4242 {
		t.Fatalf("applied index %d", idx)
	}
	if _, ok, _ := dstStore.Get(append(annallog.ShardPrefix(8), "p/other"...)); ok {
		t.Fatal("a neighbour shard's key travelled with the snapshot")
	}
	for name, bad := range map[string][]byte{
		"flipped":   flip(raw, len(raw)/2),
		"truncated": raw[:len(raw)-100],
	} {
		other := &stateMachine{shard: 7, store: kv.NewMem(), snapshotKey: key}
		if err := other.RecoverFromSnapshot(bytes.NewReader(bad), make(chan struct{})); err == nil {
			t.Errorf("%s snapshot accepted", name)
		}
	}
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 1
	return c
}
