package nightowl

import (
	"testing"
	"time"
)

func TestFormatDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		2 * time.Hour:                 "2h",
		15 * time.Minute:              "15m",
		90 * time.Second:              "1m30s",
		time.Hour + 6*time.Minute:     "1h6m",
		time.Hour + 30*time.Second:    "1h0m30s",
		5 * time.Second:               "5s",
		0:                             "0s",
		1500 * time.Millisecond:       "1.5s",
		24*time.Hour + 10*time.Minute: "24h10m",
		7 * 24 * time.Hour:            "168h",
	} {
		if got := FormatDuration(d); got != want {
			t.Errorf("FormatDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
