package chunks

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// ErrInsufficientDevices: fewer healthy devices than a profile has
// fragments. Fragments must sit on distinct devices, so the store refuses
// rather than doubling up; the caller decides (wait, or pick a profile
// with fewer fragments).
var ErrInsufficientDevices = errors.New("insufficient healthy devices")

// Store places, reads and repairs the fragments of chunks over a fixed set
// of devices. It is safe for concurrent use.
//
// Device health: a device is skipped for new fragments once any operation
// on it returns ErrDeviceFailed, or after SetDeviceFailed(id, true), until
// SetDeviceFailed(id, false) or ReplaceDevice.
type Store struct {
	ids []string // sorted; fixed for the store's lifetime

	mu      sync.Mutex
	devices map[string]Device // replaced by ReplaceDevice
	failed  map[string]bool

	opts StoreOptions

	bytesWritten atomic.Int64
	bytesRead    atomic.Int64
}

// StoreOptions tunes a Store.
type StoreOptions struct {
	// Sequential performs the fragment I/O of one operation one fragment
	// at a time, in index order, on the caller's goroutine. The simulator
	// needs it: its devices must see operations in a reproducible order
	// and it runs no goroutines. Production stores leave it off, so one
	// slow device does not add its latency to every other fragment's.
	Sequential bool
	// OnDeviceFailed, if set, is called (on the goroutine that saw the
	// error, without locks held) when an operation's ErrDeviceFailed marks
	// a healthy device failed, so the owner can start repair at once
	// (I-D1). It must not block.
	OnDeviceFailed func(id string)
}

// StoreStats counts fragment bytes moved by the store since it was made.
type StoreStats struct {
	WrittenBytes int64
	ReadBytes    int64
}

// NewStore returns a store over devices, whose ids must be distinct.
func NewStore(devices []Device) (*Store, error) {
	return NewStoreWithOptions(devices, StoreOptions{})
}

// NewStoreWithOptions returns a store over devices, whose ids must be
// distinct, tuned by opts.
func NewStoreWithOptions(devices []Device, opts StoreOptions) (*Store, error) {
	s := &Store{devices: make(map[string]Device, len(devices)), failed: make(map[string]bool), opts: opts}
	for _, d := range devices {
		if _, dup := s.devices[d.ID()]; dup {
			return nil, fmt.Errorf("new store: device id %q appears twice", d.ID())
		}
		s.devices[d.ID()] = d
		s.ids = append(s.ids, d.ID())
	}
	slices.Sort(s.ids)
	return s, nil
}

// SetDeviceFailed marks a device failed (skipped for new fragments) or
// healthy again.
func (s *Store) SetDeviceFailed(id string, failed bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if failed {
		s.failed[id] = true
	} else {
		delete(s.failed, id)
	}
}

// Healthy reports whether id names a known device not marked failed.
func (s *Store) Healthy(id string) bool { return s.healthy(id) }

func (s *Store) healthy(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, known := s.devices[id]
	return known && !s.failed[id]
}

// DeviceIDs returns the ids of the store's devices, sorted.
func (s *Store) DeviceIDs() []string { return slices.Clone(s.ids) }

// Device returns the device with id.
func (s *Store) Device(id string) (Device, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[id]
	return d, ok
}

// ReplaceDevice swaps in d for the device with the same id (a failed
// directory device reopened as a fresh, empty one) and marks it healthy.
// It returns the old device, which the caller closes. Fragments the old
// device held are missing on the new one until repair rewrites them.
func (s *Store) ReplaceDevice(d Device) (Device, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.devices[d.ID()]
	if !ok {
		return nil, fmt.Errorf("replace device %q: not a device of this store", d.ID())
	}
	s.devices[d.ID()] = d
	delete(s.failed, d.ID())
	return old, nil
}

// Stats returns the store's byte counters.
func (s *Store) Stats() StoreStats {
	return StoreStats{WrittenBytes: s.bytesWritten.Load(), ReadBytes: s.bytesRead.Load()}
}

