package chunks

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Directory-device layout:
//
//	<dir>/annal-device                  marker naming the device id
//	<dir>/<hex[0:2]>/<hex[2:4]>/<hex>.<ii>  one file per fragment
//
// where hex is the chunk id in lowercase hex and ii the fragment index in
// two hex digits, so that sorted names are key order. A fragment file is a
// 16-byte header followed by the fragment bytes, all integers big-endian:
//
//	0   4  magic "ANDV"
//	4   2  file version (1)
//	6   2  reserved, zero
//	8   8  written time, Unix nanoseconds from the injected clock
const (
	deviceMarkerName      = "annal-device"
	deviceFileHeaderBytes = 16
	deviceFileVersion1    = 1
	tempInfix             = ".tmp"
)

var deviceFileMagic = [4]byte{'A', 'N', 'D', 'V'}

// DirDevice is a Device backed by a directory of files, one per fragment.
// Writes go to a temporary file, which is fsynced, renamed into place, and
// followed by an fsync of the directory, so a crash leaves either the old
// state or the whole fragment.
//
// The device holds its directory open. If the directory disappears while
// the process runs (rm -rf, unmount), every operation fails with an error
// wrapping ErrDeviceFailed; a directory recreated at the same path is not
// used until the device is opened again, which then treats it as fresh.
type DirDevice struct {
	id      string
	dir     string
	now     func() int64
	tempSeq atomic.Uint64

	mu     sync.RWMutex // Close takes it exclusively
	root   *os.Root
	closed bool
}

var _ Device = (*DirDevice)(nil)

// OpenDirDevice opens (creating if needed) the directory device id at dir.
// now returns the current time in Unix nanoseconds; it stamps each
// fragment's WrittenUnixNano, so a simulator controls it. Opening removes
// temporary files left by a crash. A directory whose marker names another
// device id is refused.
func OpenDirDevice(id, dir string, now func() int64) (*DirDevice, error) {
	if id == "" || strings.ContainsAny(id, "\n\x00") {
		return nil, fmt.Errorf("open dir device %q: invalid id", id)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open dir device %s at %s: %w: %w", id, dir, ErrDeviceFailed, err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("open dir device %s at %s: %w: %w", id, dir, ErrDeviceFailed, err)
	}
	d := &DirDevice{id: id, dir: dir, now: now, root: root}
	if err := d.claim(); err != nil {
		root.Close()
		return nil, fmt.Errorf("open dir device %s at %s: %w", id, dir, err)
	}
	if err := d.removeTempFiles(); err != nil {
		root.Close()
		return nil, fmt.Errorf("open dir device %s at %s: %w", id, dir, err)
	}
	return d, nil
}

// claim checks the marker file, writing it on a fresh directory.
func (d *DirDevice) claim() error {
	want := []byte("annal directory device v1\nid=" + d.id + "\n")
	got, err := d.root.ReadFile(deviceMarkerName)
	switch {
	case err == nil && bytes.Equal(got, want):
		return nil
	case err == nil:
		return fmt.Errorf("marker %q belongs to another device", got)
	case errors.Is(err, fs.ErrNotExist):
		return d.writeDurably(".", deviceMarkerName, want)
	default:
		return fmt.Errorf("read marker: %w: %w", ErrDeviceFailed, err)
	}
}

// ID returns the device id given to OpenDirDevice.
func (d *DirDevice) ID() string { return d.id }

// acquire returns the open root, or an error once the device is closed.
// The caller must call d.mu.RUnlock when done.
func (d *DirDevice) acquire() (*os.Root, error) {
	d.mu.RLock()
	if d.closed {
		d.mu.RUnlock()
		return nil, fmt.Errorf("device %s closed: %w", d.id, ErrDeviceFailed)
	}
	return d.root, nil
}

// Dir returns the directory the device was opened at.
func (d *DirDevice) Dir() string { return d.dir }

// Gone reports whether the device's directory is no longer the one that
// was opened (removed, or replaced by another directory): such a device
// fails every operation, and only reopening the path (as a fresh device)
// brings it back. A closed device is gone.
func (d *DirDevice) Gone() bool {
	if _, err := d.acquire(); err != nil {
		return true
	}
	defer d.mu.RUnlock()
	return !d.healthy()
}

// healthy reports whether the directory is still the one that was opened:
// its marker is reachable through the held directory handle.
func (d *DirDevice) healthy() bool {
	_, err := d.root.Stat(deviceMarkerName)
	return err == nil
}

// failure maps a write-side I/O error to the Device error contract: a
// full file system is ErrDeviceFull, anything else ErrDeviceFailed.
func (d *DirDevice) failure(op string, key FragmentKey, err error) error {
	if errors.Is(err, syscall.ENOSPC) {
		return fmt.Errorf("device %s: %s %s.%d: %w: %w", d.id, op, key.Chunk, key.Index, ErrDeviceFull, err)
	}
	return fmt.Errorf("device %s: %s %s.%d: %w: %w", d.id, op, key.Chunk, key.Index, ErrDeviceFailed, err)
}

