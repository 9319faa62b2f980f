package sim

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"slices"

	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections"
	"github.com/annal-storage/annal/projections/control"
	"github.com/annal-storage/annal/projections/namespace"
)

// Oracle names. A Violation names the oracle that broke.
const (
	// OracleAckedWriteLost: an acknowledged proposal is missing from the
	// converged event store.
	OracleAckedWriteLost = "acked-write-lost"
	// OracleApplyDivergence: two replicas applied different entries (or
	// got different results) at the same index of a shard, or a leader
	// overwrote a committed entry.
	OracleApplyDivergence = "apply-divergence"
	// OracleCommitDurable: a leader committed an entry that fewer than a
	// quorum of replicas hold in their synced logs (I-L2).
	OracleCommitDurable = "commit-durable"
	// OracleLinearizable: a client observation no linearization of the
	// acknowledged and ambiguous operations explains.
	OracleLinearizable = "linearizable"
	// OracleRefcount: chunk reference counts differ from the references
	// of live segments, or segment referrer counts from their referrers.
	OracleRefcount = "refcount"
	// OracleConvergence: replicas of a shard differ after healing.
	OracleConvergence = "convergence"
	// OracleReplay: replaying a shard's event store from zero does not
	// rebuild its live state.
	OracleReplay = "replay"
	// OraclePlaintext: workload plaintext reached a simulated device.
	OraclePlaintext = "plaintext"
	// OracleChunkAvailable: a chunk that live content references is not
	// recorded or cannot be read after healing and repair.
	OracleChunkAvailable = "chunk-available"
	// OracleChunkRecorded: a namespace event referenced a chunk before
	// the chunk shard committed its record (I-L5).
	OracleChunkRecorded = "chunk-recorded"
	// OracleElectionSafety: two replicas led one shard in the same term.
	OracleElectionSafety = "election-safety"
	// OracleApplyPanic: the apply path failed or a projection invariant
	// broke.
	OracleApplyPanic = "apply-panic"
	// OracleLiveness: the healed cluster did not converge or clients did
	// not finish.
	OracleLiveness = "liveness"
)

// checks holds the oracles' bookkeeping.
type checks struct {
	w *world
	// applied[shard][i] hashes the entry and result first applied at
	// index i+1.
	applied  map[uint64][]uint64
	recorded map[event.ChunkID]bool
	// sealed namespace shards (their seal committed).
	sealed map[uint64]bool
	// leaders[shard][term] is the node that led the shard in the term.
	leaders map[[2]uint64]int
	acked   []ackedProposal

	crashes, partitions, applies int
	// decrementAt is where BugDoubleDecrement struck (shard, index).
	decrementAt [2]uint64
}

// ackedProposal is a proposal a client was told succeeded.
type ackedProposal struct {
	shard uint64
	id    event.ID
	what  string
}

func newChecks(w *world) *checks {
	return &checks{w: w, applied: map[uint64][]uint64{}, recorded: map[event.ChunkID]bool{}, sealed: map[uint64]bool{},
		leaders: map[[2]uint64]int{}}
}

// onApply checks that every replica applies the same entry with the same
// result at each index, and that namespace events reference only chunks
// the chunk shard recorded first.
func (c *checks) onApply(n *node, shard, idx uint64, e entry, res annallog.Result) {
	c.applies++
	h := fnv.New64a()
	h.Write(e.data)
	fmt.Fprintf(h, "|%d|%d|%d", res.Status, res.FirstSeq, res.Count)
	sum := h.Sum64()
	hs := c.applied[shard]
	switch {
	case idx <= uint64(len(hs)):
		if hs[idx-1] != sum {
			c.w.violate(OracleApplyDivergence, "node %d shard %d index %d: applied a different entry or result than another replica", n.id, shard, idx)
		}
		return
	case idx != uint64(len(hs))+1:
		c.w.violate(OracleApplyDivergence, "node %d shard %d applied index %d before index %d was applied anywhere", n.id, shard, idx, len(hs)+1)
		return
	}
	c.applied[shard] = append(hs, sum)
	c.w.tracef("apply s%d i%d status=%d seq=%d", shard, idx, res.Status, res.FirstSeq)
	if res.Status == annallog.StatusAccepted && e.data != nil {
		c.trackChunks(shard, idx, e.data)
		c.trackNamespaces(shard, e.data)
	}
}

