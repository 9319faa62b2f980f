package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/annal-storage/annal/chunks"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/hlc"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/log/raft"
	"github.com/annal-storage/annal/projections/control"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Version is the binary's version string.
var Version = "dev"

// Config configures a node. The zero value of every field but DataDir
// has a working default.
type Config struct {
	DataDir   string
	S3Addr    string
	AdminAddr string
	APIAddr   string
	RaftAddr  string
	// NodeID is this node's replica id; Peers maps every node id to its
	// Raft address (default: this node alone).
	NodeID uint64
	Peers  map[uint64]string
	// ClusterKeyFile holds the cluster key (64 hex digits) from which the
	// data-at-rest key derives; default <data>/cluster.key, created on
	// first start. Every node of a cluster needs the same key; keep it
	// outside the data directory in real deployments.
	ClusterKeyFile string
	// Devices is the number of directory devices under <data>/devices.
	Devices         int
	InlineThreshold int
	TLSCert, TLSKey string
	Logger          *slog.Logger
	// Out receives the startup banner (stdout).
	Out io.Writer
	// S3Handler builds the S3 gateway; nil serves 501 for everything.
	S3Handler func(*commands.Service) http.Handler

	// Chunk lifecycle (lifecycle.go, ADR-013). Zero values take the
	// defaults; a negative interval disables its loop (scrubs after a
	// device failure and on demand still run).
	GCInterval     time.Duration // default 300 s
	GCCondemnGrace time.Duration // unreferenced this long → condemned; default 24 h
	GCCollectGrace time.Duration // condemned this long → collected; default 24 h
	OrphanGrace    time.Duration // unrecorded fragments older than this are deleted; default 24 h
	ScrubInterval  time.Duration // default 6 h, plus a pass 30 s after start

	// Key rotation (keys.go, ADR-015).
	ReencryptInterval time.Duration // worker check interval (a rotation wakes it too); default 1 h, negative: off
	KeyRetireGrace    time.Duration // a closed epoch retires this long after the floor rose; default 15 min, negative: at once
}

