package raft

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"

	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/kv"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// stateMachine is one shard replica's on-disk state machine.
type stateMachine struct {
	shard uint64
	store kv.Store
	// snapshotKey encrypts snapshot streams; nil leaves them clear.
	snapshotKey []byte
	applier     *annallog.Applier
	onHalt      func(shard uint64, reason error)

	mu     sync.Mutex
	halted error
}

var _ sm.IOnDiskStateMachine = (*stateMachine)(nil)

// Open implements sm.IOnDiskStateMachine: it reports the applied index the
// store holds, so dragonboat replays only entries after it.
func (s *stateMachine) Open(<-chan struct{}) (uint64, error) {
	return annallog.AppliedIndex(s.store, s.shard)
}

// Halted returns why the shard halted, or nil.
func (s *stateMachine) Halted() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.halted
}

// Update implements sm.IOnDiskStateMachine.
func (s *stateMachine) Update(entries []sm.Entry) ([]sm.Entry, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	batch := s.store.NewBatch()
	defer batch.Close()
	var applied uint64
	for i := range entries {
		e := &entries[i]
		if s.halted != nil {
			e.Result = haltedResult(s.halted)
			continue
		}
		res, err := s.applyOne(batch, e.Cmd)
		if errors.Is(err, annallog.ErrHalted) {
			s.halted = err
			e.Result = haltedResult(err)
			if s.onHalt != nil {
				go s.onHalt(s.shard, err)
			}
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("shard %d apply index %d: %w", s.shard, e.Index, err)
		}
		e.Result = sm.Result{Value: uint64(res.Status), Data: res.Encode()}
		applied = e.Index
	}
	if applied != 0 {
		if err := annallog.SetAppliedIndex(batch, s.shard, applied); err != nil {
			return nil, err
		}
	}
	if err := batch.Commit(false); err != nil {
		return nil, fmt.Errorf("shard %d commit: %w", s.shard, err)
	}
	return entries, nil
}

func (s *stateMachine) applyOne(w kv.Writer, cmd []byte) (annallog.Result, error) {
	if len(cmd) == 0 { // an empty entry carries nothing to apply
		return annallog.Result{Status: annallog.StatusAccepted}, nil
	}
	return s.applier.Apply(w, cmd)
}

func haltedResult(err error) sm.Result {
	r := annallog.Result{Status: annallog.StatusHalted, Reason: err.Error()}
	return sm.Result{Value: uint64(r.Status), Data: r.Encode()}
}

// Lookup implements sm.IOnDiskStateMachine. Reads go to the store
// directly after a read barrier; Lookup only completes the barrier.
func (s *stateMachine) Lookup(interface{}) (interface{}, error) { return nil, nil }

// Sync implements sm.IOnDiskStateMachine: it makes every committed batch
// durable by committing a synced write of the applied index.
func (s *stateMachine) Sync() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	idx, err := annallog.AppliedIndex(s.store, s.shard)
	if err != nil || idx == 0 {
		return err
	}
	b := s.store.NewBatch()
	defer b.Close()
	if err := annallog.SetAppliedIndex(b, s.shard, idx); err != nil {
		return err
	}
	return b.Commit(true)
}

// PrepareSnapshot implements sm.IOnDiskStateMachine.
func (s *stateMachine) PrepareSnapshot() (interface{}, error) {
	if err := s.Halted(); err != nil {
		return nil, fmt.Errorf("%w: %v", sm.ErrSnapshotAborted, err)
	}
	return s.store.NewSnapshot(), nil
}

// SaveSnapshot implements sm.IOnDiskStateMachine: length-prefixed key and
// value pairs of the shard's key space, the applied index last.
func (s *stateMachine) SaveSnapshot(ctx interface{}, w io.Writer, done <-chan struct{}) error {
	snap := ctx.(kv.Snapshot)
	defer snap.Close()
	var sealed *sealWriter
	if s.snapshotKey != nil {
		var err error
		if sealed, err = newSealWriter(w, s.snapshotKey); err != nil {
			return err
		}
		w = sealed
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	pre := annallog.ShardPrefix(s.shard)
	applied, _, err := snap.Get(appliedKeyOf(s.shard))
	if err != nil {
		return err
	}
	n := 0
	err = kv.Scan(snap, pre, kv.PrefixEnd(pre), func(k, v []byte) error {
		if n++; n%4096 == 0 {
			select {
			case <-done:
				return sm.ErrSnapshotStopped
			default:
			}
		}
		if string(k) == string(appliedKeyOf(s.shard)) {
			return nil
		}
		return writePair(bw, k, v)
	})
	if err != nil {
		return err
	}
	if applied != nil {
		if err := writePair(bw, appliedKeyOf(s.shard), applied); err != nil {
			return err
		}
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	if sealed != nil {
		return sealed.Close()
	}
	return nil
}

func appliedKeyOf(shard uint64) []byte { return append(annallog.ShardPrefix(shard), 'a') }

func writePair(w io.Writer, k, v []byte) error {
	var hdr [8]byte
	binary.BigEndian.PutUint32(hdr[:4], uint32(len(k)))
	binary.BigEndian.PutUint32(hdr[4:], uint32(len(v)))
	for _, b := range [][]byte{hdr[:], k, v} {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// RecoverFromSnapshot implements sm.IOnDiskStateMachine: it replaces the
// shard's key space with the snapshot's, in bounded batches; the applied
// index arrives last, so an interrupted recovery is redone on restart.
func (s *stateMachine) RecoverFromSnapshot(r io.Reader, done <-chan struct{}) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.snapshotKey != nil {
		or, err := newOpenReader(r, s.snapshotKey)
		if err != nil {
			return fmt.Errorf("shard %d snapshot: %w", s.shard, err)
		}
		r = or
	}
	pre := annallog.ShardPrefix(s.shard)
	b := s.store.NewBatch()
	if err := b.DeleteRange(pre, kv.PrefixEnd(pre)); err != nil {
		return err
	}
	br := bufio.NewReaderSize(r, 1<<20)
	size := 0
	for {
		k, v, err := readPair(br)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			b.Close()
			return fmt.Errorf("shard %d snapshot: %w", s.shard, err)
		}
		if string(k[:len(pre)]) != string(pre) {
			b.Close()
			return fmt.Errorf("shard %d snapshot holds a foreign key", s.shard)
		}
		if err := b.Set(k, v); err != nil {
			return err
		}
		if size += len(k) + len(v); size > 32<<20 {
			select {
			case <-done:
				b.Close()
				return sm.ErrSnapshotStopped
			default:
			}
			if err := b.Commit(false); err != nil {
				return err
			}
			b, size = s.store.NewBatch(), 0
		}
	}
	return b.Commit(true)
}

func readPair(r io.Reader) ([]byte, []byte, error) {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, nil, err
	}
	kl, vl := binary.BigEndian.Uint32(hdr[:4]), binary.BigEndian.Uint32(hdr[4:])
	if kl > 1<<20 || vl > 64<<20 {
		return nil, nil, fmt.Errorf("snapshot pair of %d+%d bytes", kl, vl)
	}
	buf := make([]byte, int(kl)+int(vl))
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, nil, fmt.Errorf("truncated snapshot: %w", err)
	}
	return buf[:kl], buf[kl:], nil
}

// Close implements sm.IOnDiskStateMachine; the store is shared and closed
// by the host.
func (s *stateMachine) Close() error { return nil }
