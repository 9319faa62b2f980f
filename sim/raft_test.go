package sim

import (
	"bytes"
	"testing"

	"github.com/annal-storage/annal/commands"
)

// testWorld boots a fault-free world and runs it until the bootstrap is
// done.
func testWorld(t *testing.T, seed uint64, nodes int) *world {
	t.Helper()
	cfg, err := Config{Seed: seed, Steps: 1_000_000, Nodes: nodes}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	w := newWorld(cfg)
	w.start()
	for w.boot == nil || !w.boot.done {
		if w.step > 20000 || w.fail != nil {
			t.Fatalf("bootstrap did not finish: %v", w.fail)
		}
		w.runStep()
	}
	return w
}

// leaderOf returns the replica leading a shard in the highest term.
func leaderOf(w *world, shard uint64) *replica {
	var lead *replica
	for _, n := range w.nodes {
		if r, ok := n.byShard[shard]; ok && n.up && r.role == leader && (lead == nil || r.term > lead.term) {
			lead = r
		}
	}
	return lead
}

func runUntil(t *testing.T, w *world, steps int, done func() bool) {
	t.Helper()
	for i := 0; i < steps && !done(); i++ {
		w.runStep()
		if w.fail != nil {
			t.Fatal(w.fail)
		}
	}
	if !done() {
		t.Fatalf("condition not reached in %d steps", steps)
	}
}

// TestRaftLeaderCrash: a crashed leader is replaced by a leader of a
// higher term on another node, which keeps every committed entry.
func TestRaftLeaderCrash(t *testing.T) {
	w := testWorld(t, 3, 3)
	old := leaderOf(w, commands.ControlShard)
	if old == nil {
		t.Fatal("no control leader after bootstrap")
	}
	committed, oldTerm := old.commit, old.term
	w.par.downMinMs, w.par.downMaxMs = 1e9, 1e9 // it stays down
	w.crashNode(old.n)
	runUntil(t, w, 5000, func() bool {
		l := leaderOf(w, commands.ControlShard)
		return l != nil && l.n != old.n && l.committedInTerm()
	})
	l := leaderOf(w, commands.ControlShard)
	if l.term <= oldTerm || l.commit < committed {
		t.Fatalf("new leader term %d commit %d, old term %d commit %d", l.term, l.commit, oldTerm, committed)
	}
}

// TestRaftUncommittedTailLost: an entry a partitioned leader appended but
// could not replicate is overwritten once a new leader's entries reach
// it, and never applies anywhere; its client was never answered.
func TestRaftUncommittedTailLost(t *testing.T) {
	w := testWorld(t, 4, 3)
	old := leaderOf(w, commands.ControlShard)
	w.net.group = make([]int, len(w.nodes))
	w.net.group[old.n.id] = 1
	lost := []byte("never committed")
	c := w.clients[0]
	c.req++ // the reply, if any, would be stale: the client is not waiting
	old.n.handlePropose(c.id, c.req+1000, commands.ControlShard, lost)
	idx := old.lastIndex()
	runUntil(t, w, 5000, func() bool {
		l := leaderOf(w, commands.ControlShard)
		return l != nil && l.n != old.n && l.committedInTerm() && l.lastIndex() >= idx
	})
	w.net.heal()
	runUntil(t, w, 5000, func() bool {
		r := old.n.byShard[commands.ControlShard]
		return r.role == follower && r.applied >= idx
	})
	if bytes.Equal(old.log[idx-1].data, lost) {
		t.Fatalf("index %d still holds the lost entry after the new leader's entries reached it", idx)
	}
	for _, n := range w.nodes {
		if r := n.byShard[commands.ControlShard]; bytes.Equal(r.log[idx-1].data, lost) {
			t.Fatalf("node %d holds the lost entry", n.id)
		}
	}
}

// TestRaftSingleNode: a one-node cluster elects itself and commits alone.
func TestRaftSingleNode(t *testing.T) {
	w := testWorld(t, 5, 1)
	if l := leaderOf(w, commands.ControlShard); l == nil || !l.committedInTerm() || l.commit != l.lastIndex() {
		t.Fatalf("single node: leader %+v", l)
	}
}
