package block

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/annal-storage/annal/chunks"
)

// Device is a chunks.Device on one file or block device. It is safe for
// concurrent use; see the package comment for the lock order.
type Device struct {
	id   string
	now  func() int64
	st   storage
	geo  geometry
	seed uint32
	cfg  config

	lifecycle sync.RWMutex // RLock for each operation, Lock to close
	closed    bool         // guarded by lifecycle
	bitmapMu  sync.Mutex   // orders bitmap page writes
	syncMu    sync.Mutex   // journal writer and fsync
	mu        sync.Mutex   // everything below until jw

	index       map[chunks.FragmentKey]indexEntry
	free        *freeSet
	bits        *bitmap
	pending     []record // sequenced, not yet written to the journal
	nextSeq     uint64
	inflightNew int // puts of keys absent when reserved; bounds the index
	trimQueue   []extent
	trimBlocks  uint64

	jw journalWriter // guarded by syncMu

	durableSeq atomic.Uint64 // every record ≤ it is on stable storage
	fsyncBegun atomic.Uint64
	fsyncDone  atomic.Uint64
	failure    atomic.Pointer[error]
	noTrim     atomic.Bool
	report     RecoveryReport
}

var _ chunks.Device = (*Device)(nil)

// journalWriter is the tail of the journal chain.
type journalWriter struct {
	nextBlockNo    uint64
	prevCRC        uint32
	cpGen          uint64
	cpRegion       uint16
	cpStartBlockNo uint64
	writtenSeq     uint64
}

type config struct {
	hook                func(step) error // tests only: stop after a step
	trimThresholdBlocks uint64
}

// defaultTrimThresholdBlocks is ADR-029's "TRIM when the queue exceeds
// 1 GiB"; the 60 s cadence is the caller's, through Trim.
const defaultTrimThresholdBlocks = (1 << 30) / blockSize

// maxReadAttempts bounds GetFragment's retries when the fragment moves
// under it (a concurrent replace or delete).
const maxReadAttempts = 8

// Open opens a device formatted by Format and recovers it: superblock
// copies, bitmap mirrors and the journal are checked and repaired, and a
// fresh checkpoint is written before Open returns. now supplies
// WrittenUnixNano for new fragments.
func Open(path, id string, now func() int64) (*Device, error) {
	if now == nil {
		return nil, fmt.Errorf("block: open %s: nil clock", path)
	}
	st, _, err := openFileStorage(path, false)
	if err != nil {
		return nil, err
	}
	d, err := openStorage(st, id, now, config{trimThresholdBlocks: defaultTrimThresholdBlocks})
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("block: open %s: %w", path, err)
	}
	return d, nil
}

// ID returns the id given to Open.
func (d *Device) ID() string { return d.id }

// Recovery reports what Open found and repaired.
func (d *Device) Recovery() RecoveryReport { return d.report }

// begin admits one operation; the returned func ends it.
func (d *Device) begin() (func(), error) {
	d.lifecycle.RLock()
	if d.closed {
		d.lifecycle.RUnlock()
		return nil, fmt.Errorf("block: device %s closed: %w", d.id, chunks.ErrDeviceFailed)
	}
	if err := d.failed(); err != nil {
		d.lifecycle.RUnlock()
		return nil, err
	}
	return d.lifecycle.RUnlock, nil
}

// fail latches the device into the failed state: after a failed write or
// fsync the state of the medium is unknown, so every later operation
// fails until the device is reopened and recovered.
func (d *Device) fail(cause error) error {
	err := fmt.Errorf("block: device %s failed: %w: %w", d.id, chunks.ErrDeviceFailed, cause)
	d.failure.CompareAndSwap(nil, &err)
	return *d.failure.Load()
}

func (d *Device) failed() error {
	if p := d.failure.Load(); p != nil {
		return *p
	}
	return nil
}

func (d *Device) hit(s step) error {
	if d.cfg.hook == nil || s == 0 {
		return nil
	}
	if err := d.cfg.hook(s); err != nil {
		return d.fail(fmt.Errorf("after %s: %w", s, err))
	}
	return nil
}

