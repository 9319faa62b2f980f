package block

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// storage is the byte range a device lives on: a regular file, a block
// device, or an in-memory image in tests (which can drop unsynced writes
// to simulate power loss). All offsets and lengths the device uses are
// multiples of blockSize.
type storage interface {
	io.ReaderAt
	io.WriterAt
	// Sync makes every completed WriteAt durable.
	Sync() error
	// Size is the usable length in bytes.
	Size() (int64, error)
	// PunchHole discards a byte range whose contents no longer matter
	// (TRIM); errPunchUnsupported when the medium cannot.
	PunchHole(off, length int64) error
	Close() error
}

var errPunchUnsupported = errors.New("block: punch hole unsupported")

// fileStorage is a regular file or a block device.
type fileStorage struct {
	f       *os.File
	path    string
	regular bool
}

// openFileStorage opens path for read-write I/O and takes an exclusive
// advisory lock, so two processes never run one device. Block devices
// are also opened O_EXCL, which Linux refuses while they are mounted.
func openFileStorage(path string, create bool) (*fileStorage, bool, error) {
	flags := os.O_RDWR
	info, err := os.Stat(path)
	created := false
	switch {
	case err == nil && info.Mode()&os.ModeDevice != 0:
		flags |= os.O_EXCL
	case err == nil && !info.Mode().IsRegular():
		return nil, false, fmt.Errorf("block: %s is neither a regular file nor a block device", path)
	case errors.Is(err, os.ErrNotExist) && create:
		flags |= os.O_CREATE | os.O_EXCL
		created = true
	case err != nil:
		return nil, false, fmt.Errorf("block: stat %s: %w", path, err)
	}
	f, err := os.OpenFile(path, flags, 0o600)
	if err != nil {
		return nil, false, fmt.Errorf("block: open %s: %w", path, err)
	}
	s := &fileStorage{f: f, path: path, regular: info == nil || info.Mode().IsRegular()}
	if err := lockFile(f); err != nil {
		_ = f.Close()
		return nil, false, fmt.Errorf("block: %s is in use by another process: %w", path, err)
	}
	return s, created, nil
}

func (s *fileStorage) ReadAt(p []byte, off int64) (int, error) {
	n, err := s.f.ReadAt(p, off)
	if err != nil && n == len(p) {
		err = nil // io.EOF exactly at the end is a full read
	}
	return n, err
}

func (s *fileStorage) WriteAt(p []byte, off int64) (int, error) { return s.f.WriteAt(p, off) }

func (s *fileStorage) Sync() error { return syncFile(s.f) }

func (s *fileStorage) Size() (int64, error) {
	if s.regular {
		info, err := s.f.Stat()
		if err != nil {
			return 0, err
		}
		return info.Size(), nil
	}
	return s.f.Seek(0, io.SeekEnd)
}

func (s *fileStorage) PunchHole(off, length int64) error {
	if !s.regular {
		return errPunchUnsupported // BLKDISCARD is not wired yet
	}
	return punchHole(s.f, off, length)
}

func (s *fileStorage) Close() error { return s.f.Close() }

// readBlocks reads n whole blocks starting at block number first.
func readBlocks(st storage, first, n uint64) ([]byte, error) {
	b := make([]byte, n*blockSize)
	if _, err := st.ReadAt(b, int64(first)*blockSize); err != nil {
		return nil, fmt.Errorf("block: read blocks %d+%d: %w", first, n, err)
	}
	return b, nil
}

func writeBlocks(st storage, first uint64, b []byte) error {
	if _, err := st.WriteAt(b, int64(first)*blockSize); err != nil {
		return fmt.Errorf("block: write blocks %d+%d: %w", first, len(b)/blockSize, err)
	}
	return nil
}
