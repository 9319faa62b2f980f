package raft

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/annal-storage/annal/keys"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	dblogger "github.com/lni/dragonboat/v4/logger"
	sm "github.com/lni/dragonboat/v4/statemachine"
)

// Config configures a Host.
type Config struct {
	// Dir holds dragonboat's Raft log (Dir/raft).
	Dir string
	// ReplicaID is this node's id in every shard (1..N).
	ReplicaID uint64
	// RaftAddress is where this node's Raft transport listens.
	RaftAddress string
	// Peers maps replica ids to Raft addresses for the initial membership
	// of every shard; it includes this node.
	Peers map[uint64]string
	// Store is the node's state store, shared by all shards.
	Store kv.Store
	// Keys open sealed event payloads (nil: unsealed only).
	Keys event.PayloadCipher
	// SnapshotKey encrypts snapshot streams (AES-256-GCM): snapshots carry
	// projection state, which names tenant content. Nil streams them in
	// the clear (tests).
	SnapshotKey []byte
	// RTTMillisecond is the Raft tick; elections take 15–30 ticks.
	RTTMillisecond uint64
	Logger         *slog.Logger
}

// Host runs this node's replicas of every shard.
type Host struct {
	cfg Config
	nh  *dragonboat.NodeHost
	log *slog.Logger

	mu     sync.Mutex
	shards map[uint64]*stateMachine
}

var (
	// ErrUnavailable is log.ErrUnavailable.
	ErrUnavailable = annallog.ErrUnavailable
	// ErrAmbiguous is log.ErrAmbiguous.
	ErrAmbiguous = annallog.ErrAmbiguous
	// ErrHalted: the shard stopped at an event it cannot read.
	ErrHalted = annallog.ErrHalted
)

func init() {
	for _, name := range []string{"raft", "rsm", "transport", "dragonboat", "logdb", "raftpb", "grpc", "config", "settings", "tan"} {
		dblogger.GetLogger(name).SetLevel(dblogger.ERROR)
	}
}

// Open starts the node host.
func Open(cfg Config) (*Host, error) {
	if cfg.RTTMillisecond == 0 {
		cfg.RTTMillisecond = 10
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	nhc := config.NodeHostConfig{
		NodeHostDir:    filepath.Join(cfg.Dir, "raft"),
		RTTMillisecond: cfg.RTTMillisecond,
		RaftAddress:    cfg.RaftAddress,
		Expert:         config.ExpertConfig{LogDB: config.GetSmallMemLogDBConfig()},
	}
	nh, err := dragonboat.NewNodeHost(nhc)
	if err == nil && nh == nil {
		// NewNodeHost swallows non-error panics of its setup and returns
		// (nil, nil); never hand out a nil host.
		err = errors.New("dragonboat failed to start (a setup step panicked)")
	}
	if err != nil {
		return nil, fmt.Errorf("start raft node host: %w", err)
	}
	return &Host{cfg: cfg, nh: nh, log: cfg.Logger, shards: map[uint64]*stateMachine{}}, nil
}

// Close stops every replica and the node host.
func (h *Host) Close() { h.nh.Close() }

// Store returns the node's state store.
func (h *Host) Store() kv.Store { return h.cfg.Store }

// StartShard starts this node's replica of a shard (idempotent).
func (h *Host) StartShard(shard uint64, kind annallog.Kind) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.shards[shard]; ok {
		return nil
	}
	applier, err := annallog.NewApplier(shard, kind, h.cfg.Keys)
	if err != nil {
		return err
	}
	machine := &stateMachine{shard: shard, store: h.cfg.Store, snapshotKey: h.cfg.SnapshotKey, applier: applier, onHalt: h.halt}
	create := func(uint64, uint64) sm.IOnDiskStateMachine { return machine }
	members := map[uint64]dragonboat.Target{}
	for id, addr := range h.cfg.Peers {
		members[id] = addr
	}
	rc := config.Config{
		ReplicaID: h.cfg.ReplicaID, ShardID: shard,
		ElectionRTT: 15, HeartbeatRTT: 1, CheckQuorum: true,
		SnapshotEntries: 10000, CompactionOverhead: 5000,
	}
	if err := h.nh.StartOnDiskReplica(members, false, create, rc); err != nil && !errors.Is(err, dragonboat.ErrShardAlreadyExist) {
		return fmt.Errorf("start shard %d: %w", shard, err)
	}
	h.shards[shard] = machine
	return nil
}

// halt stops a replica that met an event it cannot apply. A key that is
// only not there yet (the KEK shard's replica lags behind this one)
// restarts the replica after a pause: dragonboat replays from the stored
// applied index, so nothing is skipped. Anything else stays stopped and
// alarms until an operator restarts a fixed binary.
func (h *Host) halt(shard uint64, reason error) {
	if err := h.nh.StopShard(shard); err != nil {
		h.log.Error("stop halted shard", "shard", shard, "err", err)
	}
	if !errors.Is(reason, keys.ErrKekUnavailable) {
		h.log.Error("shard halted: it met an event this binary cannot apply; upgrade or fix keys and restart", "shard", shard, "err", reason)
		return
	}
	h.log.Warn("shard paused until a tenant key reaches this replica", "shard", shard, "err", reason)
	h.mu.Lock()
	kind := h.shards[shard].applier.Kind
	delete(h.shards, shard)
	h.mu.Unlock()
	time.AfterFunc(time.Second, func() {
		if err := h.StartShard(shard, kind); err != nil {
			h.log.Error("restart paused shard", "shard", shard, "err", err)
		}
	})
}

