// Command fusebench measures a mounted file system: sequential write and
// read of one large file in 1 MiB blocks, then create, stat and unlink
// rates for many small files. `make bench` runs it on a mount of the
// zero-configuration server.
package main

import (
	"crypto/rand"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	dir := flag.String("dir", "", "directory inside the mount")
	sizeMiB := flag.Int("size-mib", 1024, "size of the sequential file in MiB")
	files := flag.Int("files", 10000, "number of small files")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "fusebench: -dir is required")
		os.Exit(2)
	}
	if err := run(*dir, *sizeMiB, *files); err != nil {
		fmt.Fprintln(os.Stderr, "fusebench:", err)
		os.Exit(1)
	}
}

func run(dir string, sizeMiB, files int) error {
	big := filepath.Join(dir, "seq.bin")
	block := make([]byte, 1<<20)
	if _, err := rand.Read(block); err != nil {
		return err
	}
	w, err := timed(func() error { return writeSeq(big, block, sizeMiB) })
	if err != nil {
		return err
	}
	dropCaches()
	r, err := timed(func() error { return readSeq(big, block) })
	if err != nil {
		return err
	}
	mb := float64(sizeMiB) * (1 << 20) / 1e6
	fmt.Printf("sequential write  %6d MiB  %8.1f MB/s  (1 MiB writes, fsync at the end)\n", sizeMiB, mb/w.Seconds())
	fmt.Printf("sequential read   %6d MiB  %8.1f MB/s  (1 MiB reads, page cache dropped)\n", sizeMiB, mb/r.Seconds())
	if err := os.Remove(big); err != nil {
		return err
	}
	return smallFiles(filepath.Join(dir, "small"), files)
}

func timed(fn func() error) (time.Duration, error) {
	start := time.Now()
	err := fn()
	return time.Since(start), err
}

func writeSeq(path string, block []byte, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	for i := 0; i < n; i++ {
		block[0] = byte(i) // distinct blocks: no dedup
		block[1] = byte(i >> 8)
		if _, err := f.Write(block); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func readSeq(path string, block []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	for {
		n, err := f.Read(block)
		if n == 0 || err != nil {
			return nil
		}
	}
}

// dropCaches empties the page cache (root only) so reads reach the mount.
func dropCaches() {
	syscall.Sync()
	_ = os.WriteFile("/proc/sys/vm/drop_caches", []byte("3"), 0o200)
}

func smallFiles(dir string, n int) error {
	if err := os.Mkdir(dir, 0o755); err != nil {
		return err
	}
	data := []byte("a small file of a few bytes\n")
	name := func(i int) string { return filepath.Join(dir, fmt.Sprintf("f%05d", i)) }
	c, err := timed(func() error {
		for i := 0; i < n; i++ {
			if err := os.WriteFile(name(i), data, 0o644); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	time.Sleep(1100 * time.Millisecond) // let the kernel's attribute cache expire: stats reach the server
	s, err := timed(func() error {
		var st syscall.Stat_t
		for i := 0; i < n; i++ {
			if err := syscall.Stat(name(i), &st); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	u, err := timed(func() error {
		for i := 0; i < n; i++ {
			if err := os.Remove(name(i)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rate := func(d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("create+write+close %6d files  %8.0f files/s\n", n, rate(c))
	fmt.Printf("stat               %6d files  %8.0f files/s  (attribute cache expired)\n", n, rate(s))
	fmt.Printf("unlink             %6d files  %8.0f files/s\n", n, rate(u))
	return os.Remove(dir)
}
