package event

import (
	"bytes"
	"encoding/hex"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/annal-storage/annal/log/hlc"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"
)

var rewrite = flag.Bool("rewrite", false, "rewrite golden files")

func u32(v uint32) *uint32 { return &v }
func i64(v int64) *int64   { return &v }

var chunkA = ChunkID{0xaa, 1, 2, 3}
var segA = SegmentID{0x5e, 9}

// samples holds one representative body per registered type; every
// registered type must appear here, so a new type cannot ship without a
// golden encoding.
var samples = map[Type]Body{
	TypeTenantCreated:              &TenantCreated{TenantID: 2, Name: "acme", Org: "acme", Project: "p", Workload: "w", Compliance: []string{"HIPAA"}, DedupIsolated: true, CreatedNs: 1700000000000000000},
	TypeAccessKeyIssued:            &AccessKeyIssued{TenantID: 2, AccessKeyID: "AKEXAMPLE", Secret: "secret", CreatedNs: 1},
	TypeAccessKeyRevoked:           &AccessKeyRevoked{AccessKeyID: "AKEXAMPLE"},
	TypeNamespaceCreated:           &NamespaceCreated{TenantID: 2, Name: "bucket", ShardID: 1000, CreatedNs: 5},
	TypeNamespaceDeleted:           &NamespaceDeleted{TenantID: 2, Name: "bucket", ShardID: 1000},
	TypeSettingChanged:             &SettingChanged{Name: "inline_threshold_bytes", Old: "4096", New: "8192"},
	TypeClusterFormatVersionRaised: &ClusterFormatVersionRaised{From: 1, To: 2},
	TypeNamespaceOpened:            &NamespaceOpened{Name: "bucket", CreatedNs: 5},
	TypeNamespaceSealed:            &NamespaceSealed{},
	TypeVersioningConfigured:       &VersioningConfigured{Status: "Enabled"},
	TypeObjectPut: &ObjectPut{Key: "a/b/c.txt", VersionID: "v1", MtimeNs: 7,
		Content:     Content{Size: 2 << 20, Segments: []SegmentRef{{ID: segA, Len: 2 << 20}}},
		NewSegments: []Segment{{ID: segA, Extents: []Extent{{Len: 1 << 20, Chunk: chunkA, ChunkLen: 1 << 20, Epoch: 1}, {Len: 1 << 20}}}},
		Attrs:       ObjectAttrs{ContentType: "text/plain", ETag: "\"abc\"", UserMeta: []Pair{{K: "k", V: "v"}}},
		Posix:       PosixAttrs{Mode: 0o100644, Uid: 1, Gid: 2}},
	TypeObjectDeleted:         &ObjectDeleted{Key: "a/b", MarkerVersionID: "m1", MtimeNs: 8},
	TypeObjectTagsSet:         &ObjectTagsSet{Key: "a", VersionID: "null", Tags: []Pair{{K: "t", V: "1"}}},
	TypeMultipartStarted:      &MultipartStarted{UploadID: "u1", Key: "big", Attrs: ObjectAttrs{ContentType: "x"}, Posix: PosixAttrs{Mode: 0o100600}, InitiatedNs: 9},
	TypeMultipartPartUploaded: &MultipartPartUploaded{UploadID: "u1", PartNumber: 3, ETag: "\"e\"", Size: 10, Segments: []Segment{{ID: segA, Extents: []Extent{{Len: 10, Chunk: chunkA, ChunkOff: 4, ChunkLen: 20}}}}, MtimeNs: 10},
	TypeMultipartCompleted:    &MultipartCompleted{UploadID: "u1", VersionID: "null", Parts: []int32{1, 3}, ETag: "\"x-2\"", MtimeNs: 11},
	TypeMultipartAborted:      &MultipartAborted{UploadID: "u1"},
	TypeSegmentStaged:         &SegmentStaged{Segment: Segment{ID: segA, Extents: []Extent{{Len: 3, Chunk: chunkA, ChunkLen: 3}}}, StagedNs: 12},
	TypeStagedSegmentsDropped: &StagedSegmentsDropped{IDs: []SegmentID{segA}},
	TypeFileCreated:           &FileCreated{NodeCreated{Parent: 1, Name: "f", Posix: PosixAttrs{Mode: 0o100644}, MtimeNs: 13}},
	TypeDirectoryCreated:      &DirectoryCreated{NodeCreated{Parent: 1, Name: "d", Posix: PosixAttrs{Mode: 0o40755}, MtimeNs: 14}},
	TypeSymlinkCreated:        &SymlinkCreated{NodeCreated: NodeCreated{Parent: 1, Name: "l", Posix: PosixAttrs{Mode: 0o120777}, MtimeNs: 15}, Target: "f"},
	TypeHardLinkCreated:       &HardLinkCreated{Ino: 77, Parent: 1, Name: "h", MtimeNs: 16},
	TypeEntryUnlinked:         &EntryUnlinked{Parent: 1, Name: "h", MtimeNs: 17},
	TypeDirectoryRemoved:      &DirectoryRemoved{Parent: 1, Name: "d", MtimeNs: 18},
	TypeEntryRenamed:          &EntryRenamed{SourceParent: 1, SourceName: "a", TargetParent: 2, TargetName: "b", MtimeNs: 19},
	TypeAttrsChanged:          &AttrsChanged{Ino: 77, Mode: u32(0o600), Uid: u32(5), MtimeNs: i64(20), CtimeNs: 21},
	TypeFileTruncated:         &FileTruncated{Ino: 77, Size: 100, MtimeNs: 22},
	TypeFileWritten:           &FileWritten{Ino: 77, Writes: []WriteRange{{Offset: 5, Inline: []byte("hello")}, {Offset: 1 << 20, Extents: []Extent{{Len: 9, Chunk: chunkA, ChunkLen: 9}}}}, MtimeNs: 23},
	TypeXattrSet:              &XattrSet{Ino: 77, Name: "user.x", Value: []byte{0, 1}},
	TypeXattrRemoved:          &XattrRemoved{Ino: 77, Name: "user.x"},
	TypeSystemEpochCreated:    &SystemEpochCreated{Epoch: 2, SealedKey: []byte{1, 2, 3}, CreatedNs: 30},
	TypeSystemEpochRetired:    &SystemEpochRetired{Epoch: 1, RetiredNs: 31},
	TypeTenantKekCreated:      &TenantKekCreated{TenantID: 2, KekEpoch: 1, SealedKek: []byte{4}, WrappedPayloadKey: []byte{5}, CreatedNs: 32},
	TypeTenantKekRotated:      &TenantKekRotated{TenantID: 2, KekEpoch: 2, SealedKek: []byte{6}, WrappedPayloadKey: []byte{7}, RotatedNs: 33},
	TypeTenantKekDestroyed:    &TenantKekDestroyed{TenantID: 2, Reason: "contract ended", Forced: true, DestroyedNs: 34},
	TypeTenantKekTTLSet:       &TenantKekTTLSet{TenantID: 2, TTLSeconds: 30},
	TypeChunksStored: &ChunksStored{Chunks: []ChunkStored{{Chunk: chunkA, Epoch: 1, PlaintextBytes: 1 << 20, SealedBytes: 1<<20 + 35,
		Placement: ChunkPlacement{ProfileKind: 1, Data: 4, Parity: 2, Devices: []string{"dev0", "dev1", "dev2", "dev3", "dev4", "dev5"}}, StoredNs: 24}}},
	TypeChunkCondemned: &ChunkCondemned{Chunk: chunkA, CondemnedNs: 25},
	TypeChunkRevived:   &ChunkRevived{Chunk: chunkA, RevivedNs: 26},
	TypeChunkCollected: &ChunkCollected{Chunk: chunkA, CollectedNs: 27},
	TypeChunkPurged:    &ChunkPurged{Chunk: chunkA, PurgedNs: 28},
	TypeFragmentRepaired: &FragmentRepaired{Chunk: chunkA, Repaired: []uint8{1, 4},
		Placement: ChunkPlacement{ProfileKind: 1, Data: 4, Parity: 2, Devices: []string{"dev0", "dev6", "dev2", "dev3", "dev7", "dev5"}}, RepairedNs: 29},
	TypeChunkLost: &ChunkLost{Chunk: chunkA, Usable: 3, LostNs: 30},
	TypeChunkResealed: &ChunkResealed{Chunk: chunkA, FromEpoch: 1, Epoch: 2, SealedBytes: 1<<20 + 35,
		Placement: ChunkPlacement{ProfileKind: 1, Data: 4, Parity: 2, Devices: []string{"dev1", "dev2", "dev3", "dev4", "dev5", "dev0"}}, ResealedNs: 55},
	TypeChunkEpochFloorRaised: &ChunkEpochFloorRaised{Floor: 2, RaisedNs: 56},
	TypeComplianceTagsSet:     &ComplianceTagsSet{TenantID: 2, Namespace: "bucket", Tags: []string{"HIPAA"}, SetNs: 40},
	TypeRetentionHoldPlaced: &RetentionHoldPlaced{HoldID: "h-1", TenantID: 2, Scope: HoldScopeObject, Namespace: "bucket",
		KeyHash: []byte{0xde, 0xad}, SealedKey: []byte{9, 9}, Reason: "litigation", Source: "manual", PlacedNs: 41, ExpiresNs: 99, FloorNs: 50},
	TypeRetentionHoldExtended:  &RetentionHoldExtended{HoldID: "h-1", ExpiresNs: 120, Reason: "longer", ExtendedNs: 42},
	TypeRetentionHoldReleased:  &RetentionHoldReleased{HoldID: "h-1", Reason: "settled", ReleasedNs: 43},
	TypeRetentionHoldExpired:   &RetentionHoldExpired{HoldID: "h-1", ExpiredNs: 44},
	TypeTenantShredded:         &TenantShredded{TenantID: 2, Forced: true, Reason: "contract ended", RetentionTokens: []HoldRetention{{HoldID: "h-1", Token: [16]byte{7}}}, ShreddedNs: 45},
	TypeTenantAuditPolicySet:   &TenantAuditPolicySet{TenantID: 2, Backpressure: true, ValveSeconds: 3600},
	TypeNamespaceShredStarted:  &NamespaceShredStarted{StartedNs: 46},
	TypeNamespacePurged:        &NamespacePurged{PurgedNs: 47},
	TypeEventsCompacted:        &EventsCompacted{ThroughSeq: 40, CompactedNs: 55},
	TypeChunksRetained:         &ChunksRetained{Token: [16]byte{7}, Chunks: []ChunkID{chunkA}, RetainedNs: 48},
	TypeChunkRetentionReleased: &ChunkRetentionReleased{Token: [16]byte{7}, Chunks: []ChunkID{chunkA}, ReleasedNs: 49},
	TypeAuditRecorded: &AuditRecorded{TenantID: 2, Category: AuditCategoryMutation, Op: "ObjectPut", Actor: "AKEXAMPLE", Outcome: AuditOutcomeSuccess,
		Target: "namespace shard 1000", SealedTarget: []byte{1, 2}, KeyHash: []byte{0xde, 0xad}, SourceShard: 1000, SourceSeq: 7, WallNs: 50,
		Details: []Pair{{K: "size", V: "10"}}},
	TypeAuditSourceConsumed:          &AuditSourceConsumed{SourceShard: 1000, ThroughSeq: 7},
	TypeAuditExportWatermarkAdvanced: &AuditExportWatermarkAdvanced{Seq: 12, AdvancedNs: 51},
	TypeAuditGapAccepted:             &AuditGapAccepted{SourceShard: 1000, FromSeq: 3, ToSeq: 9, Reason: "export stalled 24h0m0s", AcceptedNs: 52},
	TypeAuditBackpressureEngaged:     &AuditBackpressureEngaged{Reason: "export stalled", EngagedNs: 53},
	TypeAuditBackpressureReleased:    &AuditBackpressureReleased{ReleasedNs: 54},
}

