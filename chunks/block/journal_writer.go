package block

import (
	"fmt"
	"slices"
)

// appendLocked sequences r and queues it for the journal; the caller
// holds mu and changes the index in the same critical section.
func (d *Device) appendLocked(r record) uint64 {
	r.seq = d.nextSeq
	d.nextSeq++
	d.pending = append(d.pending, r)
	return r.seq
}

// takeBatch removes from pending as many records as fit in one journal
// block, in sequence order.
func (d *Device) takeBatch() (payload []byte, count int, lastSeq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for count < len(d.pending) {
		next := appendRecord(payload, d.pending[count])
		if len(next) > journalPayloadBytes {
			break
		}
		payload, lastSeq = next, d.pending[count].seq
		count++
	}
	d.pending = d.pending[count:]
	if len(d.pending) == 0 {
		d.pending = nil
	}
	return payload, count, lastSeq
}

// writeJournal writes every pending record without waiting for fsync.
func (d *Device) writeJournal() error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	if err := d.failed(); err != nil {
		return err
	}
	if err := d.writeJournalLocked(); err != nil {
		return d.fail(err)
	}
	return nil
}

// writeJournalLocked appends pending records to the chain, one block at a
// time, never rewriting a block. When the ring is full it checkpoints
// instead, which covers every record sequenced so far. Caller holds
// syncMu.
func (d *Device) writeJournalLocked() error {
	for {
		payload, count, lastSeq := d.takeBatch()
		if count == 0 {
			return nil
		}
		if d.jw.nextBlockNo-d.jw.cpStartBlockNo >= d.geo.journalBlocks {
			return d.checkpointLocked()
		}
		h := journalHeader{prevCRC: d.jw.prevCRC, blockNo: d.jw.nextBlockNo, checkpointGen: d.jw.cpGen}
		block, crc := encodeJournalBlock(d.seed, h, count, payload)
		slot := d.geo.journalStart + d.jw.nextBlockNo%d.geo.journalBlocks
		if err := writeBlocks(d.st, slot, block); err != nil {
			return fmt.Errorf("journal: %w", err)
		}
		d.jw.nextBlockNo++
		d.jw.prevCRC = crc
		d.jw.writtenSeq = lastSeq
	}
}

// syncTo returns once every record with sequence ≤ target is durable.
// With fresh set it also waits for an fsync that began after the caller
// read ticket from fsyncBegun, which makes the caller's earlier data
// writes durable. Concurrent callers share writes and fsyncs (group
// commit): whoever holds syncMu writes everyone's pending records.
func (d *Device) syncTo(target uint64, fresh bool, ticket uint64) error {
	d.syncMu.Lock()
	defer d.syncMu.Unlock()
	for {
		if err := d.failed(); err != nil {
			return err
		}
		if d.durableSeq.Load() >= target && (!fresh || d.fsyncDone.Load() > ticket) {
			return nil
		}
		if err := d.writeJournalLocked(); err != nil {
			return d.fail(err)
		}
		written := d.jw.writtenSeq
		if err := d.fsyncLocked(); err != nil {
			return d.fail(err)
		}
		if written > d.durableSeq.Load() {
			d.durableSeq.Store(written)
		}
	}
}

// fsyncLocked syncs the medium and counts the fsync. Caller holds syncMu.
func (d *Device) fsyncLocked() error {
	n := d.fsyncBegun.Add(1)
	if err := d.st.Sync(); err != nil {
		return fmt.Errorf("fsync: %w", err)
	}
	d.fsyncDone.Store(n)
	return nil
}

