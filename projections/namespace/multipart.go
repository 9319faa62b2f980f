package namespace

import (
	"bytes"
	"encoding/binary"

	"github.com/annal-storage/annal/log/event"
	"github.com/annal-storage/annal/log/kv"
	p "github.com/annal-storage/annal/projections"
)

// MaxPartNumber is S3's part number limit.
const MaxPartNumber = 10000

// GetUpload returns an upload in progress or ErrNoSuchUpload.
func GetUpload(r kv.Reader, id string) (Upload, error) {
	var u Upload
	ok, err := p.Get(r, uploadKey(id), &u)
	if err != nil {
		return u, err
	}
	if !ok {
		return u, p.Errorf(p.ErrNoSuchUpload, "%q", id)
	}
	return u, nil
}

// GetPart returns one part of an upload.
func GetPart(r kv.Reader, upload string, n int32) (Part, bool, error) {
	var pt Part
	ok, err := p.Get(r, partKey(upload, n), &pt)
	return pt, ok, err
}

// Parts lists an upload's parts in part-number order, starting after
// part number `after`, at most max (0 = all).
func Parts(r kv.Reader, upload string, after int32, limit int) ([]Part, bool, error) {
	pre := partPrefix(upload)
	it := r.NewIter(partKey(upload, after+1), kv.PrefixEnd(pre))
	defer it.Close()
	var out []Part
	for ok := it.First(); ok; ok = it.Next() {
		if limit > 0 && len(out) == limit {
			return out, true, nil
		}
		var pt Part
		if err := p.Decode(it.Value(), &pt); err != nil {
			return nil, false, err
		}
		out = append(out, pt)
	}
	return out, false, nil
}

// Uploads lists uploads in (key, initiation) order, starting after the
// given key marker and upload id marker, with an optional key prefix.
// With only a key marker, every upload of that key is skipped; with an
// upload id marker too, the uploads of that key initiated after the
// marker's follow (all of them when the marker upload is gone, so a page
// boundary never loses one).
func Uploads(r kv.Reader, prefix, keyMarker, uploadMarker string, limit int) ([]Upload, bool, error) {
	lower := p.Key([]byte("U/"), []byte(prefix))
	upper := kv.PrefixEnd(lower)
	if from := p.Key([]byte("U/"), []byte(keyMarker)); bytes.Compare(from, lower) > 0 {
		lower = from
	}
	markerSeq, haveMarker := uint64(0), false
	if keyMarker != "" && uploadMarker != "" {
		if u, err := GetUpload(r, uploadMarker); err == nil && u.Key == keyMarker {
			markerSeq, haveMarker = u.Seq, true
		}
	}
	it := r.NewIter(lower, upper)
	defer it.Close()
	var out []Upload
	for ok := it.First(); ok; ok = it.Next() {
		k := it.Key()[2:]
		i := bytes.IndexByte(k, 0)
		key, seq, id := string(k[:i]), binary.BigEndian.Uint64(k[i+1:i+9]), string(k[i+9:])
		if keyMarker != "" && (key < keyMarker || (key == keyMarker && (uploadMarker == "" || (haveMarker && seq <= markerSeq)))) {
			continue
		}
		if limit > 0 && len(out) == limit {
			return out, true, nil
		}
		u, err := GetUpload(r, id)
		if err != nil {
			return nil, false, err
		}
		out = append(out, u)
	}
	return out, false, nil
}

func countUploads(r kv.Reader) (int, error) {
	n := 0
	err := kv.Scan(r, []byte("u/"), kv.PrefixEnd([]byte("u/")), func(_, _ []byte) error {
		n++
		return nil
	})
	return n, err
}

func validateMultipartStarted(r kv.Reader, b *event.MultipartStarted) error {
	if _, _, err := SplitKey(b.Key); err != nil {
		return err
	}
	if ok, err := p.Get(r, uploadKey(b.UploadID), &Upload{}); err != nil || ok || b.UploadID == "" {
		return orErr(err, p.Errorf(p.ErrAlreadyExists, "upload %q", b.UploadID))
	}
	return nil
}

func validatePartUploaded(r kv.Reader, b *event.MultipartPartUploaded) error {
	if _, err := GetUpload(r, b.UploadID); err != nil {
		return err
	}
	if b.PartNumber < 1 || b.PartNumber > MaxPartNumber {
		return p.Errorf(p.ErrInvalid, "part number %d", b.PartNumber)
	}
	refs := partRefs(b)
	if segmentsLen(refs) != b.Size {
		return p.Errorf(p.ErrInvalid, "part %d: size %d, segments cover %d", b.PartNumber, b.Size, segmentsLen(refs))
	}
	return validateContent(r, event.Content{Size: b.Size, Segments: refs}, b.Segments)
}

