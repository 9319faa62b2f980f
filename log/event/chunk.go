package event

// Chunk shard events: chunk placement and lifecycle, keyed by chunk id.
// They name no tenant: totals and placement only. Codes 200–299.

// ChunkPlacement records where a chunk's fragments are: the durability
// profile and the device holding each fragment index.
type ChunkPlacement struct {
	ProfileKind uint8    `msgpack:"k"`
	Data        uint8    `msgpack:"d"`
	Parity      uint8    `msgpack:"p"`
	Devices     []string `msgpack:"v"`
}

// ChunkStored records a chunk whose fragments are durable. A second
// ChunkStored for a stored chunk (a concurrent dedup write) changes
// nothing.
type ChunkStored struct {
	Chunk          ChunkID        `msgpack:"c"`
	Epoch          uint32         `msgpack:"e"`
	PlaintextBytes int64          `msgpack:"n"`
	SealedBytes    int64          `msgpack:"s"`
	Placement      ChunkPlacement `msgpack:"p"`
	StoredNs       int64          `msgpack:"at"`
}

// ChunksStored records several stored chunks at once (one proposal per
// write window).
type ChunksStored struct {
	Chunks []ChunkStored `msgpack:"c"`
}

// Lifecycle events (ADR-013). Each names one chunk and carries the time
// its command chose, so apply never reads a clock. A chunk's record moves
// Live → Condemned → Collecting → (purged: record removed), and back from
// Condemned to Live when it is referenced again.

// ChunkCondemned records that a Live chunk had no reference in any
// namespace shard, no retention hold, and had been neither stored nor
// revived for the first grace period. It can still be revived.
type ChunkCondemned struct {
	Chunk       ChunkID `msgpack:"c"`
	CondemnedNs int64   `msgpack:"at"`
}

// ChunkRevived takes a Condemned chunk back to Live: a writer deduplicated
// against it, or the collector found it referenced (or held) again.
type ChunkRevived struct {
	Chunk     ChunkID `msgpack:"c"`
	RevivedNs int64   `msgpack:"at"`
}

// ChunkCollected marks a Condemned chunk, still unreferenced after the
// second grace period, as Collecting: a tombstone under which its
// fragments are deleted. No writer may store or revive it until it is
// purged.
type ChunkCollected struct {
	Chunk       ChunkID `msgpack:"c"`
	CollectedNs int64   `msgpack:"at"`
}

// ChunkPurged removes the record of a Collecting chunk once its fragments
// are deleted; the chunk id is then unknown, as if never stored.
type ChunkPurged struct {
	Chunk    ChunkID `msgpack:"c"`
	PurgedNs int64   `msgpack:"at"`
}

// FragmentRepaired records that scrub rebuilt fragments of a chunk:
// Repaired lists the fragment indexes rewritten, Placement is the whole
// placement afterwards (a rebuilt fragment may have moved to another
// device). A repaired chunk is no longer lost.
type FragmentRepaired struct {
	Chunk      ChunkID        `msgpack:"c"`
	Placement  ChunkPlacement `msgpack:"p"`
	Repaired   []uint8        `msgpack:"r"`
	RepairedNs int64          `msgpack:"at"`
}

// ChunkLost records that fewer fragments of a chunk than its profile needs
// could be read. The record stays (reads fail with ChunkLost, F-D5); a
// later store of the same content heals it.
type ChunkLost struct {
	Chunk  ChunkID `msgpack:"c"`
	Usable uint8   `msgpack:"u"`
	LostNs int64   `msgpack:"at"`
}

// ChunkResealed records that a chunk was sealed again under a newer
// system epoch (key rotation, ADR-015): the new envelope's fragments are
// durable at Placement, beside the old ones, which the resealer deletes
// after this commits. FromEpoch is the epoch the resealer read; the event
// is refused if the record moved on meanwhile.
type ChunkResealed struct {
	Chunk       ChunkID        `msgpack:"c"`
	FromEpoch   uint32         `msgpack:"f"`
	Epoch       uint32         `msgpack:"e"`
	SealedBytes int64          `msgpack:"s"`
	Placement   ChunkPlacement `msgpack:"p"`
	ResealedNs  int64          `msgpack:"at"`
}

// ChunkEpochFloorRaised closes every system epoch below Floor on the
// chunk shard: from then on no chunk is recorded (ChunksStored placing
// it, ChunkResealed) under such an epoch, so once no record uses one it
// never will again and its key can be retired (ADR-015).
type ChunkEpochFloorRaised struct {
	Floor    uint32 `msgpack:"f"`
	RaisedNs int64  `msgpack:"at"`
}

const (
	TypeChunksStored     Type = 200
	TypeChunkCondemned   Type = 201
	TypeChunkRevived     Type = 202
	TypeChunkCollected   Type = 203
	TypeChunkPurged      Type = 204
	TypeFragmentRepaired Type = 205
	TypeChunkLost        Type = 206
	// 207 and 208 are the retention events (compliance.go).
	TypeChunkResealed         Type = 209
	TypeChunkEpochFloorRaised Type = 210
)

func (ChunksStored) EventType() Type          { return TypeChunksStored }
func (ChunkCondemned) EventType() Type        { return TypeChunkCondemned }
func (ChunkRevived) EventType() Type          { return TypeChunkRevived }
func (ChunkCollected) EventType() Type        { return TypeChunkCollected }
func (ChunkPurged) EventType() Type           { return TypeChunkPurged }
func (FragmentRepaired) EventType() Type      { return TypeFragmentRepaired }
func (ChunkLost) EventType() Type             { return TypeChunkLost }
func (ChunkResealed) EventType() Type         { return TypeChunkResealed }
func (ChunkEpochFloorRaised) EventType() Type { return TypeChunkEpochFloorRaised }

func init() {
	register(TypeChunksStored, "ChunksStored", func() Body { return &ChunksStored{} })
	register(TypeChunkCondemned, "ChunkCondemned", func() Body { return &ChunkCondemned{} })
	register(TypeChunkRevived, "ChunkRevived", func() Body { return &ChunkRevived{} })
	register(TypeChunkCollected, "ChunkCollected", func() Body { return &ChunkCollected{} })
	register(TypeChunkPurged, "ChunkPurged", func() Body { return &ChunkPurged{} })
	register(TypeFragmentRepaired, "FragmentRepaired", func() Body { return &FragmentRepaired{} })
	register(TypeChunkLost, "ChunkLost", func() Body { return &ChunkLost{} })
	register(TypeChunkResealed, "ChunkResealed", func() Body { return &ChunkResealed{} })
	register(TypeChunkEpochFloorRaised, "ChunkEpochFloorRaised", func() Body { return &ChunkEpochFloorRaised{} })
}
