package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/commands"
	annallog "github.com/annal-storage/annal/log"
	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/hlc"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/log/raft"
	"github.com/lni/dragonboat/v4"
	"github.com/lni/dragonboat/v4/config"
	sm "github.com/lni/dragonboat/v4/statemachine"
	"github.com/spf13/cobra"
)

func benchLogCmd() *cobra.Command {
	var duration time.Duration
	var payload int
	var profile string
	c := &cobra.Command{
		Use:   "log",
		Short: "events/s committed and applied (1 node and 3 loopback replicas, 1/16/64 proposers) beside raw dragonboat, and replay events/s",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if profile != "" {
				f, err := os.Create(profile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			return runBenchLog(cmd.OutOrStdout(), duration, payload)
		},
	}
	c.Flags().DurationVar(&duration, "duration", 5*time.Second, "how long each measurement runs")
	c.Flags().IntVar(&payload, "payload", 200, "event payload bytes")
	c.Flags().StringVar(&profile, "cpuprofile", "", "write a CPU profile of the run to this file")
	return c
}

// proposer proposes one event and waits for it to apply.
type proposer func(ctx context.Context, i int) error

type logResult struct {
	ops      int
	elapsed  time.Duration
	p50, p99 time.Duration
}

func (r logResult) perSecond() float64 { return float64(r.ops) / r.elapsed.Seconds() }

// measure runs workers concurrent proposers for d.
func measure(d time.Duration, workers int, propose proposer) (logResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d+30*time.Second)
	defer cancel()
	deadline := time.Now().Add(d)
	var mu sync.Mutex
	var lat []time.Duration
	var failed atomic.Value
	var seq atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range workers {
		wg.Go(func() {
			var mine []time.Duration
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := propose(ctx, int(seq.Add(1))); err != nil {
					failed.Store(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		})
	}
	wg.Wait()
	if err, _ := failed.Load().(error); err != nil {
		return logResult{}, err
	}
	slices.Sort(lat)
	r := logResult{ops: len(lat), elapsed: time.Since(start)}
	if len(lat) > 0 {
		r.p50, r.p99 = lat[len(lat)/2], lat[len(lat)*99/100]
	}
	return r, nil
}

func freeLoopback() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// annalCluster is n hosts running the control shard with the production
// apply path over encrypted Pebble stores.
type annalCluster struct {
	hosts  []*raft.Host
	stores []*kv.Pebble
	env    commands.Env
	value  string
}

func startAnnal(dir string, n, payload int) (*annalCluster, error) {
	clusterKey := make([]byte, 32)
	_, _ = rand.Read(clusterKey)
	ck, err := server.DeriveKeys(clusterKey, time.Now, func() float64 { return 0 })
	if err != nil {
		return nil, err
	}
	peers := map[uint64]string{}
	for i := 1; i <= n; i++ {
		if peers[uint64(i)], err = freeLoopback(); err != nil {
			return nil, err
		}
	}
	c := &annalCluster{value: string(make([]byte, payload))}
	for i := 1; i <= n; i++ {
		d := filepath.Join(dir, fmt.Sprint(i))
		st, err := server.OpenStateStore(d, clusterKey, false)
		if err != nil {
			return nil, err
		}
		h, err := raft.Open(raft.Config{Dir: d, ReplicaID: uint64(i), RaftAddress: peers[uint64(i)], Peers: peers,
			Store: st, Keys: ck.Payloads, SnapshotKey: ck.Snapshot})
		if err != nil {
			return nil, err
		}
		c.hosts, c.stores = append(c.hosts, h), append(c.stores, st)
	}
	for _, h := range c.hosts {
		if err := h.StartShard(commands.ControlShard, annallog.KindControl); err != nil {
			return nil, err
		}
	}
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	c.env = commands.Env{Clock: hlc.New(func() int64 { return time.Now().UnixMilli() }, 1), Rand: commands.NewRand(seed), Payloads: ck.Payloads}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return c, c.hosts[0].WaitReady(ctx, commands.ControlShard)
}

func (c *annalCluster) propose(ctx context.Context, _ int) error {
	d := &commands.Decision{Shard: commands.ControlShard, Actor: "bench",
		Events: []commands.Pending{{Body: &event.SettingChanged{Name: "bench", New: c.value}}}}
	p, err := commands.Build(c.env, nil, d)
	if err != nil {
		return err
	}
	res, err := c.hosts[0].Propose(ctx, commands.ControlShard, p)
	if err != nil {
		return err
	}
	return commands.ResultError(res)
}

func (c *annalCluster) close() {
	for _, h := range c.hosts {
		h.Close()
	}
	for _, s := range c.stores {
		s.Close()
	}
}

// rawSM is an on-disk state machine that applies nothing: raw dragonboat
// (consensus, log fsync, apply dispatch) without annal's apply path.
type rawSM struct{ applied uint64 }

func (r *rawSM) Open(<-chan struct{}) (uint64, error) { return r.applied, nil }
func (r *rawSM) Update(es []sm.Entry) ([]sm.Entry, error) {
	for i := range es {
		es[i].Result = sm.Result{Value: 1}
		r.applied = es[i].Index
	}
	return es, nil
}
func (r *rawSM) Lookup(interface{}) (interface{}, error)                    { return nil, nil }
func (r *rawSM) Sync() error                                                { return nil }
func (r *rawSM) PrepareSnapshot() (interface{}, error)                      { return nil, nil }
func (r *rawSM) SaveSnapshot(interface{}, io.Writer, <-chan struct{}) error { return nil }
func (r *rawSM) RecoverFromSnapshot(io.Reader, <-chan struct{}) error       { return nil }
func (r *rawSM) Close() error                                               { return nil }

type rawCluster struct {
	hosts []*dragonboat.NodeHost
	cmd   []byte
}

func startRaw(dir string, n, payload int) (*rawCluster, error) {
	peers := map[uint64]dragonboat.Target{}
	for i := 1; i <= n; i++ {
		addr, err := freeLoopback()
		if err != nil {
			return nil, err
		}
		peers[uint64(i)] = addr
	}
	c := &rawCluster{cmd: make([]byte, payload)}
	for i := 1; i <= n; i++ {
		nh, err := dragonboat.NewNodeHost(config.NodeHostConfig{NodeHostDir: filepath.Join(dir, fmt.Sprint(i)),
			RTTMillisecond: 10, RaftAddress: peers[uint64(i)], Expert: config.ExpertConfig{LogDB: config.GetSmallMemLogDBConfig()}})
		if err != nil {
			return nil, err
		}
		rc := config.Config{ReplicaID: uint64(i), ShardID: 1, ElectionRTT: 15, HeartbeatRTT: 1, CheckQuorum: true,
			SnapshotEntries: 10000, CompactionOverhead: 5000}
		if err := nh.StartOnDiskReplica(peers, false, func(uint64, uint64) sm.IOnDiskStateMachine { return &rawSM{} }, rc); err != nil {
			return nil, err
		}
		c.hosts = append(c.hosts, nh)
	}
	for {
		if _, _, ok, err := c.hosts[0].GetLeaderID(1); err == nil && ok {
			return c, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (c *rawCluster) propose(ctx context.Context, _ int) error {
	_, err := c.hosts[0].SyncPropose(ctx, c.hosts[0].GetNoOPSession(1), c.cmd)
	return err
}

func (c *rawCluster) close() {
	for _, h := range c.hosts {
		h.Close()
	}
}

func runBenchLog(w io.Writer, d time.Duration, payload int) error {
	dir, err := os.MkdirTemp("", "annal-bench-log-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	fmt.Fprintf(w, "%d-byte events, %v per run, fsync on every commit (group-committed)\n", payload, d)
	fmt.Fprintf(w, "%-10s %-9s %12s %9s %9s %12s %7s\n", "replicas", "proposers", "annal ev/s", "p50", "p99", "raw ev/s", "ratio")
	var lastAnnal *annalCluster
	for _, n := range []int{1, 3} {
		a, err := startAnnal(filepath.Join(dir, fmt.Sprintf("annal-%d", n)), n, payload)
		if err != nil {
			return err
		}
		r, err := startRaw(filepath.Join(dir, fmt.Sprintf("raw-%d", n)), n, payload)
		if err != nil {
			return err
		}
		for _, workers := range []int{1, 16, 64} {
			ar, err := measure(d, workers, a.propose)
			if err != nil {
				return fmt.Errorf("annal: %w", err)
			}
			rr, err := measure(d, workers, r.propose)
			if err != nil {
				return fmt.Errorf("raw: %w", err)
			}
			fmt.Fprintf(w, "%-10d %-9d %12.0f %9v %9v %12.0f %6.2fx\n", n, workers, ar.perSecond(),
				ar.p50.Round(time.Microsecond), ar.p99.Round(time.Microsecond), rr.perSecond(), ar.perSecond()/rr.perSecond())
		}
		r.close()
		if lastAnnal != nil {
			lastAnnal.close()
		}
		lastAnnal = a
	}
	defer lastAnnal.close()
	return benchReplay(w, lastAnnal)
}

// benchReplay folds the control shard's whole event store into a fresh
// in-memory store.
func benchReplay(w io.Writer, c *annalCluster) error {
	b := kv.NewMem().NewBatch()
	start := time.Now()
	st, err := annallog.Replay(c.stores[0], commands.ControlShard, annallog.KindControl, c.env.Payloads, b, nil)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Fprintf(w, "replay: %d events in %v = %.0f events/s\n", st.Applied, el.Round(time.Millisecond), float64(st.Applied)/el.Seconds())
	return nil
}