// partRefs is the segments a part contributes, staged ones first.
func partRefs(b *event.MultipartPartUploaded) []event.SegmentRef {
	refs := append([]event.SegmentRef(nil), b.Staged...)
	for _, s := range b.Segments {
		refs = append(refs, event.SegmentRef{ID: s.ID, Len: s.Len()})
	}
	return refs
}

func validateMultipartCompleted(r kv.Reader, meta Meta, b *event.MultipartCompleted) error {
	u, err := GetUpload(r, b.UploadID)
	if err != nil {
		return err
	}
	if err := checkVersionID(meta, b.VersionID); err != nil {
		return err
	}
	if len(b.Parts) == 0 {
		return p.Errorf(p.ErrInvalid, "no parts")
	}
	for i, n := range b.Parts {
		if i > 0 && n <= b.Parts[i-1] {
			return p.Errorf(p.ErrInvalidPartOrder, "part %d after %d", n, b.Parts[i-1])
		}
		if _, ok, err := GetPart(r, b.UploadID, n); err != nil || !ok {
			return orErr(err, p.Errorf(p.ErrInvalidPart, "part %d", n))
		}
	}
	res, err := checkPutTarget(r, u.Key)
	if err != nil {
		return err
	}
	if res.DirKey {
		return p.Errorf(p.ErrInvalid, "folder key %q cannot hold data", u.Key)
	}
	return nil
}

func applyMultipart(w kv.Writer, env *event.Envelope, body event.Body) (bool, error) {
	switch b := body.(type) {
	case *event.MultipartStarted:
		u := Upload{ID: b.UploadID, Key: b.Key, Attrs: b.Attrs, Posix: b.Posix, InitiatedNs: b.InitiatedNs, Seq: env.Seq}
		if err := p.Put(w, uploadKey(u.ID), &u); err != nil {
			return true, err
		}
		return true, w.Set(uploadIndexKey(u.Key, u.Seq, u.ID), nil)
	case *event.MultipartPartUploaded:
		return true, applyPartUploaded(w, b)
	case *event.MultipartCompleted:
		return true, applyMultipartCompleted(w, env, b)
	case *event.MultipartAborted:
		u, err := GetUpload(w, b.UploadID)
		p.Must(err == nil, "abort of unknown upload: %v", err)
		return true, dropUpload(w, u)
	}
	return false, nil
}

func applyPartUploaded(w kv.Writer, b *event.MultipartPartUploaded) error {
	for _, s := range b.Segments {
		if err := createSegment(w, s, false, 0); err != nil {
			return err
		}
	}
	if old, ok, err := GetPart(w, b.UploadID, b.PartNumber); err != nil {
		return err
	} else if ok {
		if err := releaseContent(w, event.Content{Segments: old.Segments}); err != nil {
			return err
		}
	}
	pt := Part{Number: b.PartNumber, ETag: b.ETag, Size: b.Size, Segments: partRefs(b), MtimeNs: b.MtimeNs}
	if err := retainContent(w, event.Content{Segments: pt.Segments}); err != nil {
		return err
	}
	return p.Put(w, partKey(b.UploadID, pt.Number), &pt)
}

// dropUpload removes an upload and releases all its parts.
func dropUpload(w kv.Writer, u Upload) error {
	parts, _, err := Parts(w, u.ID, 0, 0)
	if err != nil {
		return err
	}
	for _, pt := range parts {
		if err := releaseContent(w, event.Content{Segments: pt.Segments}); err != nil {
			return err
		}
	}
	pre := partPrefix(u.ID)
	if err := w.DeleteRange(pre, kv.PrefixEnd(pre)); err != nil {
		return err
	}
	if err := w.Delete(uploadIndexKey(u.Key, u.Seq, u.ID)); err != nil {
		return err
	}
	return w.Delete(uploadKey(u.ID))
}

func applyMultipartCompleted(w kv.Writer, env *event.Envelope, b *event.MultipartCompleted) error {
	u, err := GetUpload(w, b.UploadID)
	p.Must(err == nil, "complete of unknown upload: %v", err)
	var c event.Content
	for _, n := range b.Parts {
		pt, ok, err := GetPart(w, b.UploadID, n)
		if err != nil {
			return err
		}
		p.Must(ok, "complete with missing part %d", n)
		c.Segments = append(c.Segments, pt.Segments...)
		c.Size += pt.Size
	}
	attrs := u.Attrs
	attrs.ETag = b.ETag
	put := &event.ObjectPut{Key: u.Key, VersionID: b.VersionID, Content: c, Attrs: attrs, Posix: u.Posix, MtimeNs: b.MtimeNs}
	// The object takes its own reference to every part segment before the
	// upload (and its references) goes away.
	if err := applyObjectPut(w, env, put); err != nil {
		return err
	}
	return dropUpload(w, u)
}
