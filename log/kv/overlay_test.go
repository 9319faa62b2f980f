package kv

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

// TestOverlayMatchesBatch: an Overlay over a store must read exactly like
// a batch on that store given the same writes, and replaying it with
// ApplyTo must leave the store as committing the batch would.
func TestOverlayMatchesBatch(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		keyGen := rapid.SliceOfN(rapid.ByteRange(0, 3), 1, 3)
		seedOps := rapid.IntRange(0, 15).Draw(rt, "seed ops")
		var seeds [][2][]byte
		for i := 0; i < seedOps; i++ {
			seeds = append(seeds, [2][]byte{keyGen.Draw(rt, "k"), rapid.SliceOfN(rapid.Byte(), 0, 3).Draw(rt, "v")})
		}
		mk := func() *Mem {
			m := NewMem()
			b := m.NewBatch()
			for _, s := range seeds {
				_ = b.Set(s[0], s[1])
			}
			if err := b.Commit(false); err != nil {
				rt.Fatal(err)
			}
			return m
		}
		left, right := mk(), mk()
		batch := left.NewBatch()
		over := NewOverlay(right)
		for n := rapid.IntRange(0, 25).Draw(rt, "ops"); n > 0; n-- {
			k := keyGen.Draw(rt, "key")
			switch rapid.IntRange(0, 3).Draw(rt, "op") {
			case 0, 1:
				v := rapid.SliceOfN(rapid.Byte(), 0, 3).Draw(rt, "value")
				_ = batch.Set(k, v)
				_ = over.Set(k, v)
			case 2:
				_ = batch.Delete(k)
				_ = over.Delete(k)
			case 3:
				end := keyGen.Draw(rt, "end")
				if bytes.Compare(k, end) > 0 {
					k, end = end, k
				}
				_ = batch.DeleteRange(k, end)
				_ = over.DeleteRange(k, end)
			}
			lo := keyGen.Draw(rt, "lo")
			if d := cmp.Diff(scanFrom(rt, batch, lo), scanFrom(rt, over, lo)); d != "" {
				rt.Fatalf("overlay view differs from batch (-batch +overlay):\n%s", d)
			}
			gb, okb, _ := batch.Get(k)
			go_, oko, _ := over.Get(k)
			if okb != oko || !bytes.Equal(gb, go_) {
				rt.Fatalf("Get(%x): batch %v %x, overlay %v %x", k, okb, gb, oko, go_)
			}
		}
		if err := batch.Commit(false); err != nil {
			rt.Fatal(err)
		}
		rb := right.NewBatch()
		if err := over.ApplyTo(rb); err != nil {
			rt.Fatal(err)
		}
		if err := rb.Commit(false); err != nil {
			rt.Fatal(err)
		}
		if d := cmp.Diff(dump(rt, left), dump(rt, right)); d != "" {
			rt.Fatalf("ApplyTo result differs (-batch +overlay):\n%s", d)
		}
	})
}

// scanFrom lists keys from SeekGE(lo), exercising seeks as well as Next.
func scanFrom(t interface{ Fatalf(string, ...any) }, r Reader, lo []byte) []string {
	it := r.NewIter(nil, nil)
	defer it.Close()
	var out []string
	for ok := it.SeekGE(lo); ok; ok = it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	return out
}
