package block

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/annal-storage/annal/chunks"
)

// RecoveryReport says what Open found and repaired, for the operator's
// log and the device's audit trail.
type RecoveryReport struct {
	// SuperblockRepaired is "primary" or "secondary" when that copy was
	// rewritten from the other, else "".
	SuperblockRepaired string
	// CheckpointGeneration is the checkpoint recovery started from;
	// CheckpointFallback says a newer one was unreadable (torn).
	CheckpointGeneration uint64
	CheckpointFallback   bool
	// JournalBlocks and RecordsReplayed count the chain after it.
	JournalBlocks   int
	RecordsReplayed int
	// IntentsRolledBack: allocations with no commit; their extents are
	// free again. FreesRolledForward: deletes with no commit, completed.
	IntentsRolledBack  int
	FreesRolledForward int
	// BitmapPagesFromMirror were invalid in one copy and copied from the
	// other; BitmapPagesRebuilt were invalid in both and rebuilt from the
	// index.
	BitmapPagesFromMirror int
	BitmapPagesRebuilt    int
	// BitmapBlocksReclaimed were marked used on disk but belong to no
	// fragment (orphans); BitmapBlocksMarked belong to a fragment but
	// were marked free on disk (a commit whose bitmap write was lost).
	BitmapBlocksReclaimed uint64
	BitmapBlocksMarked    uint64
}

func (r RecoveryReport) String() string {
	return fmt.Sprintf("checkpoint gen %d (fallback %t), %d journal blocks, %d records replayed, "+
		"%d intents rolled back, %d frees rolled forward, superblock repaired %q, "+
		"bitmap pages: %d from mirror, %d rebuilt; blocks: %d reclaimed, %d marked",
		r.CheckpointGeneration, r.CheckpointFallback, r.JournalBlocks, r.RecordsReplayed,
		r.IntentsRolledBack, r.FreesRolledForward, r.SuperblockRepaired,
		r.BitmapPagesFromMirror, r.BitmapPagesRebuilt, r.BitmapBlocksReclaimed, r.BitmapBlocksMarked)
}

// openStorage recovers a device in a fixed order: superblock, bitmap
// copies, newest valid checkpoint, journal chain replay, bitmap rebuilt
// from the index and repaired on disk, free set rebuilt from the bitmap,
// then a new checkpoint so the next session's journal hangs from a root
// no earlier session wrote.
func openStorage(st storage, id string, now func() int64, cfg config) (*Device, error) {
	d := &Device{id: id, now: now, st: st, cfg: cfg}
	if err := d.loadSuperblock(); err != nil {
		return nil, err
	}
	d.seed = crcSeed(d.geo.uuid)
	disk, err := d.loadBitmaps()
	if err != nil {
		return nil, err
	}
	cp, cpCRC, entries, err := d.loadCheckpoint()
	if err != nil {
		return nil, err
	}
	rs, err := newReplayState(d.geo, cp, entries)
	if err != nil {
		return nil, err
	}
	if err := d.replayJournal(cp, cpCRC, rs); err != nil {
		return nil, err
	}
	d.report.IntentsRolledBack, d.report.FreesRolledForward = len(rs.intents), len(rs.freeing)
	if err := d.rebuildBitmap(rs.index, disk); err != nil {
		return nil, err
	}
	d.index, d.nextSeq = rs.index, rs.lastSeq+1
	d.free = newFreeSet()
	d.bits.freeRuns(d.free.add)
	d.durableSeq.Store(rs.lastSeq)
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	if err := d.checkpointLocked(); err != nil {
		return nil, fmt.Errorf("recovery checkpoint: %w", err)
	}
	return d, nil
}