// readFailure is failure for reads and deletes, where a missing file in a
// healthy directory means the fragment is absent.
func (d *DirDevice) readFailure(op string, key FragmentKey, err error) error {
	if errors.Is(err, fs.ErrNotExist) && d.healthy() {
		return fmt.Errorf("device %s: %s %s.%d: %w", d.id, op, key.Chunk, key.Index, ErrFragmentNotFound)
	}
	return d.failure(op, key, err)
}

// fragmentPath returns the fan-out directory and file name of key.
func fragmentPath(key FragmentKey) (dir, name string) {
	h := hex.EncodeToString(key.Chunk[:])
	return h[0:2] + "/" + h[2:4], fmt.Sprintf("%s.%02x", h, key.Index)
}

// PutFragment stores data durably (see DirDevice). Writing a key again
// replaces the fragment atomically.
func (d *DirDevice) PutFragment(key FragmentKey, data []byte) error {
	root, err := d.acquire()
	if err != nil {
		return err
	}
	defer d.mu.RUnlock()
	dir, name := fragmentPath(key)
	if err := d.ensureFanOut(root, dir); err != nil {
		return d.failure("put", key, err)
	}
	var header [deviceFileHeaderBytes]byte
	copy(header[:], deviceFileMagic[:])
	binary.BigEndian.PutUint16(header[4:], deviceFileVersion1)
	binary.BigEndian.PutUint64(header[8:], uint64(d.now()))
	if err := d.writeDurably(dir, name, header[:], data); err != nil {
		return d.failure("put", key, err)
	}
	return nil
}

// ensureFanOut creates the two fan-out levels of dir, syncing each parent
// whose entries changed.
func (d *DirDevice) ensureFanOut(root *os.Root, dir string) error {
	first := path.Dir(dir)
	for _, p := range []string{first, dir} {
		err := root.Mkdir(p, 0o700)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return err
		}
		if err := syncDir(root, path.Dir(p)); err != nil {
			return err
		}
	}
	return nil
}

// writeDurably writes parts to dir/name via a temporary file, fsync,
// rename and fsync of dir.
func (d *DirDevice) writeDurably(dir, name string, parts ...[]byte) error {
	final := path.Join(dir, name)
	temp := final + tempInfix + strconv.FormatUint(d.tempSeq.Add(1), 10)
	if err := writeAndSync(d.root, temp, parts); err != nil {
		d.root.Remove(temp)
		return err
	}
	if err := d.root.Rename(temp, final); err != nil {
		d.root.Remove(temp)
		return err
	}
	return syncDir(d.root, dir)
}

