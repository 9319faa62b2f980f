package server

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	"github.com/prometheus/client_golang/prometheus"
)

// The node's chunk lifecycle workers (ADR-013): the garbage collector,
// which runs on the node leading the chunk shard, and the scrubber, which
// every node runs over its own devices: periodically, at once when a
// device fails (I-D1), and on demand (annal admin scrub). Both use the
// real clock; the decisions they run are the commands package's.

// Lifecycle defaults.
const (
	DefaultGCInterval    = 300 * time.Second
	DefaultGCGrace       = 24 * time.Hour
	DefaultOrphanGrace   = 24 * time.Hour
	DefaultScrubInterval = 6 * time.Hour
	// scrubDebounce groups device failures seen together (two directories
	// deleted at once) into one scrub pass.
	scrubDebounce = 2 * time.Second
	// startupScrubDelay lets the node settle before the startup pass.
	startupScrubDelay = 30 * time.Second
)

// lifecycleDefaults fills the zero lifecycle settings; negative intervals
// stay negative and disable their loop.
func (c *Config) lifecycleDefaults() {
	if c.GCInterval == 0 {
		c.GCInterval = DefaultGCInterval
	}
	if c.GCCondemnGrace == 0 {
		c.GCCondemnGrace = DefaultGCGrace
	}
	if c.GCCollectGrace == 0 {
		c.GCCollectGrace = DefaultGCGrace
	}
	if c.OrphanGrace == 0 {
		c.OrphanGrace = DefaultOrphanGrace
	}
	if c.ScrubInterval == 0 {
		c.ScrubInterval = DefaultScrubInterval
	}
}

// lifecycle is the node's lifecycle state: the chunk store, the lock that
// serializes scrub passes (and device replacement) and GC passes, the
// failure signal, and the metrics.
type lifecycle struct {
	store *chunks.Store
	kick  chan struct{} // a device failed: scrub soon

	scrubMu sync.Mutex
	gcMu    sync.Mutex

	scrubChecked   prometheus.Counter
	scrubRepaired  prometheus.Counter
	scrubRunning   prometheus.Gauge
	scrubTotal     prometheus.Gauge
	chunksLost     prometheus.Counter
	gcCondemned    prometheus.Counter
	gcCollected    prometheus.Counter
	orphans        prometheus.Counter
	devicesFailed  prometheus.Gauge
	devicesReplace prometheus.Counter

	keys *keyRotation // re-encryption (keys.go)
}

func newLifecycle(reg *prometheus.Registry) *lifecycle {
	counter := func(name, help string) prometheus.Counter {
		c := prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
		reg.MustRegister(c)
		return c
	}
	gauge := func(name, help string) prometheus.Gauge {
		g := prometheus.NewGauge(prometheus.GaugeOpts{Name: name, Help: help})
		reg.MustRegister(g)
		return g
	}
	return &lifecycle{
		kick:           make(chan struct{}, 1),
		scrubChecked:   counter("annal_scrub_chunks_checked_total", "Chunks whose fragments scrub has verified."),
		scrubRepaired:  counter("annal_scrub_fragments_repaired_total", "Fragments scrub rebuilt (missing or corrupt)."),
		scrubRunning:   gauge("annal_scrub_running", "1 while a scrub pass runs."),
		scrubTotal:     gauge("annal_scrub_pass_chunks", "Chunks the running (or last) scrub pass checks."),
		chunksLost:     counter("annal_chunks_lost_total", "Chunks recorded lost (fewer usable fragments than needed)."),
		gcCondemned:    counter("annal_gc_chunks_condemned_total", "Chunks GC condemned."),
		gcCollected:    counter("annal_gc_chunks_collected_total", "Chunks GC collected (fragments deleted)."),
		orphans:        counter("annal_orphan_fragments_reclaimed_total", "Orphan fragments deleted by scrub."),
		devicesFailed:  gauge("annal_devices_failed", "Devices currently marked failed."),
		devicesReplace: counter("annal_devices_reopened_total", "Vanished device directories reopened as fresh devices."),
		keys:           newKeyRotation(reg),
	}
}

// registerStoreMetrics exports the store's byte counters.
func (lc *lifecycle) registerStoreMetrics(reg *prometheus.Registry) {
	reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "annal_chunk_write_bytes_total", Help: "Fragment bytes written to devices."},
			func() float64 { return float64(lc.store.Stats().WrittenBytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "annal_chunk_read_bytes_total", Help: "Fragment bytes read from devices."},
			func() float64 { return float64(lc.store.Stats().ReadBytes) }))
}

// deviceFailed is the store's OnDeviceFailed: note it and wake the
// scrubber. It must not block.
func (n *Node) deviceFailed(id string) {
	n.log.Warn("device failed; repair scheduled", "device", id)
	n.lc.devicesFailed.Inc()
	select {
	case n.lc.kick <- struct{}{}:
	default:
	}
}

// startLifecycle starts the GC and scrub loops.
func (n *Node) startLifecycle(ctx context.Context) {
	if n.cfg.GCInterval > 0 {
		n.wg.Go(func() { n.gcLoop(ctx) })
	}
	n.wg.Go(func() { n.scrubLoop(ctx) })
	n.registerKeyMetrics()
	n.wg.Go(func() { n.reencryptLoop(ctx) })
}

