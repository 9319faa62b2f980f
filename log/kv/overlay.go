package kv

import (
	"bytes"

	"github.com/google/btree"
)

// Overlay layers uncommitted writes over a base Reader that does not
// change while the overlay lives. The apply path uses it to run a whole
// proposal tentatively: if any event of the proposal is rejected the
// overlay is dropped, otherwise its writes are replayed onto the real
// batch with ApplyTo.
type Overlay struct {
	base Reader
	// tree holds overlay entries; a nil value marks a deletion.
	tree *btree.BTreeG[overlayItem]
	ops  []memOp
}

type overlayItem struct {
	key, value []byte
	deleted    bool
}

// NewOverlay returns an empty overlay over base.
func NewOverlay(base Reader) *Overlay {
	return &Overlay{base: base, tree: btree.NewG[overlayItem](16, func(a, b overlayItem) bool {
		return bytes.Compare(a.key, b.key) < 0
	})}
}

// Get implements Reader.
func (o *Overlay) Get(key []byte) ([]byte, bool, error) {
	if it, ok := o.tree.Get(overlayItem{key: key}); ok {
		if it.deleted {
			return nil, false, nil
		}
		return append([]byte(nil), it.value...), true, nil
	}
	return o.base.Get(key)
}

// Set implements Writer.
func (o *Overlay) Set(key, value []byte) error {
	k, v := append([]byte(nil), key...), append([]byte(nil), value...)
	o.tree.ReplaceOrInsert(overlayItem{key: k, value: v})
	o.ops = append(o.ops, memOp{kind: 's', key: k, value: v})
	return nil
}

// Delete implements Writer.
func (o *Overlay) Delete(key []byte) error {
	k := append([]byte(nil), key...)
	o.tree.ReplaceOrInsert(overlayItem{key: k, deleted: true})
	o.ops = append(o.ops, memOp{kind: 'd', key: k})
	return nil
}

// DeleteRange implements Writer by deleting every visible key in range
// (exact, because the base does not change under the overlay).
func (o *Overlay) DeleteRange(start, end []byte) error {
	var doomed [][]byte
	if err := Scan(o, start, end, func(k, _ []byte) error {
		doomed = append(doomed, append([]byte(nil), k...))
		return nil
	}); err != nil {
		return err
	}
	for _, k := range doomed {
		o.tree.ReplaceOrInsert(overlayItem{key: k, deleted: true})
	}
	o.ops = append(o.ops, memOp{kind: 'r', key: append([]byte(nil), start...), value: append([]byte(nil), end...)})
	return nil
}

// ApplyTo replays the overlay's writes, in order, onto w.
func (o *Overlay) ApplyTo(w Writer) error {
	for _, op := range o.ops {
		var err error
		switch op.kind {
		case 's':
			err = w.Set(op.key, op.value)
		case 'd':
			err = w.Delete(op.key)
		case 'r':
			err = w.DeleteRange(op.key, op.value)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// NewIter implements Reader by merging the base and the overlay.
func (o *Overlay) NewIter(lower, upper []byte) Iterator {
	return &overlayIter{
		base:  o.base.NewIter(lower, upper),
		over:  newOverlayCursor(o.tree.Clone(), lower, upper),
		lower: append([]byte(nil), lower...),
	}
}

// overlayCursor walks overlay items in [lower, upper).
type overlayCursor struct {
	tree  *btree.BTreeG[overlayItem]
	upper []byte
	cur   overlayItem
	valid bool
}

func newOverlayCursor(t *btree.BTreeG[overlayItem], _, upper []byte) *overlayCursor {
	return &overlayCursor{tree: t, upper: append([]byte(nil), upper...)}
}

func (c *overlayCursor) seek(key []byte, strictlyAfter bool) {
	c.valid = false
	c.tree.AscendGreaterOrEqual(overlayItem{key: key}, func(x overlayItem) bool {
		if strictlyAfter && bytes.Equal(x.key, key) {
			return true
		}
		if len(c.upper) > 0 && bytes.Compare(x.key, c.upper) >= 0 {
			return false
		}
		c.cur, c.valid = x, true
		return false
	})
}

type overlayIter struct {
	base   Iterator
	over   *overlayCursor
	lower  []byte
	baseOK bool
	// key and value of the current merged position; never aliased into
	// and written through, since they may be the overlay's own slices.
	key, value []byte
	valid      bool
}

func (it *overlayIter) First() bool { return it.SeekGE(it.lower) }

func (it *overlayIter) SeekGE(key []byte) bool {
	if bytes.Compare(key, it.lower) < 0 {
		key = it.lower
	}
	it.baseOK = it.base.SeekGE(key)
	it.over.seek(key, false)
	return it.settle()
}

func (it *overlayIter) Next() bool {
	if !it.valid {
		return false
	}
	cur := it.key
	if it.baseOK && bytes.Equal(it.base.Key(), cur) {
		it.baseOK = it.base.Next()
	}
	if it.over.valid && bytes.Equal(it.over.cur.key, cur) {
		it.over.seek(cur, true)
	}
	return it.settle()
}

// settle picks the smaller of the two cursors, letting the overlay win
// ties and skipping overlay deletions.
func (it *overlayIter) settle() bool {
	for {
		switch {
		case !it.baseOK && !it.over.valid:
			it.valid = false
			return false
		case it.over.valid && (!it.baseOK || bytes.Compare(it.over.cur.key, it.base.Key()) <= 0):
			item := it.over.cur
			if it.baseOK && bytes.Equal(item.key, it.base.Key()) {
				it.baseOK = it.base.Next()
			}
			if item.deleted {
				it.over.seek(item.key, true)
				continue
			}
			it.key, it.value, it.valid = item.key, item.value, true
			// Leave the overlay cursor on this item so Next advances it.
			return true
		default:
			it.key = append([]byte(nil), it.base.Key()...)
			it.value = append([]byte(nil), it.base.Value()...)
			it.valid = true
			return true
		}
	}
}

func (it *overlayIter) Valid() bool   { return it.valid }
func (it *overlayIter) Key() []byte   { return it.key }
func (it *overlayIter) Value() []byte { return it.value }
func (it *overlayIter) Close() error  { return it.base.Close() }