// PutFragment stores data under key, replacing any earlier fragment of
// the key atomically. It returns after the data and the commit record
// that finds it are on stable storage.
func (d *Device) PutFragment(key chunks.FragmentKey, data []byte) error {
	done, err := d.begin()
	if err != nil {
		return err
	}
	defer done()
	if len(data) > MaxFragmentBytes {
		return fmt.Errorf("block: put %s: %d bytes: %w", keyString(key), len(data), ErrFragmentTooLarge)
	}
	crc := fragmentCRC(key, data)
	ext, intentSeq, isNew, err := d.reserve(key, blocksFor(len(data)))
	if err != nil {
		return fmt.Errorf("block: put %s: %w", keyString(key), err)
	}
	if err := d.writeData(key, data, crc, ext, intentSeq); err != nil {
		d.unreserve(ext, isNew)
		return fmt.Errorf("block: put %s: %w", keyString(key), err)
	}
	if err := d.commitPut(key, len(data), crc, ext, isNew); err != nil {
		return fmt.Errorf("block: put %s: %w", keyString(key), err)
	}
	return nil
}

// reserve takes a best-fit extent and sequences its intent record.
func (d *Device) reserve(key chunks.FragmentKey, blocks uint64) (extent, uint64, bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, exists := d.index[key]
	if !exists && uint64(len(d.index)+d.inflightNew) >= d.geo.maxFragments {
		return extent{}, 0, false, fmt.Errorf("index holds its maximum of %d fragments: %w", d.geo.maxFragments, chunks.ErrDeviceFull)
	}
	ext, ok := d.free.allocate(blocks)
	if !ok {
		return extent{}, 0, false, fmt.Errorf("need %d blocks, largest free extent %d of %d free: %w",
			blocks, d.free.largest(), d.free.freeBlocks, chunks.ErrDeviceFull)
	}
	if !exists {
		d.inflightNew++
	}
	seq := d.appendLocked(record{typ: recordAllocIntended, key: key, extent: ext})
	return ext, seq, !exists, nil
}

// unreserve undoes reserve after a failure before the commit. The intent
// may be on disk; recovery rolls an uncommitted intent back.
func (d *Device) unreserve(ext extent, isNew bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if isNew {
		d.inflightNew--
	}
	d.free.release(ext)
}

// writeData writes the intent block, then the fragment and its trailer,
// then makes both durable with one fsync that began after the data write.
func (d *Device) writeData(key chunks.FragmentKey, data []byte, crc uint32, ext extent, intentSeq uint64) error {
	if err := d.writeJournal(); err != nil {
		return err
	}
	if err := d.hit(stepPutIntentWritten); err != nil {
		return err
	}
	buf := make([]byte, ext.blocks*blockSize)
	copy(buf, data)
	binary.BigEndian.PutUint32(buf[len(data):], crc)
	if _, err := d.st.WriteAt(buf, d.geo.dataOffset(ext)); err != nil {
		return d.fail(fmt.Errorf("write extent %d+%d: %w", ext.start, ext.blocks, err))
	}
	if err := d.hit(stepPutDataWritten); err != nil {
		return err
	}
	if err := d.syncTo(intentSeq, true, d.fsyncBegun.Load()); err != nil {
		return err
	}
	return d.hit(stepPutDataSynced)
}

// commitPut sequences the commit record and updates the index in the
// same critical section, waits for the record to be durable, then sets
// the bitmap and frees the extent the key had before, if any.
func (d *Device) commitPut(key chunks.FragmentKey, size int, crc uint32, ext extent, isNew bool) error {
	entry := indexEntry{extent: ext, sizeBytes: uint32(size), dataCRC: crc, writtenUnixNano: d.now()}
	d.mu.Lock()
	old, replaced := d.index[key]
	if isNew {
		d.inflightNew--
	} else if !replaced && uint64(len(d.index)+d.inflightNew) >= d.geo.maxFragments {
		// The key was deleted while we wrote and the index filled up:
		// abandon the uncommitted extent (recovery rolls its intent back).
		d.free.release(ext)
		d.mu.Unlock()
		return fmt.Errorf("index holds its maximum of %d fragments: %w", d.geo.maxFragments, chunks.ErrDeviceFull)
	}
	entry.seq = d.appendLocked(record{typ: recordAllocCommitted, key: key, extent: ext,
		sizeBytes: entry.sizeBytes, dataCRC: crc, writtenUnixNano: entry.writtenUnixNano})
	d.index[key] = entry
	d.mu.Unlock()
	if err := d.syncTo(entry.seq, false, 0); err != nil {
		return err
	}
	if err := d.hit(stepPutCommitted); err != nil {
		return err
	}
	d.mu.Lock()
	if current := d.index[key]; current == entry {
		d.bits.setRange(ext, true)
	}
	if replaced {
		d.bits.setRange(old.extent, false)
	}
	d.mu.Unlock()
	if err := d.flushBitmap(stepPutBitmapPrimaryWritten, stepPutBitmapMirrorWritten); err != nil {
		return err
	}
	if replaced {
		return d.releaseExtent(old.extent)
	}
	return nil
}

