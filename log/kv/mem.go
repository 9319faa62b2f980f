package kv

import (
	"bytes"
	"sync"

	"github.com/google/btree"
)

type item struct {
	key, value []byte
}

func itemLess(a, b item) bool { return bytes.Compare(a.key, b.key) < 0 }

func newTree() *btree.BTreeG[item] { return btree.NewG[item](16, itemLess) }

// Mem is an in-memory ordered Store. Batches work on a copy-on-write clone
// of the tree, so they read their own writes and commit by replaying their
// operations under the store's lock.
type Mem struct {
	mu     sync.RWMutex
	tree   *btree.BTreeG[item]
	closed bool
}

// NewMem returns an empty in-memory store.
func NewMem() *Mem { return &Mem{tree: newTree()} }

// Get implements Reader.
func (m *Mem) Get(key []byte) ([]byte, bool, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	return treeGet(m.tree, key)
}

// NewIter implements Reader. The iterator sees the store as of this call.
func (m *Mem) NewIter(lower, upper []byte) Iterator {
	m.mu.Lock() // Clone writes the tree's copy-on-write context
	defer m.mu.Unlock()
	return newMemIter(m.tree.Clone(), lower, upper)
}

// NewBatch implements Store.
func (m *Mem) NewBatch() Batch {
	m.mu.Lock() // Clone writes the tree's copy-on-write context
	defer m.mu.Unlock()
	return &memBatch{store: m, tree: m.tree.Clone()}
}

// NewSnapshot implements Store.
func (m *Mem) NewSnapshot() Snapshot {
	m.mu.Lock() // Clone writes the tree's copy-on-write context
	defer m.mu.Unlock()
	return &memSnapshot{tree: m.tree.Clone()}
}

// Close implements Store.
func (m *Mem) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

func treeGet(t *btree.BTreeG[item], key []byte) ([]byte, bool, error) {
	it, ok := t.Get(item{key: key})
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), it.value...), true, nil
}

func treeDeleteRange(t *btree.BTreeG[item], start, end []byte) {
	var doomed [][]byte
	t.AscendGreaterOrEqual(item{key: start}, func(it item) bool {
		if end != nil && bytes.Compare(it.key, end) >= 0 {
			return false
		}
		doomed = append(doomed, it.key)
		return true
	})
	for _, k := range doomed {
		t.Delete(item{key: k})
	}
}

type memOp struct {
	kind       byte // 's' set, 'd' delete, 'r' delete range
	key, value []byte
}

type memBatch struct {
	store *Mem
	tree  *btree.BTreeG[item]
	ops   []memOp
	done  bool
}

func (b *memBatch) Get(key []byte) ([]byte, bool, error) {
	if b.done {
		return nil, false, ErrClosed
	}
	return treeGet(b.tree, key)
}

func (b *memBatch) NewIter(lower, upper []byte) Iterator {
	return newMemIter(b.tree.Clone(), lower, upper)
}

func (b *memBatch) Set(key, value []byte) error {
	if b.done {
		return ErrClosed
	}
	k := append([]byte(nil), key...)
	v := append([]byte(nil), value...)
	b.tree.ReplaceOrInsert(item{key: k, value: v})
	b.ops = append(b.ops, memOp{kind: 's', key: k, value: v})
	return nil
}

func (b *memBatch) Delete(key []byte) error {
	if b.done {
		return ErrClosed
	}
	k := append([]byte(nil), key...)
	b.tree.Delete(item{key: k})
	b.ops = append(b.ops, memOp{kind: 'd', key: k})
	return nil
}

func (b *memBatch) DeleteRange(start, end []byte) error {
	if b.done {
		return ErrClosed
	}
	s := append([]byte(nil), start...)
	e := append([]byte(nil), end...)
	treeDeleteRange(b.tree, s, e)
	b.ops = append(b.ops, memOp{kind: 'r', key: s, value: e})
	return nil
}

func (b *memBatch) Commit(bool) error {
	if b.done {
		return ErrClosed
	}
	b.done = true
	m := b.store
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, op := range b.ops {
		switch op.kind {
		case 's':
			m.tree.ReplaceOrInsert(item{key: op.key, value: op.value})
		case 'd':
			m.tree.Delete(item{key: op.key})
		case 'r':
			treeDeleteRange(m.tree, op.key, op.value)
		}
	}
	return nil
}

func (b *memBatch) Close() error {
	b.done = true
	return nil
}

type memSnapshot struct {
	tree *btree.BTreeG[item]
}

func (s *memSnapshot) Get(key []byte) ([]byte, bool, error) { return treeGet(s.tree, key) }

func (s *memSnapshot) NewIter(lower, upper []byte) Iterator {
	return newMemIter(s.tree, lower, upper)
}

func (s *memSnapshot) Close() error { return nil }

// memIter walks a private clone of the tree. Positioning finds the first
// item at or after a key; Next finds the first item after the current key.
type memIter struct {
	tree         *btree.BTreeG[item]
	lower, upper []byte
	cur          item
	valid        bool
}

func newMemIter(t *btree.BTreeG[item], lower, upper []byte) *memIter {
	return &memIter{tree: t, lower: append([]byte(nil), lower...), upper: append([]byte(nil), upper...)}
}

func (it *memIter) seek(key []byte, strictlyAfter bool) bool {
	it.valid = false
	it.tree.AscendGreaterOrEqual(item{key: key}, func(x item) bool {
		if strictlyAfter && bytes.Equal(x.key, key) {
			return true
		}
		if len(it.upper) > 0 && bytes.Compare(x.key, it.upper) >= 0 {
			return false
		}
		it.cur, it.valid = x, true
		return false
	})
	return it.valid
}

func (it *memIter) First() bool { return it.seek(it.lower, false) }

func (it *memIter) SeekGE(key []byte) bool {
	if bytes.Compare(key, it.lower) < 0 {
		key = it.lower
	}
	return it.seek(key, false)
}

func (it *memIter) Next() bool {
	if !it.valid {
		return false
	}
	return it.seek(it.cur.key, true)
}

func (it *memIter) Valid() bool   { return it.valid }
func (it *memIter) Key() []byte   { return it.cur.key }
func (it *memIter) Value() []byte { return it.cur.value }
func (it *memIter) Close() error  { it.valid = false; return nil }
