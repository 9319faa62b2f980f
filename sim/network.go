package sim

// network carries messages between nodes and between clients and nodes:
// it drops, duplicates and delays them (so they overtake each other) as
// the run's parameters say, and partitions cut node-to-node links.
type network struct {
	w *world
	// group is each node's side of the current partition; all zero when
	// the cluster is whole.
	group []int
	sent  int
}

func newNetwork(w *world) *network { return &network{w: w} }

// connected reports whether nodes a and b can talk.
func (n *network) connected(a, b int) bool {
	if len(n.group) == 0 {
		return true
	}
	return n.group[a] == n.group[b]
}

// delay draws one message's transit time.
func (n *network) delay() int64 {
	p := n.w.par
	return n.w.between(p.delayMinMs, p.delayMaxMs)
}

// send delivers fn after a transit delay, unless the message is dropped;
// it may deliver it twice. Node-to-node messages (fromNode and toNode
// both ≥ 0) are also dropped across a partition, checked at sending and
// at delivery.
func (n *network) send(what string, fromNode, toNode int, fn func()) {
	w := n.w
	n.sent++
	if fromNode >= 0 && toNode >= 0 && !n.connected(fromNode, toNode) {
		return
	}
	if w.phase == phaseSafety && w.chance(w.par.dropP) {
		w.tracef("net drop %s %d>%d", what, fromNode, toNode)
		return
	}
	copies := 1
	if w.phase == phaseSafety && w.chance(w.par.dupP) {
		copies = 2
		w.tracef("net dup %s %d>%d", what, fromNode, toNode)
	}
	for range copies {
		w.at(n.delay(), func() {
			if fromNode >= 0 && toNode >= 0 && !n.connected(fromNode, toNode) {
				return
			}
			fn()
		})
	}
}

// partition splits the nodes into two random non-empty groups (or
// isolates one node).
func (n *network) partition() {
	w := n.w
	if len(w.nodes) < 2 {
		return
	}
	n.group = make([]int, len(w.nodes))
	for {
		for i := range n.group {
			n.group[i] = w.rng.IntN(2)
		}
		if !allEqual(n.group) {
			break
		}
	}
	w.tracef("partition %v", n.group)
}

func (n *network) heal() {
	if len(n.group) > 0 {
		n.w.tracef("partition healed")
	}
	n.group = nil
}

func allEqual(xs []int) bool {
	for _, x := range xs {
		if x != xs[0] {
			return false
		}
	}
	return true
}