// releaseExtent returns an extent whose freeing record is durable to the
// free set and queues it for TRIM.
func (d *Device) releaseExtent(ext extent) error {
	d.mu.Lock()
	d.free.release(ext)
	trimNow := false
	if !d.noTrim.Load() {
		d.trimQueue = append(d.trimQueue, ext)
		d.trimBlocks += ext.blocks
		trimNow = d.trimBlocks >= d.cfg.trimThresholdBlocks
	}
	d.mu.Unlock()
	if trimNow {
		if _, err := d.trim(); err != nil {
			return fmt.Errorf("trim: %w", err)
		}
	}
	return nil
}

// GetFragment returns the bytes stored under key, ErrFragmentNotFound, or
// ErrCorrupt when the stored bytes fail their CRC32-C trailer.
func (d *Device) GetFragment(key chunks.FragmentKey) ([]byte, error) {
	done, err := d.begin()
	if err != nil {
		return nil, err
	}
	defer done()
	for attempt := 1; ; attempt++ {
		entry, ok := d.lookup(key)
		if !ok {
			return nil, fmt.Errorf("block: get %s: %w", keyString(key), chunks.ErrFragmentNotFound)
		}
		if err := d.hit(stepGetLookedUp); err != nil {
			return nil, err
		}
		data, err := d.readExtent(key, entry)
		if err == nil || !errors.Is(err, ErrCorrupt) || attempt == maxReadAttempts {
			return data, err
		}
		// A concurrent replace or delete may have reused the extent
		// while we read it; only an unchanged entry proves corruption.
		if now, ok := d.lookup(key); ok && now == entry {
			return nil, err
		}
	}
}

func (d *Device) lookup(key chunks.FragmentKey) (indexEntry, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.index[key]
	return e, ok
}

// readExtent reads whole blocks and checks the trailer against both the
// bytes and the CRC recorded at commit.
func (d *Device) readExtent(key chunks.FragmentKey, e indexEntry) ([]byte, error) {
	buf := make([]byte, e.extent.blocks*blockSize)
	if _, err := d.st.ReadAt(buf, d.geo.dataOffset(e.extent)); err != nil {
		return nil, fmt.Errorf("block: get %s: read extent %d+%d: %w: %w",
			keyString(key), e.extent.start, e.extent.blocks, chunks.ErrDeviceFailed, err)
	}
	size := e.sizeBytes
	stored := binary.BigEndian.Uint32(buf[size:])
	computed := fragmentCRC(key, buf[:size])
	if stored != computed || computed != e.dataCRC {
		return nil, fmt.Errorf("block: get %s: extent %d+%d: %w: computed CRC %08x, trailer %08x, committed %08x",
			keyString(key), e.extent.start, e.extent.blocks, ErrCorrupt, computed, stored, e.dataCRC)
	}
	return buf[:size:size], nil
}

// DeleteFragment removes key; deleting an absent key succeeds. The
// sequence is: ExtentFreeIntended durable, bitmap bits cleared (A then
// B), ExtentFreeCommitted durable, extent back in the free set.
func (d *Device) DeleteFragment(key chunks.FragmentKey) error {
	done, err := d.begin()
	if err != nil {
		return err
	}
	defer done()
	if err := d.deleteFragment(key); err != nil {
		return fmt.Errorf("block: delete %s: %w", keyString(key), err)
	}
	return nil
}

