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

const (
	TypeChunksStored Type = 200
)

func (ChunksStored) EventType() Type { return TypeChunksStored }

func init() {
	register(TypeChunksStored, "ChunksStored", func() Body { return &ChunksStored{} })
}
