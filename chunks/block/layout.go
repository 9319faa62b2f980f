package block

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// Geometry constants of format version 1.
const (
	blockSize     = 4096
	formatVersion = uint16(1)
	trailerBytes  = 4

	// A bitmap page is 4088 bytes of bits, a u32 tag (page number and
	// copy) and a u32 CRC.
	bitmapBytesPerPage = blockSize - 8
	bitmapBitsPerPage  = bitmapBytesPerPage * 8

	minJournalBlocks = 16
	maxJournalBlocks = 1 << 18 // 1 GiB
	minDataBlocks    = 16

	// MaxFragmentBytes bounds one fragment, which lives in one extent: a
	// replicated 64 MiB chunk plus its fragment header fits with room.
	MaxFragmentBytes = 128 << 20
)

// superblockMagic opens block 0 and the last block (ADR-029 "ANNAL\x01\x00").
var superblockMagic = [8]byte{'A', 'N', 'N', 'A', 'L', 0x01, 0x00, 0x00}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// crcSeed is the CRC32-C of the device UUID; every metadata checksum
// continues from it so that blocks of another format never validate.
func crcSeed(uuid [16]byte) uint32 { return crc32.Checksum(uuid[:], castagnoli) }

func crcUpdate(seed uint32, b []byte) uint32 { return crc32.Update(seed, castagnoli, b) }

// geometry is the superblock's content: where every region lives. Block
// numbers are absolute (from the start of the device) except extents,
// which count from dataStart.
type geometry struct {
	uuid             [16]byte
	totalBlocks      uint64
	bitmapA          uint64
	bitmapB          uint64
	bitmapPages      uint64
	journalStart     uint64
	journalBlocks    uint64
	checkpointA      uint64
	checkpointB      uint64
	checkpointBlocks uint64 // per region, header included
	dataStart        uint64
	dataBlocks       uint64
	secondary        uint64
	maxFragments     uint64
}

// layoutOptions lets tests and operators size the metadata regions; zero
// picks the defaults.
type layoutOptions struct {
	journalBlocks uint64
	maxFragments  uint64
}

// planGeometry lays out a device of totalBlocks blocks. The journal
// defaults to 1/256 of the device (16 blocks to 1 GiB) and the index to
// one fragment per 16 KiB, the smallest fragment of a 64 KiB chunk under
// EC 4+2.
func planGeometry(totalBlocks uint64, uuid [16]byte, o layoutOptions) (geometry, error) {
	g := geometry{uuid: uuid, totalBlocks: totalBlocks}
	g.journalBlocks = o.journalBlocks
	if g.journalBlocks == 0 {
		g.journalBlocks = min(max(totalBlocks/256, minJournalBlocks), maxJournalBlocks)
	}
	g.maxFragments = o.maxFragments
	if g.maxFragments == 0 {
		g.maxFragments = max(totalBlocks/4, entriesPerCheckpointBlock)
	}
	g.checkpointBlocks = 1 + ceilDiv(g.maxFragments, entriesPerCheckpointBlock)
	g.maxFragments = (g.checkpointBlocks - 1) * entriesPerCheckpointBlock
	g.bitmapPages = ceilDiv(totalBlocks, bitmapBitsPerPage)
	g.bitmapA = 1
	g.bitmapB = g.bitmapA + g.bitmapPages
	g.journalStart = g.bitmapB + g.bitmapPages
	g.checkpointA = g.journalStart + g.journalBlocks
	g.checkpointB = g.checkpointA + g.checkpointBlocks
	g.dataStart = g.checkpointB + g.checkpointBlocks
	g.secondary = totalBlocks - 1
	if totalBlocks < g.dataStart+minDataBlocks+1 {
		return geometry{}, fmt.Errorf("block: %d blocks leave no room for data after %d metadata blocks", totalBlocks, g.dataStart+1)
	}
	g.dataBlocks = g.secondary - g.dataStart
	return g, g.validate()
}

func ceilDiv(a, b uint64) uint64 { return (a + b - 1) / b }

