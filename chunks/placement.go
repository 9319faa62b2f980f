package chunks

import (
	"crypto/sha256"
	"encoding/binary"
	"slices"
	"strings"
)

// Placement records where the fragments of one chunk live: fragment i is
// on the device with id Devices[i]. It is stored in the chunk's events, so
// reads never recompute it.
type Placement struct {
	Profile Profile
	Devices []string
	// Epoch is the seal epoch of the envelope the fragments hold, as the
	// chunk's record names it (Store.Put sets it). Reads prefer fragments
	// of that envelope; 0 states no preference (ADR-015).
	Epoch uint32
}

// Clone returns a deep copy.
func (p Placement) Clone() Placement {
	return Placement{Profile: p.Profile, Devices: slices.Clone(p.Devices), Epoch: p.Epoch}
}

// rankDevices orders device ids by rendezvous (highest random weight)
// score for chunk id, best first; ties break by id. The ranking depends
// only on the chunk id and the set of ids, so adding or removing one device
// moves only the chunks that rank it among their first fragments' devices
// (about 1/N of them per fragment).
func rankDevices(id ChunkID, deviceIDs []string) []string {
	type scored struct {
		id    string
		score uint64
	}
	ranked := make([]scored, len(deviceIDs))
	for i, d := range deviceIDs {
		ranked[i] = scored{id: d, score: rendezvousScore(id, d)}
	}
	slices.SortFunc(ranked, func(a, b scored) int {
		if a.score != b.score {
			if a.score > b.score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.id, b.id)
	})
	out := make([]string, len(ranked))
	for i, r := range ranked {
		out[i] = r.id
	}
	return out
}

// rendezvousScore is the first 8 bytes of SHA-256(chunk id || device id).
func rendezvousScore(id ChunkID, deviceID string) uint64 {
	h := sha256.New()
	h.Write(id[:])
	h.Write([]byte(deviceID))
	var sum [sha256.Size]byte
	return binary.BigEndian.Uint64(h.Sum(sum[:0]))
}
