//go:build linux

package block

import (
	"os"
	"syscall"
)

// The file's size never changes after Format, so fdatasync suffices.
func syncFile(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

func lockFile(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// FALLOC_FL_KEEP_SIZE | FALLOC_FL_PUNCH_HOLE from linux/falloc.h.
const punchHoleMode = 0x01 | 0x02

func punchHole(f *os.File, off, length int64) error {
	err := syscall.Fallocate(int(f.Fd()), punchHoleMode, off, length)
	if err == syscall.EOPNOTSUPP || err == syscall.ENOSYS {
		return errPunchUnsupported
	}
	return err
}
