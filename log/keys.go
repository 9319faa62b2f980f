package log

import (
	"github.com/annal-storage/annal/log/kv"
)

// Shard key space, inside one store shared by all shards of a node:
//
//	s/<shard u64>/a              applied Raft index (u64)
//	s/<shard u64>/k              shard kind (1 byte)
//	s/<shard u64>/q              last event sequence (u64)
//	s/<shard u64>/e/<seq u64>    encoded envelope (the event store)
//	s/<shard u64>/i/<event id>   seq of the event with that id
//	s/<shard u64>/x              shred state (1 byte; see ShredState)
//	s/<shard u64>/p/...          projection state

// ShardPrefix is the prefix of every key of a shard.
func ShardPrefix(shard uint64) []byte {
	return append(kv.AppendUint64([]byte("s/"), shard), '/')
}

func shardKey(shard uint64, suffix string) []byte {
	return append(ShardPrefix(shard), suffix...)
}

func appliedKey(shard uint64) []byte { return shardKey(shard, "a") }
func kindKey(shard uint64) []byte    { return shardKey(shard, "k") }
func lastSeqKey(shard uint64) []byte { return shardKey(shard, "q") }
func shredKey(shard uint64) []byte   { return shardKey(shard, "x") }
func eventPrefix(shard uint64) []byte {
	return shardKey(shard, "e/")
}
func eventKey(shard, seq uint64) []byte {
	return kv.AppendUint64(eventPrefix(shard), seq)
}
func eventIDKey(shard uint64, id []byte) []byte {
	return append(shardKey(shard, "i/"), id...)
}

// View is a consistent read view of one shard's projection; Close releases
// it.
type View interface {
	kv.Reader
	Close() error
}

// SnapshotView is a view of a shard's projection over a fresh snapshot of
// the store, as this replica has it (no read barrier); Close releases the
// snapshot.
func SnapshotView(s kv.Store, shard uint64) View {
	snap := s.NewSnapshot()
	return snapshotView{Reader: ProjectionReader(snap, shard), snap: snap}
}

type snapshotView struct {
	kv.Reader
	snap kv.Snapshot
}

func (v snapshotView) Close() error { return v.snap.Close() }

// ProjectionPrefix is the prefix of a shard's projection state.
func ProjectionPrefix(shard uint64) []byte { return shardKey(shard, "p/") }

// ProjectionReader is a read view of one shard's projection state.
func ProjectionReader(r kv.Reader, shard uint64) kv.Reader {
	return kv.PrefixReader(r, ProjectionPrefix(shard))
}

func getU64(r kv.Reader, key []byte) (uint64, error) {
	b, ok, err := r.Get(key)
	if err != nil || !ok {
		return 0, err
	}
	return kv.Uint64(b), nil
}

// AppliedIndex returns the last Raft index applied to a shard.
func AppliedIndex(r kv.Reader, shard uint64) (uint64, error) { return getU64(r, appliedKey(shard)) }

// SetAppliedIndex records the last Raft index applied to a shard; it goes
// in the same batch as the effects of that index.
func SetAppliedIndex(w kv.Writer, shard, index uint64) error {
	return w.Set(appliedKey(shard), kv.AppendUint64(nil, index))
}

// LastSeq returns the sequence of a shard's newest event (0 when none).
func LastSeq(r kv.Reader, shard uint64) (uint64, error) { return getU64(r, lastSeqKey(shard)) }

// StoredKind returns the stored kind of a shard, 0 if unknown.
func StoredKind(r kv.Reader, shard uint64) (Kind, error) {
	b, ok, err := r.Get(kindKey(shard))
	if err != nil || !ok || len(b) != 1 {
		return 0, err
	}
	return Kind(b[0]), nil
}

// ReadEvents calls fn with every stored event of a shard with seq ≥ from,
// in order, until fn returns false.
func ReadEvents(r kv.Reader, shard, from uint64, fn func(seq uint64, raw []byte) (bool, error)) error {
	pre := eventPrefix(shard)
	it := r.NewIter(eventKey(shard, from), kv.PrefixEnd(pre))
	defer it.Close()
	for ok := it.First(); ok; ok = it.Next() {
		cont, err := fn(kv.Uint64(it.Key()[len(pre):]), it.Value())
		if err != nil || !cont {
			return err
		}
	}
	return nil
}

// Shards lists the shard ids present in a store, in order.
func Shards(r kv.Reader) ([]uint64, error) {
	var out []uint64
	it := r.NewIter([]byte("s/"), kv.PrefixEnd([]byte("s/")))
	defer it.Close()
	for ok := it.First(); ok; {
		k := it.Key()
		if len(k) < 11 {
			ok = it.Next()
			continue
		}
		id := kv.Uint64(k[2:10])
		out = append(out, id)
		ok = it.SeekGE(kv.PrefixEnd(ShardPrefix(id)))
	}
	return out, nil
}
