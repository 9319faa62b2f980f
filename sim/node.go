package sim

import (
	"errors"
	"fmt"
	"slices"

	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/control"
)

// node is one simulated server: a replica of every shard's Raft group,
// one state store shared by its shards (kv.Mem, with a durable image as
// of the last sync), and its devices.
type node struct {
	w  *world
	id int
	up bool
	// incarnation counts restarts; timers of an earlier incarnation do
	// nothing.
	incarnation int

	store   *kv.Mem
	durable *kv.Mem

	replicas []*replica // by shard id
	byShard  map[uint64]*replica
	appliers map[uint64]*annallog.Applier

	outbox        [][]raftMsg
	logSyncQueued bool
	devices       []*disk
}

func newNode(w *world, id int) *node {
	n := &node{w: w, id: id, up: true, store: kv.NewMem(), byShard: map[uint64]*replica{},
		appliers: map[uint64]*annallog.Applier{}, outbox: make([][]raftMsg, w.cfg.Nodes)}
	n.durable = n.store.Clone()
	return n
}

// start begins ticking and syncing (at boot and after a restart).
func (n *node) start() {
	inc := n.incarnation
	n.w.at(n.w.between(1, tickMs), func() { n.tick(inc) })
	n.w.at(n.w.between(n.w.par.storeSyncMinMs, n.w.par.storeSyncMaxMs), func() { n.syncStore(inc) })
}

func (n *node) tick(inc int) {
	if !n.up || inc != n.incarnation {
		return
	}
	for _, r := range n.replicas {
		r.tick()
	}
	n.w.at(tickMs, func() { n.tick(inc) })
}

// syncStore makes the state store durable as of now (the state machine's
// Sync; its batches commit without fsync in between).
func (n *node) syncStore(inc int) {
	if !n.up || inc != n.incarnation {
		return
	}
	n.durable = n.store.Clone()
	n.w.tracef("store sync n%d", n.id)
	n.w.at(n.w.between(n.w.par.storeSyncMinMs, n.w.par.storeSyncMaxMs), func() { n.syncStore(inc) })
}

// ensureReplica starts this node's replica of a shard if it has none.
func (n *node) ensureReplica(shard uint64, kind annallog.Kind) {
	if _, ok := n.byShard[shard]; ok {
		return
	}
	a, err := annallog.NewApplier(shard, kind, n.w.payloads)
	if err != nil {
		n.w.violate(OracleApplyPanic, "node %d: applier for shard %d: %v", n.id, shard, err)
		return
	}
	r := newReplica(n, shard)
	applied, err := annallog.AppliedIndex(n.store, shard)
	if err != nil {
		n.w.violate(OracleApplyPanic, "node %d shard %d applied index: %v", n.id, shard, err)
	}
	r.restart(applied)
	n.appliers[shard] = a
	n.byShard[shard] = r
	i, _ := slices.BinarySearchFunc(n.replicas, shard, func(x *replica, s uint64) int {
		switch {
		case x.shard < s:
			return -1
		case x.shard > s:
			return 1
		}
		return 0
	})
	n.replicas = slices.Insert(n.replicas, i, r)
	n.w.tracef("replica n%d s%d started (%s)", n.id, shard, kind)
}

// ensureNamespaces starts replicas of every namespace shard the control
// projection knows (the reconcile loop of a real node).
func (n *node) ensureNamespaces() {
	_, ids, err := control.NamespaceShards(annallog.ProjectionReader(n.store, commands.ControlShard))
	if err != nil {
		n.w.violate(OracleApplyPanic, "node %d: namespace shards: %v", n.id, err)
		return
	}
	for _, id := range ids {
		n.ensureReplica(id, annallog.KindNamespace)
	}
}

func (n *node) scheduleLogSync() {
	if n.logSyncQueued || !n.up {
		return
	}
	n.logSyncQueued = true
	inc := n.incarnation
	n.w.at(n.w.between(n.w.par.logSyncMinMs, n.w.par.logSyncMaxMs), func() {
		if inc != n.incarnation || !n.up {
			return
		}
		n.logSyncQueued = false
		for _, r := range n.replicas {
			r.syncLog()
		}
	})
}

func (n *node) flushOutbox() {
	for to, msgs := range n.outbox {
		if len(msgs) == 0 {
			continue
		}
		n.outbox[to] = nil
		from := n.id
		dst := n.w.nodes[to]
		n.w.net.send("raft", from, to, func() { dst.receive(msgs) })
	}
}

func (n *node) receive(msgs []raftMsg) {
	if !n.up {
		return
	}
	for _, m := range msgs {
		if r, ok := n.byShard[m.shard]; ok {
			r.step(m)
		}
	}
}

// applyCommitted applies every committed entry the log holds, in order.
func (n *node) applyCommitted(r *replica) {
	for !r.halted && r.applied < r.commit && r.applied < r.lastIndex() && n.w.fail == nil {
		n.apply(r, r.applied+1)
	}
	n.serveReads(r)
}

// apply applies one entry through the real apply path, its effects and
// the applied index in one batch.
func (n *node) apply(r *replica, idx uint64) {
	e := r.log[idx-1]
	b := n.store.NewBatch()
	defer b.Close()
	res, err := n.applyEntry(r, b, idx, e.data)
	if err == nil {
		err = annallog.SetAppliedIndex(b, r.shard, idx)
	}
	if err == nil {
		err = b.Commit(false)
	}
	if err != nil {
		if errors.Is(err, annallog.ErrHalted) {
			r.halted = true
		}
		n.w.violate(OracleApplyPanic, "node %d shard %d index %d: %v", n.id, r.shard, idx, err)
		return
	}
	r.applied = idx
	n.w.checks.onApply(n, r.shard, idx, e, res)
	n.answerProposal(r, idx, e.term, res)
	if r.shard == commands.ControlShard && res.Status == annallog.StatusAccepted {
		n.ensureNamespaces()
	}
}

