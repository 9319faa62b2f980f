package fuse

import (
	"bytes"
	"testing"

	"pgregory.net/rapid"
)

// TestDirtyMapAgainstModel: random writes and truncations of the pending
// write map match a byte-slice model (with a mask of written bytes), and
// the map's invariants hold: runs sorted, neither overlapping nor
// touching, bytes counted.
func TestDirtyMapAgainstModel(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		var m dirtyMap
		model := make([]byte, 0)
		written := make([]bool, 0)
		grow := func(n int) {
			for len(model) < n {
				model, written = append(model, 0), append(written, false)
			}
		}
		for range rapid.IntRange(1, 60).Draw(t, "steps") {
			if rapid.IntRange(0, 9).Draw(t, "op") == 0 {
				size := rapid.IntRange(0, 300).Draw(t, "size")
				m.truncate(int64(size))
				for i := size; i < len(written); i++ {
					written[i] = false
				}
				continue
			}
			off := rapid.IntRange(0, 256).Draw(t, "off")
			data := rapid.SliceOfN(rapid.Byte(), 1, 40).Draw(t, "data")
			m.write(int64(off), data)
			grow(off + len(data))
			copy(model[off:], data)
			for i := range data {
				written[off+i] = true
			}
		}
		var total int64
		for i, r := range m.runs {
			total += int64(len(r.data))
			if i > 0 && m.runs[i-1].end() >= r.off {
				t.Fatalf("runs %d and %d overlap or touch", i-1, i)
			}
		}
		if total != m.bytes {
			t.Fatalf("bytes %d, runs hold %d", m.bytes, total)
		}
		for i := range written {
			runs := m.cut(int64(i), int64(i)+1)
			if written[i] != (len(runs) == 1) || (written[i] && runs[0].data[0] != model[i]) {
				t.Fatalf("byte %d: written %v, map has %v", i, written[i], runs)
			}
		}
		end := 0
		for i := range written {
			if written[i] {
				end = i + 1
			}
		}
		if m.end() != int64(end) {
			t.Fatalf("end %d, want %d", m.end(), end)
		}
	})
}

func TestDirtyMapSequentialWritesBuildOneRun(t *testing.T) {
	var m dirtyMap
	for i := range 100 {
		m.write(int64(i*10), bytes.Repeat([]byte{byte(i)}, 10))
	}
	if len(m.runs) != 1 || m.bytes != 1000 || m.end() != 1000 {
		t.Fatalf("%d runs, %d bytes", len(m.runs), m.bytes)
	}
}