func sampleEnvelope(t *testing.T, typ Type) Envelope {
	t.Helper()
	body, ok := samples[typ]
	if !ok {
		t.Fatalf("no sample body for %s: add one to samples", typ)
	}
	payload, err := EncodeBody(body)
	if err != nil {
		t.Fatal(err)
	}
	return Envelope{Version: FormatVersion, Type: typ, Shard: 1000, Seq: 42,
		HLC: hlc.Timestamp{WallMs: 1700000000000, Logical: 3, Node: 1}, Tenant: 2, Actor: "AKEXAMPLE",
		ID:      ID{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16},
		Header:  Header{KeyHash: []byte{0xde, 0xad}, ChunkRefs: []ChunkID{chunkA}, SizeBytes: 10},
		Payload: payload}
}

// TestGolden pins the encoding of every event type. The golden file holds
// the readable text and the hex encoding; an encoding change fails here.
// Regenerate with `go test ./log/event -rewrite` and read the diff.
func TestGolden(t *testing.T) {
	for _, typ := range Types() {
		t.Run(typ.String(), func(t *testing.T) {
			env := sampleEnvelope(t, typ)
			enc, err := env.Encode()
			if err != nil {
				t.Fatal(err)
			}
			text, err := env.Text()
			if err != nil {
				t.Fatal(err)
			}
			want := text + "\n--\n" + hex.EncodeToString(enc) + "\n"
			path := filepath.Join("testdata", "golden", typ.String()+".golden")
			if *rewrite {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("read golden (run with -rewrite to create): %v", err)
			}
			if d := cmp.Diff(string(got), want); d != "" {
				t.Fatalf("encoding of %s changed (-golden +now):\n%s", typ, d)
			}
			// The golden text parses back to the same bytes.
			parts := strings.SplitN(string(got), "\n--\n", 2)
			parsed, err := ParseText(parts[0])
			if err != nil {
				t.Fatal(err)
			}
			reenc, err := parsed.Encode()
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(reenc, enc) {
				t.Fatalf("text form does not parse back to the same encoding")
			}
		})
	}
}

