package sim

import (
	"flag"
	"os"
	"strings"
	"testing"
)

var (
	flagSeed  = flag.Uint64("sim.seed", 0, "run only this seed")
	flagSteps = flag.Int("sim.steps", 0, "steps per seed (default depends on the test)")
	flagNodes = flag.Int("sim.nodes", 3, "nodes")
	flagTrace = flag.Bool("sim.trace", false, "print the trace")
	flagSweep = flag.Int("sim.sweep", 0, "seeds of TestSweepQuick")
	flagBug   = flag.String("sim.bug", "", "planted bug of TestBugQuick")
	flagStats = flag.Int("sim.stats", 0, "seeds of TestStatsQuick")
)

// runSeed runs one configuration and fails the test with the report.
func runSeed(t *testing.T, cfg Config) Result {
	t.Helper()
	res, err := Run(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if v := res.Violation; v != nil {
		t.Fatalf("%v\nlast events:\n  %s\nreproduce: %s\n   or: go test ./sim -run TestSim -sim.seed=%d -sim.steps=%d -sim.nodes=%d -v",
			v, strings.Join(res.Tail, "\n  "), cfg.Command(), cfg.Seed, cfg.Steps, cfg.Nodes)
	}
	return res
}

// TestSimOne runs the seed given with -sim.seed.
func TestSimOne(t *testing.T) {
	if *flagSeed == 0 {
		t.Skip("no -sim.seed")
	}
	steps := *flagSteps
	if steps == 0 {
		steps = 5000
	}
	cfg := Config{Seed: *flagSeed, Steps: steps, Nodes: *flagNodes, Faults: AllFaults}
	if *flagTrace {
		cfg.TraceTo = os.Stdout
	}
	res := runSeed(t, cfg)
	t.Logf("%s %+v", res.Summary(), res.Stats)
}

// TestSweepQuick is a development sweep (-sim.sweep=N seeds).
func TestSweepQuick(t *testing.T) {
	if *flagSweep == 0 {
		t.Skip("no -sim.sweep")
	}
	steps := *flagSteps
	if steps == 0 {
		steps = 5000
	}
	failed := 0
	for s := uint64(1); s <= uint64(*flagSweep); s++ {
		res, err := Run(Config{Seed: s, Steps: steps, Nodes: *flagNodes, Faults: AllFaults})
		if err != nil {
			t.Fatal(err)
		}
		if res.Violation != nil {
			failed++
			t.Errorf("seed %d: %v", s, res.Violation)
		}
	}
	t.Logf("%d of %d seeds failed", failed, *flagSweep)
}

// TestBugQuick sweeps with one planted bug (-sim.bug=name -sim.sweep=N).
func TestBugQuick(t *testing.T) {
	if *flagBug == "" {
		t.Skip("no -sim.bug")
	}
	bug, err := ParseBugs(*flagBug)
	if err != nil {
		t.Fatal(err)
	}
	steps := *flagSteps
	if steps == 0 {
		steps = 5000
	}
	for s := uint64(1); s <= uint64(max(*flagSweep, 1)); s++ {
		res, err := Run(Config{Seed: s, Steps: steps, Nodes: *flagNodes, Faults: AllFaults, Bugs: bug})
		if err != nil {
			t.Fatal(err)
		}
		if res.Violation != nil {
			t.Logf("seed %d: %v", s, res.Violation)
			return
		}
	}
	t.Errorf("bug %s not caught", *flagBug)
}

// TestStatsQuick prints aggregated statistics (-sim.stats=N seeds).
func TestStatsQuick(t *testing.T) {
	if *flagStats == 0 {
		t.Skip("no -sim.stats")
	}
	steps := *flagSteps
	if steps == 0 {
		steps = 5000
	}
	var sum Stats
	for s := uint64(1); s <= uint64(*flagStats); s++ {
		res, err := Run(Config{Seed: s, Steps: steps, Nodes: *flagNodes, Faults: AllFaults})
		if err != nil {
			t.Fatal(err)
		}
		st := res.Stats
		sum.Steps += st.Steps
		sum.Acked += st.Acked
		sum.Failed += st.Failed
		sum.Ambiguous += st.Ambiguous
		sum.Crashes += st.Crashes
		sum.Partitions += st.Partitions
		sum.DiskFaults += st.DiskFaults
		sum.ReadErrors += st.ReadErrors
		sum.LaggingChunkRecords += st.LaggingChunkRecords
		sum.Inconclusive += st.Inconclusive
		sum.Applies += st.Applies
	}
	t.Logf("%+v", sum)
}
