package s3xml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"unicode/utf8"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Request-body limits. Each bounds the bytes read before parsing, so a
// client cannot make the gateway buffer more than this.
const (
	// DeleteObjectsMax is S3's limit on keys per DeleteObjects request.
	DeleteObjectsMax = 1000
	// DeleteBodyBytesMax fits 1000 maximum-length (1024-byte) keys with
	// version ids and markup; S3 documents no byte limit, 1 MiB would
	// refuse legal requests with long keys.
	DeleteBodyBytesMax = 2 << 20
	// PartsMax is S3's limit on parts per multipart upload.
	PartsMax = 10000
	// CompleteBodyBytesMax fits 10,000 parts with an ETag and a SHA-256
	// checksum each (about 250 bytes per part with markup).
	CompleteBodyBytesMax = 4 << 20
	// TaggingBodyBytesMax fits 50 tags of 128+256 four-byte characters.
	TaggingBodyBytesMax = 128 << 10
	// ConfigBodyBytesMax bounds the small configuration bodies
	// (versioning, create-bucket).
	ConfigBodyBytesMax = 64 << 10

	// ObjectTagsMax and BucketTagsMax are S3's tag-count limits.
	ObjectTagsMax = 10
	BucketTagsMax = 50
	// TagKeyCharsMax and TagValueCharsMax are in Unicode characters.
	TagKeyCharsMax   = 128
	TagValueCharsMax = 256
)

// malformed is the MalformedXML error with the parse failure as cause.
func malformed(cause error) error {
	return s3err.Wrap(s3err.MalformedXML, cause, "")
}

// decodeBounded reads at most limit bytes of r and decodes one document
// whose root element is root (in the S3 namespace or none) into v.
// Oversized bodies, malformed XML, a different root and anything but
// whitespace or comments after the root are MalformedXML.
func decodeBounded(r io.Reader, limit int64, root string, v any) error {
	body, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return s3err.Wrap(s3err.IncompleteBody, fmt.Errorf("read %s body: %w", root, err), "")
	}
	if int64(len(body)) > limit {
		return malformed(fmt.Errorf("%s body exceeds %d bytes", root, limit))
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return s3err.Wrap(s3err.MissingRequestBodyError, fmt.Errorf("empty %s body", root), "")
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	start, err := rootElement(d)
	if err != nil {
		return malformed(fmt.Errorf("%s: %w", root, err))
	}
	if start.Name.Local != root || (start.Name.Space != "" && start.Name.Space != Namespace) {
		return malformed(fmt.Errorf("root element %s %s, want %s", start.Name.Space, start.Name.Local, root))
	}
	// Types shared with responses name the S3 namespace; a request root
	// without one is equally valid, so present it as namespaced.
	start.Name.Space = Namespace
	if err := d.DecodeElement(v, &start); err != nil {
		return malformed(fmt.Errorf("%s: %w", root, err))
	}
	if err := onlyMiscFollows(d); err != nil {
		return malformed(fmt.Errorf("%s: %w", root, err))
	}
	return nil
}

// rootElement skips the prolog (declaration, comments, whitespace) and
// returns the first start element. A DOCTYPE is refused: S3 bodies never
// carry one.
func rootElement(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, errors.New("text before the root element")
			}
		case xml.Directive:
			return xml.StartElement{}, errors.New("directives are not allowed")
		}
	}
}

// onlyMiscFollows requires the end of input after the root element,
// allowing whitespace, comments and processing instructions.
func onlyMiscFollows(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("text after the root element")
			}
		case xml.Comment, xml.ProcInst:
		default:
			return fmt.Errorf("unexpected %T after the root element", tok)
		}
	}
}

// DecodeCompleteMultipartUpload reads a CompleteMultipartUpload body:
// 1 … 10,000 parts, part numbers 1 … 10,000 in strictly ascending order,
// each with an ETag.
func DecodeCompleteMultipartUpload(r io.Reader) (*CompleteMultipartUpload, error) {
	var c CompleteMultipartUpload
	if err := decodeBounded(r, CompleteBodyBytesMax, "CompleteMultipartUpload", &c); err != nil {
		return nil, err
	}
	if len(c.Parts) == 0 || len(c.Parts) > PartsMax {
		return nil, malformed(fmt.Errorf("%d parts, want 1 to %d", len(c.Parts), PartsMax))
	}
	for i, p := range c.Parts {
		if p.PartNumber < 1 || p.PartNumber > PartsMax {
			return nil, s3err.Newf(s3err.InvalidArgument,
				"Part number must be an integer between 1 and %d, inclusive", PartsMax)
		}
		if p.ETag == "" {
			return nil, malformed(fmt.Errorf("part %d has no ETag", p.PartNumber))
		}
		if i > 0 && p.PartNumber <= c.Parts[i-1].PartNumber {
			return nil, s3err.New(s3err.InvalidPartOrder, "")
		}
	}
	return &c, nil
}

