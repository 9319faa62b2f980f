package commands

import (
	"context"
	"sync"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/projections/chunkstate"
)

// The machinery the chunk maintenance passes (scrub, re-encryption) share:
// their progress, batches of chunk records read a batch at a time from a
// fresh local view (no long-lived snapshot), and a worker pool per batch.

// passState is a pass's progress, updated by its workers; every change is
// reported to report (when set).
type passState[P any] struct {
	mu       sync.Mutex
	progress P
	report   func(P)
}

func (p *passState[P]) update(f func(*P)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(&p.progress)
	if p.report != nil {
		p.report(p.progress)
	}
}

// current returns the progress so far.
func (p *passState[P]) current() P {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.progress
}

// chunkItem is one chunk record a pass works on.
type chunkItem struct {
	id  event.ChunkID
	rec chunkstate.Record
}

// chunkBatch collects up to n records that keep accepts, from id from on,
// on this node's replica of the chunk shard; next is where the following
// batch starts, done tells that the scan reached the end.
func (s *Service) chunkBatch(from event.ChunkID, n int, keep func(event.ChunkID, chunkstate.Record) bool) (batch []chunkItem, next event.ChunkID, done bool, err error) {
	v := s.log.LocalRead(FirstChunkShard)
	defer v.Close()
	done = true
	err = chunkstate.Scan(v, from, func(id event.ChunkID, rec chunkstate.Record) (bool, error) {
		if len(batch) == n {
			next, done = id, false
			return false, nil
		}
		if keep(id, rec) {
			batch = append(batch, chunkItem{id, rec})
		}
		return true, nil
	})
	return batch, next, done, err
}

// eachChunk runs work on every item of batch, workers at once. It stops
// handing out items when ctx ends and returns ctx's error.
func eachChunk(ctx context.Context, workers int, batch []chunkItem, work func(chunkItem)) error {
	items := make(chan chunkItem)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for it := range items {
				work(it)
			}
		})
	}
	var err error
	for _, it := range batch {
		if err = ctx.Err(); err != nil {
			break
		}
		items <- it
	}
	close(items)
	wg.Wait()
	return err
}