// DropShard stops this node's replica of a shard for good and deletes its
// Raft data and its key space (a crypto-shredded tenant's purged
// namespace shard, ADR-014: a replica that lags behind the purge would
// halt on payloads it can no longer open, so it is dropped instead of
// replayed). The shard must never be started again.
func (h *Host) DropShard(ctx context.Context, shard uint64) error {
	h.mu.Lock()
	delete(h.shards, shard)
	h.mu.Unlock()
	if err := h.nh.StopShard(shard); err != nil && !errors.Is(err, dragonboat.ErrShardNotFound) {
		return fmt.Errorf("stop shard %d: %w", shard, err)
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if err := h.nh.SyncRemoveData(ctx, shard, h.cfg.ReplicaID); err != nil && !errors.Is(err, dragonboat.ErrShardNotStopped) {
		h.log.Warn("remove raft data of dropped shard", "shard", shard, "err", err)
	}
	b := h.cfg.Store.NewBatch()
	defer b.Close()
	pre := annallog.ShardPrefix(shard)
	if err := b.DeleteRange(pre, kv.PrefixEnd(pre)); err != nil {
		return err
	}
	return b.Commit(true)
}

// Halted reports why a shard halted (nil when it runs).
func (h *Host) Halted(shard uint64) error {
	h.mu.Lock()
	m := h.shards[shard]
	h.mu.Unlock()
	if m == nil {
		return nil
	}
	return m.Halted()
}

// Started reports whether this node runs a replica of the shard.
func (h *Host) Started(shard uint64) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	_, ok := h.shards[shard]
	return ok
}

// Propose submits a proposal to a shard and waits until it is applied on
// this node.
func (h *Host) Propose(ctx context.Context, shard uint64, p annallog.Proposal) (annallog.Result, error) {
	if err := h.Halted(shard); err != nil {
		return annallog.Result{}, err
	}
	data, err := p.Encode()
	if err != nil {
		return annallog.Result{}, err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	res, err := h.nh.SyncPropose(ctx, h.nh.GetNoOPSession(shard), data)
	if err != nil {
		return annallog.Result{}, classify(shard, err)
	}
	out, err := annallog.DecodeResult(res.Data)
	if err != nil {
		return out, err
	}
	if out.Status == annallog.StatusHalted {
		return out, fmt.Errorf("shard %d: %w: %s", shard, ErrHalted, out.Reason)
	}
	return out, nil
}

// requestTimeout bounds one attempt of a proposal or read barrier,
// whatever the caller's deadline. A request caught in a leader change may
// never be answered (dragonboat drops it silently); waiting out a long
// caller deadline would turn a 200 ms election into a request failure.
// The caller's retry loop (the service's backoff) sends it again: reads
// are idempotent, and a resubmitted proposal is deduplicated by event id.
const requestTimeout = 3 * time.Second

func withDeadline(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, requestTimeout)
}

// classify maps dragonboat errors onto retriable or ambiguous ones.
func classify(shard uint64, err error) error {
	switch {
	case errors.Is(err, dragonboat.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("shard %d: %w: %v", shard, ErrAmbiguous, err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("shard %d: %w", shard, err)
	}
	return fmt.Errorf("shard %d: %w: %v", shard, ErrUnavailable, err)
}

// Read waits for a linearizable read barrier on the shard and returns a
// snapshot view of its projection at least as new as the barrier.
func (h *Host) Read(ctx context.Context, shard uint64) (annallog.View, error) {
	if err := h.Barrier(ctx, shard); err != nil {
		return nil, err
	}
	return h.LocalRead(shard), nil
}

// Barrier waits until this replica has applied everything committed
// before the call (ReadIndex).
func (h *Host) Barrier(ctx context.Context, shard uint64) error {
	if err := h.Halted(shard); err != nil {
		return err
	}
	ctx, cancel := withDeadline(ctx)
	defer cancel()
	if _, err := h.nh.SyncRead(ctx, shard, nil); err != nil {
		if errors.Is(err, dragonboat.ErrTimeout) || errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("shard %d read: %w: %v", shard, ErrUnavailable, err)
		}
		return classify(shard, err)
	}
	return nil
}

// LocalRead returns a snapshot view of the shard's projection as this
// replica has it now, without a barrier (possibly stale).
func (h *Host) LocalRead(shard uint64) annallog.View {
	return annallog.SnapshotView(h.cfg.Store, shard)
}

// WaitReady blocks until the shard has a leader or ctx ends.
func (h *Host) WaitReady(ctx context.Context, shard uint64) error {
	for {
		if _, _, ok, err := h.nh.GetLeaderID(shard); err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("shard %d has no leader: %w", shard, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Leader reports the shard's leader replica id as this node knows it.
func (h *Host) Leader(shard uint64) (uint64, bool) {
	id, _, ok, err := h.nh.GetLeaderID(shard)
	return id, ok && err == nil
}

// Ensure starts this node's replica of a shard if needed and waits until
// the shard has a leader.
func (h *Host) Ensure(ctx context.Context, shard uint64, kind annallog.Kind) error {
	if err := h.StartShard(shard, kind); err != nil {
		return err
	}
	return h.WaitReady(ctx, shard)
}
