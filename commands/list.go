package commands

import (
	"context"
	"strings"

	"github.com/annal-storage/annal/log/kv"
	"github.com/annal-storage/annal/projections/namespace"
)

// ListInput selects keys of a bucket.
type ListInput struct {
	Prefix    string
	Delimiter string
	// After: only keys greater than it (start-after, marker, or a
	// continuation token's key).
	After   string
	MaxKeys int
}

// ListOutput is one page of keys.
type ListOutput struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	IsTruncated    bool
	// NextAfter is the last key or common prefix returned.
	NextAfter string
}

// ListObjects lists current object versions in key order.
func (s *Service) ListObjects(ctx context.Context, p Principal, bucket string, in ListInput) (ListOutput, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return ListOutput{}, err
	}
	defer v.Close()
	return ListObjects(v, in)
}

// ListObjects lists a view's keys (exported for the simulator).
func ListObjects(v kv.Reader, in ListInput) (ListOutput, error) {
	var out ListOutput
	if in.MaxKeys <= 0 {
		return out, nil
	}
	pager := &pager{max: in.MaxKeys, out: &out, delim: in.Delimiter, base: in.Prefix}
	opts := namespace.WalkOptions{Prefix: in.Prefix, After: in.After, Delimit: in.Delimiter == "/"}
	err := namespace.Walk(v, opts, func(e namespace.WalkEntry) (bool, error) {
		if e.CommonPrefix {
			return pager.addPrefix(e.Key), nil
		}
		if cp, ok := pager.rollUp(e.Key); ok {
			if cp <= in.After { // returned on an earlier page
				return true, nil
			}
			return pager.addPrefix(cp), nil
		}
		info, err := currentInfo(v, e)
		if err != nil {
			return false, err
		}
		return pager.object(info), nil
	})
	return out, err
}

func currentInfo(v kv.Reader, e namespace.WalkEntry) (ObjectInfo, error) {
	if e.Inode.Kind == namespace.KindDir {
		return folderInfo(v, e.Key, e.Inode, "")
	}
	ver, ok, err := namespace.CurrentVersion(v, e.Inode)
	if err != nil || !ok {
		return ObjectInfo{Key: e.Key, VersionID: namespace.NullVersion, MtimeNs: e.Inode.MtimeNs, IsLatest: true}, err
	}
	return infoOf(e.Key, ver, true), nil
}

// pager fills one page, rolling keys up into common prefixes for
// delimiters other than "/" (which the walk handles itself).
type pager struct {
	max   int
	out   *ListOutput
	delim string
	// base is the listing's prefix.
	base string
}

func (p *pager) full() bool { return len(p.out.Objects)+len(p.out.CommonPrefixes) >= p.max }

func (p *pager) rollUp(key string) (string, bool) {
	if p.delim == "" || p.delim == "/" {
		return "", false
	}
	rest := key[len(p.base):]
	i := strings.Index(rest, p.delim)
	if i < 0 {
		return "", false
	}
	return p.base + rest[:i+len(p.delim)], true
}

func (p *pager) addPrefix(cp string) bool {
	if n := len(p.out.CommonPrefixes); n > 0 && p.out.CommonPrefixes[n-1] == cp {
		return true
	}
	if p.full() {
		p.out.IsTruncated = true
		return false
	}
	p.out.CommonPrefixes = append(p.out.CommonPrefixes, cp)
	p.out.NextAfter = cp
	return true
}

func (p *pager) object(o ObjectInfo) bool {
	if p.full() {
		p.out.IsTruncated = true
		return false
	}
	p.out.Objects = append(p.out.Objects, o)
	p.out.NextAfter = o.Key
	return true
}

// VersionsInput selects object versions.
type VersionsInput struct {
	Prefix          string
	Delimiter       string
	KeyMarker       string
	VersionIDMarker string
	MaxKeys         int
}

// VersionsOutput is one page of versions.
type VersionsOutput struct {
	Versions            []ObjectInfo
	CommonPrefixes      []string
	IsTruncated         bool
	NextKeyMarker       string
	NextVersionIDMarker string
}

