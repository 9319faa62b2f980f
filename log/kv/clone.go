package kv

// Clone returns an independent store holding the same contents. The tree
// is copy-on-write, so a clone costs O(1) and later writes to either
// store do not show in the other. The simulator uses clones as the
// durable image of a replica's state store: a crash restores the image
// taken at the last sync.
func (m *Mem) Clone() *Mem {
	m.mu.Lock() // Clone writes the tree's copy-on-write context
	defer m.mu.Unlock()
	return &Mem{tree: m.tree.Clone(), closed: m.closed}
}