// applyEntry runs log.Applier.Apply, turning a projection panic (a broken
// invariant) into an error.
func (n *node) applyEntry(r *replica, b kv.Batch, idx uint64, data []byte) (res annallog.Result, err error) {
	if data == nil {
		return annallog.Result{Status: annallog.StatusAccepted}, nil
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("apply panicked: %v", p)
		}
	}()
	var w kv.Writer = b
	if n.w.cfg.Bugs&BugDoubleDecrement != 0 {
		w = &decrementTwice{Writer: b, w: n.w, shard: r.shard, idx: idx}
	}
	res, err = n.appliers[r.shard].Apply(w, data)
	if err == nil && res.Status == annallog.StatusAccepted && r.shard >= control.FirstNamespaceShard {
		err = n.plantApplyBugs(w, r.shard, idx, data)
	}
	return res, err
}

// answerProposal answers the client whose proposal the leader applied.
func (n *node) answerProposal(r *replica, idx, term uint64, res annallog.Result) {
	for i, p := range r.proposals {
		if p.index != idx {
			continue
		}
		r.proposals = slices.Delete(r.proposals, i, i+1)
		if p.term == term {
			n.replyPropose(p.client, p.req, res)
		}
		return
	}
}

// serveReads answers confirmed ReadIndex requests once their index is
// applied.
func (n *node) serveReads(r *replica) {
	if r.role != leader {
		return
	}
	kept := r.reads[:0]
	for _, rd := range r.reads {
		if r.confirmed(rd.round) && r.applied >= rd.index {
			n.replyRead(rd.client, rd.req, r)
			continue
		}
		kept = append(kept, rd)
	}
	r.reads = kept
}

// handleRead starts a linearizable read for a client.
func (n *node) handleRead(client int, req, shard uint64) {
	r, ok := n.byShard[shard]
	if n.up && ok && n.w.cfg.Bugs&BugStaleRead != 0 {
		n.replyRead(client, req, r)
		return
	}
	if !n.up || !ok || r.role != leader {
		n.replyNotLeader(client, req, r)
		return
	}
	if !r.committedInTerm() {
		n.replyNotLeader(client, req, r)
		return
	}
	r.startRead(client, req)
}

// handlePropose appends a client's proposal to the leader's log.
func (n *node) handlePropose(client int, req, shard uint64, data []byte) {
	r, ok := n.byShard[shard]
	if !n.up || !ok || r.role != leader {
		n.replyNotLeader(client, req, r)
		return
	}
	idx := r.appendLocal(entry{term: r.term, data: data})
	n.w.tracef("propose n%d s%d i%d t%d c%d/%d", n.id, shard, idx, r.term, client, req)
	if n.w.cfg.Bugs&BugAckBeforeCommit != 0 {
		n.replyPropose(client, req, annallog.Result{Status: annallog.StatusAccepted})
	} else {
		r.proposals = append(r.proposals, proposalWait{index: idx, term: r.term, client: client, req: req})
	}
	r.broadcastAppend(0)
}

// replyNotLeader turns a request away with the leader this node knows
// (itself when it leads but cannot serve yet; -1 when it knows none).
func (n *node) replyNotLeader(client int, req uint64, r *replica) {
	hint := -1
	if r != nil && n.up {
		hint = r.leader
	}
	c := n.w.clients[client]
	n.w.net.send("reply", n.id, -1, func() { c.onReply(reply{req: req, notLeader: true, hint: hint}) })
}

func (n *node) replyRead(client int, req uint64, r *replica) {
	snap := n.store.NewSnapshot()
	c := n.w.clients[client]
	view := &shardView{Reader: annallog.ProjectionReader(snap, r.shard), snap: snap, node: n.id, applied: r.applied}
	n.w.net.send("reply", n.id, -1, func() { c.onReply(reply{req: req, view: view}) })
}

func (n *node) replyPropose(client int, req uint64, res annallog.Result) {
	c := n.w.clients[client]
	n.w.net.send("reply", n.id, -1, func() { c.onReply(reply{req: req, result: &res}) })
}

// crash stops the node: volatile state is gone, the store falls back to
// its last synced image, logs to their synced prefix, and device writes
// not yet synced are lost or torn.
func (n *node) crash() {
	n.up = false
	n.incarnation++
	n.logSyncQueued = false
	for i := range n.outbox {
		n.outbox[i] = nil
	}
	for _, r := range n.replicas {
		r.crash()
	}
	n.store = n.durable.Clone()
	for _, d := range n.devices {
		d.powerLoss()
	}
	n.w.checks.crashes++
	n.w.tracef("crash n%d", n.id)
}

// restart brings a crashed node back: replicas resume from the applied
// indexes its store holds and catch up from their leaders.
func (n *node) restart() {
	n.up = true
	for _, r := range n.replicas {
		applied, err := annallog.AppliedIndex(n.store, r.shard)
		if err != nil {
			n.w.violate(OracleApplyPanic, "node %d shard %d applied index: %v", n.id, r.shard, err)
			return
		}
		r.restart(applied)
	}
	for _, d := range n.devices {
		d.recover()
	}
	n.w.tracef("restart n%d", n.id)
	n.start()
}

// shardView is a consistent read view of one shard served to a client.
type shardView struct {
	kv.Reader
	snap    kv.Snapshot
	node    int
	applied uint64
}

// reply is a node's answer to a client request.
type reply struct {
	req       uint64
	notLeader bool
	hint      int
	view      *shardView
	result    *annallog.Result
}
