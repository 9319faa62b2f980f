package chunks

import (
	"errors"
	"fmt"
)

// ProfileKind is the durability strategy of a profile. Its values are
// stored in fragment headers and never reused.
type ProfileKind uint8

const (
	// KindEC splits the sealed envelope into Data shards plus Parity
	// Reed-Solomon shards; any Data fragments rebuild it.
	KindEC ProfileKind = 1
	// KindReplicate stores the whole sealed envelope in every fragment.
	KindReplicate ProfileKind = 2
)

// Bounds on profiles (REQUIREMENTS §8: ec_data [2,16], ec_parity [1,8],
// replication up to 5; 1 copy is the single-node local-only mode).
const (
	ECDataMin, ECDataMax     = 2, 16
	ECParityMin, ECParityMax = 1, 8
	ReplicasMin, ReplicasMax = 1, 5
)

// ErrInvalidProfile reports a profile outside the bounds above.
var ErrInvalidProfile = errors.New("invalid durability profile")

// Profile is a chunk's durability: which fragments exist and how many are
// needed to read it. A chunk's profile never changes after it is written
// (re-encoding writes a new placement). Build one with EC or Replicate.
type Profile struct {
	Kind ProfileKind
	// Data is how many fragments a read needs: k for EC, 1 for replication.
	Data int
	// Parity is how many fragments may be lost: m for EC, copies-1 for
	// replication.
	Parity int
}

// EC returns the erasure-coding profile with data+parity fragments.
func EC(data, parity int) Profile {
	return Profile{Kind: KindEC, Data: data, Parity: parity}
}

// Replicate returns the profile that stores copies whole envelopes, as
// fragments 0..copies-1.
func Replicate(copies int) Profile {
	return Profile{Kind: KindReplicate, Data: 1, Parity: copies - 1}
}

// DefaultProfile is EC 4+2, the fast-nvme pool's profile.
func DefaultProfile() Profile { return EC(4, 2) }

// Fragments returns how many fragments a chunk has.
func (p Profile) Fragments() int { return p.Data + p.Parity }

// Validate reports whether the profile is within bounds.
func (p Profile) Validate() error {
	switch p.Kind {
	case KindEC:
		if p.Data < ECDataMin || p.Data > ECDataMax || p.Parity < ECParityMin || p.Parity > ECParityMax {
			return fmt.Errorf("%w: EC %d+%d (data %d..%d, parity %d..%d)", ErrInvalidProfile, p.Data, p.Parity, ECDataMin, ECDataMax, ECParityMin, ECParityMax)
		}
	case KindReplicate:
		if p.Data != 1 || p.Fragments() < ReplicasMin || p.Fragments() > ReplicasMax {
			return fmt.Errorf("%w: replication data %d copies %d (copies %d..%d)", ErrInvalidProfile, p.Data, p.Fragments(), ReplicasMin, ReplicasMax)
		}
	default:
		return fmt.Errorf("%w: kind %d", ErrInvalidProfile, p.Kind)
	}
	return nil
}

// String renders "EC 4+2" or "Rep-3".
func (p Profile) String() string {
	switch p.Kind {
	case KindEC:
		return fmt.Sprintf("EC %d+%d", p.Data, p.Parity)
	case KindReplicate:
		return fmt.Sprintf("Rep-%d", p.Fragments())
	}
	return fmt.Sprintf("Profile(kind=%d, %d+%d)", p.Kind, p.Data, p.Parity)
}

// payloadBytes returns each fragment's payload size for a sealed envelope
// of sealedBytes: a 1/Data share, rounded up, for EC; all of it otherwise.
func (p Profile) payloadBytes(sealedBytes int) int {
	return (sealedBytes + p.Data - 1) / p.Data
}