func (d *Device) deleteFragment(key chunks.FragmentKey) error {
	d.mu.Lock()
	entry, ok := d.index[key]
	if !ok {
		d.mu.Unlock()
		return nil
	}
	delete(d.index, key)
	seq := d.appendLocked(record{typ: recordFreeIntended, key: key, extent: entry.extent})
	d.mu.Unlock()
	if err := d.syncTo(seq, false, 0); err != nil {
		return err
	}
	if err := d.hit(stepDeleteIntended); err != nil {
		return err
	}
	d.mu.Lock()
	d.bits.setRange(entry.extent, false)
	d.mu.Unlock()
	if err := d.flushBitmap(stepDeleteBitmapPrimaryWritten, stepDeleteBitmapMirrorWritten); err != nil {
		return err
	}
	d.mu.Lock()
	seq = d.appendLocked(record{typ: recordFreeCommitted, key: key, extent: entry.extent})
	d.mu.Unlock()
	if err := d.syncTo(seq, false, 0); err != nil {
		return err
	}
	if err := d.hit(stepDeleteCommitted); err != nil {
		return err
	}
	return d.releaseExtent(entry.extent)
}

// ListFragments calls fn for every stored fragment in key order, from a
// snapshot taken before the first call; fn may call the device.
func (d *Device) ListFragments(fn func(chunks.FragmentInfo) error) error {
	done, err := d.begin()
	if err != nil {
		return err
	}
	d.mu.Lock()
	infos := make([]chunks.FragmentInfo, 0, len(d.index))
	for k, e := range d.index {
		infos = append(infos, chunks.FragmentInfo{Key: k, SizeBytes: int64(e.sizeBytes), WrittenUnixNano: e.writtenUnixNano})
	}
	d.mu.Unlock()
	done()
	slices.SortFunc(infos, func(a, b chunks.FragmentInfo) int { return compareKeys(a.Key, b.Key) })
	for _, info := range infos {
		if err := fn(info); err != nil {
			return err
		}
	}
	return nil
}

// Stat reports the data region's capacity (metadata excluded, ADR-029)
// and the bytes the bitmap marks as used.
func (d *Device) Stat() (chunks.DeviceStat, error) {
	done, err := d.begin()
	if err != nil {
		return chunks.DeviceStat{}, err
	}
	defer done()
	d.mu.Lock()
	defer d.mu.Unlock()
	return chunks.DeviceStat{
		CapacityBytes: int64(d.geo.dataBlocks) * blockSize,
		UsedBytes:     int64(d.bits.set) * blockSize,
	}, nil
}

// Close waits for running operations, writes what is pending and syncs.
// A failed device is closed without further writes.
func (d *Device) Close() error {
	d.lifecycle.Lock()
	defer d.lifecycle.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var err error
	if d.failed() == nil {
		d.mu.Lock()
		last := d.nextSeq - 1
		d.mu.Unlock()
		err = errors.Join(d.flushBitmap(0, 0), d.syncTo(last, true, d.fsyncBegun.Load()))
	}
	if closeErr := d.st.Close(); closeErr != nil {
		err = errors.Join(err, closeErr)
	}
	if err != nil {
		return fmt.Errorf("block: close %s: %w", d.id, err)
	}
	return nil
}

// abandon drops the device as a crash would: no flush, no sync.
func (d *Device) abandon() {
	d.lifecycle.Lock()
	defer d.lifecycle.Unlock()
	if !d.closed {
		d.closed = true
		d.failure.CompareAndSwap(nil, &errAbandoned)
		_ = d.st.Close()
	}
}

var errAbandoned = errors.New("block: device abandoned")

// fragmentCRC is the trailer: CRC32-C over chunk id, fragment index and
// data, so a stale extent of another key never verifies.
func fragmentCRC(key chunks.FragmentKey, data []byte) uint32 {
	c := crc32.Update(0, castagnoli, key.Chunk[:])
	c = crc32.Update(c, castagnoli, []byte{key.Index})
	return crc32.Update(c, castagnoli, data)
}

func compareKeys(a, b chunks.FragmentKey) int {
	if c := bytes.Compare(a.Chunk[:], b.Chunk[:]); c != 0 {
		return c
	}
	return cmp.Compare(a.Index, b.Index)
}

func keyString(k chunks.FragmentKey) string {
	return fmt.Sprintf("%s/%d", hex.EncodeToString(k.Chunk[:8]), k.Index)
}