// observe marks the device failed when err says so, and passes err on.
func (s *Store) observe(deviceID string, err error) error {
	if !errors.Is(err, ErrDeviceFailed) {
		return err
	}
	s.mu.Lock()
	_, known := s.devices[deviceID]
	first := known && !s.failed[deviceID]
	if known {
		s.failed[deviceID] = true
	}
	s.mu.Unlock()
	if first && s.opts.OnDeviceFailed != nil {
		s.opts.OnDeviceFailed(deviceID)
	}
	return err
}

// candidates returns healthy device ids not in exclude, in rendezvous
// order for chunk id.
func (s *Store) candidates(id ChunkID, exclude []string) []string {
	var out []string
	for _, d := range rankDevices(id, s.ids) {
		if s.healthy(d) && !slices.Contains(exclude, d) {
			out = append(out, d)
		}
	}
	return out
}

// Put encodes a sealed envelope under profile and writes fragment i to the
// i-th healthy device in rendezvous order, all in parallel. It succeeds
// only when every fragment is durably written: the write quorum is all
// fragments for now (ADR-005 allows acknowledging at Data fragments; the
// issue owner may relax this). On failure, fragments already written stay
// as orphans for orphan collection: deleting them could remove a
// concurrent writer's identical fragment of the same chunk. The placement
// returned names the envelope's epoch.
func (s *Store) Put(profile Profile, id ChunkID, sealed []byte) (Placement, error) {
	if err := profile.Validate(); err != nil {
		return Placement{}, fmt.Errorf("put chunk %s: %w", id, err)
	}
	devices := s.candidates(id, nil)
	if len(devices) < profile.Fragments() {
		return Placement{}, fmt.Errorf("put chunk %s: %s needs %d devices, %d healthy: %w",
			id, profile, profile.Fragments(), len(devices), ErrInsufficientDevices)
	}
	placement := Placement{Profile: profile, Devices: devices[:profile.Fragments()], Epoch: EnvelopeOf(sealed).Epoch}
	if err := s.PutAt(id, placement, sealed); err != nil {
		return Placement{}, err
	}
	return placement, nil
}

