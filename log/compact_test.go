package log

import (
	"errors"
	"testing"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
)

// TestEventsCompactedKeepsReplayEqual: event GC folds old events into the
// shard's base and deletes them; the projection is unchanged, a replay
// from the base equals the live shard, a replay to a moment before the
// point says the history is gone, and the point only moves forward.
func TestEventsCompactedKeepsReplayEqual(t *testing.T) {
	s := kv.NewMem()
	a, err := NewApplier(1000, KindNamespace, nil)
	if err != nil {
		t.Fatal(err)
	}
	put := func(id byte, key string) event.Body {
		return &event.ObjectPut{Key: key, VersionID: "null", Content: event.Content{Size: 2, Inline: []byte("hi")}, MtimeNs: int64(id)}
	}
	bodies := []event.Body{&event.NamespaceOpened{Name: "b", CreatedNs: 1}, put(2, "x"), put(3, "y"), put(4, "x")}
	for i, b := range bodies {
		if res, err := apply(t, a, s, proposal(t, nsClear(t, byte(i+1), b))); err != nil || res.Status != StatusAccepted {
			t.Fatalf("event %d: %+v %v", i, res, err)
		}
	}
	before := snapshotPrefix(s, ProjectionPrefix(1000))
	if res, _ := apply(t, a, s, proposal(t, nsClear(t, 9, &event.EventsCompacted{ThroughSeq: 3}))); res.Status != StatusAccepted {
		t.Fatalf("compaction: %+v", res)
	}
	if res, _ := apply(t, a, s, proposal(t, nsClear(t, 10, &event.EventsCompacted{ThroughSeq: 2}))); res.Status != StatusRejected {
		t.Fatalf("backwards compaction: %+v", res)
	}
	if got := snapshotPrefix(s, ProjectionPrefix(1000)); len(got) != len(before) {
		t.Fatalf("projection changed by compaction")
	}
	if _, ok, _ := s.Get(eventKey(1000, 3)); ok {
		t.Fatal("compacted event still stored")
	}
	dst := kv.NewMem()
	b := dst.NewBatch()
	if _, err := Replay(s, 1000, KindNamespace, nil, b, nil); err != nil {
		t.Fatal(err)
	}
	_ = b.Commit(false)
	if d, _ := DiffShard(s, dst, 1000); d != "" {
		t.Fatalf("replay from the base differs: %s", d)
	}
	b = kv.NewMem().NewBatch()
	_, err = Replay(s, 1000, KindNamespace, nil, b, func(e *event.Envelope) bool { return e.Seq >= 4 })
	if !errors.Is(err, ErrCompacted) {
		t.Fatalf("replay to before the point: %v", err)
	}
}

func nsClear(t *testing.T, id byte, body event.Body) []byte {
	t.Helper()
	raw, err := event.EncodeBody(body)
	if err != nil {
		t.Fatal(err)
	}
	e := event.Envelope{Version: event.FormatVersion, Type: body.EventType(), Shard: 1000, Tenant: 7, ID: event.ID{id}, Payload: raw}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func snapshotPrefix(s *kv.Mem, pre []byte) []string {
	var out []string
	_ = kv.Scan(s, pre, kv.PrefixEnd(pre), func(k, v []byte) error {
		out = append(out, string(k)+"="+string(v))
		return nil
	})
	return out
}
