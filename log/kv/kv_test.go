package kv

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// dump returns every key/value pair in the store, in order.
func dump(t interface{ Fatalf(string, ...any) }, r Reader) []string {
	var out []string
	if err := Scan(r, nil, nil, func(k, v []byte) error {
		out = append(out, fmt.Sprintf("%x=%x", k, v))
		return nil
	}); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return out
}

// TestDifferentialMemPebble: the same random operation sequence, applied in
// random batches to the in-memory store and to Pebble, must leave both with
// identical contents, and every read along the way (point and ranged,
// through batches that hold uncommitted writes) must agree.
func TestDifferentialMemPebble(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		p, err := OpenPebble(t.TempDir(), PebbleOptions{})
		if err != nil {
			rt.Fatalf("open: %v", err)
		}
		defer p.Close()
		m := NewMem()
		stores := []Store{m, p}
		keyGen := rapid.SliceOfN(rapid.ByteRange(0, 4), 1, 3)
		for batchNo := rapid.IntRange(1, 8).Draw(rt, "batches"); batchNo > 0; batchNo-- {
			batches := []Batch{m.NewBatch(), p.NewBatch()}
			for n := rapid.IntRange(0, 20).Draw(rt, "ops"); n > 0; n-- {
				k := keyGen.Draw(rt, "key")
				switch rapid.IntRange(0, 4).Draw(rt, "op") {
				case 0, 1:
					v := rapid.SliceOfN(rapid.Byte(), 0, 4).Draw(rt, "value")
					for _, b := range batches {
						if err := b.Set(k, v); err != nil {
							rt.Fatalf("set: %v", err)
						}
					}
				case 2:
					for _, b := range batches {
						if err := b.Delete(k); err != nil {
							rt.Fatalf("delete: %v", err)
						}
					}
				case 3:
					end := keyGen.Draw(rt, "end")
					if bytes.Compare(k, end) > 0 {
						k, end = end, k
					}
					for _, b := range batches {
						if err := b.DeleteRange(k, end); err != nil {
							rt.Fatalf("delete range: %v", err)
						}
					}
				case 4:
					var got [][]byte
					for _, b := range batches {
						v, ok, err := b.Get(k)
						if err != nil {
							rt.Fatalf("get: %v", err)
						}
						got = append(got, []byte(fmt.Sprintf("%v %x", ok, v)))
					}
					if !bytes.Equal(got[0], got[1]) {
						rt.Fatalf("batch get %x: mem %s pebble %s", k, got[0], got[1])
					}
					if d := cmp.Diff(dump(rt, batches[0]), dump(rt, batches[1])); d != "" {
						rt.Fatalf("batch views differ (-mem +pebble):\n%s", d)
					}
				}
			}
			commit := rapid.Bool().Draw(rt, "commit")
			for _, b := range batches {
				if commit {
					if err := b.Commit(false); err != nil {
						rt.Fatalf("commit: %v", err)
					}
				} else if err := b.Close(); err != nil {
					rt.Fatalf("close: %v", err)
				}
			}
			if d := cmp.Diff(dump(rt, stores[0]), dump(rt, stores[1])); d != "" {
				rt.Fatalf("stores differ (-mem +pebble):\n%s", d)
			}
		}
	})
}

func TestIteratorBoundsAndSeek(t *testing.T) {
	for _, s := range []Store{NewMem(), mustPebble(t)} {
		b := s.NewBatch()
		for _, k := range []string{"a", "b", "ba", "bb", "c"} {
			if err := b.Set([]byte(k), []byte("v"+k)); err != nil {
				t.Fatal(err)
			}
		}
		if err := b.Commit(true); err != nil {
			t.Fatal(err)
		}
		it := s.NewIter([]byte("b"), PrefixEnd([]byte("b")))
		var keys []string
		for ok := it.First(); ok; ok = it.Next() {
			keys = append(keys, string(it.Key()))
		}
		if !it.SeekGE([]byte("baa")) || string(it.Key()) != "bb" {
			t.Errorf("%T SeekGE(baa) = %q, want bb", s, it.Key())
		}
		if it.SeekGE([]byte("bc")) {
			t.Errorf("%T SeekGE past upper bound is valid", s)
		}
		it.Close()
		if d := cmp.Diff([]string{"b", "ba", "bb"}, keys); d != "" {
			t.Errorf("%T keys (-want +got):\n%s", s, d)
		}
		snap := s.NewSnapshot()
		b = s.NewBatch()
		_ = b.Delete([]byte("a"))
		if err := b.Commit(false); err != nil {
			t.Fatal(err)
		}
		if _, ok, _ := snap.Get([]byte("a")); !ok {
			t.Errorf("%T snapshot lost a key deleted after it was taken", s)
		}
		snap.Close()
		s.Close()
	}
}

func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct{ in, want []byte }{
		{[]byte("ab"), []byte("ac")},
		{[]byte{1, 0xff}, []byte{2}},
		{[]byte{0xff, 0xff}, nil},
	} {
		if got := PrefixEnd(c.in); !bytes.Equal(got, c.want) {
			t.Errorf("PrefixEnd(%x) = %x, want %x", c.in, got, c.want)
		}
	}
}

func mustPebble(t *testing.T) *Pebble {
	p, err := OpenPebble(t.TempDir(), PebbleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPrefixWriterIsolates(t *testing.T) {
	m := NewMem()
	b := m.NewBatch()
	a := PrefixWriter(b, []byte("a/"))
	c := PrefixWriter(b, []byte("c/"))
	for _, w := range []Writer{a, c} {
		if err := w.Set([]byte("k1"), []byte("v")); err != nil {
			t.Fatal(err)
		}
		if err := w.Set([]byte("k2"), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if err := a.DeleteRange([]byte("k2"), nil); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(false); err != nil {
		t.Fatal(err)
	}
	want := []string{"612f6b31=76", "632f6b31=76", "632f6b32=76"}
	if d := cmp.Diff(want, dump(t, m)); d != "" {
		t.Fatalf("(-want +got):\n%s", d)
	}
	var keys []string
	_ = Scan(PrefixReader(m, []byte("c/")), nil, nil, func(k, _ []byte) error {
		keys = append(keys, string(k))
		return nil
	})
	if d := cmp.Diff([]string{"k1", "k2"}, keys); d != "" {
		t.Fatalf("prefixed scan (-want +got):\n%s", d)
	}
}