// DecodeDelete reads a DeleteObjects body: 1 … 1000 objects, each with a
// key.
func DecodeDelete(r io.Reader) (*Delete, error) {
	var del Delete
	if err := decodeBounded(r, DeleteBodyBytesMax, "Delete", &del); err != nil {
		return nil, err
	}
	if len(del.Objects) == 0 || len(del.Objects) > DeleteObjectsMax {
		return nil, malformed(fmt.Errorf("%d objects, want 1 to %d", len(del.Objects), DeleteObjectsMax))
	}
	for i, o := range del.Objects {
		if o.Key == "" {
			return nil, malformed(fmt.Errorf("object %d has no key", i))
		}
	}
	return &del, nil
}

// DecodeTagging reads a Tagging body with at most maxTags tags
// (ObjectTagsMax or BucketTagsMax); keys must be unique, 1 … 128
// characters, values 0 … 256 characters. Violations are InvalidTag.
func DecodeTagging(r io.Reader, maxTags int) (*Tagging, error) {
	var t Tagging
	if err := decodeBounded(r, TaggingBodyBytesMax, "Tagging", &t); err != nil {
		return nil, err
	}
	if len(t.TagSet) > maxTags {
		return nil, s3err.Newf(s3err.InvalidTag, "Object tags cannot be greater than %d", maxTags)
	}
	seen := make(map[string]bool, len(t.TagSet))
	for _, tag := range t.TagSet {
		switch {
		case tag.Key == "" || utf8.RuneCountInString(tag.Key) > TagKeyCharsMax:
			return nil, s3err.New(s3err.InvalidTag, "The TagKey you have provided is invalid")
		case utf8.RuneCountInString(tag.Value) > TagValueCharsMax:
			return nil, s3err.New(s3err.InvalidTag, "The TagValue you have provided is invalid")
		case seen[tag.Key]:
			return nil, s3err.New(s3err.InvalidTag, "Cannot provide multiple Tags with the same key")
		}
		seen[tag.Key] = true
	}
	return &t, nil
}

// DecodeVersioningConfiguration reads a PutBucketVersioning body. Status
// must be Enabled or Suspended; MFA delete is not supported.
func DecodeVersioningConfiguration(r io.Reader) (*VersioningConfiguration, error) {
	var v VersioningConfiguration
	if err := decodeBounded(r, ConfigBodyBytesMax, "VersioningConfiguration", &v); err != nil {
		return nil, err
	}
	if v.Status != VersioningEnabled && v.Status != VersioningSuspended {
		return nil, s3err.New(s3err.IllegalVersioningConfiguration, "")
	}
	switch v.MFADelete {
	case "", "Disabled":
	case "Enabled":
		return nil, s3err.New(s3err.NotImplemented, "MFA delete is not supported.")
	default:
		return nil, s3err.New(s3err.IllegalVersioningConfiguration, "")
	}
	return &v, nil
}

// DecodeCreateBucketConfiguration reads the optional CreateBucket body.
// An empty body is valid and yields an empty configuration.
func DecodeCreateBucketConfiguration(r io.Reader) (*CreateBucketConfiguration, error) {
	body, err := io.ReadAll(io.LimitReader(r, ConfigBodyBytesMax+1))
	if err != nil {
		return nil, s3err.Wrap(s3err.IncompleteBody, fmt.Errorf("read CreateBucketConfiguration: %w", err), "")
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return &CreateBucketConfiguration{}, nil
	}
	var c CreateBucketConfiguration
	if err := decodeBounded(bytes.NewReader(body), ConfigBodyBytesMax, "CreateBucketConfiguration", &c); err != nil {
		return nil, err
	}
	return &c, nil
}
