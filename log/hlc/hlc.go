// Package hlc is the hybrid logical clock that orders events across shards
// and nodes: physical milliseconds from an injected clock, a logical counter
// that breaks ties and absorbs clock regressions, and the node id.
//
// Invariants: Now is strictly increasing per Clock, even when the physical
// clock goes backwards; Update never lets the clock fall behind a timestamp
// it has seen. Within a shard the Raft sequence orders events; HLC orders
// them across shards (I-T7).
//
// hlc must not import any other annal package and never reads the wall
// clock itself: the physical source is injected.
package hlc

import (
	"fmt"
	"sync"
)

// Timestamp is one HLC reading. The zero value is before every reading.
type Timestamp struct {
	WallMs  int64  `msgpack:"w"`
	Logical uint32 `msgpack:"l"`
	Node    uint16 `msgpack:"n"`
}

// Less orders timestamps by wall time, then logical counter, then node.
func (t Timestamp) Less(u Timestamp) bool {
	if t.WallMs != u.WallMs {
		return t.WallMs < u.WallMs
	}
	if t.Logical != u.Logical {
		return t.Logical < u.Logical
	}
	return t.Node < u.Node
}

// String renders the timestamp as wall.logical@node.
func (t Timestamp) String() string {
	return fmt.Sprintf("%d.%d@%d", t.WallMs, t.Logical, t.Node)
}

// Clock issues timestamps. It is safe for concurrent use.
type Clock struct {
	mu       sync.Mutex
	physical func() int64 // milliseconds
	node     uint16
	last     Timestamp
}

// New returns a clock reading physical milliseconds from physicalMs.
func New(physicalMs func() int64, node uint16) *Clock {
	return &Clock{physical: physicalMs, node: node}
}

// Now returns a timestamp greater than every one this clock has issued or
// observed.
func (c *Clock) Now() Timestamp {
	c.mu.Lock()
	defer c.mu.Unlock()
	pt := c.physical()
	if pt > c.last.WallMs {
		c.last = Timestamp{WallMs: pt, Node: c.node}
	} else {
		c.last = Timestamp{WallMs: c.last.WallMs, Logical: c.last.Logical + 1, Node: c.node}
	}
	return c.last
}

// Update folds in a timestamp seen from elsewhere so later readings order
// after it.
func (c *Clock) Update(seen Timestamp) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last.Less(seen) {
		c.last = Timestamp{WallMs: seen.WallMs, Logical: seen.Logical, Node: c.node}
	}
}
