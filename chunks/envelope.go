package chunks

import (
	"bytes"
	"encoding/binary"
	"fmt"
)

// Envelope identifies one sealed envelope of a chunk: the system
// master-key epoch it was sealed under and the first two bytes of its
// nonce. Two envelopes of one chunk differ in their epoch (convergent
// nonces make the epoch decide alone) or, with random nonces, almost
// always in the nonce tag. The zero Envelope is unknown: a version-1
// fragment, or sealed bytes that are not an envelope.
type Envelope struct {
	Epoch    uint32
	NonceTag uint16
}

// Known reports whether the identity is known (epoch 0 is never a real
// epoch: the keys shard numbers them from 1).
func (e Envelope) Known() bool { return e.Epoch != 0 }

// String formats the identity for logs and errors.
func (e Envelope) String() string {
	if !e.Known() {
		return "envelope(unknown)"
	}
	return fmt.Sprintf("envelope(epoch %d, nonce %04x)", e.Epoch, e.NonceTag)
}

// EnvelopeOf returns the identity of a sealed envelope (the zero Envelope
// when sealed is not a version-1 AES-256-GCM envelope).
func EnvelopeOf(sealed []byte) Envelope {
	if len(sealed) < sealHeaderBytes || binary.BigEndian.Uint16(sealed) != SealVersion1 || sealed[2] != SealAlgorithmAES256GCM {
		return Envelope{}
	}
	return Envelope{Epoch: binary.BigEndian.Uint32(sealed[3:]), NonceTag: binary.BigEndian.Uint16(sealed[sealNonceOffset:])}
}

// member is one verified fragment of a fragmentSet.
type member struct {
	envelope    Envelope
	sealedBytes int
	payload     []byte
}

// fragmentSet collects the verified fragments of one chunk and rebuilds
// the sealed envelope from fragments of a single envelope (ADR-015).
//
// Choosing the envelope: the fragments are grouped by (envelope identity,
// sealed length). The preferred group is the largest one sealed under the
// preferred epoch (the epoch the chunk's record names; with no preference,
// the epoch of the largest group), joined by the fragments of unknown
// identity (version 1, written before identities existed, when a chunk
// had only ever one envelope) of the same length. It is read when it has
// Profile.Data fragments. Otherwise another group with enough fragments
// is read, newest epoch first (a fallback: each envelope authenticates, so
// any complete one yields the right bytes). Fragments outside the group
// read are foreign: intact, but of another envelope.
type fragmentSet struct {
	profile   Profile
	id        ChunkID
	preferred uint32
	members   []*member // by index; nil = missing or unusable
	picked    selection // set by join
}

// group is the fragments of one envelope.
type group struct {
	envelope    Envelope // zero: unknown-identity fragments only
	sealedBytes int
	indexes     []int
}

// selection is the outcome of choosing an envelope.
type selection struct {
	chosen *group // nil: no envelope has enough fragments
	// fallback: chosen is not the preferred envelope.
	fallback bool
	// preferred counts the preferred envelope's fragments; best the most
	// fragments any one envelope has.
	preferred, best int
}

func newFragmentSet(profile Profile, id ChunkID, preferredEpoch uint32) *fragmentSet {
	return &fragmentSet{profile: profile, id: id, preferred: preferredEpoch, members: make([]*member, profile.Fragments())}
}

// add verifies fragment b as fragment index of the set's chunk and keeps
// it. It returns an error wrapping ErrFragmentCorrupt (or
// ErrUnknownFragmentVersion) when b is unusable.
func (s *fragmentSet) add(index int, b []byte) error {
	h, payload, err := DecodeFragment(b)
	if err != nil {
		return err
	}
	if h.Chunk != s.id || h.Profile != s.profile || int(h.Index) != index {
		return fmt.Errorf("fragment claims chunk %s index %d %s, expected %s index %d %s: %w",
			h.Chunk, h.Index, h.Profile, s.id, index, s.profile, ErrFragmentCorrupt)
	}
	s.members[index] = &member{envelope: h.Envelope, sealedBytes: h.SealedBytes, payload: payload}
	return nil
}

// groups partitions the members by (envelope, sealed length), in order of
// each group's lowest index (deterministic).
func (s *fragmentSet) groups() []*group {
	var out []*group
	for i, m := range s.members {
		if m == nil {
			continue
		}
		var g *group
		for _, c := range out {
			if c.envelope == m.envelope && c.sealedBytes == m.sealedBytes {
				g = c
			}
		}
		if g == nil {
			g = &group{envelope: m.envelope, sealedBytes: m.sealedBytes}
			out = append(out, g)
		}
		g.indexes = append(g.indexes, i)
	}
	return out
}

// choose picks the envelope to read, as the type documents.
func (s *fragmentSet) choose() selection {
	groups := s.groups()
	epoch := s.epochPreferred(groups)
	pref := s.preferredGroup(groups, epoch)
	var sel selection
	if pref != nil {
		sel.preferred = len(pref.indexes)
		sel.best = sel.preferred
		if sel.preferred >= s.profile.Data {
			sel.chosen = pref
			return sel
		}
	}
	for _, g := range groups {
		if inPreferred(g, epoch, pref) {
			continue
		}
		sel.best = max(sel.best, len(g.indexes))
		if len(g.indexes) >= s.profile.Data && (sel.chosen == nil || newer(g, sel.chosen)) {
			sel.chosen, sel.fallback = g, s.preferred != 0
		}
	}
	return sel
}

