package s3xml

import (
	"encoding/xml"
	"time"

	"github.com/annal-storage/annal/gateways/s3/s3err"
)

// Namespace is the XML namespace of every S3 response document except
// the error body.
const Namespace = "http://s3.amazonaws.com/doc/2006-03-01/"

// timestampLayout is S3's ISO 8601 form: UTC, milliseconds, "Z".
const timestampLayout = "2006-01-02T15:04:05.000Z"

// Timestamp is a time rendered the way S3 renders LastModified,
// CreationDate and Initiated.
type Timestamp struct{ time.Time }

// MarshalText implements encoding.TextMarshaler.
func (t Timestamp) MarshalText() ([]byte, error) {
	return []byte(t.UTC().Format(timestampLayout)), nil
}

// UnmarshalText accepts any RFC 3339 time, with or without fraction.
func (t *Timestamp) UnmarshalText(b []byte) error {
	v, err := time.Parse(time.RFC3339Nano, string(b))
	if err != nil {
		return err
	}
	t.Time = v.UTC()
	return nil
}

// Error is the XML error body; s3err owns its rendering.
type Error = s3err.Body

// Owner identifies a bucket or object owner (a tenant principal).
type Owner struct {
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// Initiator is who started a multipart upload.
type Initiator Owner

// Checksums are the additional checksums S3 returns alongside an ETag,
// each base64 of the big-endian digest; unset ones are omitted.
type Checksums struct {
	ChecksumCRC32     string `xml:"ChecksumCRC32,omitempty"`
	ChecksumCRC32C    string `xml:"ChecksumCRC32C,omitempty"`
	ChecksumCRC64NVME string `xml:"ChecksumCRC64NVME,omitempty"`
	ChecksumSHA1      string `xml:"ChecksumSHA1,omitempty"`
	ChecksumSHA256    string `xml:"ChecksumSHA256,omitempty"`
}

// ---- service ----

// ListAllMyBucketsResult answers ListBuckets.
type ListAllMyBucketsResult struct {
	XMLName           xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListAllMyBucketsResult"`
	Owner             Owner    `xml:"Owner"`
	Buckets           []Bucket `xml:"Buckets>Bucket"`
	ContinuationToken string   `xml:"ContinuationToken,omitempty"`
	Prefix            string   `xml:"Prefix,omitempty"`
}

// Bucket is one entry of ListAllMyBucketsResult.
type Bucket struct {
	Name         string    `xml:"Name"`
	CreationDate Timestamp `xml:"CreationDate"`
	BucketRegion string    `xml:"BucketRegion,omitempty"`
}

// ---- bucket ----

// LocationConstraint answers GetBucketLocation. S3 returns an empty
// element for us-east-1.
type LocationConstraint struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ LocationConstraint"`
	Region  string   `xml:",chardata"`
}

// CreateBucketConfiguration is the optional CreateBucket request body.
type CreateBucketConfiguration struct {
	XMLName            xml.Name `xml:"CreateBucketConfiguration"`
	LocationConstraint string   `xml:"LocationConstraint,omitempty"`
}

// Versioning states.
const (
	VersioningEnabled   = "Enabled"
	VersioningSuspended = "Suspended"
)

// VersioningConfiguration is both the PutBucketVersioning body and the
// GetBucketVersioning answer. An unversioned bucket has no Status.
type VersioningConfiguration struct {
	XMLName   xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ VersioningConfiguration"`
	Status    string   `xml:"Status,omitempty"`
	MFADelete string   `xml:"MfaDelete,omitempty"`
}

// Tagging is the object or bucket tag set, request and response.
type Tagging struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ Tagging"`
	TagSet  []Tag    `xml:"TagSet>Tag"`
}

// Tag is one key/value pair.
type Tag struct {
	Key   string `xml:"Key"`
	Value string `xml:"Value"`
}

// ---- listing ----

