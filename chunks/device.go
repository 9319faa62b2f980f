package chunks

import "errors"

// ChunkID names a chunk by its content: SHA-256 of the plaintext under the
// default (cross-tenant dedup) policy, HMAC-SHA256(tenant dedup key,
// plaintext) for tenants with isolated dedup. It never changes after the
// chunk is created because it is the salt of the chunk's DEK.
type ChunkID [32]byte

// FragmentKey names one fragment of one chunk on a device.
type FragmentKey struct {
	Chunk ChunkID
	Index uint8
}

// FragmentInfo describes a stored fragment for scrub and orphan collection.
type FragmentInfo struct {
	Key             FragmentKey
	SizeBytes       int64
	WrittenUnixNano int64
}

// DeviceStat reports a device's capacity.
type DeviceStat struct {
	CapacityBytes int64
	UsedBytes     int64
}

// Device stores fragments. Every fragment a device returns from
// GetFragment is exactly the bytes given to PutFragment or an error: a
// device never returns torn or foreign data knowingly (fragment headers and
// CRCs catch what it cannot know).
type Device interface {
	// ID is stable for the device's lifetime (e.g. "dev3").
	ID() string
	// PutFragment stores data durably: it returns only after the bytes and
	// the metadata that finds them are on stable storage.
	PutFragment(key FragmentKey, data []byte) error
	// GetFragment returns ErrFragmentNotFound when the device does not hold
	// the fragment and ErrDeviceFailed (wrapped) when the device is gone.
	GetFragment(key FragmentKey) ([]byte, error)
	// DeleteFragment is idempotent: deleting an absent fragment succeeds.
	DeleteFragment(key FragmentKey) error
	// ListFragments calls fn for every stored fragment in key order.
	ListFragments(fn func(FragmentInfo) error) error
	Stat() (DeviceStat, error)
	Close() error
}

var (
	// ErrFragmentNotFound: the device does not hold the fragment.
	ErrFragmentNotFound = errors.New("fragment not found")
	// ErrDeviceFailed: the device cannot serve I/O (missing, EIO, unmounted).
	ErrDeviceFailed = errors.New("device failed")
	// ErrDeviceFull: the device has no room for the fragment.
	ErrDeviceFull = errors.New("device full")
)
