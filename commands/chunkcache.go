package commands

import (
	"container/list"
	"sync"

	"github.com/annal-storage/annal/log/event"
)

// DefaultChunkCacheBytes is the default size of the read cache of
// decrypted chunks.
const DefaultChunkCacheBytes = 64 << 20

// chunkCache keeps recently read plaintext chunks, least recently used
// out first. Chunks are immutable and named by their content's hash, so
// an entry never goes stale; small random reads (a database page, a
// FUSE read of 4 KiB) then cost no reconstruction and decryption of the
// whole chunk each time. Returned slices are shared: callers only read
// them.
type chunkCache struct {
	mu       sync.Mutex
	maxBytes int64
	bytes    int64
	order    *list.List // front: most recent; values are *cacheEntry
	entries  map[event.ChunkID]*list.Element
}

type cacheEntry struct {
	id    event.ChunkID
	plain []byte
}

func newChunkCache(maxBytes int64) *chunkCache {
	return &chunkCache{maxBytes: maxBytes, order: list.New(), entries: map[event.ChunkID]*list.Element{}}
}

func (c *chunkCache) get(id event.ChunkID) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[id]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(e)
	return e.Value.(*cacheEntry).plain, true
}

func (c *chunkCache) put(id event.ChunkID, plain []byte) {
	if c == nil || int64(len(plain)) > c.maxBytes/4 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; ok {
		return
	}
	c.entries[id] = c.order.PushFront(&cacheEntry{id: id, plain: plain})
	c.bytes += int64(len(plain))
	for c.bytes > c.maxBytes {
		old := c.order.Back()
		e := old.Value.(*cacheEntry)
		c.order.Remove(old)
		delete(c.entries, e.id)
		c.bytes -= int64(len(e.plain))
	}
}
