package commands

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"sync"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/hlc"
)

// Clock issues HLC timestamps.
type Clock interface {
	Now() hlc.Timestamp
}

// Rand is a goroutine-safe deterministic source: seeded from crypto/rand
// in production and from the seed in the simulator.
type Rand struct {
	mu  sync.Mutex
	src *rand.ChaCha8
}

// NewRand returns a source seeded with seed.
func NewRand(seed [32]byte) *Rand { return &Rand{src: rand.NewChaCha8(seed)} }

// Read fills p; it never fails.
func (r *Rand) Read(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.src.Read(p)
}

// Uint64 returns a random uint64.
func (r *Rand) Uint64() uint64 {
	var b [8]byte
	_, _ = r.Read(b[:])
	return binary.BigEndian.Uint64(b[:])
}

// Env is what decide functions may draw on besides their view.
type Env struct {
	Clock Clock
	Rand  *Rand
	// Payloads seal event payloads and guards; nil leaves them clear
	// (tests and the simulator).
	Payloads event.PayloadCipher
}

// EventID draws a fresh event id.
func (e Env) EventID() event.ID {
	var id event.ID
	_, _ = e.Rand.Read(id[:])
	return id
}

// Token draws n random bytes as lower-case hex (version ids, upload ids).
func (e Env) Token(n int) string {
	b := make([]byte, n)
	_, _ = e.Rand.Read(b)
	return hex.EncodeToString(b)
}

// NowNs is the current HLC time as Unix nanoseconds: the wall part in
// milliseconds plus the logical counter, so successive readings differ.
func NowNs(ts hlc.Timestamp) int64 {
	return ts.WallMs*1_000_000 + int64(min(ts.Logical, 999_999))
}