func TestEverySampleRegistered(t *testing.T) {
	for typ := range samples {
		if _, err := NewBody(typ); err != nil {
			t.Errorf("sample for unregistered type %d", typ)
		}
	}
	if len(samples) != len(Types()) {
		t.Errorf("%d samples for %d registered types", len(samples), len(Types()))
	}
}

func TestVersionAtFixedOffset(t *testing.T) {
	env := sampleEnvelope(t, TypeObjectPut)
	enc, err := env.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if enc[0] != 0 || enc[1] != byte(FormatVersion) {
		t.Fatalf("first two bytes %x, want version %d big-endian", enc[:2], FormatVersion)
	}
	enc[1] = byte(FormatVersion + 1)
	got, err := Decode(enc)
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Fatalf("decode newer version: err = %v, want ErrSchemaTooNew", err)
	}
	if got.Version != FormatVersion+1 {
		t.Fatalf("version = %d", got.Version)
	}
}

func TestUnknownTypes(t *testing.T) {
	if _, err := DecodeBody(Type(9999), nil); !errors.Is(err, ErrUnknownType) {
		t.Errorf("unknown type: %v", err)
	}
	if _, err := DecodeBody(SkippableTypeFlag|9, nil); !errors.Is(err, ErrSkippable) {
		t.Errorf("unknown skippable type: %v", err)
	}
}