// loadSuperblock reads the primary copy, falling back to the secondary
// in the last block, and rewrites whichever copy is bad. A version this
// binary does not know stops everything before any write.
func (d *Device) loadSuperblock() error {
	size, err := d.st.Size()
	if err != nil {
		return fmt.Errorf("block: size: %w", err)
	}
	if size < 2*blockSize || size%blockSize != 0 {
		return fmt.Errorf("%w: %d bytes", ErrNotFormatted, size)
	}
	last := uint64(size/blockSize) - 1
	primary, errA := readSuperblock(d.st, 0)
	secondary, errB := readSuperblock(d.st, last)
	switch {
	case errors.Is(errA, ErrUnsupportedVersion):
		return errA
	case errA == nil:
		d.geo = primary
	case errors.Is(errB, ErrUnsupportedVersion):
		return errB
	case errB == nil:
		d.geo = secondary
	case errors.Is(errA, ErrNotFormatted) && errors.Is(errB, ErrNotFormatted):
		return ErrNotFormatted
	default:
		return fmt.Errorf("%w: both superblocks unusable: primary: %w; secondary: %w", ErrCorrupt, errA, errB)
	}
	if d.geo.secondary != last {
		return fmt.Errorf("%w: superblock describes %d blocks, the medium has %d", ErrCorrupt, d.geo.totalBlocks, last+1)
	}
	switch {
	case errA != nil:
		return d.repairSuperblock("primary", 0)
	case errB != nil || secondary != primary:
		return d.repairSuperblock("secondary", last)
	}
	return nil
}

func readSuperblock(st storage, blockNo uint64) (geometry, error) {
	b, err := readBlocks(st, blockNo, 1)
	if err != nil {
		return geometry{}, err
	}
	return decodeSuperblock(b)
}

func (d *Device) repairSuperblock(which string, blockNo uint64) error {
	if err := writeBlocks(d.st, blockNo, encodeSuperblock(d.geo)); err != nil {
		return fmt.Errorf("repair %s superblock: %w", which, err)
	}
	if err := d.st.Sync(); err != nil {
		return fmt.Errorf("repair %s superblock: sync: %w", which, err)
	}
	d.report.SuperblockRepaired = which
	return d.hit(stepOpenSuperblockRepaired)
}

// diskBitmap is the bitmap as found on disk, merged from both copies.
type diskBitmap struct {
	bits     *bitmap
	badCopy  map[uint64]bool // a page invalid or stale in one copy
	lostPage map[uint64]bool // a page invalid in both copies
}

// loadBitmaps merges the two copies page by page: a page valid in one
// copy only is taken from it; valid in both but different, copy A wins
// (it is written first, so B lags); invalid in both, it is lost and will
// be rebuilt from the index.
func (d *Device) loadBitmaps() (*diskBitmap, error) {
	disk := &diskBitmap{bits: newBitmap(d.geo.dataBlocks, d.geo.bitmapPages),
		badCopy: map[uint64]bool{}, lostPage: map[uint64]bool{}}
	for first := uint64(0); first < d.geo.bitmapPages; first += zeroChunkBlocks {
		n := min(zeroChunkBlocks, d.geo.bitmapPages-first)
		a, err := readBlocks(d.st, d.geo.bitmapA+first, n)
		if err != nil {
			return nil, err
		}
		b, err := readBlocks(d.st, d.geo.bitmapB+first, n)
		if err != nil {
			return nil, err
		}
		for i := uint64(0); i < n; i++ {
			disk.mergePage(d.seed, first+i, a[i*blockSize:(i+1)*blockSize], b[i*blockSize:(i+1)*blockSize])
		}
	}
	return disk, nil
}

func (disk *diskBitmap) mergePage(seed uint32, page uint64, a, b []byte) {
	pa, errA := decodeBitmapPage(seed, page, 0, a)
	pb, errB := decodeBitmapPage(seed, page, 1, b)
	switch {
	case errA == nil:
		copy(disk.bits.page(page), pa)
		disk.badCopy[page] = errB != nil || !bytes.Equal(pa, pb)
	case errB == nil:
		copy(disk.bits.page(page), pb)
		disk.badCopy[page] = true
	default:
		disk.lostPage[page] = true
	}
}

// loadCheckpoint returns the newest checkpoint whose header and body
// both verify.
func (d *Device) loadCheckpoint() (checkpointHeader, uint32, []keyedEntry, error) {
	var best checkpointHeader
	var bestCRC uint32
	var bestEntries []keyedEntry
	found, newestGen := false, uint64(0)
	for region, start := range []uint64{d.geo.checkpointA, d.geo.checkpointB} {
		h, crc, entries, err := d.readCheckpoint(uint16(region), start)
		if h.gen > newestGen {
			newestGen = h.gen
		}
		if err != nil || (found && h.gen <= best.gen) {
			continue
		}
		best, bestCRC, bestEntries, found = h, crc, entries, true
	}
	if !found {
		return best, 0, nil, fmt.Errorf("%w: no valid checkpoint in either region", ErrCorrupt)
	}
	d.report.CheckpointGeneration = best.gen
	d.report.CheckpointFallback = newestGen > best.gen
	return best, bestCRC, bestEntries, nil
}