// stopContext is ctx, also cancelled when the node stops.
func (n *Node) stopContext(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		select {
		case <-n.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (n *Node) gcLoop(ctx context.Context) {
	ctx, cancel := n.stopContext(ctx)
	defer cancel()
	t := time.NewTicker(n.cfg.GCInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !n.leadsChunkShard() {
			continue
		}
		if _, err := n.CollectGarbage(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("gc pass", "err", err)
		}
	}
}

func (n *Node) leadsChunkShard() bool {
	leader, ok := n.host.Leader(commands.FirstChunkShard)
	return ok && leader == n.cfg.NodeID
}

// CollectGarbage runs one GC pass now (it waits for a running one). Only
// the chunk shard's leader collects: fragments are deleted by the node
// that runs the pass.
func (n *Node) CollectGarbage(ctx context.Context) (commands.GCReport, error) {
	if !n.leadsChunkShard() {
		leader, _ := n.host.Leader(commands.FirstChunkShard)
		return commands.GCReport{}, fmt.Errorf("%w (leader: node %d)", admin.ErrNotLeader, leader)
	}
	n.lc.gcMu.Lock()
	defer n.lc.gcMu.Unlock()
	start := time.Now()
	rep, err := n.service.CollectGarbage(ctx, commands.GCOptions{
		CondemnGraceNs: n.cfg.GCCondemnGrace.Nanoseconds(), CollectGraceNs: n.cfg.GCCollectGrace.Nanoseconds()})
	n.lc.gcCondemned.Add(float64(rep.Condemned))
	n.lc.gcCollected.Add(float64(rep.Collected))
	if rep != (commands.GCReport{}) {
		n.log.Info("gc pass", "condemned", rep.Condemned, "revived", rep.Revived, "collected", rep.Collected,
			"purged", rep.Purged, "unreachable_fragments", rep.Unreachable, "duration", time.Since(start))
	}
	return rep, err
}

func (n *Node) scrubLoop(ctx context.Context) {
	ctx, cancel := n.stopContext(ctx)
	defer cancel()
	next := startupScrubDelay
	for {
		var periodic <-chan time.Time
		if n.cfg.ScrubInterval > 0 {
			periodic = time.After(next)
		}
		select {
		case <-ctx.Done():
			return
		case <-periodic:
		case <-n.lc.kick:
			select { // let failures seen together settle into one pass
			case <-ctx.Done():
				return
			case <-time.After(scrubDebounce):
			}
		}
		next = n.cfg.ScrubInterval
		if _, err := n.Scrub(ctx, nil); err != nil && ctx.Err() == nil {
			n.log.Warn("scrub pass", "err", err)
		}
	}
}

// Scrub runs one scrub pass over this node's devices now (it waits for a
// running one): vanished device directories are reopened as fresh
// devices first, then every chunk is verified and repaired, then orphan
// fragments are reclaimed. progress, if set, sees every update.
func (n *Node) Scrub(ctx context.Context, progress func(commands.ScrubProgress)) (commands.ScrubProgress, error) {
	ctx, cancel := n.stopContext(ctx)
	defer cancel()
	n.lc.scrubMu.Lock()
	defer n.lc.scrubMu.Unlock()
	select {
	case <-n.stop:
		return commands.ScrubProgress{}, errors.New("node stopping")
	default:
	}
	n.reviveDevices()
	n.lc.scrubRunning.Set(1)
	defer n.lc.scrubRunning.Set(0)
	var last commands.ScrubProgress
	start := time.Now()
	got, err := n.service.Scrub(ctx, commands.ScrubOptions{
		OrphanGraceNs: n.cfg.OrphanGrace.Nanoseconds(),
		AllLocal:      len(n.cfg.Peers) == 1,
		Progress: func(p commands.ScrubProgress) {
			n.lc.scrubTotal.Set(float64(p.Total))
			n.lc.scrubChecked.Add(float64(p.Done - last.Done))
			n.lc.scrubRepaired.Add(float64(p.Repaired - last.Repaired))
			n.lc.chunksLost.Add(float64(p.LostRecorded - last.LostRecorded))
			n.lc.orphans.Add(float64(p.Orphans - last.Orphans))
			last = p
			if progress != nil {
				progress(p)
			}
		}})
	n.log.Info("scrub pass", "chunks", got.Done, "repaired_fragments", got.Repaired, "lost", got.Lost,
		"failed", got.Failed, "skipped", got.Skipped, "orphans", got.Orphans, "checked_bytes", got.CheckedBytes,
		"duration", time.Since(start), "err", err)
	return got, err
}

// reviveDevices reopens every directory device whose directory vanished
// as a fresh, empty device (the scrub that follows rewrites its
// fragments), and marks healthy again a failed device that answers.
func (n *Node) reviveDevices() {
	store := n.lc.store
	failed := 0
	for _, id := range store.DeviceIDs() {
		d, _ := store.Device(id)
		dir, ok := d.(*chunks.DirDevice)
		switch {
		case ok && dir.Gone():
			if err := n.reopenDevice(dir); err != nil {
				n.log.Error("reopen device", "device", id, "dir", dir.Dir(), "err", err)
				failed++
			}
		case !store.Healthy(id):
			if _, err := d.Stat(); err != nil {
				failed++
				continue
			}
			store.SetDeviceFailed(id, false)
			n.log.Info("device answers again; marked healthy", "device", id)
		}
	}
	n.lc.devicesFailed.Set(float64(failed))
}

// reopenDevice replaces old in the store and in n.devices; the caller
// holds scrubMu, which Close takes before closing n.devices.
func (n *Node) reopenDevice(old *chunks.DirDevice) error {
	fresh, err := chunks.OpenDirDevice(old.ID(), old.Dir(), func() int64 { return time.Now().UnixNano() })
	if err != nil {
		return err
	}
	if _, err := n.lc.store.ReplaceDevice(fresh); err != nil {
		fresh.Close()
		return err
	}
	old.Close()
	for i, d := range n.devices {
		if d.ID() == fresh.ID() {
			n.devices[i] = fresh
		}
	}
	n.lc.devicesReplace.Inc()
	n.log.Warn("device directory vanished; reopened as a fresh device", "device", old.ID(), "dir", old.Dir())
	return nil
}