func (c *Config) defaults() {
	if c.DataDir == "" {
		c.DataDir = "annal-data"
	}
	if c.S3Addr == "" {
		c.S3Addr = "127.0.0.1:9000"
	}
	if c.AdminAddr == "" {
		c.AdminAddr = "127.0.0.1:9090"
	}
	if c.APIAddr == "" {
		c.APIAddr = "127.0.0.1:9100"
	}
	if c.RaftAddr == "" {
		c.RaftAddr = "127.0.0.1:9200"
	}
	if c.NodeID == 0 {
		c.NodeID = 1
	}
	if len(c.Peers) == 0 {
		c.Peers = map[uint64]string{c.NodeID: c.RaftAddr}
	}
	if c.Devices == 0 {
		c.Devices = 6
	}
	if c.InlineThreshold == 0 {
		c.InlineThreshold = chunks.DefaultInlineThresholdBytes
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	c.lifecycleDefaults()
	c.keyDefaults()
}

// Node is one running annal server.
type Node struct {
	cfg      Config
	log      *slog.Logger
	store    *kv.Pebble
	host     *raft.Host
	service  *commands.Service
	devices  []chunks.Device
	keys     *ClusterKeys
	registry *prometheus.Registry
	lc       *lifecycle
	comp     *compliance
	token    atomic.Value // string

	ready   atomic.Bool
	servers []*http.Server
	stop    chan struct{}
	wg      sync.WaitGroup
}

// Start opens the data directory and starts the node. It returns once the
// listeners are up; the node reports ready once bootstrap is done.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	cfg.defaults()
	n := &Node{cfg: cfg, log: cfg.Logger, registry: prometheus.NewRegistry(), stop: make(chan struct{})}
	n.registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	n.lc = newLifecycle(n.registry)
	if err := n.open(ctx); err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

func (n *Node) open(ctx context.Context) error {
	dir := n.cfg.DataDir
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	keyPath := n.cfg.ClusterKeyFile
	if keyPath == "" {
		keyPath = filepath.Join(dir, ClusterKeyFile)
	}
	// Only a cluster's first node may make the key; the others must be
	// given the same one, or they could not read what it seals.
	clusterKey, err := LoadClusterKey(keyPath, n.cfg.ClusterKeyFile == "" && n.cfg.NodeID == n.firstNode())
	if err != nil && n.cfg.NodeID != n.firstNode() {
		return fmt.Errorf("%w (every node needs the cluster key of node %d: pass --cluster-key-file)", err, n.firstNode())
	}
	if err != nil {
		return err
	}
	if n.store, err = OpenStateStore(dir, clusterKey, false); err != nil {
		return err
	}
	ck, err := DeriveKeys(clusterKey, time.Now, func() float64 { return 2*mathrand.Float64() - 1 })
	if err != nil {
		return err
	}
	n.keys = ck
	n.host, err = raft.Open(raft.Config{Dir: dir, ReplicaID: n.cfg.NodeID, RaftAddress: n.cfg.RaftAddr,
		Peers: n.cfg.Peers, Store: n.store, Logger: n.log, SnapshotKey: ck.Snapshot, Keys: ck.Payloads})
	if err != nil {
		return err
	}
	ck.Internal.SetReader(n.host.LocalRead)
	data, err := n.openData(ck.Internal)
	if err != nil {
		return err
	}
	var seed [32]byte
	copy(seed[:], randomBytes(32))
	clock := hlc.New(func() int64 { return time.Now().UnixMilli() }, uint16(n.cfg.NodeID))
	scfg := commands.Config{
		Log: n.host, Env: commands.Env{Clock: clock, Rand: commands.NewRand(seed), Payloads: ck.Payloads},
		KeyHashSecret: ck.KeyHash, KeyWrapKey: ck.KeyWrap, InlineThresholdBytes: n.cfg.InlineThreshold, Data: data,
		Backoff: backoff, Logger: n.log}
	n.complianceConfig(&scfg, ck)
	n.service = commands.NewService(scfg)
	if err := n.startListeners(); err != nil {
		return err
	}
	n.wg.Go(func() { n.boot(ctx) })
	return nil
}

// backoff waits with capped exponential delay, giving up after ~30 s.
func backoff(ctx context.Context, attempt int) error {
	if attempt >= 40 {
		return errors.New("shard stayed unavailable")
	}
	d := min(time.Duration(1<<min(attempt, 6))*10*time.Millisecond, time.Second)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}

func (n *Node) openData(masters chunks.MasterKeys) (*commands.Data, error) {
	for i := range n.cfg.Devices {
		id := fmt.Sprintf("dev%d", i)
		d, err := chunks.OpenDirDevice(id, filepath.Join(n.cfg.DataDir, "devices", id), func() int64 { return time.Now().UnixNano() })
		if err != nil {
			return nil, fmt.Errorf("open device %s: %w", id, err)
		}
		n.devices = append(n.devices, d)
	}
	store, err := chunks.NewStoreWithOptions(n.devices, chunks.StoreOptions{OnDeviceFailed: n.deviceFailed})
	if err != nil {
		return nil, err
	}
	n.lc.store = store
	n.lc.registerStoreMetrics(n.registry)
	profile := chunks.DefaultProfile()
	if n.cfg.Devices < profile.Fragments() {
		profile = chunks.Replicate(min(n.cfg.Devices, 3))
	}
	w, err := chunks.NewWriter(chunks.WriterConfig{Store: store, Profile: profile, Keys: masters})
	if err != nil {
		return nil, err
	}
	return &commands.Data{Writer: w, Profile: profile, Chunker: chunks.DefaultChunkerParams(), InFlight: 4, Window: 16}, nil
}

// boot starts the system shards and every namespace shard, bootstraps the
// first tenant on a fresh cluster, and marks the node ready.
func (n *Node) boot(ctx context.Context) {
	for attempt := 0; ; attempt++ {
		err := n.bootOnce(ctx)
		if err == nil {
			n.ready.Store(true)
			n.log.Info("node ready", "node", n.cfg.NodeID)
			n.startLifecycle(ctx)
			n.wg.Go(func() { n.complianceLoop(ctx) })
			n.reconcileLoop(ctx)
			return
		}
		n.log.Warn("boot: retrying", "err", err, "attempt", attempt)
		select {
		case <-n.stop:
			return
		case <-time.After(time.Second):
		}
	}
}

func (n *Node) bootOnce(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, s := range []struct {
		id   uint64
		kind annallog.Kind
	}{{commands.ControlShard, annallog.KindControl}, {commands.FirstChunkShard, annallog.KindChunk},
		{commands.KeysShard, annallog.KindKeys}, {commands.KekShard, annallog.KindKeks}} {
		if err := n.host.Ensure(ctx, s.id, s.kind); err != nil {
			return err
		}
	}
	if err := n.reconcile(ctx); err != nil {
		return err
	}
	if n.cfg.NodeID == n.firstNode() {
		if err := n.service.EnsureSystemEpoch(ctx); err != nil {
			return err
		}
		return n.bootstrap(ctx)
	}
	return n.loadToken()
}

func (n *Node) firstNode() uint64 {
	first := n.cfg.NodeID
	for id := range n.cfg.Peers {
		first = min(first, id)
	}
	return first
}

// reconcile starts this node's replica of every namespace shard the
// control shard knows (but purged ones, which it drops) and of the audit
// shards.
func (n *Node) reconcile(ctx context.Context) error {
	v := n.host.LocalRead(commands.ControlShard)
	owners, ids, err := control.NamespaceShards(v)
	v.Close()
	if err != nil {
		return err
	}
	for _, id := range ids {
		if owners[id].Purged {
			continue
		}
		if err := n.host.StartShard(id, annallog.KindNamespace); err != nil {
			return err
		}
	}
	return n.reconcileCompliance(ctx)
}

func (n *Node) reconcileLoop(ctx context.Context) {
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-ctx.Done():
			return
		case <-t.C:
			if err := n.reconcile(ctx); err != nil {
				n.log.Warn("reconcile shards", "err", err)
			}
		}
	}
}

