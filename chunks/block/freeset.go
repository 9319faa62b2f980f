package block

// extent is a run of blocks in the data region; start counts from the
// first data block.
type extent struct {
	start  uint64
	blocks uint64
}

func (e extent) end() uint64 { return e.start + e.blocks }

// blocksFor is the extent size of a fragment of sizeBytes: the data plus
// its CRC trailer, rounded up to whole blocks.
func blocksFor(sizeBytes int) uint64 {
	return ceilDiv(uint64(sizeBytes)+trailerBytes, blockSize)
}

// freeSet holds the free extents of the data region, coalesced: no two
// are adjacent. byStart finds neighbours when freeing; bySize finds the
// best fit (the smallest extent that is large enough, lowest start on
// ties), as ADR-029 asks.
type freeSet struct {
	byStart    treap[extent]
	bySize     treap[extent]
	freeBlocks uint64
}

func newFreeSet() *freeSet {
	return &freeSet{
		byStart: treap[extent]{less: func(a, b extent) bool { return a.start < b.start }},
		bySize: treap[extent]{less: func(a, b extent) bool {
			return a.blocks < b.blocks || (a.blocks == b.blocks && a.start < b.start)
		}},
	}
}

func (f *freeSet) add(e extent) {
	f.byStart.insert(e)
	f.bySize.insert(e)
	f.freeBlocks += e.blocks
}

func (f *freeSet) drop(e extent) {
	f.byStart.delete(e)
	f.bySize.delete(e)
	f.freeBlocks -= e.blocks
}

// release returns e to the set, merging it with free neighbours. The
// caller guarantees e is not already free.
func (f *freeSet) release(e extent) {
	if prev, ok := f.byStart.floor(extent{start: e.start}); ok && prev.end() == e.start {
		f.drop(prev)
		e = extent{start: prev.start, blocks: prev.blocks + e.blocks}
	}
	if next, ok := f.byStart.ceil(extent{start: e.end()}); ok && next.start == e.end() {
		f.drop(next)
		e.blocks += next.blocks
	}
	f.add(e)
}

// allocate takes the best-fitting extent of n blocks, splitting off the
// tail of a larger one.
func (f *freeSet) allocate(n uint64) (extent, bool) {
	fit, ok := f.bySize.ceil(extent{blocks: n})
	if !ok {
		return extent{}, false
	}
	f.drop(fit)
	if fit.blocks > n {
		f.add(extent{start: fit.start + n, blocks: fit.blocks - n})
	}
	return extent{start: fit.start, blocks: n}, true
}

// take removes exactly e from the set if every block of e is free.
func (f *freeSet) take(e extent) bool {
	holder, ok := f.byStart.floor(extent{start: e.start})
	if !ok || holder.end() < e.end() {
		return false
	}
	f.drop(holder)
	if holder.start < e.start {
		f.add(extent{start: holder.start, blocks: e.start - holder.start})
	}
	if holder.end() > e.end() {
		f.add(extent{start: e.end(), blocks: holder.end() - e.end()})
	}
	return true
}

// largest is the size of the largest free extent.
func (f *freeSet) largest() uint64 {
	if e, ok := f.bySize.max(); ok {
		return e.blocks
	}
	return 0
}

// each calls fn for every free extent in start order.
func (f *freeSet) each(fn func(extent)) { f.byStart.each(fn) }

// treap is an ordered set with expected O(log n) operations. Priorities
// come from a fixed hash of the node count at insertion, so behaviour is
// deterministic and needs no randomness.
type treap[K any] struct {
	root    *treapNode[K]
	less    func(a, b K) bool
	inserts uint64
	n       int
}

type treapNode[K any] struct {
	key         K
	priority    uint64
	left, right *treapNode[K]
}

// splitmix64 scrambles a counter into a well-spread priority.
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// split divides n into keys for which goLeft holds and the rest; goLeft
// must be monotone in key order.
func (t *treap[K]) split(n *treapNode[K], goLeft func(K) bool) (l, r *treapNode[K]) {
	if n == nil {
		return nil, nil
	}
	if goLeft(n.key) {
		n.right, r = t.split(n.right, goLeft)
		return n, r
	}
	l, n.left = t.split(n.left, goLeft)
	return l, n
}

func (t *treap[K]) merge(l, r *treapNode[K]) *treapNode[K] {
	switch {
	case l == nil:
		return r
	case r == nil:
		return l
	case l.priority > r.priority:
		l.right = t.merge(l.right, r)
		return l
	default:
		r.left = t.merge(l, r.left)
		return r
	}
}

func (t *treap[K]) insert(k K) {
	t.inserts++
	l, r := t.split(t.root, func(x K) bool { return t.less(x, k) })
	node := &treapNode[K]{key: k, priority: splitmix64(t.inserts)}
	t.root = t.merge(t.merge(l, node), r)
	t.n++
}

// delete removes k and reports whether it was present.
func (t *treap[K]) delete(k K) bool {
	l, rest := t.split(t.root, func(x K) bool { return t.less(x, k) })
	mid, r := t.split(rest, func(x K) bool { return !t.less(k, x) })
	t.root = t.merge(l, r)
	if mid == nil {
		return false
	}
	t.n--
	// Keys are unique, so mid is a single node.
	return true
}

// ceil returns the smallest key not less than k.
func (t *treap[K]) ceil(k K) (K, bool) {
	var best *treapNode[K]
	for n := t.root; n != nil; {
		if t.less(n.key, k) {
			n = n.right
		} else {
			best, n = n, n.left
		}
	}
	return keyOf(best)
}

// floor returns the largest key not greater than k.
func (t *treap[K]) floor(k K) (K, bool) {
	var best *treapNode[K]
	for n := t.root; n != nil; {
		if t.less(k, n.key) {
			n = n.left
		} else {
			best, n = n, n.right
		}
	}
	return keyOf(best)
}

func (t *treap[K]) max() (K, bool) {
	n := t.root
	for n != nil && n.right != nil {
		n = n.right
	}
	return keyOf(n)
}

func keyOf[K any](n *treapNode[K]) (K, bool) {
	if n == nil {
		var zero K
		return zero, false
	}
	return n.key, true
}

// each visits keys in order without recursion, so depth never matters.
func (t *treap[K]) each(fn func(K)) {
	var stack []*treapNode[K]
	for n := t.root; n != nil || len(stack) > 0; {
		for n != nil {
			stack = append(stack, n)
			n = n.left
		}
		n = stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		fn(n.key)
		n = n.right
	}
}
