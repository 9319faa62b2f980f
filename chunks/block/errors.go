package block

import "errors"

var (
	// ErrCorrupt reports bytes that fail their checksum or violate the
	// on-disk format: a fragment whose CRC32-C trailer does not match, a
	// superblock or index that cannot be trusted. For GetFragment the
	// caller treats it as a missing fragment and repairs from the others.
	ErrCorrupt = errors.New("block: data corruption")
	// ErrExistingData: Format found a filesystem, an annal store or other
	// non-zero data and was not told to overwrite it.
	ErrExistingData = errors.New("block: existing data")
	// ErrNotFormatted: the path holds no annal superblock.
	ErrNotFormatted = errors.New("block: not an annal block device")
	// ErrUnsupportedVersion: the superblock names a format version this
	// binary does not know; the device is left untouched.
	ErrUnsupportedVersion = errors.New("block: unsupported format version")
	// ErrFragmentTooLarge: the fragment exceeds MaxFragmentBytes.
	ErrFragmentTooLarge = errors.New("block: fragment too large")
)

// ExistingDataError names what Format found on the target.
type ExistingDataError struct {
	Path      string
	Signature string
}

func (e *ExistingDataError) Error() string {
	return "block: " + e.Path + " holds " + e.Signature + " (use Force to overwrite)"
}

// Unwrap lets errors.Is(err, ErrExistingData) match.
func (e *ExistingDataError) Unwrap() error { return ErrExistingData }
