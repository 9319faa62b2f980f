package server

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/annal-storage/annal/keys"
	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/log/kv/encfs"
)

// nodeFile is the node's persistent identity and secrets. It lives in
// <data>/node.json with mode 0600.
type nodeFile struct {
	FormatVersion int `json:"format_version"`
	// KeyHashSecret keys the object-key hashes in event headers.
	KeyHashSecret []byte `json:"key_hash_secret"`
	// MasterKey is the epoch-1 system master key until the keys shard
	// holds the epochs (sealed with the node key).
	MasterKey []byte `json:"master_key"`
}

func loadOrCreateNodeFile(dir string) (nodeFile, error) {
	path := filepath.Join(dir, "node.json")
	b, err := os.ReadFile(path)
	if err == nil {
		var nf nodeFile
		if err := json.Unmarshal(b, &nf); err != nil {
			return nf, fmt.Errorf("read %s: %w", path, err)
		}
		return nf, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nodeFile{}, err
	}
	nf := nodeFile{FormatVersion: 1, KeyHashSecret: randomBytes(32), MasterKey: randomBytes(32)}
	b, _ = json.MarshalIndent(nf, "", "  ")
	return nf, writeFileAtomic(path, b, 0o600)
}

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

// PayloadKeys derives the event payload keys from the cluster key.
func PayloadKeys(clusterKey []byte) (*keys.PayloadKeys, error) {
	root, err := hkdf.Key(sha256.New, clusterKey, nil, "annal-payload-root-v1", 32)
	if err != nil {
		return nil, err
	}
	return keys.NewPayloadKeys(root)
}

// snapshotKey derives the key that encrypts Raft snapshot streams.
func snapshotKey(clusterKey []byte) []byte {
	raw, err := hkdf.Key(sha256.New, clusterKey, nil, "annal-snapshot-v1", 32)
	if err != nil {
		panic(fmt.Sprintf("hkdf: %v", err)) // 32 bytes of SHA-256 output cannot fail
	}
	return raw
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
