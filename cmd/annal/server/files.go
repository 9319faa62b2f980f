package server

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/annal-storage/annal/commands"
	"github.com/annal-storage/annal/keys"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/log/kv/encfs"
)

func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return b
}

func randomToken() string { return base64.RawURLEncoding.EncodeToString(randomBytes(32)) }

// writeFileAtomic writes a file via a synced temporary file and a rename,
// then syncs the directory.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ClusterKeyFile is the default name of the cluster key under the data
// directory.
const ClusterKeyFile = "cluster.key"

// LoadClusterKey reads the 32-byte cluster key (raw or hex) from path;
// with create it makes one (0600) when the file does not exist.
func LoadClusterKey(path string, create bool) ([]byte, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && create {
		key := randomBytes(32)
		if err := writeFileAtomic(path, []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
			return nil, fmt.Errorf("create cluster key: %w", err)
		}
		return key, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read cluster key: %w", err)
	}
	key, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("cluster key %s must hold 64 hex digits", path)
	}
	return key, nil
}

// atRestKey derives the data-at-rest key from the cluster key.
func atRestKey(clusterKey []byte) (*encfs.Key, error) {
	raw, err := hkdf.Key(sha256.New, clusterKey, nil, "annal-at-rest-v1", 32)
	if err != nil {
		return nil, err
	}
	return encfs.NewKey(raw)
}

// derived is a key derived from the cluster key for one purpose.
func derived(clusterKey []byte, label string) []byte {
	raw, err := hkdf.Key(sha256.New, clusterKey, nil, label, 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // 32 bytes of SHA-256 output cannot fail
	}
	return raw
}

// ClusterKeys are the keys a node derives from the cluster key.
type ClusterKeys struct {
	// Internal reads the key shards (master keys, tenant KEKs).
	Internal *commands.InternalKeys
	// Payloads seal and open event payloads.
	Payloads *keys.PayloadKeys
	// Tenants caches unwrapped tenant payload keys.
	Tenants *keys.TenantKeys
	// KeyWrap seals key material in the key shards; KeyHash keys object
	// key hashes in event headers; Snapshot encrypts snapshot streams.
	KeyWrap, KeyHash, Snapshot []byte

	jitter func() float64
}

// DeriveKeys derives a node's keys. now and jitter drive the tenant key
// cache's TTL.
func DeriveKeys(clusterKey []byte, now func() time.Time, jitter func() float64) (*ClusterKeys, error) {
	ck := &ClusterKeys{
		KeyWrap:  derived(clusterKey, "annal-key-wrap-v1"),
		KeyHash:  derived(clusterKey, "annal-key-hash-v1"),
		Snapshot: derived(clusterKey, "annal-snapshot-v1"),
		jitter:   jitter,
	}
	ck.Internal = commands.NewInternalKeys(ck.KeyWrap)
	ck.Tenants = keys.NewTenantKeys(ck.Internal, now, jitter)
	var err error
	ck.Payloads, err = keys.NewPayloadKeys(derived(clusterKey, "annal-payload-root-v1"), ck.Tenants)
	return ck, err
}

// OpenStateStore opens a node's state store (Pebble on the encrypting
// file system) for tools such as replay.
func OpenStateStore(dataDir string, clusterKey []byte, readOnly bool) (*kv.Pebble, error) {
	key, err := atRestKey(clusterKey)
	if err != nil {
		return nil, err
	}
	return kv.OpenPebble(filepath.Join(dataDir, "state"), kv.PebbleOptions{FS: encfs.NewPebble(key), ReadOnly: readOnly})
}

// credentialsINI renders AWS shared-credentials text.
func credentialsINI(profile, accessKey, secret string) []byte {
	return []byte(fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, accessKey, secret))
}
