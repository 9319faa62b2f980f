package server

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/projections/keyring"
	"github.com/prometheus/client_golang/prometheus"
)

// Key rotation on a node (ADR-015): `annal admin keys rotate` starts a new
// system epoch and wakes the re-encryption worker; the worker (and
// `annal admin keys reencrypt`) moves the chunks this node holds to the
// current epoch, then retires epochs no chunk uses. Every node runs the
// worker, like scrub, because fragments live on the node that wrote them
// (ADR-013); any node may raise the floor and retire an epoch, since
// both are decided on linearizable views and refused when stale.

// Key rotation defaults.
const (
	// DefaultReencryptInterval is how often the worker checks for epochs
	// to move chunks off (a check reads only the keys shard).
	DefaultReencryptInterval = time.Hour
	// DefaultKeyRetireGrace is how long an epoch stays after the floor
	// closed it, so a write that sealed under it before the rotation can
	// still seal again instead of failing.
	DefaultKeyRetireGrace = 15 * time.Minute
)

// keyDefaults fills the zero key rotation settings; a negative interval
// disables the worker (on-demand passes still run).
func (c *Config) keyDefaults() {
	if c.ReencryptInterval == 0 {
		c.ReencryptInterval = DefaultReencryptInterval
	}
	if c.KeyRetireGrace == 0 {
		c.KeyRetireGrace = DefaultKeyRetireGrace
	} else if c.KeyRetireGrace < 0 {
		c.KeyRetireGrace = 0
	}
}

// keyRotation is the node's re-encryption state: the lock serializing
// passes, the wake-up signal and the metrics.
type keyRotation struct {
	mu   sync.Mutex
	kick chan struct{}

	resealed      prometheus.Counter
	resealedBytes prometheus.Counter
	running       prometheus.Gauge
	remaining     prometheus.Gauge
	retired       prometheus.Counter
}

func newKeyRotation(reg *prometheus.Registry) *keyRotation {
	k := &keyRotation{
		kick:          make(chan struct{}, 1),
		resealed:      prometheus.NewCounter(prometheus.CounterOpts{Name: "annal_reencrypt_chunks_total", Help: "Chunks sealed again under a newer key epoch."}),
		resealedBytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "annal_reencrypt_bytes_total", Help: "Envelope bytes written by re-encryption."}),
		running:       prometheus.NewGauge(prometheus.GaugeOpts{Name: "annal_reencrypt_running", Help: "1 while a re-encryption pass runs."}),
		remaining:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "annal_reencrypt_remaining_chunks", Help: "Chunks under an older key epoch after the last pass."}),
		retired:       prometheus.NewCounter(prometheus.CounterOpts{Name: "annal_key_epochs_retired_total", Help: "System key epochs this node retired."}),
	}
	reg.MustRegister(k.resealed, k.resealedBytes, k.running, k.remaining, k.retired)
	return k
}

// registerKeyMetrics exports the current epoch (from this node's replica
// of the keys shard).
func (n *Node) registerKeyMetrics() {
	n.registry.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "annal_key_epoch_current", Help: "The current system key epoch."},
		func() float64 {
			v := n.host.LocalRead(commands.KeysShard)
			defer v.Close()
			cur, _ := keyring.CurrentEpoch(v)
			return float64(cur)
		}))
}

// RotateKeys starts a new system epoch: new chunks are sealed under it at
// once; the re-encryption worker is woken to move the older ones.
func (n *Node) RotateKeys(ctx context.Context) (uint32, error) {
	epoch, err := n.service.RotateSystemEpoch(ctx, "admin")
	if err != nil {
		return 0, err
	}
	n.log.Info("system key rotated", "epoch", epoch)
	select {
	case n.lc.keys.kick <- struct{}{}:
	default:
	}
	return epoch, nil
}

// Reencrypt runs one re-encryption pass now (it waits for a running one).
// progress, if set, sees every update.
func (n *Node) Reencrypt(ctx context.Context, progress func(commands.ReencryptProgress)) (commands.ReencryptProgress, error) {
	ctx, cancel := n.stopContext(ctx)
	defer cancel()
	k := n.lc.keys
	k.mu.Lock()
	defer k.mu.Unlock()
	select {
	case <-n.stop:
		return commands.ReencryptProgress{}, errors.New("node stopping")
	default:
	}
	k.running.Set(1)
	defer k.running.Set(0)
	var last commands.ReencryptProgress
	start := time.Now()
	got, err := n.service.Reencrypt(ctx, commands.ReencryptOptions{
		RetireGraceNs: n.cfg.KeyRetireGrace.Nanoseconds(),
		AllLocal:      len(n.cfg.Peers) == 1,
		Progress: func(p commands.ReencryptProgress) {
			k.resealed.Add(float64(p.Resealed - last.Resealed))
			k.resealedBytes.Add(float64(p.ResealedBytes - last.ResealedBytes))
			last = p
			if progress != nil {
				progress(p)
			}
		}})
	k.remaining.Set(float64(got.Remaining))
	k.retired.Add(float64(len(got.Retired)))
	n.log.Info("re-encryption pass", "epoch", got.Epoch, "resealed", got.Resealed, "skipped", got.Skipped,
		"failed", got.Failed, "remaining", got.Remaining, "retired", got.Retired, "resealed_bytes", got.ResealedBytes,
		"duration", time.Since(start), "err", err)
	return got, err
}

// reencryptLoop runs a pass when a rotation wakes it, and every
// ReencryptInterval when an older epoch is still unretired (sooner while
// an epoch waits out its retire grace).
func (n *Node) reencryptLoop(ctx context.Context) {
	if n.cfg.ReencryptInterval < 0 {
		return
	}
	ctx, cancel := n.stopContext(ctx)
	defer cancel()
	next := n.cfg.ReencryptInterval
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(next):
		case <-n.lc.keys.kick:
		}
		next = n.cfg.ReencryptInterval
		need, err := n.service.ReencryptNeeded(ctx)
		if err != nil || !need {
			continue
		}
		got, err := n.Reencrypt(ctx, nil)
		if err != nil && ctx.Err() == nil {
			n.log.Warn("re-encryption pass", "err", err)
		}
		if len(got.Retired) == 0 && got.Remaining == 0 {
			next = min(next, n.cfg.KeyRetireGrace+time.Second) // retire once the grace is over
		}
	}
}