// ListVersions lists every version of every key, keys in order and each
// key's versions newest first.
func (s *Service) ListVersions(ctx context.Context, p Principal, bucket string, in VersionsInput) (VersionsOutput, error) {
	v, _, err := s.readNamespace(ctx, p, bucket)
	if err != nil {
		return VersionsOutput{}, err
	}
	defer v.Close()
	return ListVersions(v, in)
}

// ListVersions lists a view's versions (exported for the simulator).
func ListVersions(v kv.Reader, in VersionsInput) (VersionsOutput, error) {
	var out VersionsOutput
	if in.MaxKeys <= 0 {
		return out, nil
	}
	vp := &versionPager{max: in.MaxKeys, out: &out, p: pager{delim: in.Delimiter, base: in.Prefix}}
	after := in.KeyMarker
	if in.VersionIDMarker != "" && in.KeyMarker != "" {
		// Resume inside the marker key's versions, then walk after it.
		if e, ok, err := walkEntryOf(v, in.KeyMarker); err != nil {
			return out, err
		} else if ok {
			if cont, err := vp.key(v, e, in.VersionIDMarker); err != nil || !cont {
				return out, err
			}
		}
	}
	opts := namespace.WalkOptions{Prefix: in.Prefix, After: after, Delimit: in.Delimiter == "/", IncludeHidden: true}
	err := namespace.Walk(v, opts, func(e namespace.WalkEntry) (bool, error) {
		if e.CommonPrefix {
			return vp.addPrefix(e.Key), nil
		}
		if cp, ok := vp.p.rollUp(e.Key); ok {
			if cp <= in.KeyMarker { // returned on an earlier page
				return true, nil
			}
			return vp.addPrefix(cp), nil
		}
		return vp.key(v, e, "")
	})
	return out, err
}

func walkEntryOf(v kv.Reader, key string) (namespace.WalkEntry, bool, error) {
	res, err := namespace.Resolve(v, key)
	if err != nil || !res.Found {
		return namespace.WalkEntry{}, false, nil
	}
	in, err := namespace.GetInode(v, res.Entry.Ino)
	return namespace.WalkEntry{Key: key, Inode: in}, err == nil, err
}

type versionPager struct {
	max int
	out *VersionsOutput
	p   pager
}

func (vp *versionPager) count() int { return len(vp.out.Versions) + len(vp.out.CommonPrefixes) }

func (vp *versionPager) addPrefix(cp string) bool {
	if n := len(vp.out.CommonPrefixes); n > 0 && vp.out.CommonPrefixes[n-1] == cp {
		return true
	}
	if vp.count() >= vp.max {
		vp.out.IsTruncated = true
		return false
	}
	vp.out.CommonPrefixes = append(vp.out.CommonPrefixes, cp)
	vp.out.NextKeyMarker, vp.out.NextVersionIDMarker = cp, ""
	return true
}

// key adds a key's versions newer-first, after versionIDMarker if set.
func (vp *versionPager) key(v kv.Reader, e namespace.WalkEntry, versionIDMarker string) (bool, error) {
	var infos []ObjectInfo
	if e.Inode.Kind == namespace.KindDir {
		info, err := folderInfo(v, e.Key, e.Inode, "")
		if err != nil {
			return true, nil
		}
		infos = append(infos, info)
	} else {
		vs, err := namespace.Versions(v, e.Inode.Ino)
		if err != nil {
			return false, err
		}
		for _, ver := range vs {
			infos = append(infos, infoOf(e.Key, ver, ver.Seq == e.Inode.Cur))
		}
	}
	skipping := versionIDMarker != ""
	for _, info := range infos {
		if skipping {
			skipping = info.VersionID != versionIDMarker
			continue
		}
		if vp.count() >= vp.max {
			vp.out.IsTruncated = true
			return false, nil
		}
		vp.out.Versions = append(vp.out.Versions, info)
		vp.out.NextKeyMarker, vp.out.NextVersionIDMarker = info.Key, info.VersionID
	}
	return true, nil
}
