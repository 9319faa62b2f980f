package kv

import (
	"errors"
	"fmt"
	"io"

	"github.com/cockroachdb/pebble"
	"github.com/cockroachdb/pebble/vfs"
)

// Pebble is a Store on a Pebble database.
type Pebble struct {
	db *pebble.DB
}

// PebbleOptions configures OpenPebble. FS defaults to the OS file system;
// the encrypting layer and tests substitute their own.
type PebbleOptions struct {
	FS       vfs.FS
	ReadOnly bool
}

// OpenPebble opens (creating if needed) a Pebble store in dir.
func OpenPebble(dir string, opts PebbleOptions) (*Pebble, error) {
	o := &pebble.Options{ReadOnly: opts.ReadOnly, Logger: quietLogger{}}
	if opts.FS != nil {
		o.FS = opts.FS
	}
	db, err := pebble.Open(dir, o)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %s: %w", dir, err)
	}
	return &Pebble{db: db}, nil
}

// Get implements Reader.
func (p *Pebble) Get(key []byte) ([]byte, bool, error) { return pebbleGet(p.db.Get, key) }

// NewIter implements Reader.
func (p *Pebble) NewIter(lower, upper []byte) Iterator {
	return &pebbleIter{Iterator: p.db.NewIter(iterOptions(lower, upper))}
}

// NewBatch implements Store with an indexed batch.
func (p *Pebble) NewBatch() Batch { return &pebbleBatch{b: p.db.NewIndexedBatch()} }

// NewSnapshot implements Store.
func (p *Pebble) NewSnapshot() Snapshot { return &pebbleSnapshot{s: p.db.NewSnapshot()} }

// Close implements Store.
func (p *Pebble) Close() error { return p.db.Close() }

// Flush writes memtables to sstables; used before handing files to
// someone else (tests, backups).
func (p *Pebble) Flush() error { return p.db.Flush() }

func iterOptions(lower, upper []byte) *pebble.IterOptions {
	o := &pebble.IterOptions{LowerBound: append([]byte(nil), lower...)}
	if upper != nil {
		o.UpperBound = append([]byte(nil), upper...)
	}
	return o
}

func pebbleGet(get func([]byte) ([]byte, io.Closer, error), key []byte) ([]byte, bool, error) {
	v, closer, err := get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("pebble get: %w", err)
	}
	out := append([]byte(nil), v...)
	if err := closer.Close(); err != nil {
		return nil, false, fmt.Errorf("pebble get close: %w", err)
	}
	return out, true, nil
}

type pebbleBatch struct {
	b    *pebble.Batch
	done bool
}

func (b *pebbleBatch) Get(key []byte) ([]byte, bool, error) {
	return pebbleGet(b.b.Get, key)
}

func (b *pebbleBatch) NewIter(lower, upper []byte) Iterator {
	return &pebbleIter{Iterator: b.b.NewIter(iterOptions(lower, upper))}
}

func (b *pebbleBatch) Set(key, value []byte) error { return b.b.Set(key, value, nil) }
func (b *pebbleBatch) Delete(key []byte) error     { return b.b.Delete(key, nil) }
func (b *pebbleBatch) DeleteRange(start, end []byte) error {
	return b.b.DeleteRange(start, end, nil)
}

func (b *pebbleBatch) Commit(sync bool) error {
	if b.done {
		return ErrClosed
	}
	b.done = true
	opts := pebble.NoSync
	if sync {
		opts = pebble.Sync
	}
	if err := b.b.Commit(opts); err != nil {
		return fmt.Errorf("pebble commit: %w", err)
	}
	return b.b.Close()
}

func (b *pebbleBatch) Close() error {
	if b.done {
		return nil
	}
	b.done = true
	return b.b.Close()
}

type pebbleSnapshot struct {
	s *pebble.Snapshot
}

func (s *pebbleSnapshot) Get(key []byte) ([]byte, bool, error) {
	return pebbleGet(s.s.Get, key)
}

func (s *pebbleSnapshot) NewIter(lower, upper []byte) Iterator {
	return &pebbleIter{Iterator: s.s.NewIter(iterOptions(lower, upper))}
}

func (s *pebbleSnapshot) Close() error { return s.s.Close() }

type pebbleIter struct {
	*pebble.Iterator
}

func (it *pebbleIter) Next() bool { return it.Iterator.Next() }

// quietLogger keeps Pebble's informational chatter out of the server log;
// fatal conditions still surface as errors from the API.
type quietLogger struct{}

func (quietLogger) Infof(string, ...interface{}) {}
func (quietLogger) Fatalf(format string, args ...interface{}) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}
