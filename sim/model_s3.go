package sim

import (
	"slices"
	"strings"
)

// The per-key S3 model: the key's versions, newest first. Writes carry
// exactly what their event does at apply (a null version replaces the
// null version wherever it is; other ids push), so the model needs no
// bucket state; reads return the current version or the version list.

type s3Version struct {
	id     string
	hash   string
	etag   string
	marker bool
}

type s3State []s3Version

// Inputs.
type (
	// s3Put is an ObjectPut or MultipartCompleted of content hash, with
	// the S3 conditions its guards enforce at apply.
	s3Put struct {
		VersionID, Hash, ETag string
		IfNoneMatch           bool
		IfMatch               string
	}
	// s3Delete is an ObjectDeleted: of one version, placing a marker, or
	// of the whole key.
	s3Delete struct{ VersionID, Marker string }
	// s3Get reads the current version.
	s3Get struct{}
	// s3List reads the version list.
	s3List struct{}
	// s3Head reads the current version id (a ListObjects entry).
	s3Head struct{}
	// s3Absent: a delete found nothing to delete (no version at all).
	s3Absent struct{}
	// s3NoVersion: a delete of one version found no such version.
	s3NoVersion struct{ VersionID string }
)

// s3HeadOut is what a listing said of a key.
type s3HeadOut struct {
	Found     bool
	VersionID string
}

// s3GetOut is what a GET saw.
type s3GetOut struct {
	Found     bool
	VersionID string
	Hash      string
}

type s3Model struct{}

func (s3Model) init() any { return s3State(nil) }

func (s3Model) key(state any) string {
	var sb strings.Builder
	for _, v := range state.(s3State) {
		sb.WriteString(v.id)
		if v.marker {
			sb.WriteString("!")
		}
		sb.WriteString("=")
		sb.WriteString(v.hash)
		sb.WriteString("/")
		sb.WriteString(v.etag)
		sb.WriteString(";")
	}
	return sb.String()
}

func (s s3State) index(id string) int {
	return slices.IndexFunc(s, func(v s3Version) bool { return v.id == id })
}

// push makes v current, replacing the null version when v is null.
func (s s3State) push(v s3Version) s3State {
	out := s3State{v}
	for _, old := range s {
		if v.id == nullVersion && old.id == nullVersion {
			continue
		}
		out = append(out, old)
	}
	return out
}

const nullVersion = "null"

func (s3Model) step(state any, o *op) (bool, any) {
	s := state.(s3State)
	switch in := o.in.(type) {
	case s3Put:
		cur := s.get()
		if (in.IfNoneMatch && cur.Found) || (in.IfMatch != "" && (!cur.Found || s[0].etag != in.IfMatch)) {
			return o.ambiguous(), s // the guard rejected it
		}
		return true, s.push(s3Version{id: in.VersionID, hash: in.Hash, etag: in.ETag})
	case s3Delete:
		next, ok := s.delete(in)
		if !ok {
			return o.ambiguous(), s // an ambiguous delete that could not apply was rejected
		}
		return true, next
	case s3Get:
		if o.ambiguous() {
			return true, s
		}
		return s.get() == o.out.(s3GetOut), s
	case s3List:
		if o.ambiguous() {
			return true, s
		}
		return slices.Equal(s.list(), o.out.([]string)), s
	case s3Head:
		cur := s.get()
		return o.ambiguous() || o.out.(s3HeadOut) == s3HeadOut{Found: cur.Found, VersionID: cur.VersionID}, s
	case s3Absent:
		return len(s) == 0, s
	case s3NoVersion:
		return s.index(in.VersionID) < 0, s
	}
	return false, s
}

// delete applies an ObjectDeleted; false when its preconditions fail.
func (s s3State) delete(in s3Delete) (s3State, bool) {
	switch {
	case in.VersionID != "":
		i := s.index(in.VersionID)
		if i < 0 {
			return s, false
		}
		return slices.Delete(slices.Clone(s), i, i+1), true
	case len(s) == 0:
		return s, false
	case in.Marker != "":
		return s.push(s3Version{id: in.Marker, marker: true}), true
	}
	return nil, true
}

func (s s3State) get() s3GetOut {
	if len(s) == 0 || s[0].marker {
		return s3GetOut{}
	}
	return s3GetOut{Found: true, VersionID: s[0].id, Hash: s[0].hash}
}

// list renders the version list as ListVersions shows it: ids newest
// first, markers suffixed with "!".
func (s s3State) list() []string {
	out := []string{}
	for _, v := range s {
		id := v.id
		if v.marker {
			id += "!"
		}
		out = append(out, id)
	}
	return out
}
