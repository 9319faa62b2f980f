package block

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// FormatOptions controls Format.
type FormatOptions struct {
	// Force overwrites an existing filesystem, annal store or other data.
	// Callers must audit its use (ADR-029).
	Force bool
	// UUID names the device forever and seeds every metadata checksum.
	// It must be non-zero and unique; NewUUID makes one from a caller's
	// entropy source, because this package reads no randomness itself.
	UUID [16]byte
	// JournalBlocks and MaxFragments size the metadata regions; zero
	// picks 1/256 of the device (16 blocks to 1 GiB) and one fragment per
	// 16 KiB of capacity.
	JournalBlocks int
	MaxFragments  int
}

// NewUUID reads a random (version 4) UUID from r, typically crypto/rand
// as wired by cmd/.
func NewUUID(r io.Reader) ([16]byte, error) {
	var u [16]byte
	if _, err := io.ReadFull(r, u[:]); err != nil {
		return u, fmt.Errorf("block: read uuid: %w", err)
	}
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	return u, nil
}

// Format initialises path as an empty annal block device of sizeBytes
// (a multiple of 4 KiB). A missing path is created as a sparse file; an
// existing regular file is resized; a block device must be formatted
// whole (sizeBytes 0 or its exact size). Unless opts.Force is set,
// Format refuses with an *ExistingDataError (errors.Is ErrExistingData)
// when the target holds an annal superblock, a known filesystem
// signature, or any non-zero byte in its first 64 KiB.
func Format(path string, sizeBytes int64, opts FormatOptions) (err error) {
	if opts.UUID == ([16]byte{}) {
		return fmt.Errorf("block: format %s: zero UUID (use NewUUID)", path)
	}
	st, created, err := openFileStorage(path, true)
	if err != nil {
		return err
	}
	defer func() {
		if closeErr := st.Close(); err == nil && closeErr != nil {
			err = fmt.Errorf("block: format %s: close: %w", path, closeErr)
		}
		if err != nil && created {
			_ = os.Remove(path)
		}
	}()
	if !created && !opts.Force {
		if err := refuseExistingData(st, path); err != nil {
			return err
		}
	}
	if sizeBytes, err = resolveSize(st, sizeBytes); err != nil {
		return fmt.Errorf("block: format %s: %w", path, err)
	}
	// Plan before touching the target, so a bad size destroys nothing.
	if _, err := planGeometry(uint64(sizeBytes)/blockSize, opts.UUID, opts.layout()); err != nil {
		return fmt.Errorf("block: format %s: %w", path, err)
	}
	if st.regular {
		if err := zeroFile(st, sizeBytes); err != nil {
			return fmt.Errorf("block: format %s: %w", path, err)
		}
	}
	if err := formatStorage(st, sizeBytes, opts, st.regular); err != nil {
		return fmt.Errorf("block: format %s: %w", path, err)
	}
	return nil
}

// resolveSize picks the device size: sizeBytes, or the target's current
// size when sizeBytes is 0. A block device must be formatted whole.
func resolveSize(st *fileStorage, sizeBytes int64) (int64, error) {
	current, err := st.Size()
	if err != nil {
		return 0, fmt.Errorf("size: %w", err)
	}
	if sizeBytes == 0 {
		sizeBytes = current
	}
	if sizeBytes <= 0 || sizeBytes%blockSize != 0 {
		return 0, fmt.Errorf("size %d is not a positive multiple of %d", sizeBytes, blockSize)
	}
	if !st.regular && sizeBytes != current {
		return 0, fmt.Errorf("size %d, but the block device has %d (format it whole)", sizeBytes, current)
	}
	return sizeBytes, nil
}

// zeroFile makes a regular file exactly sizeBytes long and all zero,
// without allocating anything: truncating to 0 and back leaves a hole.
func zeroFile(st *fileStorage, sizeBytes int64) error {
	if err := st.f.Truncate(0); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	if err := st.f.Truncate(sizeBytes); err != nil {
		return fmt.Errorf("extend to %d: %w", sizeBytes, err)
	}
	return nil
}

func (o FormatOptions) layout() layoutOptions {
	return layoutOptions{journalBlocks: uint64(max(o.JournalBlocks, 0)), maxFragments: uint64(max(o.MaxFragments, 0))}
}

