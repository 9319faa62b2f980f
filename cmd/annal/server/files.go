package server

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
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

// credentialsINI renders AWS shared-credentials text.
func credentialsINI(profile, accessKey, secret string) []byte {
	return []byte(fmt.Sprintf("[%s]\naws_access_key_id = %s\naws_secret_access_key = %s\n", profile, accessKey, secret))
}