func writeAndSync(root *os.Root, name string, parts [][]byte) error {
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := f.Write(p); err != nil {
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

func syncDir(root *os.Root, dir string) error {
	f, err := root.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	return err
}

// GetFragment returns the bytes stored under key.
func (d *DirDevice) GetFragment(key FragmentKey) ([]byte, error) {
	root, err := d.acquire()
	if err != nil {
		return nil, err
	}
	defer d.mu.RUnlock()
	dir, name := fragmentPath(key)
	b, err := root.ReadFile(path.Join(dir, name))
	if err != nil {
		return nil, d.readFailure("get", key, err)
	}
	if _, err := parseDeviceFileHeader(b); err != nil {
		return nil, fmt.Errorf("device %s: get %s.%d: %w", d.id, key.Chunk, key.Index, err)
	}
	return b[deviceFileHeaderBytes:], nil
}

// parseDeviceFileHeader returns the written time of a fragment file.
func parseDeviceFileHeader(b []byte) (writtenUnixNano int64, err error) {
	if len(b) < deviceFileHeaderBytes || !bytes.Equal(b[:4], deviceFileMagic[:]) {
		return 0, fmt.Errorf("fragment file header: %w", ErrFragmentCorrupt)
	}
	if v := binary.BigEndian.Uint16(b[4:]); v != deviceFileVersion1 {
		return 0, fmt.Errorf("fragment file version %d: %w", v, ErrUnknownFragmentVersion)
	}
	return int64(binary.BigEndian.Uint64(b[8:])), nil
}

// DeleteFragment removes key; removing an absent fragment succeeds.
func (d *DirDevice) DeleteFragment(key FragmentKey) error {
	root, err := d.acquire()
	if err != nil {
		return err
	}
	defer d.mu.RUnlock()
	dir, name := fragmentPath(key)
	err = root.Remove(path.Join(dir, name))
	if err == nil {
		err = syncDir(root, dir)
	}
	if err == nil {
		return nil
	}
	if err = d.readFailure("delete", key, err); errors.Is(err, ErrFragmentNotFound) {
		return nil
	}
	return err
}

// ListFragments calls fn for every stored fragment in key order. A file
// whose header is unreadable is listed with WrittenUnixNano 0, so scrub
// finds it and GetFragment reports why.
func (d *DirDevice) ListFragments(fn func(FragmentInfo) error) error {
	root, err := d.acquire()
	if err != nil {
		return err
	}
	defer d.mu.RUnlock()
	return d.walk(root, func(dir string, entry fs.DirEntry) error {
		key, ok := parseFragmentName(entry.Name())
		if !ok {
			return nil
		}
		info, err := readFragmentInfo(root, path.Join(dir, entry.Name()), key)
		if err != nil {
			if err = d.readFailure("list", key, err); errors.Is(err, ErrFragmentNotFound) {
				return nil // deleted while listing
			}
			return err
		}
		return fn(info)
	})
}

// walk calls fn for every file at the top level and in the fan-out
// directories, in name order.
func (d *DirDevice) walk(root *os.Root, fn func(dir string, entry fs.DirEntry) error) error {
	if !d.healthy() {
		return fmt.Errorf("device %s: directory %s is gone: %w", d.id, d.dir, ErrDeviceFailed)
	}
	fsys := root.FS()
	firsts, err := fs.ReadDir(fsys, ".")
	if err != nil {
		return fmt.Errorf("device %s: list: %w: %w", d.id, ErrDeviceFailed, err)
	}
	for _, first := range firsts {
		if !first.IsDir() {
			if err := fn(".", first); err != nil { // the marker, or its temp file
				return err
			}
			continue
		}
		if len(first.Name()) != 2 {
			continue
		}
		seconds, err := fs.ReadDir(fsys, first.Name())
		if err != nil {
			return fmt.Errorf("device %s: list %s: %w: %w", d.id, first.Name(), ErrDeviceFailed, err)
		}
		for _, second := range seconds {
			dir := first.Name() + "/" + second.Name()
			files, err := fs.ReadDir(fsys, dir)
			if err != nil {
				return fmt.Errorf("device %s: list %s: %w: %w", d.id, dir, ErrDeviceFailed, err)
			}
			for _, f := range files {
				if err := fn(dir, f); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// parseFragmentName parses "<64 hex>.<2 hex>"; anything else (temporary
// files) is not a fragment.
func parseFragmentName(name string) (FragmentKey, bool) {
	var key FragmentKey
	idHex, indexHex, ok := strings.Cut(name, ".")
	if !ok || len(idHex) != 64 || len(indexHex) != 2 {
		return key, false
	}
	if _, err := hex.Decode(key.Chunk[:], []byte(idHex)); err != nil {
		return key, false
	}
	index, err := strconv.ParseUint(indexHex, 16, 8)
	if err != nil || strings.ToLower(name) != name {
		return key, false
	}
	key.Index = uint8(index)
	return key, true
}

func readFragmentInfo(root *os.Root, name string, key FragmentKey) (FragmentInfo, error) {
	f, err := root.Open(name)
	if err != nil {
		return FragmentInfo{}, err
	}
	defer f.Close()
	stat, err := f.Stat()
	if err != nil {
		return FragmentInfo{}, err
	}
	var header [deviceFileHeaderBytes]byte
	info := FragmentInfo{Key: key, SizeBytes: max(0, stat.Size()-deviceFileHeaderBytes)}
	if _, err := io.ReadFull(f, header[:]); err == nil {
		info.WrittenUnixNano, _ = parseDeviceFileHeader(header[:])
	}
	return info, nil
}

// removeTempFiles deletes temporary files a crash left behind.
func (d *DirDevice) removeTempFiles() error {
	return d.walk(d.root, func(dir string, entry fs.DirEntry) error {
		if !strings.Contains(entry.Name(), tempInfix) {
			return nil
		}
		if err := d.root.Remove(path.Join(dir, entry.Name())); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove temp %s/%s: %w: %w", dir, entry.Name(), ErrDeviceFailed, err)
		}
		return nil
	})
}

// Stat reports the capacity of the file system holding the directory:
// CapacityBytes is its size and UsedBytes what this process cannot use
// (size minus space available to unprivileged users). Directory devices
// sharing a file system report the same figures.
func (d *DirDevice) Stat() (DeviceStat, error) {
	root, err := d.acquire()
	if err != nil {
		return DeviceStat{}, err
	}
	defer d.mu.RUnlock()
	if !d.healthy() {
		return DeviceStat{}, fmt.Errorf("device %s: directory %s is gone: %w", d.id, d.dir, ErrDeviceFailed)
	}
	f, err := root.Open(".")
	if err != nil {
		return DeviceStat{}, fmt.Errorf("device %s: stat: %w: %w", d.id, ErrDeviceFailed, err)
	}
	defer f.Close()
	var st syscall.Statfs_t
	if err := syscall.Fstatfs(int(f.Fd()), &st); err != nil {
		return DeviceStat{}, fmt.Errorf("device %s: statfs: %w: %w", d.id, ErrDeviceFailed, err)
	}
	capacity := int64(st.Blocks) * st.Bsize
	return DeviceStat{CapacityBytes: capacity, UsedBytes: capacity - int64(st.Bavail)*st.Bsize}, nil
}

// Close releases the directory; later operations fail with
// ErrDeviceFailed. Close is idempotent.
func (d *DirDevice) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	if err := d.root.Close(); err != nil {
		return fmt.Errorf("close device %s: %w", d.id, err)
	}
	return nil
}
