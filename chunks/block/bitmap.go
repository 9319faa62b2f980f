package block

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"math/bits"
	"slices"
)

// bitmap is the in-memory allocation bitmap: bit i set means data block i
// belongs to a committed extent. Its backing slice is laid out page by
// page exactly as on disk, minus each page's 8-byte tail.
type bitmap struct {
	bytes []byte
	nbits uint64
	set   uint64 // population count, kept exact
	dirty map[uint64]struct{}
}

func newBitmap(nbits, pages uint64) *bitmap {
	return &bitmap{bytes: make([]byte, pages*bitmapBytesPerPage), nbits: nbits, dirty: map[uint64]struct{}{}}
}

func (b *bitmap) test(i uint64) bool { return b.bytes[i/8]&(1<<(i%8)) != 0 }

// setRange sets bits of e to v and returns how many bits changed.
func (b *bitmap) setRange(e extent, v bool) uint64 {
	var changed uint64
	for i := e.start; i < e.end(); {
		byteIndex, bit := i/8, i%8
		n := min(8-bit, e.end()-i)
		mask := byte((1<<n)-1) << bit
		old := b.bytes[byteIndex]
		if v {
			b.bytes[byteIndex] |= mask
		} else {
			b.bytes[byteIndex] &^= mask
		}
		changed += uint64(bits.OnesCount8(old ^ b.bytes[byteIndex]))
		b.dirty[i/bitmapBitsPerPage] = struct{}{}
		i += n
	}
	if v {
		b.set += changed
	} else {
		b.set -= changed
	}
	return changed
}

// countSet counts the set bits of e.
func (b *bitmap) countSet(e extent) uint64 {
	var n uint64
	for i := e.start; i < e.end(); i++ {
		if b.test(i) {
			n++
		}
	}
	return n
}

// freeRuns calls fn for every maximal run of clear bits below nbits,
// skipping whole zero or full words quickly.
func (b *bitmap) freeRuns(fn func(extent)) {
	var runStart uint64
	inRun := false
	for i := uint64(0); i < b.nbits; {
		if i%64 == 0 && i+64 <= b.nbits {
			w := binary.LittleEndian.Uint64(b.bytes[i/8:])
			if (w == 0 && inRun) || (w == ^uint64(0) && !inRun) {
				i += 64
				continue
			}
		}
		free := !b.test(i)
		switch {
		case free && !inRun:
			runStart, inRun = i, true
		case !free && inRun:
			fn(extent{start: runStart, blocks: i - runStart})
			inRun = false
		}
		i++
	}
	if inRun {
		fn(extent{start: runStart, blocks: b.nbits - runStart})
	}
}

func (b *bitmap) page(p uint64) []byte {
	return b.bytes[p*bitmapBytesPerPage : (p+1)*bitmapBytesPerPage]
}

// takeDirty returns the pages changed since the last call, encoded for
// both copies, in page order.
func (b *bitmap) takeDirty(seed uint32) []bitmapWrite {
	writes := make([]bitmapWrite, 0, len(b.dirty))
	for p := range b.dirty {
		writes = append(writes, bitmapWrite{page: p, copies: [2][]byte{
			encodeBitmapPage(seed, p, 0, b.page(p)),
			encodeBitmapPage(seed, p, 1, b.page(p)),
		}})
	}
	clear(b.dirty)
	sortBitmapWrites(writes)
	return writes
}

type bitmapWrite struct {
	page   uint64
	copies [2][]byte
}

func sortBitmapWrites(w []bitmapWrite) {
	slices.SortFunc(w, func(a, b bitmapWrite) int { return cmp.Compare(a.page, b.page) })
}

// Bitmap page layout:
//
//	offset  size  field
//	0       4088  bits, bit i of byte j is block page*32704 + 8j + i
//	4088    4     tag: page number << 1 | copy (0 primary, 1 mirror)
//	4092    4     CRC32-C of UUID || bytes 0..4091
//
// The tag catches a page written to the wrong place or the wrong copy.
func encodeBitmapPage(seed uint32, page uint64, copyIndex int, bits []byte) []byte {
	b := make([]byte, blockSize)
	copy(b, bits)
	binary.BigEndian.PutUint32(b[bitmapBytesPerPage:], uint32(page<<1)|uint32(copyIndex))
	binary.BigEndian.PutUint32(b[blockSize-4:], crcUpdate(seed, b[:blockSize-4]))
	return b
}

func decodeBitmapPage(seed uint32, page uint64, copyIndex int, b []byte) ([]byte, error) {
	if len(b) != blockSize {
		return nil, fmt.Errorf("%w: bitmap page of %d bytes", ErrCorrupt, len(b))
	}
	if got, want := crcUpdate(seed, b[:blockSize-4]), binary.BigEndian.Uint32(b[blockSize-4:]); got != want {
		return nil, fmt.Errorf("%w: bitmap copy %d page %d checksum %08x, stored %08x", ErrCorrupt, copyIndex, page, got, want)
	}
	if tag, want := binary.BigEndian.Uint32(b[bitmapBytesPerPage:]), uint32(page<<1)|uint32(copyIndex); tag != want {
		return nil, fmt.Errorf("%w: bitmap copy %d page %d carries tag %08x", ErrCorrupt, copyIndex, page, tag)
	}
	return b[:bitmapBytesPerPage], nil
}

func popcount(b byte) int { return bits.OnesCount8(b) }