// trackChunks follows chunk lifecycles through the chunk shard's
// entries and checks that namespace entries reference only recorded,
// live chunks.
func (c *checks) trackChunks(shard, idx uint64, data []byte) {
	p, err := annallog.DecodeProposal(data)
	if err != nil {
		return
	}
	for _, raw := range p.Events {
		env, err := event.Decode(raw)
		if err != nil {
			continue
		}
		c.chunkLifecycle(shard, idx, env)
	}
}

// ack remembers a proposal a client was told succeeded.
func (c *checks) ack(shard uint64, data []byte, what string) {
	p, err := annallog.DecodeProposal(data)
	if err != nil || len(p.Events) == 0 {
		return
	}
	env, err := event.Decode(p.Events[0])
	if err != nil {
		return
	}
	c.acked = append(c.acked, ackedProposal{shard: shard, id: env.ID, what: what})
}

// checkAcked: every acknowledged proposal's first event is in the
// converged event store (its id is in the shard's dedup index,
// s/<shard>/i/<event id>).
func (c *checks) checkAcked(store kv.Reader) {
	for _, a := range c.acked {
		key := append(append(annallog.ShardPrefix(a.shard), "i/"...), a.id[:]...)
		if _, ok, err := store.Get(key); err != nil || !ok {
			c.w.violate(OracleAckedWriteLost, "%s (shard %d, event %s) was acknowledged but is not in the event store", a.what, a.shard, a.id)
			return
		}
	}
}

// checkRefs verifies one namespace shard's reference counts against its
// live content: each segment's referrer count equals the versions and
// upload parts that reference it, every referenced segment exists, and
// each chunk's count equals the references of the live segments.
func checkRefs(r kv.Reader) error {
	referrers := map[event.SegmentID]uint32{}
	count := func(refs []event.SegmentRef) {
		for _, ref := range refs {
			referrers[ref.ID]++
		}
	}
	err := kv.Scan(r, []byte("v/"), kv.PrefixEnd([]byte("v/")), func(_, v []byte) error {
		var ver namespace.Version
		err := projections.Decode(v, &ver)
		count(ver.Content.Segments)
		return err
	})
	if err == nil {
		err = kv.Scan(r, []byte("p/"), kv.PrefixEnd([]byte("p/")), func(_, v []byte) error {
			var pt namespace.Part
			err := projections.Decode(v, &pt)
			count(pt.Segments)
			return err
		})
	}
	if err != nil {
		return err
	}
	want, err := segmentChunkRefs(r, referrers)
	if err != nil {
		return err
	}
	return compareChunkRefs(r, want)
}

// segmentChunkRefs checks segment records against their referrers and
// sums the chunk references of the live ones.
func segmentChunkRefs(r kv.Reader, referrers map[event.SegmentID]uint32) (map[[32]byte]uint64, error) {
	want := map[[32]byte]uint64{}
	seen := 0
	err := kv.Scan(r, []byte("s/"), kv.PrefixEnd([]byte("s/")), func(k, v []byte) error {
		var id event.SegmentID
		copy(id[:], k[2:])
		var rec namespace.SegmentRecord
		if err := projections.Decode(v, &rec); err != nil {
			return err
		}
		n, referenced := referrers[id]
		if referenced {
			seen++
		}
		if rec.Refs != n || (n == 0 && !rec.Staged) {
			return fmt.Errorf("segment %s counts %d referrers (staged %v), %d reference it", id, rec.Refs, rec.Staged, n)
		}
		for _, x := range rec.Extents {
			if !x.IsHole() {
				want[x.Chunk]++
			}
		}
		return nil
	})
	if err == nil && seen != len(referrers) {
		err = fmt.Errorf("%d referenced segments have no record", len(referrers)-seen)
	}
	return want, err
}

