package block

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/annal-storage/annal/chunks"
)

// indexEntry locates one fragment. seq is the sequence number of the
// commit that created it (0 when loaded from a checkpoint); readers use
// the whole entry to notice a concurrent replace or delete.
type indexEntry struct {
	extent          extent
	sizeBytes       uint32
	dataCRC         uint32
	writtenUnixNano int64
	seq             uint64
}

type keyedEntry struct {
	key   chunks.FragmentKey
	entry indexEntry
}

// checkpointHeader is block 0 of a checkpoint region. The journal chain
// that follows this checkpoint starts at block number startBlockNo and
// its first block's prevCRC is this header's CRC.
type checkpointHeader struct {
	region       uint16
	gen          uint64
	lastSeq      uint64
	startBlockNo uint64
	entries      uint64
	bodyBlocks   uint64
	bodyCRC      uint32
}

// Checkpoint layout. Header block:
//
//	offset  size  field
//	0       4     magic "ACKP"
//	4       2     version (1)
//	6       2     region (0 = A, 1 = B)
//	8       8     generation, +1 per checkpoint
//	16      8     last journal sequence number covered
//	24      8     block number of the first journal block after it
//	32      8     entry count
//	40      8     body blocks
//	48      4     CRC32-C of UUID || body
//	4092    4     CRC32-C of UUID || bytes 0..4091
//
// Body blocks hold 63 entries of 64 bytes each (chunk id [32] | fragment
// index u8 | pad [3] | extent start u64 | size u32 | data CRC u32 |
// written unix nanoseconds i64 | pad [4]) sorted by key, then the
// generation u64 at 4080, the body block index u32 at 4088 and a CRC32-C
// of UUID || bytes 0..4091.
const (
	entriesPerCheckpointBlock = 63
	checkpointEntryBytes      = 64
	checkpointVersion1        = uint16(1)
)

var checkpointMagic = []byte("ACKP")

func encodeCheckpoint(seed uint32, h checkpointHeader, entries []keyedEntry) (header, body []byte, headerCRC uint32) {
	h.entries = uint64(len(entries))
	h.bodyBlocks = ceilDiv(h.entries, entriesPerCheckpointBlock)
	body = make([]byte, h.bodyBlocks*blockSize)
	for i, e := range entries {
		block := i / entriesPerCheckpointBlock
		off := block*blockSize + (i%entriesPerCheckpointBlock)*checkpointEntryBytes
		encodeCheckpointEntry(body[off:off+checkpointEntryBytes], e)
	}
	be := binary.BigEndian
	for block := uint64(0); block < h.bodyBlocks; block++ {
		b := body[block*blockSize : (block+1)*blockSize]
		be.PutUint64(b[4080:], h.gen)
		be.PutUint32(b[4088:], uint32(block))
		be.PutUint32(b[blockSize-4:], crcUpdate(seed, b[:blockSize-4]))
	}
	h.bodyCRC = crcUpdate(seed, body)
	header = make([]byte, blockSize)
	copy(header, checkpointMagic)
	be.PutUint16(header[4:], checkpointVersion1)
	be.PutUint16(header[6:], h.region)
	for i, v := range []uint64{h.gen, h.lastSeq, h.startBlockNo, h.entries, h.bodyBlocks} {
		be.PutUint64(header[8+8*i:], v)
	}
	be.PutUint32(header[48:], h.bodyCRC)
	headerCRC = crcUpdate(seed, header[:blockSize-4])
	be.PutUint32(header[blockSize-4:], headerCRC)
	return header, body, headerCRC
}

func encodeCheckpointEntry(b []byte, e keyedEntry) {
	be := binary.BigEndian
	copy(b[0:32], e.key.Chunk[:])
	b[32] = e.key.Index
	be.PutUint64(b[36:], e.entry.extent.start)
	be.PutUint32(b[44:], e.entry.sizeBytes)
	be.PutUint32(b[48:], e.entry.dataCRC)
	be.PutUint64(b[52:], uint64(e.entry.writtenUnixNano))
}

func decodeCheckpointHeader(seed uint32, b []byte) (checkpointHeader, uint32, error) {
	be := binary.BigEndian
	if len(b) != blockSize || !bytes.Equal(b[:4], checkpointMagic) {
		return checkpointHeader{}, 0, fmt.Errorf("%w: no checkpoint magic", ErrCorrupt)
	}
	crc := crcUpdate(seed, b[:blockSize-4])
	if stored := be.Uint32(b[blockSize-4:]); crc != stored {
		return checkpointHeader{}, 0, fmt.Errorf("%w: checkpoint header checksum %08x, stored %08x", ErrCorrupt, crc, stored)
	}
	if v := be.Uint16(b[4:]); v != checkpointVersion1 {
		return checkpointHeader{}, 0, fmt.Errorf("%w: checkpoint version %d", ErrUnsupportedVersion, v)
	}
	h := checkpointHeader{region: be.Uint16(b[6:]), bodyCRC: be.Uint32(b[48:])}
	for i, v := range []*uint64{&h.gen, &h.lastSeq, &h.startBlockNo, &h.entries, &h.bodyBlocks} {
		*v = be.Uint64(b[8+8*i:])
	}
	if h.bodyBlocks != ceilDiv(h.entries, entriesPerCheckpointBlock) || h.entries > 1<<40 {
		return checkpointHeader{}, 0, fmt.Errorf("%w: checkpoint of %d entries in %d blocks", ErrCorrupt, h.entries, h.bodyBlocks)
	}
	return h, crc, nil
}

// decodeCheckpointBody checks every body block against the header and
// returns the entries; sizes and extents are checked by the caller, which
// knows the geometry.
func decodeCheckpointBody(seed uint32, h checkpointHeader, body []byte) ([]keyedEntry, error) {
	be := binary.BigEndian
	if uint64(len(body)) != h.bodyBlocks*blockSize {
		return nil, fmt.Errorf("%w: checkpoint body of %d bytes for %d blocks", ErrCorrupt, len(body), h.bodyBlocks)
	}
	if got := crcUpdate(seed, body); got != h.bodyCRC {
		return nil, fmt.Errorf("%w: checkpoint gen %d body checksum %08x, header says %08x", ErrCorrupt, h.gen, got, h.bodyCRC)
	}
	entries := make([]keyedEntry, 0, h.entries)
	for block := uint64(0); block < h.bodyBlocks; block++ {
		b := body[block*blockSize : (block+1)*blockSize]
		if crcUpdate(seed, b[:blockSize-4]) != be.Uint32(b[blockSize-4:]) ||
			be.Uint64(b[4080:]) != h.gen || be.Uint32(b[4088:]) != uint32(block) {
			return nil, fmt.Errorf("%w: checkpoint gen %d body block %d", ErrCorrupt, h.gen, block)
		}
		for i := 0; i < entriesPerCheckpointBlock && uint64(len(entries)) < h.entries; i++ {
			entries = append(entries, decodeCheckpointEntry(b[i*checkpointEntryBytes:]))
		}
	}
	return entries, nil
}

func decodeCheckpointEntry(b []byte) keyedEntry {
	be := binary.BigEndian
	var e keyedEntry
	copy(e.key.Chunk[:], b[0:32])
	e.key.Index = b[32]
	e.entry.sizeBytes = be.Uint32(b[44:])
	e.entry.extent = extent{start: be.Uint64(b[36:]), blocks: blocksFor(int(e.entry.sizeBytes))}
	e.entry.dataCRC = be.Uint32(b[48:])
	e.entry.writtenUnixNano = int64(be.Uint64(b[52:]))
	return e
}
