package sim

import (
	"slices"
)

// A compact model of Raft, one group per shard, faithful to the safety
// rules that matter here: terms and votes are durable before they are
// acted on; a vote goes only to a candidate whose log is at least as up
// to date; followers accept entries only after the log-matching check,
// truncate on conflict, and acknowledge only what their synced log holds;
// a leader commits only entries of its own term, by quorum; a new leader
// appends a no-op; reads are served after a ReadIndex round. A crash
// keeps the hard state and the synced log prefix and loses the rest.

type role uint8

const (
	follower role = iota
	candidate
	leader
)

func (r role) String() string {
	return [...]string{"follower", "candidate", "leader"}[r]
}

// entry is one Raft log entry; nil data is a leader's no-op.
type entry struct {
	term uint64
	data []byte
}

type msgKind uint8

const (
	msgVote msgKind = iota
	msgVoteResp
	msgApp
	msgAppResp
)

// raftMsg is one Raft message of one shard's group.
type raftMsg struct {
	shard uint64
	kind  msgKind
	from  int
	term  uint64
	// msgVote
	lastIndex, lastTerm uint64
	// msgVoteResp
	granted bool
	// msgApp
	prevIndex, prevTerm uint64
	entries             []entry
	commit              uint64
	// ctx is the ReadIndex round a heartbeat confirms; echoed back.
	ctx uint64
	// msgAppResp: reject, and match (accepted: last matching index;
	// rejected: the follower's last index, a hint).
	reject bool
	match  uint64
}

const (
	tickMs               = 10
	heartbeatTicks       = 2
	electionTicksMin     = 10
	electionTicksMax     = 20
	maxEntriesPerMessage = 64
)

// readWait is a ReadIndex request waiting for confirmation and apply.
type readWait struct {
	round  uint64
	index  uint64
	client int
	req    uint64
}

// proposalWait is a client proposal waiting for its entry to apply.
type proposalWait struct {
	index  uint64
	term   uint64
	client int
	req    uint64
}

// ackWait is an append acknowledgement waiting for the log to sync.
type ackWait struct {
	to    int
	term  uint64
	match uint64
	ctx   uint64
}

// replica is one node's member of one shard's Raft group.
type replica struct {
	n     *node
	shard uint64
	peers int

	// Hard state: durable as soon as it changes.
	term uint64
	vote int // -1: none
	// log[i-1] holds index i; durable is the synced image, and dirty the
	// lowest index changed since the last sync (0: clean).
	log     []entry
	durable []entry
	dirty   uint64

	role    role
	leader  int
	commit  uint64
	applied uint64
	elapsed int
	timeout int
	hb      int

	votes       []bool
	next, match []uint64
	active      []bool
	ackedRound  []uint64
	round       uint64
	reads       []readWait
	proposals   []proposalWait
	acks        []ackWait
	halted      bool
}

func newReplica(n *node, shard uint64) *replica {
	r := &replica{n: n, shard: shard, peers: len(n.w.nodes), vote: -1, leader: -1}
	r.resetTimeout()
	r.elapsed = n.w.rng.IntN(r.timeout) // a fresh group need not wait a whole timeout
	return r
}

func (r *replica) quorum() int { return r.peers/2 + 1 }

func (r *replica) lastIndex() uint64 { return uint64(len(r.log)) }

func (r *replica) lastTerm() uint64 { return r.termAt(r.lastIndex()) }

// termAt is the term of the entry at index i (0 when the log does not
// hold it).
func (r *replica) termAt(i uint64) uint64 {
	if i == 0 || i > uint64(len(r.log)) {
		return 0
	}
	return r.log[i-1].term
}

func (r *replica) resetTimeout() {
	r.elapsed = 0
	r.timeout = int(r.n.w.between(electionTicksMin, electionTicksMax))
}

func (r *replica) send(to int, m raftMsg) {
	m.shard, m.from, m.term = r.shard, r.n.id, r.term
	r.n.outbox[to] = append(r.n.outbox[to], m)
}

// markDirty records that the log changed from index i on.
func (r *replica) markDirty(i uint64) {
	if r.dirty == 0 || i < r.dirty {
		r.dirty = i
	}
	r.n.scheduleLogSync()
}

// synced reports whether the log is durable through index i.
func (r *replica) synced(i uint64) bool { return r.dirty == 0 || r.dirty > i }

// syncLog makes the whole log durable and sends the acknowledgements
// that waited for it.
func (r *replica) syncLog() {
	if r.dirty != 0 {
		keep := min(r.dirty-1, uint64(len(r.durable)))
		r.durable = append(r.durable[:keep], r.log[keep:]...)
		r.dirty = 0
	}
	acks := r.acks
	r.acks = nil
	for _, a := range acks {
		if a.term == r.term && r.role == follower {
			r.send(a.to, raftMsg{kind: msgAppResp, match: a.match, ctx: a.ctx})
		}
	}
	if r.role == leader {
		r.maybeCommit()
	}
}