// TestRoundTrip: any envelope encodes and decodes to itself.
func TestRoundTrip(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		var id ID
		copy(id[:], rapid.SliceOfN(rapid.Byte(), 16, 16).Draw(rt, "id"))
		var refs []ChunkID
		for _, b := range rapid.SliceOfN(rapid.SliceOfN(rapid.Byte(), 32, 32), 0, 3).Draw(rt, "refs") {
			var c ChunkID
			copy(c[:], b)
			refs = append(refs, c)
		}
		e := Envelope{Version: FormatVersion, Type: Type(rapid.Uint16().Draw(rt, "type")),
			Shard: rapid.Uint64().Draw(rt, "shard"), Seq: rapid.Uint64().Draw(rt, "seq"),
			HLC:    hlc.Timestamp{WallMs: rapid.Int64().Draw(rt, "w"), Logical: rapid.Uint32().Draw(rt, "l"), Node: rapid.Uint16().Draw(rt, "n")},
			Tenant: rapid.Uint64().Draw(rt, "tenant"), Actor: rapid.String().Draw(rt, "actor"), ID: id,
			Header: Header{KeyHash: rapid.SliceOfN(rapid.Byte(), 0, 16).Draw(rt, "kh"), ChunkRefs: refs,
				SizeBytes: rapid.Int64().Draw(rt, "size"), Tombstone: rapid.Bool().Draw(rt, "tomb")},
			Sealing: Sealing(rapid.Uint8().Draw(rt, "sealing")),
			Payload: rapid.SliceOfN(rapid.Byte(), 0, 64).Draw(rt, "payload")}
		enc, err := e.Encode()
		if err != nil {
			rt.Fatal(err)
		}
		got, err := Decode(enc)
		if err != nil {
			rt.Fatal(err)
		}
		if len(e.Header.KeyHash) == 0 {
			e.Header.KeyHash = nil
		}
		if len(e.Payload) == 0 {
			e.Payload = nil
		}
		if len(got.Payload) == 0 {
			got.Payload = nil
		}
		if d := cmp.Diff(e, got); d != "" {
			rt.Fatalf("round trip (-want +got):\n%s", d)
		}
	})
}

// FuzzDecodeEvent: arbitrary bytes never panic the envelope or body
// decoders, and whatever decodes re-encodes to bytes that decode the same.
func FuzzDecodeEvent(f *testing.F) {
	for typ := range samples {
		env := Envelope{Version: FormatVersion, Type: typ}
		env.Payload, _ = EncodeBody(samples[typ])
		b, _ := env.Encode()
		f.Add(b)
	}
	f.Add([]byte{0, 2, 0x90})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		_, _ = DecodeBody(e.Type, e.Payload)
		re, err := e.Encode()
		if err != nil {
			t.Fatalf("decoded envelope does not re-encode: %v", err)
		}
		e2, err := Decode(re)
		if err != nil {
			t.Fatalf("re-encoded envelope does not decode: %v", err)
		}
		if d := cmp.Diff(e, e2, cmp.Comparer(func(a, b []byte) bool { return bytes.Equal(a, b) })); d != "" {
			t.Fatalf("decode/encode/decode unstable:\n%s", d)
		}
	})
}
