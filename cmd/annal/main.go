// Command annal is the one binary: the server, the offline tools (replay,
// audit, sim) and the admin and mount clients.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	root := &cobra.Command{
		Use:           "annal",
		Short:         "annal: encrypted, event-sourced storage for HPC and AI clusters",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(serverCmd(), replayCmd(), adminCmd(), mountCmd(), benchCmd(), simCmd(), auditCmd())
	if err := root.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "annal:", err)
		os.Exit(exitCode(err))
	}
}

// exitError carries a specific exit status.
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }

func exitCode(err error) int {
	if e, ok := err.(exitError); ok {
		return e.code
	}
	return 1
}