// Object is one Contents entry of a listing.
type Object struct {
	Key               string    `xml:"Key"`
	LastModified      Timestamp `xml:"LastModified"`
	ETag              string    `xml:"ETag"`
	ChecksumAlgorithm []string  `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string    `xml:"ChecksumType,omitempty"`
	Size              int64     `xml:"Size"`
	StorageClass      string    `xml:"StorageClass"`
	Owner             *Owner    `xml:"Owner,omitempty"`
}

// CommonPrefix is a rolled-up prefix when a delimiter is given.
type CommonPrefix struct {
	Prefix string `xml:"Prefix"`
}

// ListBucketResult answers ListObjects (version 1).
type ListBucketResult struct {
	XMLName        xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name           string         `xml:"Name"`
	Prefix         string         `xml:"Prefix"`
	Marker         string         `xml:"Marker"`
	NextMarker     string         `xml:"NextMarker,omitempty"`
	MaxKeys        int            `xml:"MaxKeys"`
	Delimiter      string         `xml:"Delimiter,omitempty"`
	EncodingType   string         `xml:"EncodingType,omitempty"`
	IsTruncated    bool           `xml:"IsTruncated"`
	Contents       []Object       `xml:"Contents"`
	CommonPrefixes []CommonPrefix `xml:"CommonPrefixes"`
}

// ListBucketResultV2 answers ListObjectsV2 (list-type=2). Its element
// name is ListBucketResult, as in version 1.
type ListBucketResultV2 struct {
	XMLName               xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListBucketResult"`
	Name                  string         `xml:"Name"`
	Prefix                string         `xml:"Prefix"`
	StartAfter            string         `xml:"StartAfter,omitempty"`
	ContinuationToken     string         `xml:"ContinuationToken,omitempty"`
	NextContinuationToken string         `xml:"NextContinuationToken,omitempty"`
	KeyCount              int            `xml:"KeyCount"`
	MaxKeys               int            `xml:"MaxKeys"`
	Delimiter             string         `xml:"Delimiter,omitempty"`
	EncodingType          string         `xml:"EncodingType,omitempty"`
	IsTruncated           bool           `xml:"IsTruncated"`
	Contents              []Object       `xml:"Contents"`
	CommonPrefixes        []CommonPrefix `xml:"CommonPrefixes"`
}

// ListVersionsResult answers ListObjectVersions. Entries keep versions
// and delete markers interleaved in key-then-newest-first order, as S3
// sends them.
type ListVersionsResult struct {
	XMLName             xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListVersionsResult"`
	Name                string         `xml:"Name"`
	Prefix              string         `xml:"Prefix"`
	KeyMarker           string         `xml:"KeyMarker"`
	VersionIDMarker     string         `xml:"VersionIdMarker"`
	NextKeyMarker       string         `xml:"NextKeyMarker,omitempty"`
	NextVersionIDMarker string         `xml:"NextVersionIdMarker,omitempty"`
	MaxKeys             int            `xml:"MaxKeys"`
	Delimiter           string         `xml:"Delimiter,omitempty"`
	EncodingType        string         `xml:"EncodingType,omitempty"`
	IsTruncated         bool           `xml:"IsTruncated"`
	Entries             []VersionEntry `xml:",any"`
	CommonPrefixes      []CommonPrefix `xml:"CommonPrefixes"`
}

// VersionEntry is a <Version> or, when DeleteMarker is set, a
// <DeleteMarker>. Delete markers carry no ETag, Size or StorageClass.
type VersionEntry struct {
	DeleteMarker      bool
	Key               string
	VersionID         string
	IsLatest          bool
	LastModified      Timestamp
	ETag              string
	ChecksumAlgorithm []string
	Size              int64
	StorageClass      string
	Owner             *Owner

	element string // element name when decoded; unknown ones are dropped
}

// versionXML is the <Version> shape; deleteMarkerXML the <DeleteMarker>.
type versionXML struct {
	Key               string    `xml:"Key"`
	VersionID         string    `xml:"VersionId"`
	IsLatest          bool      `xml:"IsLatest"`
	LastModified      Timestamp `xml:"LastModified"`
	ETag              string    `xml:"ETag"`
	ChecksumAlgorithm []string  `xml:"ChecksumAlgorithm,omitempty"`
	Size              int64     `xml:"Size"`
	StorageClass      string    `xml:"StorageClass"`
	Owner             *Owner    `xml:"Owner,omitempty"`
}

type deleteMarkerXML struct {
	Key          string    `xml:"Key"`
	VersionID    string    `xml:"VersionId"`
	IsLatest     bool      `xml:"IsLatest"`
	LastModified Timestamp `xml:"LastModified"`
	Owner        *Owner    `xml:"Owner,omitempty"`
}

