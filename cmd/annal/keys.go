package main

import (
	"fmt"
	"io"
	"time"

	"github.com/annal-storage/annal/cmd/annal/server"
	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/gateways/admin"
	"github.com/spf13/cobra"
)

// keysCmd groups the key rotation commands (ADR-015): status, rotate and
// reencrypt.
func keysCmd(a *adminClient) *cobra.Command {
	c := &cobra.Command{Use: "keys", Short: "system key epochs: status, rotation, re-encryption"}
	c.AddCommand(&cobra.Command{
		Use:   "status",
		Short: "show the key epochs, the current one, and how many chunks each still seals",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var st commands.KeyStatus
			if err := a.do("GET", "/v1/keys", nil, &st); err != nil {
				return err
			}
			printKeyStatus(cmd.OutOrStdout(), st)
			return nil
		},
	}, &cobra.Command{
		Use:   "rotate",
		Short: "start a new system key epoch; new chunks are sealed under it, older ones keep decrypting until re-encrypted",
		RunE: func(cmd *cobra.Command, _ []string) error {
			var out admin.RotateResponse
			if err := a.do("POST", "/v1/keys/rotate", nil, &out); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "rotated: new chunks are sealed under epoch %d\n", out.Epoch)
			fmt.Fprintln(cmd.OutOrStdout(), "older chunks move forward in the background, or now with: annal admin keys reencrypt")
			return nil
		},
	}, reencryptCmd(a))
	return c
}

func printKeyStatus(w io.Writer, st commands.KeyStatus) {
	fmt.Fprintf(w, "current epoch %d, floor %d (no chunk is recorded under an epoch below it)\n", st.Current, st.Floor)
	fmt.Fprintf(w, "%-6s %-20s %-8s %-20s %10s %12s %s\n", "EPOCH", "CREATED", "STATE", "RETIRED", "CHUNKS", "SEALED", "LOST")
	for _, e := range st.Epochs {
		state := "readable"
		switch {
		case e.Current:
			state = "current"
		case e.Retired:
			state = "retired"
		}
		fmt.Fprintf(w, "%-6d %-20s %-8s %-20s %10d %12s %d\n", e.Epoch, timeOrDash(e.CreatedNs), state, timeOrDash(e.RetiredNs),
			e.Chunks, humanBytes(e.SealedBytes), e.Lost)
	}
}

// timeOrDash formats a UTC time, or "-" for zero.
func timeOrDash(ns int64) string {
	if ns == 0 {
		return "-"
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05")
}

// reencryptCmd runs a re-encryption pass on the node behind the admin
// endpoint and shows its progress: a bar on a terminal, one line per
// update otherwise. It exits non-zero when chunks failed.
func reencryptCmd(a *adminClient) *cobra.Command {
	return &cobra.Command{
		Use:   "reencrypt",
		Short: "seal every chunk under an older epoch again under the current one, then retire unused epochs; returns when done",
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			bar := newProgressBar(out, isTerminal(out))
			start := time.Now()
			final, err := runPass(a, "/v1/keys/reencrypt", func(l admin.ReencryptLine) {
				bar.show(func(elapsed time.Duration) string { return renderReencrypt(l, elapsed) }, func() string {
					return fmt.Sprintf("reencrypt %s: %d/%d chunks, %d resealed, %d failed", l.Phase, l.Done, l.Total, l.Resealed, l.Failed)
				}, l.Phase == "done")
			})
			bar.finish()
			if err != nil {
				return err
			}
			printReencryptSummary(out, final, time.Since(start))
			if final.Error != "" {
				return fmt.Errorf("re-encryption stopped: %s", final.Error)
			}
			if final.Failed > 0 {
				return fmt.Errorf("%d chunks could not be resealed (see the node's log); run again", final.Failed)
			}
			return nil
		},
	}
}

func renderReencrypt(l admin.ReencryptLine, elapsed time.Duration) string {
	return fmt.Sprintf("%s %d/%d chunks  %d resealed  %s  %d failed  %s", barCells(l.Done, l.Total), l.Done, l.Total,
		l.Resealed, humanBytes(l.ResealedBytes), l.Failed, elapsed.Round(100*time.Millisecond))
}

func printReencryptSummary(w io.Writer, l admin.ReencryptLine, elapsed time.Duration) {
	rate := ""
	if s := elapsed.Seconds(); s > 0 && l.ResealedBytes > 0 {
		rate = fmt.Sprintf(" (%s/s)", humanBytes(int64(float64(l.ResealedBytes)/s)))
	}
	fmt.Fprintf(w, "reencrypt done: epoch %d, %d chunks resealed, %s written%s in %s, %d skipped, %d failed, %d left under older epochs\n",
		l.Epoch, l.Resealed, humanBytes(l.ResealedBytes), rate, elapsed.Round(time.Millisecond), l.Skipped, l.Failed, l.Remaining)
	for _, e := range l.Retired {
		fmt.Fprintf(w, "epoch %d retired: its key is gone\n", e)
	}
}

// keyFlags adds the server's key rotation flags.
func keyFlags(c *cobra.Command, cfg *server.Config) {
	f := c.Flags()
	f.DurationVar(&cfg.ReencryptInterval, "reencrypt-interval", server.DefaultReencryptInterval, "how often the re-encryption worker looks for chunks under older key epochs (a rotation wakes it at once; negative: off, only annal admin keys reencrypt)")
	f.DurationVar(&cfg.KeyRetireGrace, "key-retire-grace", server.DefaultKeyRetireGrace, "an epoch no chunk uses is retired this long after re-encryption closed it (negative: at once)")
}