// checkpointLocked writes the whole index to the checkpoint region not
// holding the newest checkpoint, then syncs. The new checkpoint covers
// every record sequenced so far, so pending is dropped and the journal
// restarts, chained to the new header. Until the sync completes the
// previous checkpoint and its journal stay intact: no journal block is
// written while a checkpoint is in progress. Caller holds syncMu.
func (d *Device) checkpointLocked() error {
	d.mu.Lock()
	entries := make([]keyedEntry, 0, len(d.index))
	for k, e := range d.index {
		entries = append(entries, keyedEntry{key: k, entry: e})
	}
	lastSeq := d.nextSeq - 1
	d.pending = nil
	d.mu.Unlock()
	if uint64(len(entries)) > d.geo.maxFragments {
		return fmt.Errorf("checkpoint: %d entries exceed the index capacity %d", len(entries), d.geo.maxFragments)
	}
	slices.SortFunc(entries, func(a, b keyedEntry) int { return compareKeys(a.key, b.key) })
	h := checkpointHeader{region: 1 - d.jw.cpRegion, gen: d.jw.cpGen + 1, lastSeq: lastSeq, startBlockNo: d.jw.nextBlockNo}
	header, body, crc := encodeCheckpoint(d.seed, h, entries)
	start := d.geo.checkpointA
	if h.region == 1 {
		start = d.geo.checkpointB
	}
	if err := writeBlocks(d.st, start+1, body); err != nil {
		return fmt.Errorf("checkpoint body: %w", err)
	}
	if err := d.hit(stepCheckpointBodyWritten); err != nil {
		return err
	}
	if err := writeBlocks(d.st, start, header); err != nil {
		return fmt.Errorf("checkpoint header: %w", err)
	}
	if err := d.hit(stepCheckpointHeaderWritten); err != nil {
		return err
	}
	if err := d.fsyncLocked(); err != nil {
		return err
	}
	d.jw = journalWriter{nextBlockNo: d.jw.nextBlockNo, prevCRC: crc, cpGen: h.gen, cpRegion: h.region,
		cpStartBlockNo: d.jw.nextBlockNo, writtenSeq: lastSeq}
	if lastSeq > d.durableSeq.Load() {
		d.durableSeq.Store(lastSeq)
	}
	return d.hit(stepCheckpointSynced)
}

// flushBitmap writes the changed bitmap pages to copy A, then copy B,
// without fsync: the bitmap is never ahead of the journal (bits change
// only after their record is durable) and a torn page is repaired from
// its mirror or rebuilt from the index at open.
func (d *Device) flushBitmap(afterPrimary, afterMirror step) error {
	d.bitmapMu.Lock()
	defer d.bitmapMu.Unlock()
	d.mu.Lock()
	writes := d.bits.takeDirty(d.seed)
	d.mu.Unlock()
	for copyIndex, base := range []uint64{d.geo.bitmapA, d.geo.bitmapB} {
		for _, w := range writes {
			if err := writeBlocks(d.st, base+w.page, w.copies[copyIndex]); err != nil {
				return d.fail(fmt.Errorf("bitmap: %w", err))
			}
		}
		if err := d.hit([]step{afterPrimary, afterMirror}[copyIndex]); err != nil {
			return err
		}
	}
	return nil
}

// Trim discards freed extents that are still free (FALLOC_FL_PUNCH_HOLE
// on a file) and returns the bytes discarded. ADR-029 batches TRIM: call
// it every 60 s; frees also trigger it once 1 GiB is queued. Discarding
// free space needs no journal record: its contents never matter.
func (d *Device) Trim() (int64, error) {
	done, err := d.begin()
	if err != nil {
		return 0, err
	}
	defer done()
	blocks, err := d.trim()
	return int64(blocks) * blockSize, err
}

func (d *Device) trim() (uint64, error) {
	d.mu.Lock()
	var taken []extent
	for _, e := range d.trimQueue {
		if d.free.take(e) { // reallocated or already taken extents are skipped
			taken = append(taken, e)
		}
	}
	d.trimQueue, d.trimBlocks = nil, 0
	d.mu.Unlock()
	var punched uint64
	var err error
	for _, e := range taken {
		if err != nil || d.noTrim.Load() {
			break
		}
		switch perr := d.st.PunchHole(d.geo.dataOffset(e), int64(e.blocks)*blockSize); {
		case perr == errPunchUnsupported:
			d.noTrim.Store(true)
		case perr != nil:
			err = fmt.Errorf("block: trim extent %d+%d: %w", e.start, e.blocks, perr)
		default:
			punched += e.blocks
		}
	}
	d.mu.Lock()
	for _, e := range taken {
		d.free.release(e)
	}
	d.mu.Unlock()
	return punched, err
}
