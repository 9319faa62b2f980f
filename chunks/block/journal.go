package block

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"fmt"

	"github.com/annal-storage/annal/chunks"
)

// recordType codes are fixed forever; a retired code is never reused.
// Codes with recordSkippable set may be skipped by older binaries; any
// other unknown code stops recovery rather than letting it guess.
type recordType uint8

const (
	recordAllocIntended  recordType = 1 // ExtentAllocIntended
	recordAllocCommitted recordType = 2 // ExtentAllocCommitted
	recordFreeIntended   recordType = 3 // ExtentFreeIntended
	recordFreeCommitted  recordType = 4 // ExtentFreeCommitted

	recordSkippable recordType = 0x80
	recordVersion1  uint8      = 1
)

func (t recordType) String() string {
	switch t {
	case recordAllocIntended:
		return "ExtentAllocIntended"
	case recordAllocCommitted:
		return "ExtentAllocCommitted"
	case recordFreeIntended:
		return "ExtentFreeIntended"
	case recordFreeCommitted:
		return "ExtentFreeCommitted"
	}
	return fmt.Sprintf("record(%d)", uint8(t))
}

// record is one allocation journal entry. Sizes, CRC and time are set
// only on ExtentAllocCommitted, which carries everything the index needs
// so that replay never depends on the matching intent.
type record struct {
	typ             recordType
	seq             uint64
	key             chunks.FragmentKey
	extent          extent
	sizeBytes       uint32
	dataCRC         uint32
	writtenUnixNano int64
}

func (r record) String() string {
	s := fmt.Sprintf("%s{seq=%d key=%s/%d extent=%d+%d", r.typ, r.seq,
		hex.EncodeToString(r.key.Chunk[:4]), r.key.Index, r.extent.start, r.extent.blocks)
	if r.typ == recordAllocCommitted {
		s += fmt.Sprintf(" size=%d crc=%08x written=%d", r.sizeBytes, r.dataCRC, r.writtenUnixNano)
	}
	return s + "}"
}

// Record encoding: type u8 | version u8 | payload length u16 | payload.
// Payload version 1: seq u64 | chunk id [32] | fragment index u8 |
// extent start u64 | extent blocks u64, and for ExtentAllocCommitted also
// size u32 | data CRC u32 | written unix nanoseconds i64.
const (
	recordHeaderBytes    = 4
	recordBaseBytes      = 8 + 32 + 1 + 8 + 8
	recordCommittedBytes = recordBaseBytes + 4 + 4 + 8
)

func payloadBytes(t recordType) int {
	if t == recordAllocCommitted {
		return recordCommittedBytes
	}
	return recordBaseBytes
}

func appendRecord(dst []byte, r record) []byte {
	be := binary.BigEndian
	dst = append(dst, byte(r.typ), recordVersion1)
	dst = be.AppendUint16(dst, uint16(payloadBytes(r.typ)))
	dst = be.AppendUint64(dst, r.seq)
	dst = append(dst, r.key.Chunk[:]...)
	dst = append(dst, r.key.Index)
	dst = be.AppendUint64(dst, r.extent.start)
	dst = be.AppendUint64(dst, r.extent.blocks)
	if r.typ == recordAllocCommitted {
		dst = be.AppendUint32(dst, r.sizeBytes)
		dst = be.AppendUint32(dst, r.dataCRC)
		dst = be.AppendUint64(dst, uint64(r.writtenUnixNano))
	}
	return dst
}

// decodeRecord decodes the record at the start of b and returns its
// encoded length. A skippable unknown record decodes with only typ set.
func decodeRecord(b []byte) (record, int, error) {
	if len(b) < recordHeaderBytes {
		return record{}, 0, fmt.Errorf("%w: journal record header truncated at %d bytes", ErrCorrupt, len(b))
	}
	typ, version := recordType(b[0]), b[1]
	n := recordHeaderBytes + int(binary.BigEndian.Uint16(b[2:]))
	if n > len(b) {
		return record{}, 0, fmt.Errorf("%w: journal record of %d bytes, %d left", ErrCorrupt, n, len(b))
	}
	switch typ {
	case recordAllocIntended, recordAllocCommitted, recordFreeIntended, recordFreeCommitted:
	default:
		if typ&recordSkippable != 0 {
			return record{typ: typ}, n, nil
		}
		return record{}, 0, fmt.Errorf("%w: unknown journal record type %d", ErrUnsupportedVersion, uint8(typ))
	}
	if version != recordVersion1 {
		return record{}, 0, fmt.Errorf("%w: %s version %d", ErrUnsupportedVersion, typ, version)
	}
	if n != recordHeaderBytes+payloadBytes(typ) {
		return record{}, 0, fmt.Errorf("%w: %s payload of %d bytes", ErrCorrupt, typ, n-recordHeaderBytes)
	}
	return decodePayload(typ, b[recordHeaderBytes:n]), n, nil
}

