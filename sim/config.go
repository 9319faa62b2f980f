package sim

import (
	"fmt"
	"io"
	"slices"
	"strings"
)

// Fault is one class of injected fault; a Config enables a set of them.
type Fault uint32

// Fault classes. The seed fixes how often each enabled class strikes.
const (
	// FaultDrop drops network messages.
	FaultDrop Fault = 1 << iota
	// FaultDup delivers some network messages twice.
	FaultDup
	// FaultReorder delays messages by varying amounts, so they overtake
	// each other.
	FaultReorder
	// FaultPartition cuts the cluster into groups that cannot talk.
	FaultPartition
	// FaultCrash crashes nodes (losing unsynced log tails and store
	// writes) and restarts them later.
	FaultCrash
	// FaultDisk injects device faults: torn writes on power cuts, bit
	// flips, EIO, ENOSPC and whole-device loss.
	FaultDisk
)

var faultNames = []struct {
	name  string
	fault Fault
}{
	{"drop", FaultDrop}, {"dup", FaultDup}, {"reorder", FaultReorder},
	{"partition", FaultPartition}, {"crash", FaultCrash}, {"disk", FaultDisk},
}

// AllFaults enables every fault class.
const AllFaults = FaultDrop | FaultDup | FaultReorder | FaultPartition | FaultCrash | FaultDisk

// ParseFaults parses a comma-separated list of fault names, "all" or
// "none".
func ParseFaults(s string) (Fault, error) {
	var out Fault
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		switch part {
		case "", "none":
			continue
		case "all":
			out |= AllFaults
			continue
		}
		i := slices.IndexFunc(faultNames, func(f struct {
			name  string
			fault Fault
		}) bool {
			return f.name == part
		})
		if i < 0 {
			return 0, fmt.Errorf("unknown fault %q (want a comma-separated list of %s, all or none)", part, faultList())
		}
		out |= faultNames[i].fault
	}
	return out, nil
}

func faultList() string {
	var names []string
	for _, f := range faultNames {
		names = append(names, f.name)
	}
	return strings.Join(names, ",")
}

// String renders the set in ParseFaults form.
func (f Fault) String() string {
	if f == 0 {
		return "none"
	}
	if f == AllFaults {
		return "all"
	}
	var names []string
	for _, n := range faultNames {
		if f&n.fault != 0 {
			names = append(names, n.name)
		}
	}
	return strings.Join(names, ",")
}

// Bug is a deliberately planted defect. Bugs exist only to prove that
// each oracle catches what it guards: a sweep with a bug planted must
// fail with the matching oracle (see TestPlantedBugs).
type Bug uint32

// Planted bugs.
const (
	// BugAckBeforeCommit: the leader answers a proposal as accepted as
	// soon as it is in its own log, before a quorum has it.
	BugAckBeforeCommit Bug = 1 << iota
	// BugSkipFsync: followers acknowledge appended entries before their
	// log is synced, so a crash loses entries the leader counted.
	BugSkipFsync
	// BugStaleRead: any replica serves reads from its applied state, with
	// no ReadIndex round (follower reads without a barrier).
	BugStaleRead
	// BugDoubleDecrement: one chunk reference decrement in each run is
	// applied twice (on every replica alike).
	BugDoubleDecrement
	// BugApplyTwice: node 0 applies every accepted namespace proposal a
	// second time, under fresh event ids that defeat deduplication.
	BugApplyTwice
	// BugLeakPlaintext: the chunk write path also stores each chunk's
	// plaintext on a device.
	BugLeakPlaintext
	// BugVoteAny: voters grant votes without checking that the
	// candidate's log is up to date.
	BugVoteAny
	// BugCollectReferenced: the scrubber deletes every fragment of one
	// chunk that is still referenced (a garbage collector gone wrong).
	BugCollectReferenced
	// BugRetryFreshIDs: clients retry an ambiguous proposal with fresh
	// event ids instead of the same bytes, so it may apply twice.
	BugRetryFreshIDs
	// BugLocalWrite: node 0's apply writes a key of its own into the
	// namespace projections (apply depending on local state).
	BugLocalWrite
	// BugLiveOnlyWrite: every replica's live apply writes a key that
	// replaying the event store does not (apply depending on something
	// other than the events).
	BugLiveOnlyWrite
	// BugReferenceBeforeRecord: writers propose the namespace event that
	// references new chunks without waiting for the chunk shard to record
	// them (I-L5).
	BugReferenceBeforeRecord
	// BugReleaseAnyNamespace: bucket deletion releases whatever namespace
	// holds the name, not the one it sealed (the Service's bug the
	// simulator found); bucket churn is frequent while it is planted.
	BugReleaseAnyNamespace
	// BugOrphansLocalRead: scrub classifies orphan fragments on its
	// node's local chunk-shard replica, which may lag (the Service's bug
	// the simulator found); the orphan grace is short while it is
	// planted.
	BugOrphansLocalRead
	// BugGCIgnoresRefs: the collector sums no references (as if it read
	// no namespace shard), so it condemns and collects referenced chunks.
	BugGCIgnoresRefs
	// BugVoteTwice: a voter forgets its vote when it hears from a new
	// candidate of the same term (the vote is not durable).
	BugVoteTwice
)