// readCheckpoint returns the header even when the body fails, so the
// caller can tell that a newer checkpoint was torn.
func (d *Device) readCheckpoint(region uint16, start uint64) (checkpointHeader, uint32, []keyedEntry, error) {
	hb, err := readBlocks(d.st, start, 1)
	if err != nil {
		return checkpointHeader{}, 0, nil, err
	}
	h, crc, err := decodeCheckpointHeader(d.seed, hb)
	if err != nil {
		return checkpointHeader{}, 0, nil, err
	}
	if h.region != region || h.bodyBlocks > d.geo.checkpointBlocks-1 {
		return checkpointHeader{}, 0, nil, fmt.Errorf("%w: checkpoint region %d header says region %d, %d blocks", ErrCorrupt, region, h.region, h.bodyBlocks)
	}
	body, err := readBlocks(d.st, start+1, h.bodyBlocks)
	if err != nil {
		return h, 0, nil, err
	}
	entries, err := decodeCheckpointBody(d.seed, h, body)
	return h, crc, entries, err
}

// replayState is the index being rebuilt, plus allocations and frees
// whose second record has not been seen yet.
type replayState struct {
	geo     geometry
	index   map[chunks.FragmentKey]indexEntry
	intents map[uint64]record // ExtentAllocIntended by extent start
	freeing map[uint64]record // ExtentFreeIntended by extent start
	lastSeq uint64
}

func newReplayState(g geometry, cp checkpointHeader, entries []keyedEntry) (*replayState, error) {
	rs := &replayState{geo: g, index: make(map[chunks.FragmentKey]indexEntry, len(entries)),
		intents: map[uint64]record{}, freeing: map[uint64]record{}, lastSeq: cp.lastSeq}
	for i, e := range entries {
		if i > 0 && compareKeys(entries[i-1].key, e.key) >= 0 {
			return nil, fmt.Errorf("%w: checkpoint gen %d keys out of order at entry %d", ErrCorrupt, cp.gen, i)
		}
		if err := rs.checkExtent(e.entry.extent, e.entry.sizeBytes); err != nil {
			return nil, fmt.Errorf("checkpoint gen %d entry %d: %w", cp.gen, i, err)
		}
		rs.index[e.key] = e.entry
	}
	return rs, nil
}

func (rs *replayState) checkExtent(e extent, sizeBytes uint32) error {
	if e.blocks == 0 || e.start >= rs.geo.dataBlocks || e.blocks > rs.geo.dataBlocks-e.start {
		return fmt.Errorf("%w: extent %d+%d outside %d data blocks", ErrCorrupt, e.start, e.blocks, rs.geo.dataBlocks)
	}
	if sizeBytes > MaxFragmentBytes || blocksFor(int(sizeBytes)) != e.blocks {
		return fmt.Errorf("%w: %d bytes in extent %d+%d", ErrCorrupt, sizeBytes, e.start, e.blocks)
	}
	return nil
}

// apply replays one record exactly as the running device applied it.
func (rs *replayState) apply(r record) error {
	if r.seq != rs.lastSeq+1 {
		return fmt.Errorf("%w: journal sequence %d after %d", ErrCorrupt, r.seq, rs.lastSeq)
	}
	rs.lastSeq = r.seq
	if r.extent.blocks == 0 || r.extent.start >= rs.geo.dataBlocks || r.extent.blocks > rs.geo.dataBlocks-r.extent.start {
		return fmt.Errorf("%w: %s outside the data region", ErrCorrupt, r)
	}
	switch r.typ {
	case recordAllocIntended:
		rs.intents[r.extent.start] = r
	case recordAllocCommitted:
		if err := rs.checkExtent(r.extent, r.sizeBytes); err != nil {
			return fmt.Errorf("%s: %w", r, err)
		}
		delete(rs.intents, r.extent.start)
		rs.index[r.key] = indexEntry{extent: r.extent, sizeBytes: r.sizeBytes, dataCRC: r.dataCRC,
			writtenUnixNano: r.writtenUnixNano, seq: r.seq}
	case recordFreeIntended:
		if e, ok := rs.index[r.key]; !ok || e.extent != r.extent {
			return fmt.Errorf("%w: %s frees an extent the key does not own", ErrCorrupt, r)
		}
		delete(rs.index, r.key)
		rs.freeing[r.extent.start] = r
	case recordFreeCommitted:
		delete(rs.freeing, r.extent.start)
	}
	return nil
}