// validate checks that the regions are in order, do not overlap and fit.
// It guards decodeSuperblock against a CRC-valid but nonsensical layout.
func (g geometry) validate() error {
	if g.totalBlocks > 1<<42 {
		return fmt.Errorf("%w: superblock claims %d blocks", ErrCorrupt, g.totalBlocks)
	}
	regions := []struct {
		name          string
		start, blocks uint64
	}{
		{"bitmap A", g.bitmapA, g.bitmapPages},
		{"bitmap B", g.bitmapB, g.bitmapPages},
		{"journal", g.journalStart, g.journalBlocks},
		{"checkpoint A", g.checkpointA, g.checkpointBlocks},
		{"checkpoint B", g.checkpointB, g.checkpointBlocks},
		{"data", g.dataStart, g.dataBlocks},
	}
	next := uint64(1)
	for _, r := range regions {
		if r.start != next || r.blocks == 0 || r.blocks > g.totalBlocks {
			return fmt.Errorf("%w: superblock region %s at %d+%d, want start %d", ErrCorrupt, r.name, r.start, r.blocks, next)
		}
		next = r.start + r.blocks
	}
	switch {
	case g.totalBlocks < 2 || g.secondary != g.totalBlocks-1 || next != g.secondary:
		return fmt.Errorf("%w: superblock regions end at %d, secondary at %d of %d", ErrCorrupt, next, g.secondary, g.totalBlocks)
	case g.bitmapPages*bitmapBitsPerPage < g.dataBlocks:
		return fmt.Errorf("%w: %d bitmap pages cannot map %d blocks", ErrCorrupt, g.bitmapPages, g.dataBlocks)
	case g.journalBlocks < minJournalBlocks || g.journalBlocks > maxJournalBlocks:
		return fmt.Errorf("%w: journal of %d blocks", ErrCorrupt, g.journalBlocks)
	case g.maxFragments != (g.checkpointBlocks-1)*entriesPerCheckpointBlock:
		return fmt.Errorf("%w: %d fragments do not fit %d checkpoint blocks", ErrCorrupt, g.maxFragments, g.checkpointBlocks)
	case g.dataBlocks > 1<<40:
		return fmt.Errorf("%w: %d data blocks", ErrCorrupt, g.dataBlocks)
	}
	return nil
}

func (g geometry) dataOffset(e extent) int64 { return int64(g.dataStart+e.start) * blockSize }

// Superblock layout, format version 1 (big-endian):
//
//	offset  size  field
//	0       8     magic "ANNAL\x01\x00\x00"
//	8       2     format version (read before anything else)
//	10      2     flags, zero
//	12      4     block size (4096)
//	16      16    device UUID
//	32      8     total blocks
//	40      8     bitmap A start      48  8  bitmap B start
//	56      8     bitmap pages        64  8  journal start
//	72      8     journal blocks      80  8  checkpoint A start
//	88      8     checkpoint B start  96  8  checkpoint blocks
//	104     8     data start          112 8  data blocks
//	120     8     secondary superblock block
//	128     8     max fragments
//	136..4091     zero
//	4092    4     CRC32-C of bytes 0..4091
func encodeSuperblock(g geometry) []byte {
	b := make([]byte, blockSize)
	copy(b[0:8], superblockMagic[:])
	be := binary.BigEndian
	be.PutUint16(b[8:], formatVersion)
	be.PutUint32(b[12:], blockSize)
	copy(b[16:32], g.uuid[:])
	for i, v := range superblockFields(&g) {
		be.PutUint64(b[32+8*i:], *v)
	}
	be.PutUint32(b[blockSize-4:], crc32.Checksum(b[:blockSize-4], castagnoli))
	return b
}

func superblockFields(g *geometry) []*uint64 {
	return []*uint64{
		&g.totalBlocks, &g.bitmapA, &g.bitmapB, &g.bitmapPages,
		&g.journalStart, &g.journalBlocks, &g.checkpointA, &g.checkpointB,
		&g.checkpointBlocks, &g.dataStart, &g.dataBlocks, &g.secondary,
		&g.maxFragments,
	}
}

// decodeSuperblock reads magic, then version, then the checksum, then the
// fields, so that a future version is reported as such even if its
// checksum lives elsewhere.
func decodeSuperblock(b []byte) (geometry, error) {
	if len(b) < blockSize {
		return geometry{}, fmt.Errorf("%w: superblock of %d bytes", ErrCorrupt, len(b))
	}
	if !bytes.Equal(b[0:8], superblockMagic[:]) {
		return geometry{}, ErrNotFormatted
	}
	be := binary.BigEndian
	if v := be.Uint16(b[8:]); v != formatVersion {
		return geometry{}, fmt.Errorf("%w: superblock says version %d, this binary reads %d", ErrUnsupportedVersion, v, formatVersion)
	}
	if got, want := crc32.Checksum(b[:blockSize-4], castagnoli), be.Uint32(b[blockSize-4:]); got != want {
		return geometry{}, fmt.Errorf("%w: superblock checksum %08x, stored %08x", ErrCorrupt, got, want)
	}
	if bs := be.Uint32(b[12:]); bs != blockSize || be.Uint16(b[10:]) != 0 {
		return geometry{}, fmt.Errorf("%w: superblock block size %d flags %d", ErrCorrupt, bs, be.Uint16(b[10:]))
	}
	var g geometry
	copy(g.uuid[:], b[16:32])
	for i, v := range superblockFields(&g) {
		*v = be.Uint64(b[32+8*i:])
	}
	if err := g.validate(); err != nil {
		return geometry{}, err
	}
	return g, nil
}
