package main

import (
	"fmt"
	"io"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/annal-storage/annal/sim"
	"github.com/spf13/cobra"
)

func simCmd() *cobra.Command {
	var o simOptions
	c := &cobra.Command{
		Use:   "sim",
		Short: "run the deterministic simulator: the real apply path, projections and chunk code under injected faults",
		Long: `sim runs N simulated nodes in one goroutine, driven by a seeded PRNG and a
simulated clock: a Raft-like log per shard, simulated disks under the real
chunk code, a lossy network, crashes, partitions, and clients doing S3 and
POSIX work through the same decide functions as the gateways. Oracles
check acknowledged writes, linearizability per key, convergence, replay,
reference counts, chunk availability and plaintext on devices.

On success it prints one line, seed=S steps=N trace=<hash>, and exits 0; the
same seed on the same commit prints the same hash. A broken oracle prints
the oracle, the last events before it and the command that replays it, and
exits 1.

With --seeds it sweeps many seeds in parallel (1000, 5-90 or 1,4,9) and
reports failing seeds and simulated steps per second.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := o.config()
			if err != nil {
				return exitError{code: 2, err: err}
			}
			if o.seeds != "" {
				return runSweep(cmd.OutOrStdout(), cfg, o.seeds, o.parallel)
			}
			if o.trace {
				cfg.TraceTo = cmd.OutOrStdout()
			}
			return runOne(cmd.OutOrStdout(), cfg, o.verbose)
		},
	}
	f := c.Flags()
	f.Uint64Var(&o.seed, "seed", 1, "seed of the run")
	f.IntVar(&o.steps, "steps", 10000, "simulated events of the safety phase (faults on)")
	f.IntVar(&o.nodes, "nodes", 3, "cluster size, 1 to 7")
	f.StringVar(&o.faults, "faults", "all", "fault classes: drop,dup,reorder,partition,crash,disk, all or none")
	f.StringVar(&o.bugs, "bugs", "", "plant defects to prove the oracles catch them (testing only)")
	f.StringVar(&o.seeds, "seeds", "", "sweep these seeds instead of one: a count (1..N), a range A-B or a list")
	f.IntVar(&o.parallel, "parallel", runtime.GOMAXPROCS(0), "seeds run at once in a sweep")
	f.BoolVar(&o.trace, "trace", false, "print every simulated event")
	f.BoolVarP(&o.verbose, "verbose", "v", false, "print run statistics")
	f.Int64Var(&o.gcGraceMs, "gc-grace", 0, "GC grace periods in simulated ms (0: drawn from the seed)")
	f.Int64Var(&o.orphanGraceMs, "orphan-grace", 0, "orphan-fragment grace in simulated ms (0: one hour)")
	_ = f.MarkHidden("bugs")
	return c
}

type simOptions struct {
	gcGraceMs      int64
	orphanGraceMs  int64
	seed           uint64
	steps, nodes   int
	faults, bugs   string
	seeds          string
	parallel       int
	trace, verbose bool
}

func (o simOptions) config() (sim.Config, error) {
	faults, err := sim.ParseFaults(o.faults)
	if err != nil {
		return sim.Config{}, err
	}
	bugs, err := sim.ParseBugs(o.bugs)
	if err != nil {
		return sim.Config{}, err
	}
	return sim.Config{Seed: o.seed, Steps: o.steps, Nodes: o.nodes, Faults: faults, Bugs: bugs,
		GCGraceMs: o.gcGraceMs, OrphanGraceMs: o.orphanGraceMs}, nil
}

// runOne runs one seed and reports it.
func runOne(out io.Writer, cfg sim.Config, verbose bool) error {
	res, err := sim.Run(cfg)
	if err != nil {
		return exitError{code: 2, err: err}
	}
	if v := res.Violation; v != nil {
		fmt.Fprintf(out, "VIOLATION oracle=%s step=%d t=%dms\n  %s\nlast events:\n", v.Oracle, v.Step, v.TimeMs, v.Detail)
		for _, line := range res.Tail {
			fmt.Fprintf(out, "  %s\n", line)
		}
		fmt.Fprintf(out, "replay: %s\n", cfg.Command())
		fmt.Fprintln(out, res.Summary())
		return exitError{code: 1, err: fmt.Errorf("seed %d: oracle %s violated", cfg.Seed, v.Oracle)}
	}
	fmt.Fprintln(out, res.Summary())
	if verbose {
		fmt.Fprintf(out, "%+v\n", res.Stats)
	}
	return nil
}

// runSweep runs many seeds, parallel at a time (each run is one
// goroutine of its own), and reports failures and throughput.
func runSweep(out io.Writer, base sim.Config, spec string, parallel int) error {
	seeds, err := parseSeeds(spec)
	if err != nil {
		return exitError{code: 2, err: err}
	}
	start := time.Now()
	results := make([]sim.Result, len(seeds))
	next := make(chan int)
	var wg sync.WaitGroup
	for range max(parallel, 1) {
		wg.Go(func() {
			for i := range next {
				cfg := base
				cfg.Seed = seeds[i]
				results[i], _ = sim.Run(cfg)
			}
		})
	}
	for i := range seeds {
		next <- i
	}
	close(next)
	wg.Wait()
	elapsed := time.Since(start)
	steps, failed := 0, 0
	for i, r := range results {
		steps += r.Stats.Steps
		if v := r.Violation; v != nil {
			failed++
			cfg := base
			cfg.Seed = seeds[i]
			fmt.Fprintf(out, "FAIL seed=%d oracle=%s: %s\n  replay: %s\n", seeds[i], v.Oracle, v.Detail, cfg.Command())
		}
	}
	fmt.Fprintf(out, "sweep seeds=%d failed=%d steps=%d wall=%.1fs steps/s=%.0f (%d at once)\n",
		len(seeds), failed, steps, elapsed.Seconds(), float64(steps)/elapsed.Seconds(), max(parallel, 1))
	if failed > 0 {
		return exitError{code: 1, err: fmt.Errorf("%d of %d seeds failed", failed, len(seeds))}
	}
	return nil
}

// parseSeeds reads "N" (1..N), "A-B" or "A,B,C".
func parseSeeds(spec string) ([]uint64, error) {
	var out []uint64
	if lo, hi, ok := strings.Cut(spec, "-"); ok {
		a, err1 := strconv.ParseUint(lo, 10, 64)
		b, err2 := strconv.ParseUint(hi, 10, 64)
		if err1 != nil || err2 != nil || b < a {
			return nil, fmt.Errorf("--seeds %q: want A-B with A <= B", spec)
		}
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
		return out, nil
	}
	if !strings.Contains(spec, ",") {
		n, err := strconv.ParseUint(spec, 10, 64)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("--seeds %q: want a count, A-B or a list", spec)
		}
		for s := uint64(1); s <= n; s++ {
			out = append(out, s)
		}
		return out, nil
	}
	for _, part := range strings.Split(spec, ",") {
		s, err := strconv.ParseUint(strings.TrimSpace(part), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("--seeds %q: %v", spec, err)
		}
		out = append(out, s)
	}
	return out, nil
}
