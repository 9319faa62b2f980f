// Package chunkstate is the projection of a chunk shard: per chunk, its
// key epoch, sizes and fragment placement, and its lifecycle state. It
// records no tenant and no per-tenant reference: reference counts live in
// the namespace shards (tenant state), totals are summed from them.
//
// Key space (under the shard's projection prefix):
//
//	c/<chunk id>   Record
//
// chunkstate must not import anything but log/event, log/kv and
// projections.
package chunkstate

import (
	"fmt"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// Record is what the cluster knows of one chunk.
type Record struct {
	Epoch          uint32               `msgpack:"e"`
	PlaintextBytes int64                `msgpack:"n"`
	SealedBytes    int64                `msgpack:"s"`
	Placement      event.ChunkPlacement `msgpack:"p"`
	StoredNs       int64                `msgpack:"at"`
}

func chunkKey(c event.ChunkID) []byte { return p.Key([]byte("c/"), c[:]) }

// Get returns a chunk's record.
func Get(r kv.Reader, c event.ChunkID) (Record, bool, error) {
	var rec Record
	ok, err := p.Get(r, chunkKey(c), &rec)
	return rec, ok, err
}

// Projection is the chunk shard projection.
type Projection struct{}

// Validate implements projections.Projection.
func (Projection) Validate(_ kv.Reader, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.ChunksStored:
		for _, c := range b.Chunks {
			if len(c.Placement.Devices) == 0 || c.SealedBytes <= 0 {
				return p.Errorf(p.ErrInvalid, "chunk %s stored without placement", c.Chunk)
			}
		}
		return nil
	}
	return p.Errorf(p.ErrInvalid, "%s is not a chunk shard event", body.EventType())
}

// CheckGuard implements projections.Projection; chunk shards take no
// guards.
func (Projection) CheckGuard(_ kv.Reader, g event.Guard) error {
	return p.Errorf(p.ErrInvalid, "chunk shard has no guard kind %d", g.Kind)
}

// Apply implements projections.Projection.
func (Projection) Apply(w kv.Writer, _ *event.Envelope, body event.Body) error {
	switch b := body.(type) {
	case *event.ChunksStored:
		for _, c := range b.Chunks {
			if _, ok, err := Get(w, c.Chunk); err != nil || ok {
				if err != nil {
					return err
				}
				continue // a concurrent dedup write stored it first
			}
			rec := Record{Epoch: c.Epoch, PlaintextBytes: c.PlaintextBytes, SealedBytes: c.SealedBytes,
				Placement: c.Placement, StoredNs: c.StoredNs}
			if err := p.Put(w, chunkKey(c.Chunk), &rec); err != nil {
				return err
			}
		}
		return nil
	}
	panic(fmt.Sprintf("chunkstate: apply of unexpected %s", body.EventType()))
}
