package sim

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"

	"github.com/annal-storage/annal/chunks"
)

// disk is a simulated device under the real chunk and fragment code. Its
// medium is 4 KiB blocks behind a volatile write cache: writes reach the
// medium only at a sync, and a power loss keeps, drops or tears (at
// 512-byte sector granularity) each unsynced write. Like the block
// device it stands in for, it writes a fragment's data, syncs, then
// appends a checksummed journal record naming the extent, and syncs
// again; its index is rebuilt from the journal after a power loss, so a
// fragment is either wholly there (old or new) or absent.
//
// Faults: power cuts in the middle of a put (torn writes, lost syncs),
// bit flips on the medium, EIO and ENOSPC windows, whole-device loss.
type disk struct {
	w    *world
	id   string
	node *node
	rng  *rand.Rand

	media   [][]byte // data blocks; nil reads as zeros
	journal [][]byte // journal blocks
	cache   []blockWrite
	index   map[chunks.FragmentKey]stored
	free    []extent // sorted by start
	top     int      // first block never allocated
	jtop    int      // next journal block
	seq     uint64
	used    int

	eioUntilMs  int64
	fullUntilMs int64
	cutStage    int // 0: none armed; 1: after the data write; 2: after the record write
}

const (
	diskBlockBytes  = 4096
	diskSectorBytes = 512
	diskCapBlocks   = 1 << 20
)

type extent struct{ start, blocks int }

// stored is an index entry: where a fragment is, its size, checksum and
// when it was written (simulated ms).
type stored struct {
	extent
	size      int
	crc       uint32
	writtenMs int64
}

type blockWrite struct {
	journal bool
	block   int
	data    []byte // one block, trailing zeros trimmed
}

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func newDisk(w *world, n *node, id string) *disk {
	return &disk{w: w, id: id, node: n, rng: rand.New(rand.NewPCG(w.rng.Uint64(), 7)), index: map[chunks.FragmentKey]stored{}}
}

var (
	errPowerCut = fmt.Errorf("%w: power lost", chunks.ErrDeviceFailed)
	errEIO      = fmt.Errorf("%w: EIO", chunks.ErrDeviceFailed)
	errDown     = fmt.Errorf("%w: node down", chunks.ErrDeviceFailed)
	errChecksum = errors.New("fragment extent checksum mismatch")
)

// usable reports why the device cannot serve I/O now, if it cannot.
func (d *disk) usable() error {
	switch {
	case !d.node.up:
		return errDown
	case d.w.now < d.eioUntilMs:
		return errEIO
	}
	return nil
}

// write queues one block write in the volatile cache. Every byte that
// reaches a device passes here, so the plaintext oracle watches here.
func (d *disk) write(journal bool, block int, data []byte) {
	if bytes.Contains(data, plaintextMarker) {
		d.w.violate(OraclePlaintext, "device %s block %d: workload plaintext written to the device", d.id, block)
	}
	d.cache = append(d.cache, blockWrite{journal: journal, block: block, data: bytes.TrimRight(bytes.Clone(data), "\x00")})
}

// read returns one block as the running device sees it (cache first).
func (d *disk) read(journal bool, block int) []byte {
	for i := len(d.cache) - 1; i >= 0; i-- {
		if c := d.cache[i]; c.journal == journal && c.block == block {
			return c.data
		}
	}
	return d.medium(journal, block)
}

// medium returns one block as it is on stable storage.
func (d *disk) medium(journal bool, block int) []byte {
	region := d.media
	if journal {
		region = d.journal
	}
	if block < len(region) {
		return region[block]
	}
	return nil
}

func (d *disk) sync() {
	for _, c := range d.cache {
		d.land(c.journal, c.block, c.data)
	}
	d.cache = nil
}

// land puts a block on the medium.
func (d *disk) land(journal bool, block int, data []byte) {
	region := &d.media
	if journal {
		region = &d.journal
	}
	for len(*region) <= block {
		*region = append(*region, nil)
	}
	(*region)[block] = data
}

// powerLoss resolves the cache as a power cut does: each unsynced write
// lands whole, not at all, or torn.
func (d *disk) powerLoss() {
	for _, c := range d.cache {
		switch d.rng.IntN(5) {
		case 0, 1:
			d.land(c.journal, c.block, c.data)
		case 2:
			old := pad(d.medium(c.journal, c.block))
			k := (1 + d.rng.IntN(diskBlockBytes/diskSectorBytes-1)) * diskSectorBytes
			torn := append(pad(c.data)[:k:k], old[k:]...)
			d.land(c.journal, c.block, bytes.TrimRight(torn, "\x00"))
		}
	}
	d.cache = nil
	d.cutStage = 0
}

func pad(b []byte) []byte {
	out := make([]byte, diskBlockBytes)
	copy(out, b)
	return out
}