func (r *replica) tick() {
	if r.halted {
		return
	}
	r.elapsed++
	if r.role == leader {
		r.hb++
		if r.hb >= heartbeatTicks {
			r.hb = 0
			r.broadcastAppend(0)
		}
		if r.elapsed >= r.timeout {
			r.checkQuorum()
		}
		return
	}
	if r.elapsed >= r.timeout {
		r.campaign()
	}
}

// checkQuorum steps a leader down when a majority has been silent for an
// election timeout.
func (r *replica) checkQuorum() {
	heard := 1
	for i, a := range r.active {
		if a && i != r.n.id {
			heard++
		}
		r.active[i] = false
	}
	r.elapsed = 0
	if heard < r.quorum() {
		r.n.w.tracef("raft n%d s%d leader t%d lost quorum", r.n.id, r.shard, r.term)
		r.becomeFollower(r.term, -1)
	}
}

func (r *replica) campaign() {
	r.term++
	r.vote = r.n.id
	r.role = candidate
	r.leader = -1
	r.resetTimeout()
	r.votes = make([]bool, r.peers)
	r.votes[r.n.id] = true
	r.dropWaiters()
	r.n.w.tracef("raft n%d s%d campaign t%d last=%d/%d", r.n.id, r.shard, r.term, r.lastIndex(), r.lastTerm())
	if r.quorum() == 1 {
		r.becomeLeader()
		return
	}
	for to := range r.peers {
		if to != r.n.id {
			r.send(to, raftMsg{kind: msgVote, lastIndex: r.lastIndex(), lastTerm: r.lastTerm()})
		}
	}
}

func (r *replica) becomeFollower(term uint64, lead int) {
	if term > r.term {
		r.term = term
		r.vote = -1
	}
	if r.role != follower || r.leader != lead {
		r.n.w.tracef("raft n%d s%d follower t%d leader=%d", r.n.id, r.shard, r.term, lead)
	}
	if r.role == leader {
		r.dropWaiters()
	}
	r.role = follower
	r.leader = lead
}

// dropWaiters forgets reads and proposals waiting on this replica's
// leadership; their clients time out and retry.
func (r *replica) dropWaiters() {
	r.reads = nil
	r.proposals = nil
}

func (r *replica) becomeLeader() {
	r.n.w.checks.leaderElected(r)
	r.role = leader
	r.leader = r.n.id
	r.hb = 0
	r.elapsed = 0
	r.next = make([]uint64, r.peers)
	r.match = make([]uint64, r.peers)
	r.active = make([]bool, r.peers)
	r.ackedRound = make([]uint64, r.peers)
	for i := range r.next {
		r.next[i] = r.lastIndex() + 1
	}
	r.n.w.tracef("raft n%d s%d leader t%d", r.n.id, r.shard, r.term)
	r.appendLocal(entry{term: r.term})
	r.broadcastAppend(0)
}

// appendLocal appends an entry to a leader's log.
func (r *replica) appendLocal(e entry) uint64 {
	r.log = append(r.log, e)
	idx := r.lastIndex()
	r.markDirty(idx)
	if r.quorum() == 1 {
		r.n.scheduleLogSync()
	}
	return idx
}

func (r *replica) broadcastAppend(ctx uint64) {
	for to := range r.peers {
		if to != r.n.id {
			r.sendAppend(to, ctx)
		}
	}
}

func (r *replica) sendAppend(to int, ctx uint64) {
	prev := r.next[to] - 1
	hi := min(r.lastIndex(), prev+maxEntriesPerMessage)
	var ents []entry
	if hi > prev {
		// A copy: the leader may later step down and overwrite these
		// positions while the message is in flight.
		ents = append([]entry(nil), r.log[prev:hi]...)
	}
	r.send(to, raftMsg{kind: msgApp, prevIndex: prev, prevTerm: r.termAt(prev), entries: ents, commit: r.commit, ctx: ctx})
}

// step handles one message.
func (r *replica) step(m raftMsg) {
	if r.halted {
		return
	}
	if m.term > r.term {
		lead := -1
		if m.kind == msgApp {
			lead = m.from
		}
		r.becomeFollower(m.term, lead)
	}
	if m.term < r.term {
		if m.kind == msgVote {
			r.send(m.from, raftMsg{kind: msgVoteResp})
		} else if m.kind == msgApp {
			r.send(m.from, raftMsg{kind: msgAppResp, reject: true, match: r.lastIndex()})
		}
		return
	}
	switch m.kind {
	case msgVote:
		r.handleVote(m)
	case msgVoteResp:
		r.handleVoteResp(m)
	case msgApp:
		r.handleAppend(m)
	case msgAppResp:
		r.handleAppendResp(m)
	}
}

func (r *replica) upToDate(lastTerm, lastIndex uint64) bool {
	if r.n.w.cfg.Bugs&BugVoteAny != 0 {
		return true
	}
	return lastTerm > r.lastTerm() || (lastTerm == r.lastTerm() && lastIndex >= r.lastIndex())
}

func (r *replica) handleVote(m raftMsg) {
	if r.n.w.cfg.Bugs&BugVoteTwice != 0 && r.role == follower {
		r.vote = -1
	}
	grant := (r.vote == -1 || r.vote == m.from) && r.leader == -1 && r.upToDate(m.lastTerm, m.lastIndex)
	if grant {
		r.vote = m.from
		r.resetTimeout()
	}
	r.send(m.from, raftMsg{kind: msgVoteResp, granted: grant})
}