// Ready reports whether the node serves requests.
func (n *Node) Ready() bool { return n.ready.Load() }

// Service returns the node's command service.
func (n *Node) Service() *commands.Service { return n.service }

// Host returns the node's Raft host.
func (n *Node) Host() *raft.Host { return n.host }

// Status reports the node's shards.
func (n *Node) Status() admin.Status {
	st := admin.Status{NodeID: n.cfg.NodeID, Version: Version, Ready: n.Ready()}
	ids, _ := annallog.Shards(n.store)
	for _, id := range ids {
		kind, _ := annallog.StoredKind(n.store, id)
		last, _ := annallog.LastSeq(n.store, id)
		leader, _ := n.host.Leader(id)
		ss := admin.ShardStatus{ID: id, Kind: kind.String(), Leader: leader, LastSeq: last}
		if err := n.host.Halted(id); err != nil {
			ss.Halted = err.Error()
		}
		st.Shards = append(st.Shards, ss)
	}
	return st
}

// Close stops the node.
func (n *Node) Close() error {
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, s := range n.servers {
		_ = s.Shutdown(ctx)
	}
	n.wg.Wait()
	if n.host != nil {
		n.host.Close()
	}
	var errs []error
	n.lc.scrubMu.Lock() // an admin scrub may be replacing devices
	defer n.lc.scrubMu.Unlock()
	for _, d := range n.devices {
		errs = append(errs, d.Close())
	}
	if n.store != nil {
		errs = append(errs, n.store.Close())
	}
	return errors.Join(errs...)
}

func (n *Node) listen(addr string, h http.Handler) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 30 * time.Second, ErrorLog: slog.NewLogLogger(n.log.Handler(), slog.LevelWarn),
		// TLS 1.3 only (REQUIREMENTS ADR-023).
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13}}
	n.servers = append(n.servers, srv)
	n.wg.Go(func() {
		var err error
		if n.cfg.TLSCert != "" {
			err = srv.ServeTLS(ln, n.cfg.TLSCert, n.cfg.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			n.log.Error("listener stopped", "addr", addr, "err", err)
		}
	})
	return nil
}

// TuneProcess applies the runtime settings a server process runs with:
// chunk buffers churn fast, so a tighter GC (GOGC 50) keeps the resident
// set near what is live and streaming large objects does not inflate it.
// An explicit GOGC in the environment wins. Call it once, at process
// start (it sets process-wide state).
func TuneProcess() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
}