// recover rebuilds the index from the journal after a power loss.
func (d *disk) recover() {
	d.index = map[chunks.FragmentKey]stored{}
	d.jtop = 0
	for ; d.jtop < len(d.journal); d.jtop++ {
		rec, ok := decodeRecord(d.journal[d.jtop])
		if !ok {
			break
		}
		d.seq = rec.seq
		if rec.put {
			d.index[rec.key] = stored{extent{rec.start, rec.blocks}, rec.size, rec.crc, rec.writtenMs}
		} else {
			delete(d.index, rec.key)
		}
	}
	d.rebuildFree()
}

// rebuildFree derives the free list and usage from the index.
func (d *disk) rebuildFree() {
	exts := d.extents()
	d.free, d.top, d.used = nil, 0, 0
	for _, e := range exts {
		if e.start > d.top {
			d.free = append(d.free, extent{d.top, e.start - d.top})
		}
		d.top = max(d.top, e.start+e.blocks)
		d.used += e.blocks
	}
}

// extents lists the index's extents by start.
func (d *disk) extents() []extent {
	var out []extent
	for _, k := range d.keys() {
		out = append(out, d.index[k].extent)
	}
	slices.SortFunc(out, func(a, b extent) int { return a.start - b.start })
	return out
}

// keys lists the stored fragment keys in order.
func (d *disk) keys() []chunks.FragmentKey {
	out := make([]chunks.FragmentKey, 0, len(d.index))
	for k := range d.index {
		out = append(out, k)
	}
	slices.SortFunc(out, compareFragmentKeys)
	return out
}

func compareFragmentKeys(a, b chunks.FragmentKey) int {
	if c := bytes.Compare(a.Chunk[:], b.Chunk[:]); c != 0 {
		return c
	}
	return int(a.Index) - int(b.Index)
}

func (d *disk) allocate(blocks int) (extent, bool) {
	for i, f := range d.free {
		if f.blocks >= blocks {
			e := extent{f.start, blocks}
			if f.blocks == blocks {
				d.free = slices.Delete(d.free, i, i+1)
			} else {
				d.free[i] = extent{f.start + blocks, f.blocks - blocks}
			}
			d.used += blocks
			return e, true
		}
	}
	if d.top+blocks > diskCapBlocks {
		return extent{}, false
	}
	e := extent{d.top, blocks}
	d.top += blocks
	d.used += blocks
	return e, true
}

func (d *disk) release(e extent) {
	d.used -= e.blocks
	i, _ := slices.BinarySearchFunc(d.free, e.start, func(f extent, s int) int { return f.start - s })
	d.free = slices.Insert(d.free, i, e)
}

// cut fires an armed power cut at a stage of a put: the node loses power.
func (d *disk) cut(stage int) bool {
	if d.cutStage != stage {
		return false
	}
	d.w.tracef("disk %s power cut at put stage %d", d.id, stage)
	d.w.crashNode(d.node)
	return true
}

// ID implements chunks.Device.
func (d *disk) ID() string { return d.id }

// PutFragment implements chunks.Device.
func (d *disk) PutFragment(key chunks.FragmentKey, data []byte) error {
	if err := d.usable(); err != nil {
		return err
	}
	if d.w.now < d.fullUntilMs {
		return fmt.Errorf("device %s: %w", d.id, chunks.ErrDeviceFull)
	}
	blocks := (len(data) + diskBlockBytes - 1) / diskBlockBytes
	ext, ok := d.allocate(blocks)
	if !ok {
		return fmt.Errorf("device %s: %w", d.id, chunks.ErrDeviceFull)
	}
	for i := range blocks {
		d.write(false, ext.start+i, data[i*diskBlockBytes:min(len(data), (i+1)*diskBlockBytes)])
	}
	if d.cut(1) {
		return errPowerCut
	}
	d.sync()
	d.seq++
	d.write(true, d.jtop, encodeRecord(record{seq: d.seq, put: true, key: key, start: ext.start, blocks: ext.blocks,
		size: len(data), crc: crc32.Checksum(data, crcTable), writtenMs: d.w.now}))
	d.jtop++
	if d.cut(2) {
		return errPowerCut
	}
	d.sync()
	if old, had := d.index[key]; had {
		d.release(old.extent)
	}
	d.index[key] = stored{ext, len(data), crc32.Checksum(data, crcTable), d.w.now}
	d.w.tracef("disk %s put %x/%d", d.id, key.Chunk[:4], key.Index)
	return nil
}