// MarshalXML writes <Version> or <DeleteMarker>.
func (v VersionEntry) MarshalXML(e *xml.Encoder, _ xml.StartElement) error {
	if v.DeleteMarker {
		return e.EncodeElement(deleteMarkerXML{v.Key, v.VersionID, v.IsLatest, v.LastModified, v.Owner},
			xml.StartElement{Name: xml.Name{Local: "DeleteMarker"}})
	}
	return e.EncodeElement(versionXML{v.Key, v.VersionID, v.IsLatest, v.LastModified, v.ETag,
		v.ChecksumAlgorithm, v.Size, v.StorageClass, v.Owner}, xml.StartElement{Name: xml.Name{Local: "Version"}})
}

// UnmarshalXML reads either element; other unknown elements are skipped.
func (v *VersionEntry) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	var x versionXML
	if err := d.DecodeElement(&x, &start); err != nil {
		return err
	}
	*v = VersionEntry{start.Name.Local == "DeleteMarker", x.Key, x.VersionID, x.IsLatest, x.LastModified,
		x.ETag, x.ChecksumAlgorithm, x.Size, x.StorageClass, x.Owner, start.Name.Local}
	return nil
}

// UnmarshalXML decodes the listing and drops elements caught by the
// Entries wildcard that are neither <Version> nor <DeleteMarker>.
func (l *ListVersionsResult) UnmarshalXML(d *xml.Decoder, start xml.StartElement) error {
	type plain ListVersionsResult // no methods: avoids recursion
	var p plain
	if err := d.DecodeElement(&p, &start); err != nil {
		return err
	}
	kept := p.Entries[:0]
	for _, e := range p.Entries {
		if e.element == "Version" || e.element == "DeleteMarker" {
			e.element = ""
			kept = append(kept, e)
		}
	}
	p.Entries = kept
	*l = ListVersionsResult(p)
	return nil
}

// ---- multipart ----

// InitiateMultipartUploadResult answers CreateMultipartUpload.
type InitiateMultipartUploadResult struct {
	XMLName           xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ InitiateMultipartUploadResult"`
	Bucket            string   `xml:"Bucket"`
	Key               string   `xml:"Key"`
	UploadID          string   `xml:"UploadId"`
	ChecksumAlgorithm string   `xml:"ChecksumAlgorithm,omitempty"`
	ChecksumType      string   `xml:"ChecksumType,omitempty"`
}

// CompleteMultipartUpload is the CompleteMultipartUpload request body.
type CompleteMultipartUpload struct {
	XMLName xml.Name       `xml:"CompleteMultipartUpload"`
	Parts   []CompletePart `xml:"Part"`
}

// CompletePart names one uploaded part and the ETag the client saw.
type CompletePart struct {
	PartNumber int    `xml:"PartNumber"`
	ETag       string `xml:"ETag"`
	Checksums
}

// CompleteMultipartUploadResult answers CompleteMultipartUpload.
type CompleteMultipartUploadResult struct {
	XMLName  xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CompleteMultipartUploadResult"`
	Location string   `xml:"Location"`
	Bucket   string   `xml:"Bucket"`
	Key      string   `xml:"Key"`
	ETag     string   `xml:"ETag"`
	Checksums
	ChecksumType string `xml:"ChecksumType,omitempty"`
}

// ListMultipartUploadsResult answers ListMultipartUploads.
type ListMultipartUploadsResult struct {
	XMLName            xml.Name       `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListMultipartUploadsResult"`
	Bucket             string         `xml:"Bucket"`
	KeyMarker          string         `xml:"KeyMarker"`
	UploadIDMarker     string         `xml:"UploadIdMarker"`
	NextKeyMarker      string         `xml:"NextKeyMarker,omitempty"`
	NextUploadIDMarker string         `xml:"NextUploadIdMarker,omitempty"`
	Prefix             string         `xml:"Prefix,omitempty"`
	Delimiter          string         `xml:"Delimiter,omitempty"`
	MaxUploads         int            `xml:"MaxUploads"`
	EncodingType       string         `xml:"EncodingType,omitempty"`
	IsTruncated        bool           `xml:"IsTruncated"`
	Uploads            []Upload       `xml:"Upload"`
	CommonPrefixes     []CommonPrefix `xml:"CommonPrefixes"`
}

