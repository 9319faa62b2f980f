package sim

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

var (
	flagSeed  = flag.Uint64("sim.seed", 0, "TestSim: run only this seed")
	flagSeeds = flag.Int("sim.seeds", 0, "TestSim: seeds to sweep (default 240, 40 with -short)")
	flagSteps = flag.Int("sim.steps", 0, "steps per seed (default depends on the test)")
	flagNodes = flag.Int("sim.nodes", 0, "nodes (default: varies by seed)")
	flagTrace = flag.Bool("sim.trace", false, "print the trace of a -sim.seed run")
	flagBug   = flag.String("sim.bug", "", "TestPlantedBugs: only this bug")
)

// sweepSteps is the safety-phase length of each seed in the make-test
// sweep: a few hundred client operations under every fault per seed.
const sweepSteps = 4000

// nodesFor spreads sweep seeds over cluster sizes, mostly three.
func nodesFor(seed uint64) int {
	if *flagNodes != 0 {
		return *flagNodes
	}
	return []int{3, 3, 3, 5, 1, 3, 2, 3, 4, 3, 3, 7}[seed%12]
}

// runSeed runs one configuration and fails the test with the report and
// the commands that replay it.
func runSeed(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Violation; v != nil {
		t.Fatalf("%v\nlast events:\n  %s\nreplay: %s\n    or: go test ./sim -run 'TestSim$' -sim.seed=%d -sim.steps=%d -sim.nodes=%d -v",
			v, strings.Join(res.Tail, "\n  "), cfg.Command(), cfg.Seed, cfg.Steps, cfg.Nodes)
	}
	return res
}

// TestSim is the simulator sweep of make test: every seed runs the real
// apply path, projections, decide functions and chunk code under every
// fault class, then heals, converges and runs every oracle. A failure
// prints the command line that replays it. -sim.seed runs one seed
// (with -sim.trace, printing its trace).
func TestSim(t *testing.T) {
	steps := *flagSteps
	if steps == 0 {
		steps = sweepSteps
	}
	if *flagSeed != 0 {
		cfg := Config{Seed: *flagSeed, Steps: steps, Nodes: nodesFor(*flagSeed), Faults: AllFaults}
		if *flagTrace {
			cfg.TraceTo = os.Stdout
		}
		res := runSeed(t, cfg)
		t.Logf("%s %+v", res.Summary(), res.Stats)
		return
	}
	seeds := *flagSeeds
	if seeds == 0 {
		seeds = 240
		if testing.Short() {
			seeds = 40
		}
	}
	for s := uint64(1); s <= uint64(seeds); s++ {
		t.Run(fmt.Sprintf("seed=%d", s), func(t *testing.T) {
			t.Parallel()
			runSeed(t, Config{Seed: s, Steps: steps, Nodes: nodesFor(s), Faults: AllFaults})
		})
	}
}

// TestDeterminism: a seed's trace and statistics are the same run after
// run, also when other runs execute at the same time; another seed, size
// or fault set gives another trace.
func TestDeterminism(t *testing.T) {
	cfg := Config{Seed: 7, Steps: 3000, Nodes: 3, Faults: AllFaults}
	first := runSeed(t, cfg)
	results := make(chan Result, 2)
	for _, seed := range []uint64{7, 8} {
		go func() {
			c := cfg
			c.Seed = seed
			r, _ := Run(c)
			results <- r
		}()
	}
	var again, other Result
	for range 2 {
		r := <-results
		if r.Config.Seed == 7 {
			again = r
		} else {
			other = r
		}
	}
	if again.Trace != first.Trace || again.Stats != first.Stats {
		t.Fatalf("seed 7 twice: %s %+v vs %s %+v", first.Trace, first.Stats, again.Trace, again.Stats)
	}
	if other.Trace == first.Trace {
		t.Fatal("seeds 7 and 8 gave the same trace")
	}
	for _, c := range []Config{{Seed: 7, Steps: 3000, Nodes: 4, Faults: AllFaults}, {Seed: 7, Steps: 3000, Nodes: 3, Faults: FaultCrash}} {
		if r := runSeed(t, c); r.Trace == first.Trace {
			t.Fatalf("%s gave the trace of %s", c.Command(), cfg.Command())
		}
	}
}

// TestFaultClasses: each fault class alone, and none, keep every oracle.
func TestFaultClasses(t *testing.T) {
	for _, f := range []Fault{0, FaultDrop, FaultDup, FaultReorder, FaultPartition, FaultCrash, FaultDisk} {
		t.Run(f.String(), func(t *testing.T) {
			t.Parallel()
			runSeed(t, Config{Seed: 11, Steps: sweepSteps, Nodes: 3, Faults: f})
		})
	}
}

// TestPlantedBugs proves that every oracle can fail: with each planted
// bug, a sweep from seed 1 must fail, and with the oracle that guards
// what the bug breaks. It logs the table bug → oracle → first failing
// seed.
func TestPlantedBugs(t *testing.T) {
	const maxSeeds = 40
	for _, info := range Bugs {
		if *flagBug != "" && *flagBug != info.Name {
			continue
		}
		t.Run(info.Name, func(t *testing.T) {
			t.Parallel()
			for seed := uint64(1); seed <= maxSeeds; seed++ {
				cfg := Config{Seed: seed, Steps: 5000, Nodes: 3, Faults: AllFaults, Bugs: info.Bug}
				res, err := Run(cfg)
				if err != nil {
					t.Fatal(err)
				}
				v := res.Violation
				if v == nil {
					continue
				}
				if v.Oracle != info.Oracle {
					if slices.Contains(info.Confounders, v.Oracle) {
						t.Logf("seed %d: caught by %s first (a known confounder of %s)", seed, v.Oracle, info.Name)
						continue
					}
					t.Fatalf("%s: caught by %s, want %s: %v", cfg.Command(), v.Oracle, info.Oracle, v)
				}
				t.Logf("bug %-24s oracle %-17s first failing seed %d (step %d): %s", info.Name, v.Oracle, seed, v.Step, cfg.Command())
				return
			}
			t.Fatalf("bug %s not caught by %s in %d seeds", info.Name, info.Oracle, maxSeeds)
		})
	}
}

func TestParseFaultsAndBugs(t *testing.T) {
	f, err := ParseFaults("drop, crash,disk")
	if err != nil || f != FaultDrop|FaultCrash|FaultDisk || f.String() != "drop,crash,disk" {
		t.Fatalf("ParseFaults = %v (%s), %v", f, f, err)
	}
	if f, err := ParseFaults("all"); err != nil || f != AllFaults || f.String() != "all" {
		t.Fatalf("all = %v, %v", f, err)
	}
	if _, err := ParseFaults("flood"); err == nil {
		t.Fatal("unknown fault accepted")
	}
	b, err := ParseBugs("skip-fsync,stale-read")
	if err != nil || b != BugSkipFsync|BugStaleRead || b.String() != "skip-fsync,stale-read" {
		t.Fatalf("ParseBugs = %v, %v", b, err)
	}
	if _, err := Run(Config{Seed: 1, Steps: 10, Nodes: 8}); err == nil {
		t.Fatal("8 nodes accepted")
	}
}