// formatStorage writes an empty store. zeroed says the medium already
// reads as zeros (a freshly truncated file), so the journal and the
// second checkpoint region need no clearing. The superblocks go last:
// until they are durable the target is not a store.
func formatStorage(st storage, sizeBytes int64, opts FormatOptions, zeroed bool) error {
	g, err := planGeometry(uint64(sizeBytes)/blockSize, opts.UUID, opts.layout())
	if err != nil {
		return err
	}
	if !zeroed {
		if err := zeroBlocks(st, g.journalStart, g.dataStart-g.journalStart); err != nil {
			return err
		}
	}
	seed := crcSeed(g.uuid)
	if err := writeEmptyBitmaps(st, g, seed); err != nil {
		return err
	}
	header, _, _ := encodeCheckpoint(seed, checkpointHeader{region: 0, gen: 1}, nil)
	if err := writeBlocks(st, g.checkpointA, header); err != nil {
		return err
	}
	if err := st.Sync(); err != nil {
		return fmt.Errorf("sync metadata: %w", err)
	}
	sb := encodeSuperblock(g)
	if err := writeBlocks(st, g.secondary, sb); err != nil {
		return err
	}
	if err := writeBlocks(st, 0, sb); err != nil {
		return err
	}
	if err := st.Sync(); err != nil {
		return fmt.Errorf("sync superblocks: %w", err)
	}
	return nil
}

const zeroChunkBlocks = 256

func zeroBlocks(st storage, first, n uint64) error {
	zero := make([]byte, min(n, zeroChunkBlocks)*blockSize)
	for done := uint64(0); done < n; {
		step := min(n-done, zeroChunkBlocks)
		if err := writeBlocks(st, first+done, zero[:step*blockSize]); err != nil {
			return err
		}
		done += step
	}
	return nil
}

func writeEmptyBitmaps(st storage, g geometry, seed uint32) error {
	empty := make([]byte, bitmapBytesPerPage)
	for copyIndex, start := range []uint64{g.bitmapA, g.bitmapB} {
		buf := make([]byte, 0, min(g.bitmapPages, zeroChunkBlocks)*blockSize)
		first := uint64(0)
		for p := uint64(0); p < g.bitmapPages; p++ {
			buf = append(buf, encodeBitmapPage(seed, p, copyIndex, empty)...)
			if len(buf) == cap(buf) || p == g.bitmapPages-1 {
				if err := writeBlocks(st, start+first, buf); err != nil {
					return err
				}
				first, buf = p+1, buf[:0]
			}
		}
	}
	return nil
}

// refuseExistingData reads the start and the end of the target and
// returns an *ExistingDataError naming what it found.
func refuseExistingData(st storage, path string) error {
	size, err := st.Size()
	if err != nil {
		return fmt.Errorf("block: size of %s: %w", path, err)
	}
	head := make([]byte, min(size, existingDataProbeBytes))
	if _, err := st.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("block: read head of %s: %w", path, err)
	}
	var tail []byte
	if size >= 2*blockSize {
		tail = make([]byte, blockSize)
		if _, err := st.ReadAt(tail, size-blockSize); err != nil {
			return fmt.Errorf("block: read tail of %s: %w", path, err)
		}
	}
	if sig := classifyExistingData(head, tail); sig != "" {
		return &ExistingDataError{Path: path, Signature: sig}
	}
	return nil
}

// existingDataProbeBytes covers the first 64 KiB and the btrfs
// superblock magic at 65600.
const existingDataProbeBytes = 65608

// classifyExistingData names what the head (first bytes) and tail (last
// block) of a target hold, or returns "" when both look unused.
func classifyExistingData(head, tail []byte) string {
	at := func(b []byte, off int, sig []byte) bool {
		return len(b) >= off+len(sig) && bytes.Equal(b[off:off+len(sig)], sig)
	}
	switch {
	case at(head, 0, superblockMagic[:]):
		return "an annal store" + describeStore(head)
	case at(tail, 0, superblockMagic[:]):
		return "an annal store (secondary superblock)" + describeStore(tail)
	case at(head, 0, []byte("XFSB")):
		return "an XFS filesystem"
	case len(head) >= 1082 && binary.LittleEndian.Uint16(head[1080:]) == 0xEF53:
		return "an ext2/ext3/ext4 filesystem"
	case at(head, 65600, []byte("_BHRfS_M")):
		return "a btrfs filesystem"
	case at(head, 3, []byte("NTFS    ")):
		return "an NTFS filesystem"
	}
	for i, c := range head[:min(len(head), 64<<10)] {
		if c != 0 {
			return fmt.Sprintf("non-zero data (first at byte %d)", i)
		}
	}
	return ""
}

func describeStore(b []byte) string {
	if len(b) < 32 {
		return ""
	}
	return fmt.Sprintf(" with UUID %x", b[16:32])
}