// Upload is one in-progress multipart upload.
type Upload struct {
	Key               string    `xml:"Key"`
	UploadID          string    `xml:"UploadId"`
	Initiator         Initiator `xml:"Initiator"`
	Owner             Owner     `xml:"Owner"`
	StorageClass      string    `xml:"StorageClass"`
	Initiated         Timestamp `xml:"Initiated"`
	ChecksumAlgorithm string    `xml:"ChecksumAlgorithm,omitempty"`
}

// ListPartsResult answers ListParts.
type ListPartsResult struct {
	XMLName              xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ ListPartsResult"`
	Bucket               string    `xml:"Bucket"`
	Key                  string    `xml:"Key"`
	UploadID             string    `xml:"UploadId"`
	PartNumberMarker     int       `xml:"PartNumberMarker"`
	NextPartNumberMarker int       `xml:"NextPartNumberMarker"`
	MaxParts             int       `xml:"MaxParts"`
	IsTruncated          bool      `xml:"IsTruncated"`
	Parts                []Part    `xml:"Part"`
	Initiator            Initiator `xml:"Initiator"`
	Owner                Owner     `xml:"Owner"`
	StorageClass         string    `xml:"StorageClass"`
	ChecksumAlgorithm    string    `xml:"ChecksumAlgorithm,omitempty"`
}

// Part is one uploaded part.
type Part struct {
	PartNumber   int       `xml:"PartNumber"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Size         int64     `xml:"Size"`
	Checksums
}

// ---- copy ----

// CopyObjectResult answers CopyObject.
type CopyObjectResult struct {
	XMLName      xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyObjectResult"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Checksums
}

// CopyPartResult answers UploadPartCopy.
type CopyPartResult struct {
	XMLName      xml.Name  `xml:"http://s3.amazonaws.com/doc/2006-03-01/ CopyPartResult"`
	LastModified Timestamp `xml:"LastModified"`
	ETag         string    `xml:"ETag"`
	Checksums
}

// ---- multi-object delete ----

// Delete is the DeleteObjects request body.
type Delete struct {
	XMLName xml.Name           `xml:"Delete"`
	Quiet   bool               `xml:"Quiet"`
	Objects []ObjectIdentifier `xml:"Object"`
}

// ObjectIdentifier names one object (and optionally one version) to
// delete.
type ObjectIdentifier struct {
	Key       string `xml:"Key"`
	VersionID string `xml:"VersionId,omitempty"`
}

// DeleteResult answers DeleteObjects. In quiet mode Deleted is empty.
type DeleteResult struct {
	XMLName xml.Name        `xml:"http://s3.amazonaws.com/doc/2006-03-01/ DeleteResult"`
	Deleted []DeletedObject `xml:"Deleted"`
	Errors  []DeleteError   `xml:"Error"`
}

// DeletedObject reports one successful delete.
type DeletedObject struct {
	Key                   string `xml:"Key"`
	VersionID             string `xml:"VersionId,omitempty"`
	DeleteMarker          bool   `xml:"DeleteMarker,omitempty"`
	DeleteMarkerVersionID string `xml:"DeleteMarkerVersionId,omitempty"`
}

// DeleteError reports one failed delete with an S3 error code.
type DeleteError struct {
	Key       string     `xml:"Key"`
	VersionID string     `xml:"VersionId,omitempty"`
	Code      s3err.Code `xml:"Code"`
	Message   string     `xml:"Message"`
}

// ---- ACL (read-only) ----

// AccessControlPolicy answers GetBucketAcl and GetObjectAcl. annal has no
// ACLs: the gateway always reports the owner with FULL_CONTROL.
type AccessControlPolicy struct {
	XMLName xml.Name `xml:"http://s3.amazonaws.com/doc/2006-03-01/ AccessControlPolicy"`
	Owner   Owner    `xml:"Owner"`
	Grants  []Grant  `xml:"AccessControlList>Grant"`
}

// Grant gives Permission to Grantee.
type Grant struct {
	Grantee    Grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

// Grantee is a canonical user. The xsi attributes are written literally
// because encoding/xml cannot emit a chosen namespace prefix.
type Grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName,omitempty"`
}

// OwnerFullControl is the fixed policy: owner has FULL_CONTROL.
func OwnerFullControl(owner Owner) AccessControlPolicy {
	return AccessControlPolicy{
		Owner: owner,
		Grants: []Grant{{
			Grantee: Grantee{
				XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser",
				ID: owner.ID, DisplayName: owner.DisplayName,
			},
			Permission: "FULL_CONTROL",
		}},
	}
}
