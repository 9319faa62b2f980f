package commands

import (
	"testing"

	"github.com/annal-storage/annal/log/event"
)

func TestChunkCacheEvictsLeastRecentlyUsed(t *testing.T) {
	c := newChunkCache(40)
	a, b, d, big := event.ChunkID{1}, event.ChunkID{2}, event.ChunkID{3}, event.ChunkID{4}
	c.put(a, make([]byte, 10))
	c.put(b, make([]byte, 10))
	c.put(big, make([]byte, 11)) // over a quarter of the cache: not kept
	if _, ok := c.get(big); ok {
		t.Fatal("a chunk over a quarter of the cache was kept")
	}
	c.get(a) // a is now more recent than b
	c.put(d, make([]byte, 10))
	c.put(event.ChunkID{5}, make([]byte, 10))
	c.put(event.ChunkID{6}, make([]byte, 10)) // 50 bytes: the least recent (b) goes
	if _, ok := c.get(b); ok {
		t.Fatal("the least recently used chunk was kept")
	}
	if _, ok := c.get(a); !ok {
		t.Fatal("a recently used chunk was evicted")
	}
	if c.bytes > c.maxBytes {
		t.Fatalf("%d bytes cached, bound %d", c.bytes, c.maxBytes)
	}
	var none *chunkCache
	none.put(a, nil)
	if _, ok := none.get(a); ok {
		t.Fatal("a disabled cache returned a chunk")
	}
}