func (r *replica) handleVoteResp(m raftMsg) {
	if r.role != candidate || !m.granted {
		return
	}
	r.votes[m.from] = true
	n := 0
	for _, v := range r.votes {
		if v {
			n++
		}
	}
	if n >= r.quorum() {
		r.becomeLeader()
	}
}

func (r *replica) handleAppend(m raftMsg) {
	if r.role != follower || r.leader != m.from {
		r.becomeFollower(m.term, m.from)
	}
	r.elapsed = 0
	if m.prevIndex > r.lastIndex() || r.termAt(m.prevIndex) != m.prevTerm && m.prevIndex > 0 {
		hint := min(r.lastIndex(), m.prevIndex-1)
		r.send(m.from, raftMsg{kind: msgAppResp, reject: true, match: hint, ctx: m.ctx})
		return
	}
	r.mergeEntries(m.prevIndex, m.entries)
	last := m.prevIndex + uint64(len(m.entries))
	if c := min(m.commit, last); c > r.commit {
		r.commit = c
		r.n.applyCommitted(r)
	}
	if r.synced(last) || r.n.w.cfg.Bugs&BugSkipFsync != 0 {
		r.send(m.from, raftMsg{kind: msgAppResp, match: last, ctx: m.ctx})
		return
	}
	r.acks = append(r.acks, ackWait{to: m.from, term: r.term, match: last, ctx: m.ctx})
}

// mergeEntries appends entries after index prev, skipping ones the log
// already holds and truncating at the first conflict.
func (r *replica) mergeEntries(prev uint64, ents []entry) {
	for k, e := range ents {
		idx := prev + uint64(k) + 1
		if idx <= r.lastIndex() {
			if r.log[idx-1].term == e.term {
				continue
			}
			if idx <= r.commit {
				r.n.w.violate(OracleApplyDivergence, "node %d shard %d: leader overwrites committed index %d", r.n.id, r.shard, idx)
			}
			r.log = r.log[:idx-1]
		}
		r.log = append(r.log, ents[k:]...)
		r.markDirty(idx)
		return
	}
}

func (r *replica) handleAppendResp(m raftMsg) {
	if r.role != leader {
		return
	}
	r.active[m.from] = true
	if m.ctx > r.ackedRound[m.from] {
		r.ackedRound[m.from] = m.ctx
		r.n.serveReads(r)
	}
	if m.reject {
		next := max(1, min(r.next[m.from]-1, m.match+1))
		if next < r.next[m.from] {
			r.next[m.from] = next
			r.sendAppend(m.from, 0)
		}
		return
	}
	if m.match > r.match[m.from] {
		r.match[m.from] = m.match
		r.maybeCommit()
	}
	if m.match+1 > r.next[m.from] {
		r.next[m.from] = m.match + 1
	}
	if r.next[m.from] <= r.lastIndex() {
		r.sendAppend(m.from, 0)
	}
}

// maybeCommit advances the commit index to the highest entry of this
// term a quorum (counting the leader's synced log) holds.
func (r *replica) maybeCommit() {
	matches := make([]uint64, r.peers)
	copy(matches, r.match)
	self := r.lastIndex()
	if r.dirty != 0 {
		self = r.dirty - 1
	}
	matches[r.n.id] = self
	slices.Sort(matches)
	n := matches[r.peers-r.quorum()]
	if n > r.commit && r.termAt(n) == r.term {
		r.n.w.checks.commitDurable(r, r.commit+1, n)
		r.commit = n
		r.n.applyCommitted(r)
	}
}

// committedInTerm reports whether the leader has committed an entry of
// its own term (ReadIndex needs that to know its commit index is the
// cluster's).
func (r *replica) committedInTerm() bool {
	return r.role == leader && r.termAt(r.commit) == r.term
}

// startRead begins a ReadIndex round for a client read.
func (r *replica) startRead(client int, req uint64) {
	r.round++
	r.reads = append(r.reads, readWait{round: r.round, index: r.commit, client: client, req: req})
	if r.quorum() == 1 {
		r.n.serveReads(r)
		return
	}
	r.broadcastAppend(r.round)
}

// confirmed reports whether a quorum acknowledged heartbeats of round or
// later in this term.
func (r *replica) confirmed(round uint64) bool {
	n := 1
	for i, a := range r.ackedRound {
		if i != r.n.id && a >= round {
			n++
		}
	}
	return n >= r.quorum()
}

// crash drops volatile state; the durable log and hard state survive.
func (r *replica) crash() {
	r.log = append([]entry(nil), r.durable...)
	r.dirty = 0
	r.role = follower
	r.leader = -1
	r.acks = nil
	r.dropWaiters()
	r.votes, r.next, r.match, r.active, r.ackedRound = nil, nil, nil, nil, nil
}

// restart resumes from the store's applied index.
func (r *replica) restart(applied uint64) {
	r.applied = applied
	r.commit = applied
	r.halted = false
	r.resetTimeout()
}
