package block

import "fmt"

// step names a point in a write sequence where a test may stop the
// device, as if power failed right after it (the crash tests' fault hook).
type step uint8

const (
	stepPutIntentWritten step = iota + 1
	stepPutDataWritten
	stepPutDataSynced
	stepPutCommitted
	stepPutBitmapPrimaryWritten
	stepPutBitmapMirrorWritten
	stepDeleteIntended
	stepDeleteBitmapPrimaryWritten
	stepDeleteBitmapMirrorWritten
	stepDeleteCommitted
	stepCheckpointBodyWritten
	stepCheckpointHeaderWritten
	stepCheckpointSynced
	stepOpenSuperblockRepaired
	stepOpenBitmapRepaired
	stepGetLookedUp // between a read's index lookup and its I/O (race tests)
	stepCount       // not a step
)

var stepNames = [...]string{
	stepPutIntentWritten:           "put: intent written",
	stepPutDataWritten:             "put: data written",
	stepPutDataSynced:              "put: intent and data synced",
	stepPutCommitted:               "put: commit synced",
	stepPutBitmapPrimaryWritten:    "put: bitmap A written",
	stepPutBitmapMirrorWritten:     "put: bitmap B written",
	stepDeleteIntended:             "delete: intent synced",
	stepDeleteBitmapPrimaryWritten: "delete: bitmap A written",
	stepDeleteBitmapMirrorWritten:  "delete: bitmap B written",
	stepDeleteCommitted:            "delete: commit synced",
	stepCheckpointBodyWritten:      "checkpoint: body written",
	stepCheckpointHeaderWritten:    "checkpoint: header written",
	stepCheckpointSynced:           "checkpoint: synced",
	stepOpenSuperblockRepaired:     "open: superblock repaired",
	stepOpenBitmapRepaired:         "open: bitmap repaired",
	stepGetLookedUp:                "get: index looked up",
}

func (s step) String() string {
	if s > 0 && s < stepCount {
		return stepNames[s]
	}
	return fmt.Sprintf("step(%d)", uint8(s))
}
