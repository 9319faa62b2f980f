package block

import (
	"errors"
	"fmt"

	"github.com/annal-storage/annal/chunks"
)

// ScrubReport is what one Scrub pass read and found.
type ScrubReport struct {
	FragmentsChecked int
	BytesChecked     int64
	// Corrupt lists fragments whose CRC32-C trailer failed, in key order;
	// the chunk layer treats them as missing and repairs them.
	Corrupt []chunks.FragmentKey
}

// Scrub reads every fragment and verifies its trailer (ADR-029's data
// scrub; call it every 6 h). Fragments deleted during the pass are
// skipped. The bitmap and index are reconciled at every Open instead.
func (d *Device) Scrub() (ScrubReport, error) {
	var r ScrubReport
	err := d.ListFragments(func(fi chunks.FragmentInfo) error {
		_, err := d.GetFragment(fi.Key)
		switch {
		case errors.Is(err, chunks.ErrFragmentNotFound):
			return nil
		case errors.Is(err, ErrCorrupt):
			r.Corrupt = append(r.Corrupt, fi.Key)
		case err != nil:
			return err
		}
		r.FragmentsChecked++
		r.BytesChecked += fi.SizeBytes
		return nil
	})
	if err != nil {
		return r, fmt.Errorf("block: scrub %s: %w", d.id, err)
	}
	return r, nil
}
