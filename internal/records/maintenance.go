package records

import (
	"encoding/json"
	"time"

	"github.com/nightowl/nightowl"
)

// window is a maintenance window as stored: with its verification, which
// the API shape leaves out.
type window struct {
	nightowl.Window
	Verify verify `json:"verify"`
}

type verify struct {
	Within     nightowl.Seconds   `json:"within"`
	AgainAfter []nightowl.Seconds `json:"again_after,omitempty"`
}

// EncodeWindow is w as both stores keep it.
func EncodeWindow(w *nightowl.Window) ([]byte, error) {
	rec := window{Window: *w, Verify: verify{Within: nightowl.Seconds(w.Verify.Within),
		AgainAfter: make([]nightowl.Seconds, len(w.Verify.AgainAfter))}}
	for i, d := range w.Verify.AgainAfter {
		rec.Verify.AgainAfter[i] = nightowl.Seconds(d)
	}
	return json.Marshal(rec)
}

// DecodeWindow reads back a window that EncodeWindow wrote.
func DecodeWindow(data []byte) (nightowl.Window, error) {
	var rec window
	if err := json.Unmarshal(data, &rec); err != nil {
		return nightowl.Window{}, err
	}
	w := rec.Window
	w.Verify.Within = time.Duration(rec.Verify.Within)
	for _, d := range rec.Verify.AgainAfter {
		w.Verify.AgainAfter = append(w.Verify.AgainAfter, time.Duration(d))
	}
	return w, nil
}
