package block

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// memStorage is an in-memory medium that remembers which writes are not
// yet synced, so a test can cut power: crashImage keeps the synced bytes
// and, depending on the mode, all, none or a random torn subset of the
// rest (512-byte sectors, the unit a disk writes atomically).
type memStorage struct {
	mu       sync.Mutex
	current  []byte // every write applied: what reads see
	durable  []byte // synced writes only
	unsynced []memWrite
	closed   bool
	syncErr  error // injected: returned by Sync
	writeErr error // injected: returned by WriteAt
	syncs    int
	writes   int
	// crashAtWrite, when positive, makes that write or sync (counting
	// both from the call to armCrash) and every later one fail with
	// errCrash without reaching the medium: power failed just before it.
	crashAtWrite int
	crashed      bool
}

func (m *memStorage) armCrash(atWrite int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writes, m.crashAtWrite = 0, atWrite
}

type memWrite struct {
	off  int64
	data []byte
}

type crashMode int

const (
	crashKeepAll   crashMode = iota // the process died; the kernel flushed everything
	crashDropAll                    // power failed; nothing unsynced survived
	crashTornWrite                  // power failed mid-flight: random sectors of unsynced writes
	crashReordered                  // the disk reordered: each unsynced write whole or not at all
)

var allCrashModes = []crashMode{crashKeepAll, crashDropAll, crashTornWrite, crashReordered}

func (m crashMode) String() string {
	return [...]string{"keep-all", "drop-unsynced", "torn", "reordered"}[m]
}

const sectorBytes = 512

func newMemStorage(size int64) *memStorage {
	return &memStorage{current: make([]byte, size), durable: make([]byte, size)}
}

func (m *memStorage) ReadAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errors.New("mem: closed")
	}
	if off < 0 || off+int64(len(p)) > int64(len(m.current)) {
		return 0, fmt.Errorf("mem: read %d+%d beyond %d", off, len(p), len(m.current))
	}
	return copy(p, m.current[off:]), nil
}

func (m *memStorage) WriteAt(p []byte, off int64) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, errors.New("mem: closed")
	}
	if m.writeErr != nil {
		return 0, m.writeErr
	}
	if m.writes++; m.crashed || (m.crashAtWrite > 0 && m.writes >= m.crashAtWrite) {
		m.crashed = true
		return 0, errCrash
	}
	if off < 0 || off+int64(len(p)) > int64(len(m.current)) {
		return 0, fmt.Errorf("mem: write %d+%d beyond %d", off, len(p), len(m.current))
	}
	copy(m.current[off:], p)
	m.unsynced = append(m.unsynced, memWrite{off: off, data: append([]byte(nil), p...)})
	return len(p), nil
}

func (m *memStorage) Sync() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return errors.New("mem: closed")
	}
	if m.syncErr != nil {
		return m.syncErr
	}
	if m.writes++; m.crashed || (m.crashAtWrite > 0 && m.writes >= m.crashAtWrite) {
		m.crashed = true
		return errCrash
	}
	for _, w := range m.unsynced {
		copy(m.durable[w.off:], w.data)
	}
	m.unsynced = nil
	m.syncs++
	return nil
}

func (m *memStorage) Size() (int64, error) { return int64(len(m.current)), nil }

func (m *memStorage) PunchHole(off, length int64) error {
	_, err := m.WriteAt(make([]byte, length), off)
	return err
}

func (m *memStorage) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = true
	return nil
}

// crashImage returns the medium as a reboot after power loss would find
// it. The original is left alone.
func (m *memStorage) crashImage(mode crashMode, rng *rand.Rand) *memStorage {
	m.mu.Lock()
	defer m.mu.Unlock()
	img := append([]byte(nil), m.durable...)
	for _, w := range m.unsynced {
		switch mode {
		case crashKeepAll:
			copy(img[w.off:], w.data)
		case crashReordered:
			if rng.IntN(2) == 0 {
				copy(img[w.off:], w.data)
			}
		case crashTornWrite:
			for s := 0; s < len(w.data); s += sectorBytes {
				if rng.IntN(2) == 0 {
					copy(img[w.off+int64(s):], w.data[s:min(s+sectorBytes, len(w.data))])
				}
			}
		}
	}
	return &memStorage{current: img, durable: append([]byte(nil), img...)}
}

// image returns a durable copy of everything written so far.
func (m *memStorage) image() *memStorage { return m.crashImage(crashKeepAll, nil) }

// flip inverts one byte of the medium, as bit rot would, durably.
func (m *memStorage) flip(off int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.current[off] ^= 0xA5
	m.durable[off] ^= 0xA5
}

func (m *memStorage) poke(off int64, b []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	copy(m.current[off:], b)
	copy(m.durable[off:], b)
}

func (m *memStorage) peek(off int64, n int) []byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]byte(nil), m.current[off:off+int64(n)]...)
}

func (m *memStorage) inject(writeErr, syncErr error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.writeErr, m.syncErr = writeErr, syncErr
}

// reopen makes a closed medium usable again, as a new process would.
func (m *memStorage) reopen() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.closed = false
}
