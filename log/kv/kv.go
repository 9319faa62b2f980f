package kv

import (
	"encoding/binary"
	"errors"
)

// Reader reads an ordered key space.
type Reader interface {
	// Get returns a copy of the value stored at key, and whether it exists.
	Get(key []byte) (value []byte, found bool, err error)
	// NewIter iterates the keys in [lower, upper) in ascending byte order.
	// A nil upper bound means "to the end of the key space".
	NewIter(lower, upper []byte) Iterator
}

// Iterator walks keys in ascending order. It starts unpositioned: call
// First or SeekGE before reading.
type Iterator interface {
	First() bool
	SeekGE(key []byte) bool
	Next() bool
	Valid() bool
	// Key and Value are valid until the next positioning call.
	Key() []byte
	Value() []byte
	Close() error
}

// Writer is a Reader that can also change the key space.
type Writer interface {
	Reader
	Set(key, value []byte) error
	Delete(key []byte) error
	// DeleteRange deletes every key in [start, end).
	DeleteRange(start, end []byte) error
}

// Batch collects writes that commit atomically. Reads through the batch see
// its own uncommitted writes layered over the store.
type Batch interface {
	Writer
	// Commit applies the batch atomically; with sync it is durable on
	// return. A batch cannot be used after Commit or Close.
	Commit(sync bool) error
	Close() error
}

// Snapshot is a point-in-time, read-only view of a Store.
type Snapshot interface {
	Reader
	Close() error
}

// Store is an ordered key-value store.
type Store interface {
	Reader
	NewBatch() Batch
	NewSnapshot() Snapshot
	Close() error
}

// ErrClosed is returned by operations on a closed store, batch or snapshot.
var ErrClosed = errors.New("kv: closed")

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, or nil when no such key exists (prefix is all 0xff).
func PrefixEnd(prefix []byte) []byte {
	end := append([]byte(nil), prefix...)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// AppendUint64 appends v big-endian, so numeric order is byte order.
func AppendUint64(dst []byte, v uint64) []byte {
	return binary.BigEndian.AppendUint64(dst, v)
}

// Uint64 decodes a big-endian uint64 from the first 8 bytes of b.
func Uint64(b []byte) uint64 {
	return binary.BigEndian.Uint64(b)
}

// Scan calls fn for every key in [lower, upper) in order. The slices are
// valid only during the call.
func Scan(r Reader, lower, upper []byte, fn func(key, value []byte) error) error {
	it := r.NewIter(lower, upper)
	for ok := it.First(); ok; ok = it.Next() {
		if err := fn(it.Key(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	return it.Close()
}