// replayJournal follows the chain from the checkpoint: block numbers
// consecutive, each block's prevCRC the previous block's CRC (the
// checkpoint header's for the first), same checkpoint generation. The
// first block that breaks the chain is the end: a torn write, a block of
// an earlier pass, or never written.
func (d *Device) replayJournal(cp checkpointHeader, cpCRC uint32, rs *replayState) error {
	blockNo, prev := cp.startBlockNo, cpCRC
	for ; blockNo-cp.startBlockNo < d.geo.journalBlocks; blockNo++ {
		b, err := readBlocks(d.st, d.geo.journalStart+blockNo%d.geo.journalBlocks, 1)
		if err != nil {
			return err
		}
		h, records, crc, err := decodeJournalBlock(d.seed, b)
		if err != nil || h.blockNo != blockNo || h.prevCRC != prev || h.checkpointGen != cp.gen {
			if errors.Is(err, ErrUnsupportedVersion) {
				return fmt.Errorf("journal block %d: %w", blockNo, err)
			}
			break
		}
		for _, r := range records {
			if err := rs.apply(r); err != nil {
				return fmt.Errorf("journal block %d: %w", blockNo, err)
			}
		}
		d.report.JournalBlocks++
		d.report.RecordsReplayed += len(records)
		prev = crc
	}
	d.jw = journalWriter{nextBlockNo: blockNo, prevCRC: prev, cpGen: cp.gen, cpRegion: cp.region,
		cpStartBlockNo: cp.startBlockNo, writtenSeq: rs.lastSeq}
	return nil
}

// rebuildBitmap derives the bitmap from the index (two fragments sharing
// a block is corruption), compares it with the disk copies and rewrites
// every page that differs or was invalid in either copy, A then B, then
// syncs.
func (d *Device) rebuildBitmap(index map[chunks.FragmentKey]indexEntry, disk *diskBitmap) error {
	d.bits = newBitmap(d.geo.dataBlocks, d.geo.bitmapPages)
	for k, e := range index {
		if d.bits.setRange(e.extent, true) != e.extent.blocks {
			return fmt.Errorf("%w: fragment %s extent %d+%d overlaps another fragment", ErrCorrupt, keyString(k), e.extent.start, e.extent.blocks)
		}
	}
	clear(d.bits.dirty)
	for p := uint64(0); p < d.geo.bitmapPages; p++ {
		d.comparePage(p, disk)
	}
	if len(d.bits.dirty) == 0 {
		return nil
	}
	if err := d.flushBitmap(0, 0); err != nil {
		return err
	}
	if err := d.st.Sync(); err != nil {
		return fmt.Errorf("bitmap repair: sync: %w", err)
	}
	return d.hit(stepOpenBitmapRepaired)
}

func (d *Device) comparePage(p uint64, disk *diskBitmap) {
	want, got := d.bits.page(p), disk.bits.page(p)
	switch {
	case disk.lostPage[p]:
		d.report.BitmapPagesRebuilt++
	case disk.badCopy[p]:
		d.report.BitmapPagesFromMirror++
	}
	if disk.lostPage[p] || disk.badCopy[p] || !bytes.Equal(want, got) {
		d.bits.dirty[p] = struct{}{}
	}
	if disk.lostPage[p] {
		return
	}
	for i := range want {
		if diff := want[i] ^ got[i]; diff != 0 {
			d.report.BitmapBlocksReclaimed += uint64(popcount(diff & got[i]))
			d.report.BitmapBlocksMarked += uint64(popcount(diff & want[i]))
		}
	}
}
