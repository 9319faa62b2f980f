package hlc

import (
	"testing"

	"pgregory.net/rapid"
)

// TestMonotonic: whatever the physical clock does (jumps, regressions,
// stalls) and whatever remote timestamps are observed, each reading is
// strictly greater than the previous reading and every observed timestamp.
func TestMonotonic(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		phys := int64(1000)
		c := New(func() int64 { return phys }, 7)
		var prev Timestamp
		for i := rapid.IntRange(1, 200).Draw(rt, "n"); i > 0; i-- {
			phys += rapid.Int64Range(-50, 50).Draw(rt, "step")
			if rapid.Bool().Draw(rt, "observe") {
				seen := Timestamp{WallMs: phys + rapid.Int64Range(-100, 100).Draw(rt, "skew"), Logical: rapid.Uint32Range(0, 5).Draw(rt, "l"), Node: 3}
				c.Update(seen)
				now := c.Now()
				if !seen.Less(now) {
					rt.Fatalf("reading %v not after observed %v", now, seen)
				}
				prev = now
				continue
			}
			now := c.Now()
			if !prev.Less(now) {
				rt.Fatalf("reading %v not after previous %v", now, prev)
			}
			if now.Node != 7 {
				rt.Fatalf("node = %d, want 7", now.Node)
			}
			prev = now
		}
	})
}