func decodePayload(typ recordType, p []byte) record {
	be := binary.BigEndian
	r := record{typ: typ, seq: be.Uint64(p)}
	copy(r.key.Chunk[:], p[8:40])
	r.key.Index = p[40]
	r.extent = extent{start: be.Uint64(p[41:]), blocks: be.Uint64(p[49:])}
	if typ == recordAllocCommitted {
		r.sizeBytes = be.Uint32(p[57:])
		r.dataCRC = be.Uint32(p[61:])
		r.writtenUnixNano = int64(be.Uint64(p[65:]))
	}
	return r
}

// Journal block layout (one 4 KiB block of the ring, written once per
// pass, never rewritten in place):
//
//	offset  size  field
//	0       4     magic "AJNL"
//	4       2     block format version (1)
//	6       2     record count
//	8       2     payload length
//	10      2     reserved, zero
//	12      4     CRC of the previous block (the checkpoint header's for
//	              the first block after a checkpoint)
//	16      8     block number, monotonic; ring slot = number mod size
//	24      8     checkpoint generation the chain hangs from
//	32      n     records
//	4092    4     CRC32-C of UUID || bytes 0..4091
const (
	journalHeaderBytes  = 32
	journalPayloadBytes = blockSize - 4 - journalHeaderBytes
	journalVersion1     = uint16(1)
)

var journalMagic = []byte("AJNL")

type journalHeader struct {
	prevCRC       uint32
	blockNo       uint64
	checkpointGen uint64
}

// encodeJournalBlock packs already-encoded records; the caller keeps
// payload within journalPayloadBytes. It returns the block and its CRC.
func encodeJournalBlock(seed uint32, h journalHeader, count int, payload []byte) ([]byte, uint32) {
	be := binary.BigEndian
	b := make([]byte, blockSize)
	copy(b, journalMagic)
	be.PutUint16(b[4:], journalVersion1)
	be.PutUint16(b[6:], uint16(count))
	be.PutUint16(b[8:], uint16(len(payload)))
	be.PutUint32(b[12:], h.prevCRC)
	be.PutUint64(b[16:], h.blockNo)
	be.PutUint64(b[24:], h.checkpointGen)
	copy(b[journalHeaderBytes:], payload)
	crc := crcUpdate(seed, b[:blockSize-4])
	be.PutUint32(b[blockSize-4:], crc)
	return b, crc
}

// decodeJournalBlock validates a block and decodes its records. An
// invalid block is the end of the journal, not necessarily damage: the
// slot may hold a torn write or a block of an earlier pass.
func decodeJournalBlock(seed uint32, b []byte) (journalHeader, []record, uint32, error) {
	be := binary.BigEndian
	if len(b) != blockSize || !bytes.Equal(b[:4], journalMagic) {
		return journalHeader{}, nil, 0, fmt.Errorf("%w: no journal block magic", ErrCorrupt)
	}
	crc := crcUpdate(seed, b[:blockSize-4])
	if stored := be.Uint32(b[blockSize-4:]); crc != stored {
		return journalHeader{}, nil, 0, fmt.Errorf("%w: journal block checksum %08x, stored %08x", ErrCorrupt, crc, stored)
	}
	if v := be.Uint16(b[4:]); v != journalVersion1 {
		return journalHeader{}, nil, 0, fmt.Errorf("%w: journal block version %d", ErrUnsupportedVersion, v)
	}
	count, length := int(be.Uint16(b[6:])), int(be.Uint16(b[8:]))
	if length > journalPayloadBytes {
		return journalHeader{}, nil, 0, fmt.Errorf("%w: journal payload of %d bytes", ErrCorrupt, length)
	}
	h := journalHeader{prevCRC: be.Uint32(b[12:]), blockNo: be.Uint64(b[16:]), checkpointGen: be.Uint64(b[24:])}
	records, err := decodeRecords(b[journalHeaderBytes:journalHeaderBytes+length], count)
	if err != nil {
		return journalHeader{}, nil, 0, err
	}
	return h, records, crc, nil
}

func decodeRecords(p []byte, count int) ([]record, error) {
	records := make([]record, 0, min(count, len(p)/recordHeaderBytes))
	for i := 0; i < count; i++ {
		r, n, err := decodeRecord(p)
		if err != nil {
			return nil, fmt.Errorf("journal record %d of %d: %w", i, count, err)
		}
		p = p[n:]
		if r.typ&recordSkippable == 0 {
			records = append(records, r)
		}
	}
	if len(p) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after %d journal records", ErrCorrupt, len(p), count)
	}
	return records, nil
}
