package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	"github.com/spf13/cobra"
)

// scrubCmd runs a scrub pass on the node behind the admin endpoint and
// shows its progress: a bar on a terminal, one line per update
// otherwise. It exits non-zero when chunks are lost or the pass failed.
func scrubCmd(a *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "scrub",
		Short: "verify every fragment, rebuild missing or corrupt ones, reclaim orphans; returns when the pass is done",
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			bar := newProgressBar(out, isTerminal(out))
			final, err := runPass(a, "/v1/scrub", bar.update)
			bar.finish()
			if err != nil {
				return err
			}
			fmt.Fprintf(out, "scrub done: %d chunks checked, %d fragments repaired, %d lost, %d failed, %d skipped, %d orphan fragments reclaimed, %s verified\n",
				final.Done, final.Repaired, final.Lost, final.Failed, final.Skipped, final.Orphans, humanBytes(final.CheckedBytes))
			if final.Error != "" {
				return fmt.Errorf("scrub stopped: %s", final.Error)
			}
			if final.Lost > 0 {
				return fmt.Errorf("%d chunks are lost (fewer usable fragments than needed)", final.Lost)
			}
			return nil
		},
	}
}

func gcCmd(a *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "run a chunk garbage-collection pass now (on the chunk shard's leader)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var rep commands.GCReport
			if err := a.do("POST", "/v1/gc", nil, &rep); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "gc done: %d condemned, %d revived, %d collected, %d purged, %d fragments unreachable\n",
				rep.Condemned, rep.Revived, rep.Collected, rep.Purged, rep.Unreachable)
			return nil
		},
	}
}

// runPass posts to a streamed maintenance pass (scrub, re-encryption)
// and feeds every line to progress; it returns the last line. A pass may
// run for hours: no client timeout.
func runPass[L admin.PassLine](a *adminClient, path string, progress func(L)) (L, error) {
	var last L
	body, err := a.open("POST", path)
	if err != nil {
		return last, err
	}
	defer body.Close()
	sc := bufio.NewScanner(body)
	for sc.Scan() {
		var l L
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			return last, fmt.Errorf("%s: progress line %q: %w", path, sc.Text(), err)
		}
		last = l
		progress(l)
	}
	if err := sc.Err(); err != nil {
		return last, fmt.Errorf("%s stream: %w", path, err)
	}
	if done, _ := last.Finished(); !done {
		return last, fmt.Errorf("%s stream ended before the pass was done", path)
	}
	return last, nil
}

// progressBar renders scrub progress: redrawn in place on a terminal, one
// line per update (at most every few seconds) otherwise.
type progressBar struct {
	w        io.Writer
	terminal bool
	start    time.Time
	lastLine time.Time
	drawn    bool
}

func newProgressBar(w io.Writer, terminal bool) *progressBar {
	return &progressBar{w: w, terminal: terminal, start: time.Now()}
}

const progressBarWidth = 30

func (b *progressBar) update(l admin.ScrubLine) {
	b.show(func(elapsed time.Duration) string { return renderBar(l, elapsed) }, func() string {
		return fmt.Sprintf("scrub %s: %d/%d chunks, %d repaired, %d lost, %d orphans", l.Phase, l.Done, l.Total, l.Repaired, l.Lost, l.Orphans)
	}, l.Phase == "done")
}

// show draws one update: bar(elapsed) redrawn in place on a terminal,
// otherwise plain() as a line, at most every 2 s and for the final one.
func (b *progressBar) show(bar func(elapsed time.Duration) string, plain func() string, final bool) {
	if !b.terminal {
		if time.Since(b.lastLine) >= 2*time.Second || final {
			b.lastLine = time.Now()
			fmt.Fprintln(b.w, plain())
		}
		return
	}
	fmt.Fprint(b.w, "\r"+bar(time.Since(b.start))+"\x1b[K")
	b.drawn = true
}

func (b *progressBar) finish() {
	if b.drawn {
		fmt.Fprintln(b.w)
	}
}

// renderBar draws "[=====>    ]  52% 520/1000 chunks  12 repaired  0 lost  3.1s".
func renderBar(l admin.ScrubLine, elapsed time.Duration) string {
	s := fmt.Sprintf("%s %d/%d chunks  %d repaired  %d lost", barCells(l.Done, l.Total), l.Done, l.Total, l.Repaired, l.Lost)
	if l.Phase == "orphans" || l.Orphans > 0 {
		s += fmt.Sprintf("  %d orphans", l.Orphans)
	}
	return s + "  " + elapsed.Round(100*time.Millisecond).String()
}

// barCells draws "[=====>    ]  52%" for done of total.
func barCells(done, total int64) string {
	frac := 1.0
	if total > 0 {
		frac = min(1, float64(done)/float64(total))
	}
	filled := int(frac * progressBarWidth)
	bar := strings.Repeat("=", filled)
	if filled < progressBarWidth {
		bar += ">" + strings.Repeat(" ", progressBarWidth-filled-1)
	}
	return fmt.Sprintf("[%s] %3.0f%%", bar, frac*100)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// lifecycleFlags adds the server's chunk lifecycle flags.
func lifecycleFlags(c *cobra.Command, cfg *server.Config) {
	f := c.Flags()
	f.DurationVar(&cfg.GCInterval, "gc-interval", server.DefaultGCInterval, "time between chunk GC passes on the chunk shard's leader (negative: off)")
	f.Var(&gcGraceFlag{cfg}, "gc-grace", "grace periods of chunk GC: unreferenced this long → condemned, condemned this long → collected")
	f.DurationVar(&cfg.OrphanGrace, "orphan-grace", server.DefaultOrphanGrace, "fragments no chunk record places are deleted by scrub once this old")
	f.DurationVar(&cfg.ScrubInterval, "scrub-interval", server.DefaultScrubInterval, "time between scrub passes, after one 30 s after start (negative: only after device failures and on demand)")
}

// gcGraceFlag sets both GC grace periods.
type gcGraceFlag struct{ cfg *server.Config }

func (g *gcGraceFlag) String() string {
	if g.cfg == nil || g.cfg.GCCondemnGrace == 0 {
		return server.DefaultGCGrace.String()
	}
	return g.cfg.GCCondemnGrace.String()
}

func (g *gcGraceFlag) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	if d <= 0 {
		return errors.New("must be positive")
	}
	g.cfg.GCCondemnGrace, g.cfg.GCCollectGrace = d, d
	return nil
}

func (g *gcGraceFlag) Type() string { return "duration" }