func compareChunkRefs(r kv.Reader, want map[[32]byte]uint64) error {
	got := map[[32]byte]uint64{}
	if err := namespace.ChunkRefTotals(r, func(c [32]byte, n uint64) error {
		got[c] = n
		return nil
	}); err != nil {
		return err
	}
	for _, c := range unionKeys(want, got) {
		if want[c] != got[c] {
			return fmt.Errorf("chunk %x: %d references counted, live segments hold %d", c[:8], got[c], want[c])
		}
	}
	return nil
}

func unionKeys(a, b map[[32]byte]uint64) [][32]byte {
	var out [][32]byte
	for k := range a {
		out = append(out, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(x, y [32]byte) int { return bytes.Compare(x[:], y[:]) })
	return out
}

// namespaceShards lists the namespace shards a store's control replica
// knows.
func namespaceShards(store kv.Reader) []uint64 {
	_, ids, err := control.NamespaceShards(annallog.ProjectionReader(store, commands.ControlShard))
	if err != nil {
		return nil
	}
	return ids
}

// checkRefsOn runs the refcount oracle on every namespace shard a node
// holds.
func (c *checks) checkRefsOn(n *node) {
	for _, shard := range namespaceShards(n.store) {
		if err := checkRefs(annallog.ProjectionReader(n.store, shard)); err != nil {
			c.w.violate(OracleRefcount, "node %d shard %d: %v", n.id, shard, err)
			return
		}
	}
}

// commitDurable checks I-L2 when a leader commits indexes [from, to]:
// each is in the synced log of a quorum of replicas.
func (c *checks) commitDurable(lead *replica, from, to uint64) {
	for i := from; i <= to; i++ {
		term := lead.termAt(i)
		n := 0
		for _, nd := range c.w.nodes {
			r, ok := nd.byShard[lead.shard]
			if ok && uint64(len(r.durable)) >= i && r.durable[i-1].term == term {
				n++
			}
		}
		if n < lead.quorum() {
			c.w.violate(OracleCommitDurable, "shard %d: leader %d committed index %d (term %d) held durably by %d replicas, quorum %d",
				lead.shard, lead.n.id, i, term, n, lead.quorum())
			return
		}
	}
}

// trackNamespaces records committed seals and checks that a
// NamespaceDeleted the control shard commits releases a sealed namespace
// (the seal committed first).
func (c *checks) trackNamespaces(shard uint64, data []byte) {
	p, err := annallog.DecodeProposal(data)
	if err != nil {
		return
	}
	for _, raw := range p.Events {
		env, err := event.Decode(raw)
		if err != nil {
			continue
		}
		switch env.Type {
		case event.TypeNamespaceSealed:
			c.sealed[shard] = true
		case event.TypeNamespaceDeleted:
			body, err := annallog.Body(&env, c.w.payloads)
			if err != nil {
				continue
			}
			b := body.(*event.NamespaceDeleted)
			if !c.sealed[b.ShardID] {
				c.w.violate(OracleBucketDelete, "bucket %q released with namespace shard %d not sealed", b.Name, b.ShardID)
			}
		}
	}
}

// leaderElected checks Raft's election safety: at most one leader per
// shard and term.
func (c *checks) leaderElected(r *replica) {
	k := [2]uint64{r.shard, r.term}
	if prev, ok := c.leaders[k]; ok && prev != r.n.id {
		c.w.violate(OracleElectionSafety, "shard %d term %d: node %d leads, node %d led already", r.shard, r.term, r.n.id, prev)
		return
	}
	c.leaders[k] = r.n.id
}