// inPreferred reports whether g was a candidate for the preferred group:
// a group of the preferred epoch, or unknown-identity fragments that
// joined it.
func inPreferred(g *group, epoch uint32, pref *group) bool {
	if g.envelope.Known() {
		return g.envelope.Epoch == epoch
	}
	return pref != nil && g.sealedBytes == pref.sealedBytes
}

// epochPreferred is the preferred epoch, or without one the epoch of the
// largest known group (ties: the newer epoch).
func (s *fragmentSet) epochPreferred(groups []*group) uint32 {
	if s.preferred != 0 {
		return s.preferred
	}
	var best *group
	for _, g := range groups {
		if g.envelope.Known() && (best == nil || len(g.indexes) > len(best.indexes) ||
			len(g.indexes) == len(best.indexes) && g.envelope.Epoch > best.envelope.Epoch) {
			best = g
		}
	}
	if best == nil {
		return 0
	}
	return best.envelope.Epoch
}

// preferredGroup returns the largest group of the preferred epoch merged
// with the unknown-identity fragments of its sealed length (or, with no
// such group, the largest unknown-identity group); nil when there is
// neither.
func (s *fragmentSet) preferredGroup(groups []*group, epoch uint32) *group {
	var known, unknown *group
	for _, g := range groups {
		switch {
		case g.envelope.Known() && g.envelope.Epoch == epoch:
			if known == nil || len(g.indexes) > len(known.indexes) {
				known = g
			}
		case !g.envelope.Known():
			if unknown == nil || len(g.indexes) > len(unknown.indexes) {
				unknown = g
			}
		}
	}
	if known == nil {
		return unknown
	}
	merged := &group{envelope: known.envelope, sealedBytes: known.sealedBytes, indexes: append([]int(nil), known.indexes...)}
	for _, g := range groups {
		if !g.envelope.Known() && g.sealedBytes == known.sealedBytes {
			merged.indexes = append(merged.indexes, g.indexes...)
		}
	}
	return merged
}

// newer orders fallback candidates: newer epoch first, then more
// fragments.
func newer(a, b *group) bool {
	if a.envelope.Epoch != b.envelope.Epoch {
		return a.envelope.Epoch > b.envelope.Epoch
	}
	return len(a.indexes) > len(b.indexes)
}

// settled reports whether fetching more fragments cannot change the
// choice: the preferred envelope is readable, or a fallback is and the
// remaining unfetched fragments could not make the preferred one so.
func (s *fragmentSet) settled(remaining int) bool {
	sel := s.choose()
	return sel.chosen != nil && (!sel.fallback || sel.preferred+remaining < s.profile.Data)
}

// wanted is how many more fragments could make the preferred envelope
// readable (at least 1).
func (s *fragmentSet) wanted() int {
	return max(1, s.profile.Data-s.choose().preferred)
}

// join rebuilds the sealed envelope of the chosen group into a new slice.
func (s *fragmentSet) join() ([]byte, selection, error) {
	sel := s.choose()
	s.picked = sel
	if sel.chosen == nil {
		return nil, sel, fmt.Errorf("chunk %s: %d of %d fragments of one envelope usable (preferred epoch %d: %d), %s needs %d: %w",
			s.id, sel.best, s.profile.Fragments(), s.preferred, sel.preferred, s.profile, s.profile.Data, ErrChunkLost)
	}
	g := sel.chosen
	payloads := make([][]byte, len(s.members))
	for _, i := range g.indexes {
		payloads[i] = s.members[i].payload
	}
	if s.profile.Kind == KindReplicate {
		return bytes.Clone(payloads[g.indexes[0]]), sel, nil
	}
	if err := s.reconstructData(payloads); err != nil {
		return nil, sel, err
	}
	sealed := make([]byte, 0, g.sealedBytes)
	for _, p := range payloads[:s.profile.Data] {
		sealed = append(sealed, p[:min(len(p), g.sealedBytes-len(sealed))]...)
	}
	return sealed, sel, nil
}

// reconstructData fills missing data shards of payloads from the others.
func (s *fragmentSet) reconstructData(payloads [][]byte) error {
	for _, p := range payloads[:s.profile.Data] {
		if p == nil {
			enc, err := encoderFor(s.profile)
			if err != nil {
				return err
			}
			if err := enc.ReconstructData(payloads); err != nil {
				return fmt.Errorf("chunk %s: reed-solomon reconstruct: %w", s.id, err)
			}
			return nil
		}
	}
	return nil
}

// foreign lists the intact fragments outside the group join read, in
// index order (all intact fragments when none was read).
func (s *fragmentSet) foreign() []int {
	var out []int
	for i, m := range s.members {
		if m != nil && (s.picked.chosen == nil || !contains(s.picked.chosen.indexes, i)) {
			out = append(out, i)
		}
	}
	return out
}

// usable counts the fragments of the group join read (or, when none was
// readable, of the largest group).
func (s *fragmentSet) usable() int {
	if s.picked.chosen != nil {
		return len(s.picked.chosen.indexes)
	}
	return s.picked.best
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
