package block

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

// Goal: no decoder of on-disk bytes panics, and whatever a decoder
// accepts re-encodes to something that decodes to the same value.
// Method: go test -fuzz=FuzzDecodeSuperblock (and the others) from
// valid seeds; plain go test runs the seeds.

func FuzzDecodeSuperblock(f *testing.F) {
	g, err := planGeometry(1024, testUUID, layoutOptions{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(encodeSuperblock(g))
	f.Add(make([]byte, blockSize))
	f.Add([]byte("ANNAL\x01\x00\x00\x00\x63"))
	f.Fuzz(func(t *testing.T, b []byte) {
		// Also decode with the checksum made valid, so the fuzzer reaches
		// the layout checks behind it.
		for _, input := range [][]byte{b, withValidCRC(b, 0)} {
			g, err := decodeSuperblock(input)
			if err != nil {
				continue
			}
			again, err := decodeSuperblock(encodeSuperblock(g))
			if err != nil || again != g {
				t.Fatalf("re-encoded superblock decodes to %+v, %v; want %+v", again, err, g)
			}
		}
	})
}

// withValidCRC pads or cuts b to one block and stores the CRC32-C of its
// first 4092 bytes, continued from seed, in the last four.
func withValidCRC(b []byte, seed uint32) []byte {
	block := make([]byte, blockSize)
	copy(block, b)
	crc := crcUpdate(seed, block[:blockSize-4])
	if seed == 0 {
		crc = crc32.Checksum(block[:blockSize-4], castagnoli)
	}
	binary.BigEndian.PutUint32(block[blockSize-4:], crc)
	return block
}

func FuzzDecodeRecord(f *testing.F) {
	for _, r := range sampleRecords() {
		f.Add(appendRecord(nil, r))
	}
	f.Add([]byte{0x81, 1, 0, 2, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, n, err := decodeRecord(b)
		if err != nil {
			return
		}
		if n < recordHeaderBytes || n > len(b) {
			t.Fatalf("decoded length %d of %d bytes", n, len(b))
		}
		if r.typ&recordSkippable != 0 {
			return
		}
		if enc := appendRecord(nil, r); !bytes.Equal(enc, b[:n]) {
			t.Fatalf("%s re-encodes differently", r)
		}
	})
}

func FuzzDecodeJournalBlock(f *testing.F) {
	seed := crcSeed(testUUID)
	var payload []byte
	recs := sampleRecords()
	for _, r := range recs {
		payload = appendRecord(payload, r)
	}
	block, _ := encodeJournalBlock(seed, journalHeader{prevCRC: 7, blockNo: 3, checkpointGen: 2}, len(recs), payload)
	f.Add(seed, block)
	f.Add(uint32(0), make([]byte, blockSize))
	f.Fuzz(func(t *testing.T, seed uint32, b []byte) {
		decodeJournalBlockRoundTrip(t, seed, b)
		decodeJournalBlockRoundTrip(t, seed, withValidCRC(b, seed))
	})
}

func decodeJournalBlockRoundTrip(t *testing.T, seed uint32, b []byte) {
	{
		h, records, _, err := decodeJournalBlock(seed, b)
		if err != nil {
			return
		}
		var p []byte
		for _, r := range records {
			p = appendRecord(p, r)
		}
		if len(p) > journalPayloadBytes {
			t.Fatalf("accepted %d payload bytes", len(p))
		}
		again, _ := encodeJournalBlock(seed, h, len(records), p)
		h2, records2, _, err := decodeJournalBlock(seed, again)
		if err != nil || h2 != h || len(records2) != len(records) {
			t.Fatalf("re-encoded block: %v", err)
		}
	}
}

func FuzzDecodeCheckpoint(f *testing.F) {
	seed := crcSeed(testUUID)
	entries := []keyedEntry{{key: testKey(1), entry: indexEntry{extent: extent{start: 3, blocks: 1}, sizeBytes: 10}}}
	header, body, _ := encodeCheckpoint(seed, checkpointHeader{gen: 4, lastSeq: 9}, entries)
	f.Add(seed, header, body)
	f.Fuzz(func(t *testing.T, seed uint32, header, body []byte) {
		h, _, err := decodeCheckpointHeader(seed, header)
		if err != nil {
			return
		}
		entries, err := decodeCheckpointBody(seed, h, body)
		if err == nil && uint64(len(entries)) != h.entries {
			t.Fatalf("decoded %d entries, header says %d", len(entries), h.entries)
		}
	})
}

func FuzzDecodeBitmapPage(f *testing.F) {
	seed := crcSeed(testUUID)
	f.Add(seed, uint64(0), encodeBitmapPage(seed, 0, 0, make([]byte, bitmapBytesPerPage)))
	f.Fuzz(func(t *testing.T, seed uint32, page uint64, b []byte) {
		for copyIndex := range 2 {
			if bits, err := decodeBitmapPage(seed, page, copyIndex, b); err == nil && len(bits) != bitmapBytesPerPage {
				t.Fatalf("page of %d bytes", len(bits))
			}
		}
	})
}

func sampleRecords() []record {
	k := testKey(3)
	return []record{
		{typ: recordAllocIntended, seq: 1, key: k, extent: extent{start: 10, blocks: 2}},
		{typ: recordAllocCommitted, seq: 2, key: k, extent: extent{start: 10, blocks: 2}, sizeBytes: 5000, dataCRC: 0xdeadbeef, writtenUnixNano: 1 << 60},
		{typ: recordFreeIntended, seq: 3, key: k, extent: extent{start: 10, blocks: 2}},
		{typ: recordFreeCommitted, seq: 4, key: k, extent: extent{start: 10, blocks: 2}},
	}
}

// Goal: records and superblocks round-trip exactly; String names the
// record for humans.
func TestEncodingRoundTrip(t *testing.T) {
	for _, r := range sampleRecords() {
		got, n, err := decodeRecord(appendRecord(nil, r))
		if err != nil || got != r || n != recordHeaderBytes+payloadBytes(r.typ) {
			t.Fatalf("%s: got %s, %d, %v", r, got, n, err)
		}
	}
	if s := sampleRecords()[1].String(); s != "ExtentAllocCommitted{seq=2 key=00036b72/3 extent=10+2 size=5000 crc=deadbeef written=1152921504606846976}" {
		t.Fatalf("String: %s", s)
	}
	if _, _, err := decodeRecord([]byte{0x05, 1, 0, 0}); err == nil {
		t.Fatalf("unknown non-skippable record type accepted")
	}
	if r, n, err := decodeRecord([]byte{0x85, 1, 0, 2, 9, 9}); err != nil || n != 6 || r.typ != 0x85 {
		t.Fatalf("skippable record: %v %d %v", r, n, err)
	}
}
