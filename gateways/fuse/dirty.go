package fuse

import "sort"

// dirtyRun is one run of written bytes not yet sent to the server.
type dirtyRun struct {
	off  int64
	data []byte
}

func (r dirtyRun) end() int64 { return r.off + int64(len(r.data)) }

// dirtyMap holds the pending writes of one file: sorted, non-overlapping,
// non-adjacent runs (adjacent writes merge, so a sequential writer builds
// one run). Later writes win where they overlap earlier ones.
type dirtyMap struct {
	runs  []dirtyRun
	bytes int64
}

func (m *dirtyMap) empty() bool { return len(m.runs) == 0 }

// end is the offset just past the last pending byte (0 when empty).
func (m *dirtyMap) end() int64 {
	if len(m.runs) == 0 {
		return 0
	}
	return m.runs[len(m.runs)-1].end()
}

// write records data at off; data is copied.
func (m *dirtyMap) write(off int64, data []byte) {
	if len(data) == 0 {
		return
	}
	end := off + int64(len(data))
	// first run that ends at or after off (touching counts: runs merge)
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].end() >= off })
	// runs i..j-1 overlap or touch [off, end]
	j := i
	for j < len(m.runs) && m.runs[j].off <= end {
		j++
	}
	if j == i { // no neighbour: insert
		m.runs = append(m.runs, dirtyRun{})
		copy(m.runs[i+1:], m.runs[i:])
		m.runs[i] = dirtyRun{off: off, data: append([]byte(nil), data...)}
		m.bytes += int64(len(data))
		return
	}
	if j == i+1 && m.runs[i].off <= off && end <= m.runs[i].end() { // inside one run
		copy(m.runs[i].data[off-m.runs[i].off:], data)
		return
	}
	if j == i+1 && m.runs[i].end() == off { // extends one run: sequential writes
		m.runs[i].data = append(m.runs[i].data, data...)
		m.bytes += int64(len(data))
		return
	}
	m.merge(i, j, off, data)
}

// merge replaces runs i..j-1 and the new bytes with one run.
func (m *dirtyMap) merge(i, j int, off int64, data []byte) {
	start := min(m.runs[i].off, off)
	end := max(m.runs[j-1].end(), off+int64(len(data)))
	buf := make([]byte, end-start)
	for _, r := range m.runs[i:j] {
		copy(buf[r.off-start:], r.data)
		m.bytes -= int64(len(r.data))
	}
	copy(buf[off-start:], data)
	m.bytes += int64(len(buf))
	m.runs[i] = dirtyRun{off: start, data: buf}
	m.runs = append(m.runs[:i+1], m.runs[j:]...)
}

// cut returns a copy of the pending runs overlapping [off, end), clipped
// to it.
func (m *dirtyMap) cut(off, end int64) []dirtyRun {
	var out []dirtyRun
	i := sort.Search(len(m.runs), func(i int) bool { return m.runs[i].end() > off })
	for ; i < len(m.runs) && m.runs[i].off < end; i++ {
		r := m.runs[i]
		from, to := max(r.off, off), min(r.end(), end)
		out = append(out, dirtyRun{off: from, data: append([]byte(nil), r.data[from-r.off:to-r.off]...)})
	}
	return out
}

// truncate drops pending bytes at or past size.
func (m *dirtyMap) truncate(size int64) {
	keep := m.runs[:0]
	for _, r := range m.runs {
		switch {
		case r.end() <= size:
			keep = append(keep, r)
		case r.off < size:
			m.bytes -= r.end() - size
			r.data = r.data[:size-r.off]
			keep = append(keep, r)
		default:
			m.bytes -= int64(len(r.data))
		}
	}
	m.runs = keep
}
