package kv

import (
	"fmt"
	"sync"
	"testing"
)

// TestMemConcurrentReaders: snapshots, iterators and batches may be
// taken from many goroutines while another commits. btree's Clone
// writes the tree's copy-on-write context, so taking them under a read
// lock raced (seen by -race in commands' parallel chunk writers). Each
// reader must see a prefix of the committed keys.
func TestMemConcurrentReaders(t *testing.T) {
	m := NewMem()
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range 200 {
			b := m.NewBatch()
			_ = b.Set([]byte(fmt.Sprintf("k%03d", i)), []byte("v"))
			if err := b.Commit(false); err != nil {
				t.Error(err)
				return
			}
		}
	})
	for range 4 {
		wg.Go(func() {
			for range 200 {
				s := m.NewSnapshot()
				it := s.NewIter(nil, nil)
				n := 0
				for ok := it.First(); ok; ok = it.Next() {
					if want := fmt.Sprintf("k%03d", n); string(it.Key()) != want {
						t.Errorf("key %q at %d, want %q", it.Key(), n, want)
					}
					n++
				}
				it.Close()
				s.Close()
				m.NewIter(nil, nil).Close()
				m.NewBatch().Close()
				m.Clone()
			}
		})
	}
	wg.Wait()
}
