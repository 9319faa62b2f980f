package kv

// prefixed confines a Reader or Writer to the keys under a prefix and hides
// the prefix from its users, so each shard and projection sees a key space
// of its own.
type prefixed struct {
	r      Reader
	w      Writer // nil for read-only views
	prefix []byte
}

// PrefixReader returns a Reader over the keys of r under prefix, with the
// prefix stripped.
func PrefixReader(r Reader, prefix []byte) Reader {
	return &prefixed{r: r, prefix: append([]byte(nil), prefix...)}
}

// PrefixWriter returns a Writer over the keys of w under prefix, with the
// prefix stripped on reads and added on writes.
func PrefixWriter(w Writer, prefix []byte) Writer {
	return &prefixed{r: w, w: w, prefix: append([]byte(nil), prefix...)}
}

func (p *prefixed) key(k []byte) []byte {
	out := make([]byte, 0, len(p.prefix)+len(k))
	return append(append(out, p.prefix...), k...)
}

func (p *prefixed) Get(k []byte) ([]byte, bool, error) { return p.r.Get(p.key(k)) }

func (p *prefixed) NewIter(lower, upper []byte) Iterator {
	u := PrefixEnd(p.prefix)
	if upper != nil {
		u = p.key(upper)
	}
	return &prefixedIter{it: p.r.NewIter(p.key(lower), u), n: len(p.prefix), prefix: p.prefix}
}

func (p *prefixed) Set(k, v []byte) error { return p.w.Set(p.key(k), v) }
func (p *prefixed) Delete(k []byte) error { return p.w.Delete(p.key(k)) }
func (p *prefixed) DeleteRange(start, end []byte) error {
	e := PrefixEnd(p.prefix)
	if end != nil {
		e = p.key(end)
	}
	return p.w.DeleteRange(p.key(start), e)
}

type prefixedIter struct {
	it     Iterator
	n      int
	prefix []byte
}

func (i *prefixedIter) First() bool { return i.it.First() }
func (i *prefixedIter) SeekGE(k []byte) bool {
	return i.it.SeekGE(append(append([]byte(nil), i.prefix...), k...))
}
func (i *prefixedIter) Next() bool    { return i.it.Next() }
func (i *prefixedIter) Valid() bool   { return i.it.Valid() }
func (i *prefixedIter) Key() []byte   { return i.it.Key()[i.n:] }
func (i *prefixedIter) Value() []byte { return i.it.Value() }
func (i *prefixedIter) Close() error  { return i.it.Close() }