// BugInfo names a planted bug and the oracle that must catch it.
type BugInfo struct {
	Bug    Bug
	Name   string
	Oracle string
	// Confounders are other oracles the conditions the bug needs may
	// break first on some seeds (a short grace also exposes the
	// slow-writer race; see Config.OrphanGraceMs).
	Confounders []string
}

// Bugs lists every planted bug with the oracle that catches it.
var Bugs = []BugInfo{
	{BugAckBeforeCommit, "ack-before-commit", OracleAckedWriteLost, []string{OracleChunkRecorded, OracleBucketDelete}},
	{BugSkipFsync, "skip-fsync", OracleCommitDurable, nil},
	{BugStaleRead, "stale-read", OracleLinearizable, nil},
	{BugDoubleDecrement, "double-decrement", OracleRefcount, nil},
	{BugApplyTwice, "apply-twice", OracleApplyDivergence, nil},
	{BugLeakPlaintext, "leak-plaintext", OraclePlaintext, nil},
	{BugVoteAny, "vote-any", OracleApplyDivergence, nil},
	{BugCollectReferenced, "collect-referenced", OracleChunkAvailable, nil},
	{BugRetryFreshIDs, "retry-fresh-ids", OracleLinearizable, nil},
	{BugLocalWrite, "local-write", OracleConvergence, nil},
	{BugLiveOnlyWrite, "live-only-write", OracleReplay, nil},
	{BugReferenceBeforeRecord, "reference-before-record", OracleChunkRecorded, nil},
	{BugReleaseAnyNamespace, "release-any-namespace", OracleBucketDelete, nil},
	{BugOrphansLocalRead, "orphans-local-read", OracleOrphanLive, []string{OracleChunkAvailable}},
	{BugGCIgnoresRefs, "gc-ignores-refs", OracleGCReferenced, nil},
	{BugVoteTwice, "vote-twice", OracleElectionSafety, nil},
}

// ParseBugs parses a comma-separated list of planted bug names.
func ParseBugs(s string) (Bug, error) {
	var out Bug
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" || part == "none" {
			continue
		}
		i := slices.IndexFunc(Bugs, func(b BugInfo) bool { return b.Name == part })
		if i < 0 {
			return 0, fmt.Errorf("unknown planted bug %q", part)
		}
		out |= Bugs[i].Bug
	}
	return out, nil
}

// String renders the set in ParseBugs form.
func (b Bug) String() string {
	var names []string
	for _, info := range Bugs {
		if b&info.Bug != 0 {
			names = append(names, info.Name)
		}
	}
	return strings.Join(names, ",")
}

// Config describes one simulation run. The same Config on the same
// commit gives the same trace, bit for bit.
type Config struct {
	Seed uint64
	// Steps is the number of simulated events of the safety phase
	// (faults on); the liveness phase that follows heals every fault and
	// runs until the cluster converges.
	Steps int
	// Nodes is the cluster size, 1 to 7 (default 3).
	Nodes int
	// Faults enables fault classes.
	Faults Fault
	// Bugs plants defects (tests only).
	Bugs Bug
	// TailLines is how many trace lines a failure report shows (default
	// 40).
	TailLines int
	// TraceTo, when set, receives every trace line as it happens.
	TraceTo io.Writer
	// GCGraceMs overrides both GC grace periods (condemn, collect) in
	// simulated milliseconds; 0 draws them from the seed (2–6 s, 10–20 s).
	// Graces shorter than the longest stall of a writer expose the
	// collect-under-a-writer race (OracleGCReferenced).
	GCGraceMs int64
	// OrphanGraceMs overrides the orphan-fragment grace (default one
	// hour, longer than any run); shorter ones expose the race between a
	// slow writer and orphan collection.
	OrphanGraceMs int64
}

// MaxNodes bounds the cluster size.
const MaxNodes = 7

func (c Config) withDefaults() (Config, error) {
	if c.Nodes == 0 {
		c.Nodes = 3
	}
	if c.Nodes < 1 || c.Nodes > MaxNodes {
		return c, fmt.Errorf("nodes must be 1..%d, got %d", MaxNodes, c.Nodes)
	}
	if c.Steps <= 0 {
		return c, fmt.Errorf("steps must be positive, got %d", c.Steps)
	}
	if c.TailLines == 0 {
		c.TailLines = 40
	}
	return c, nil
}

// Command is the command line that replays the run.
func (c Config) Command() string {
	s := fmt.Sprintf("annal sim --seed %d --steps %d --nodes %d --faults %s", c.Seed, c.Steps, c.Nodes, c.Faults)
	if c.GCGraceMs != 0 {
		s += fmt.Sprintf(" --gc-grace %d", c.GCGraceMs)
	}
	if c.OrphanGraceMs != 0 {
		s += fmt.Sprintf(" --orphan-grace %d", c.OrphanGraceMs)
	}
	if c.Bugs != 0 {
		s += " --bugs " + c.Bugs.String()
	}
	return s
}
