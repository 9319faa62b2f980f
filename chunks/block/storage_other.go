//go:build !linux

package block

import "os"

func syncFile(f *os.File) error { return f.Sync() }

// lockFile is a no-op where flock is unavailable; operators must not run
// two processes on one device there.
func lockFile(*os.File) error { return nil }

func punchHole(*os.File, int64, int64) error { return errPunchUnsupported }