// GetFragment implements chunks.Device; an extent whose checksum fails
// is reported as an error (the store counts the fragment corrupt).
func (d *disk) GetFragment(key chunks.FragmentKey) ([]byte, error) {
	if err := d.usable(); err != nil {
		return nil, err
	}
	e, ok := d.index[key]
	if !ok {
		return nil, chunks.ErrFragmentNotFound
	}
	out := make([]byte, 0, e.blocks*diskBlockBytes)
	for i := range e.blocks {
		out = append(out, pad(d.read(false, e.start+i))...)
	}
	out = out[:e.size]
	if crc32.Checksum(out, crcTable) != e.crc {
		return nil, fmt.Errorf("device %s fragment %s/%d: %w", d.id, key.Chunk, key.Index, errChecksum)
	}
	return out, nil
}

// DeleteFragment implements chunks.Device.
func (d *disk) DeleteFragment(key chunks.FragmentKey) error {
	if err := d.usable(); err != nil {
		return err
	}
	old, had := d.index[key]
	if !had {
		return nil
	}
	d.seq++
	d.write(true, d.jtop, encodeRecord(record{seq: d.seq, key: key}))
	d.jtop++
	d.sync()
	delete(d.index, key)
	d.release(old.extent)
	d.w.tracef("disk %s delete %x/%d", d.id, key.Chunk[:4], key.Index)
	return nil
}

// ListFragments implements chunks.Device.
func (d *disk) ListFragments(fn func(chunks.FragmentInfo) error) error {
	if err := d.usable(); err != nil {
		return err
	}
	for _, k := range d.keys() {
		e := d.index[k]
		info := chunks.FragmentInfo{Key: k, SizeBytes: int64(e.blocks * diskBlockBytes), WrittenUnixNano: (simEpochMs + e.writtenMs) * 1_000_000}
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Stat implements chunks.Device.
func (d *disk) Stat() (chunks.DeviceStat, error) {
	return chunks.DeviceStat{CapacityBytes: diskCapBlocks * diskBlockBytes, UsedBytes: int64(d.used) * diskBlockBytes}, nil
}

// Close implements chunks.Device.
func (d *disk) Close() error { return nil }

// wipe replaces the device with a blank one (whole-device loss).
func (d *disk) wipe() {
	d.media, d.journal, d.cache = nil, nil, nil
	d.index = map[chunks.FragmentKey]stored{}
	d.free, d.top, d.jtop, d.used = nil, 0, 0, 0
}

// flipKey flips one bit of a stored fragment's bytes on the medium.
func (d *disk) flipKey(k chunks.FragmentKey) (chunks.FragmentKey, bool) {
	e, ok := d.index[k]
	if !ok {
		return k, false
	}
	if e.size == 0 {
		return k, false
	}
	off := d.rng.IntN(e.size)
	blk := pad(d.read(false, e.start+off/diskBlockBytes))
	blk[off%diskBlockBytes] ^= 1 << d.rng.IntN(8)
	d.land(false, e.start+off/diskBlockBytes, bytes.TrimRight(blk, "\x00"))
	return k, true
}

// record is one journal record: a fragment put (its extent, size and
// data checksum) or delete.
type record struct {
	seq       uint64
	put       bool
	key       chunks.FragmentKey
	start     int
	blocks    int
	size      int
	crc       uint32
	writtenMs int64
}

var recordMagic = []byte("SJR1")

func encodeRecord(r record) []byte {
	b := append([]byte(nil), recordMagic...)
	b = binary.BigEndian.AppendUint64(b, r.seq)
	op := byte(2)
	if r.put {
		op = 1
	}
	b = append(b, op)
	b = append(b, r.key.Chunk[:]...)
	b = append(b, r.key.Index)
	for _, v := range []int{r.start, r.blocks, r.size} {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	b = binary.BigEndian.AppendUint32(b, r.crc)
	b = binary.BigEndian.AppendUint64(b, uint64(r.writtenMs))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b, crcTable))
}

const recordBytes = 4 + 8 + 1 + 32 + 1 + 12 + 4 + 8 + 4

func decodeRecord(b []byte) (record, bool) {
	if len(b) < recordBytes { // the medium trims trailing zeros
		b = append(bytes.Clone(b), make([]byte, recordBytes-len(b))...)
	}
	if !bytes.Equal(b[:4], recordMagic) {
		return record{}, false
	}
	b = b[:recordBytes]
	if crc32.Checksum(b[:recordBytes-4], crcTable) != binary.BigEndian.Uint32(b[recordBytes-4:]) {
		return record{}, false
	}
	r := record{seq: binary.BigEndian.Uint64(b[4:]), put: b[12] == 1}
	copy(r.key.Chunk[:], b[13:45])
	r.key.Index = b[45]
	r.start = int(binary.BigEndian.Uint32(b[46:]))
	r.blocks = int(binary.BigEndian.Uint32(b[50:]))
	r.size = int(binary.BigEndian.Uint32(b[54:]))
	r.crc = binary.BigEndian.Uint32(b[58:])
	r.writtenMs = int64(binary.BigEndian.Uint64(b[62:]))
	return r, true
}