// PutAt encodes a sealed envelope under placement's profile and writes
// fragment i to placement.Devices[i], all in parallel, with Put's write
// quorum (all) and orphan rule.
func (s *Store) PutAt(id ChunkID, placement Placement, sealed []byte) error {
	if err := checkPlacement(placement); err != nil {
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	fragments, err := EncodeFragments(placement.Profile, id, sealed)
	if err != nil {
		return fmt.Errorf("put chunk %s: %w", id, err)
	}
	errs := s.parallel(len(fragments), func(i int) error {
		return s.putFragment(placement.Devices[i], FragmentKey{Chunk: id, Index: uint8(i)}, fragments[i])
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("put chunk %s (%s, write quorum all): %w", id, placement.Profile, err)
	}
	return nil
}

func (s *Store) putFragment(deviceID string, key FragmentKey, fragment []byte) error {
	d, ok := s.Device(deviceID)
	if !ok {
		return fmt.Errorf("device %q unknown to this store: %w", deviceID, ErrDeviceFailed)
	}
	if err := s.observe(deviceID, d.PutFragment(key, fragment)); err != nil {
		return err
	}
	s.bytesWritten.Add(int64(len(fragment)))
	return nil
}

// ReadReport lists the fragments a read found unusable, so a repairer can
// fix them. It covers only fragments the read tried: a read that found
// its first Data fragments intact reports nothing about the others.
type ReadReport struct {
	Missing []int // absent from its device, or the device failed or unknown
	// Unreachable are the Missing indexes whose device failed or is
	// unknown: they may come back, unlike a fragment a healthy device
	// does not hold.
	Unreachable []int
	Corrupt     []int // present but failed its checks
	// Foreign are intact fragments of another envelope than the one read
	// (a stale seal of the chunk, or a racing writer's): unusable for this
	// read; repair rewrites them.
	Foreign []int
	// Envelope is the envelope read (zero when none was readable).
	Envelope Envelope
	// Fallback is set when the envelope read is not the one the placement
	// names (Placement.Epoch): the bytes are right (every envelope
	// authenticates its own), but the chunk's record does not describe
	// its fragments; the chunk must be sealed again, not repaired.
	Fallback bool
	// ReadBytes is the fragment bytes fetched from devices.
	ReadBytes int64
}

// Degraded reports whether the read met any unusable fragment.
func (r ReadReport) Degraded() bool { return len(r.Missing)+len(r.Corrupt)+len(r.Foreign) > 0 }

// Get reads a chunk's sealed envelope. It fetches the Data data fragments
// in parallel, and for each one unusable fetches the next parity fragment,
// reconstructing when needed. It combines only fragments of one envelope:
// the one placement.Epoch names when enough of its fragments survive,
// otherwise another complete one (ReadReport.Fallback). Fewer than Data
// usable fragments of any one envelope gives an error wrapping
// ErrChunkLost.
func (s *Store) Get(id ChunkID, placement Placement) ([]byte, ReadReport, error) {
	var report ReadReport
	if err := checkPlacement(placement); err != nil {
		return nil, report, fmt.Errorf("get chunk %s: %w", id, err)
	}
	n := placement.Profile.Fragments()
	set := newFragmentSet(placement.Profile, id, placement.Epoch)
	for next := 0; next < n && !set.settled(n-next); {
		batch := min(set.wanted(), n-next)
		s.fetchInto(set, &report, id, placement, next, next+batch)
		next += batch
	}
	sealed, err := s.finish(set, &report)
	if err != nil {
		return nil, report, fmt.Errorf("get chunk %s: missing %v, corrupt %v, foreign %v: %w", id, report.Missing, report.Corrupt, report.Foreign, err)
	}
	return sealed, report, nil
}

// finish joins set and completes report with the envelope read and the
// foreign fragments.
// The envelope read is the one the sealed bytes name: fragments of
// unknown identity that joined the preferred group may turn out to hold
// another epoch, which is a fallback too.
func (s *Store) finish(set *fragmentSet, report *ReadReport) ([]byte, error) {
	sealed, sel, err := set.join()
	report.Foreign = set.foreign()
	if err == nil {
		report.Envelope = EnvelopeOf(sealed)
		report.Fallback = sel.fallback || set.preferred != 0 && report.Envelope.Known() && report.Envelope.Epoch != set.preferred
	}
	return sealed, err
}

// fetchInto reads fragments [from, to) in parallel, adds the usable ones to
// set and records the others in report, in index order.
func (s *Store) fetchInto(set *fragmentSet, report *ReadReport, id ChunkID, placement Placement, from, to int) {
	fetched := make([][]byte, to-from)
	errs := s.parallel(to-from, func(i int) error {
		var err error
		fetched[i], err = s.getFragment(placement.Devices[from+i], FragmentKey{Chunk: id, Index: uint8(from + i)})
		return err
	})
	for i, err := range errs {
		index := from + i
		report.ReadBytes += int64(len(fetched[i]))
		if err == nil {
			err = set.add(index, fetched[i])
		}
		switch {
		case err == nil:
		case errors.Is(err, ErrDeviceFailed):
			report.Missing = append(report.Missing, index)
			report.Unreachable = append(report.Unreachable, index)
		case errors.Is(err, ErrFragmentNotFound):
			report.Missing = append(report.Missing, index)
		default:
			report.Corrupt = append(report.Corrupt, index)
		}
	}
}

func (s *Store) getFragment(deviceID string, key FragmentKey) ([]byte, error) {
	d, ok := s.Device(deviceID)
	if !ok {
		return nil, fmt.Errorf("device %q unknown to this store: %w", deviceID, ErrDeviceFailed)
	}
	b, err := d.GetFragment(key)
	s.bytesRead.Add(int64(len(b)))
	return b, s.observe(deviceID, err)
}

// Delete removes every fragment of a chunk at placement (garbage
// collection). Absent fragments count as deleted. Fragments on failed or
// unknown devices cannot be deleted now: the error then wraps
// ErrDeviceFailed, and those fragments are orphans for orphan collection
// once their device is back.
func (s *Store) Delete(id ChunkID, placement Placement) error {
	errs := s.parallel(len(placement.Devices), func(i int) error {
		return s.DeleteFragment(placement.Devices[i], FragmentKey{Chunk: id, Index: uint8(i)})
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete chunk %s: %w", id, err)
	}
	return nil
}

// DeleteFragment removes one fragment from a device; deleting an absent
// fragment succeeds.
func (s *Store) DeleteFragment(deviceID string, key FragmentKey) error {
	d, ok := s.Device(deviceID)
	if !ok {
		return fmt.Errorf("device %q unknown to this store: %w", deviceID, ErrDeviceFailed)
	}
	return s.observe(deviceID, d.DeleteFragment(key))
}

// ListFragments lists the fragments on one device (see
// Device.ListFragments).
func (s *Store) ListFragments(deviceID string, fn func(FragmentInfo) error) error {
	d, ok := s.Device(deviceID)
	if !ok {
		return fmt.Errorf("device %q unknown to this store: %w", deviceID, ErrDeviceFailed)
	}
	return s.observe(deviceID, d.ListFragments(fn))
}

// Check reads and verifies every fragment of a chunk (headers, CRCs,
// chunk id, index and profile) without decrypting anything, as scrub
// does. It returns the unusable fragments (foreign ones included) and
// how many fragments of the envelope it would read are intact (Get's
// choice; with none complete, the most of any one envelope).
func (s *Store) Check(id ChunkID, placement Placement) (report ReadReport, usable int, err error) {
	if err := checkPlacement(placement); err != nil {
		return report, 0, fmt.Errorf("check chunk %s: %w", id, err)
	}
	set := newFragmentSet(placement.Profile, id, placement.Epoch)
	s.fetchInto(set, &report, id, placement, 0, placement.Profile.Fragments())
	_, _ = s.finish(set, &report)
	return report, set.usable(), nil
}

// ErrForeignEnvelope: the fragments that can be read belong to another
// envelope than the placement names. Repair refuses to rewrite the chunk
// under a record that does not describe it; sealing it again (with a
// record of the new seal) fixes it.
var ErrForeignEnvelope = errors.New("fragments hold another envelope than the record names")

// Repair reads every fragment of a chunk, rebuilds the unusable ones
// (missing, corrupt, or of another envelope) from the envelope the
// placement names and writes them back: to the same device when it is
// healthy, otherwise to the best-ranked healthy device the chunk does not
// use yet. It never mixes envelopes: every fragment it writes belongs to
// the envelope it read. It returns the placement after repair and the
// fragment indexes rewritten. When some fragments could not be rewritten
// it returns an error (ErrInsufficientDevices when no device was left)
// together with the partial result; ErrChunkLost when fewer than Data
// fragments of one envelope survive; ErrForeignEnvelope, writing nothing,
// when only another envelope than the placement's is complete.
func (s *Store) Repair(id ChunkID, placement Placement) (Placement, []int, error) {
	if err := checkPlacement(placement); err != nil {
		return placement, nil, fmt.Errorf("repair chunk %s: %w", id, err)
	}
	set := newFragmentSet(placement.Profile, id, placement.Epoch)
	var report ReadReport
	s.fetchInto(set, &report, id, placement, 0, placement.Profile.Fragments())
	sealed, err := s.finish(set, &report)
	if err != nil {
		return placement, nil, fmt.Errorf("repair chunk %s: %w", id, err)
	}
	if report.Fallback {
		return placement, nil, fmt.Errorf("repair chunk %s: placement names epoch %d, readable %s: %w", id, placement.Epoch, report.Envelope, ErrForeignEnvelope)
	}
	if !report.Degraded() {
		return placement, nil, nil
	}
	fragments, err := EncodeFragments(placement.Profile, id, sealed)
	if err != nil {
		return placement, nil, fmt.Errorf("repair chunk %s: %w", id, err)
	}
	bad := slices.Sorted(slices.Values(slices.Concat(report.Missing, report.Corrupt, report.Foreign)))
	return s.rewrite(id, placement, bad, fragments)
}

// rewrite writes fragments[i] for each index in bad, choosing targets as
// Repair documents.
func (s *Store) rewrite(id ChunkID, placement Placement, bad []int, fragments [][]byte) (Placement, []int, error) {
	result := placement.Clone()
	spare := s.candidates(id, placement.Devices)
	var errs []error
	var todo []int
	for _, i := range bad {
		if !s.healthy(result.Devices[i]) {
			if len(spare) == 0 {
				errs = append(errs, fmt.Errorf("fragment %d: no spare device: %w", i, ErrInsufficientDevices))
				continue
			}
			result.Devices[i], spare = spare[0], spare[1:]
		}
		todo = append(todo, i)
	}
	writeErrs := s.parallel(len(todo), func(n int) error {
		i := todo[n]
		return s.putFragment(result.Devices[i], FragmentKey{Chunk: id, Index: uint8(i)}, fragments[i])
	})
	var repaired []int
	for n, err := range writeErrs {
		i := todo[n]
		if err != nil {
			errs = append(errs, fmt.Errorf("fragment %d: %w", i, err))
			result.Devices[i] = placement.Devices[i]
			continue
		}
		repaired = append(repaired, i)
	}
	if err := errors.Join(errs...); err != nil {
		return result, repaired, fmt.Errorf("repair chunk %s: %w", id, err)
	}
	return result, repaired, nil
}

// ResealPlacement returns where a new envelope of a chunk now at old goes
// (ADR-015): fragment i moves to the device that held fragment i+1 (mod
// n), so no new fragment shares a (device, chunk, index) key with an old
// one and the old envelope stays whole until the new one is recorded.
// Where that device is not healthy it takes the best-ranked healthy
// device the chunk does not use. Only a single-fragment chunk with no
// spare device is rewritten in place (devices replace a fragment
// atomically, so a reader sees one whole envelope or the other).
func (s *Store) ResealPlacement(id ChunkID, old Placement) (Placement, error) {
	if err := checkPlacement(old); err != nil {
		return Placement{}, fmt.Errorf("reseal placement of chunk %s: %w", id, err)
	}
	n := len(old.Devices)
	out := Placement{Profile: old.Profile, Devices: make([]string, n)}
	spare := s.candidates(id, old.Devices)
	for i := range n {
		d := old.Devices[(i+1)%n]
		if d == old.Devices[i] || !s.healthy(d) {
			if len(spare) > 0 {
				d, spare = spare[0], spare[1:]
			} else if n > 1 || !s.healthy(d) {
				return Placement{}, fmt.Errorf("reseal placement of chunk %s: fragment %d: no healthy device: %w", id, i, ErrInsufficientDevices)
			}
		}
		out.Devices[i] = d
	}
	return out, nil
}

// DeleteReplaced deletes the fragments of a chunk's old placement once a
// new one is recorded, except where the new placement stores the same
// index on the same device (a fragment rewritten in place). Errors are as
// Delete's; fragments left behind are orphans for orphan collection.
func (s *Store) DeleteReplaced(id ChunkID, old, now Placement) error {
	errs := s.parallel(len(old.Devices), func(i int) error {
		if i < len(now.Devices) && now.Devices[i] == old.Devices[i] {
			return nil
		}
		return s.DeleteFragment(old.Devices[i], FragmentKey{Chunk: id, Index: uint8(i)})
	})
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("delete replaced fragments of chunk %s: %w", id, err)
	}
	return nil
}

func checkPlacement(p Placement) error {
	if err := p.Profile.Validate(); err != nil {
		return err
	}
	if len(p.Devices) != p.Profile.Fragments() {
		return fmt.Errorf("placement lists %d devices, %s has %d fragments", len(p.Devices), p.Profile, p.Profile.Fragments())
	}
	return nil
}

// parallel runs fn(0..n-1) concurrently (in index order when the store
// is Sequential) and returns their errors by index.
func (s *Store) parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	if s.opts.Sequential {
		for i := range n {
			errs[i] = fn(i)
		}
		return errs
	}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = fn(i) })
	}
	wg.Wait()
	return errs
}
