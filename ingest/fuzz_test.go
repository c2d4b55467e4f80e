package ingest_test

import (
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/template"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
)

// fuzzParser checks what every parser promises whatever the body: no
// panic, an EInvalid error or alerts within the bounds, each with a key.
func fuzzParser(f *testing.F, parse ingest.Parser, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		alerts, err := parse(body)
		if err != nil {
			if nightowl.ErrorCode(err) != nightowl.EInvalid {
				t.Fatalf("error %v has code %q", err, nightowl.ErrorCode(err))
			}
			return
		}
		if len(alerts) > ingest.MaxAlerts {
			t.Fatalf("%d alerts", len(alerts))
		}
		for _, a := range alerts {
			if a.Key == "" || len(a.Key) > ingest.MaxKey || len(a.Title) > ingest.MaxTitle || len(a.Description) > ingest.MaxDescription ||
				len(a.Labels) > ingest.MaxLabels || strings.Contains(a.Title, "\n") {
				t.Fatalf("alert out of bounds: %+v", a)
			}
			switch a.Severity {
			case ingest.Critical, ingest.Warning, ingest.Info:
			default:
				t.Fatalf("severity %q", a.Severity)
			}
		}
	})
}

func FuzzAlertmanager(f *testing.F) {
	fuzzParser(f, ingest.ParseAlertmanager,
		string(amPayload(f, "firing", amAlert("firing", "1a2b", template.KV{"alertname": "X", "severity": "warning"}))),
		`{"version":"4","alerts":[{"status":"resolved","fingerprint":"x","endsAt":"2026-01-01T00:00:00Z"}]}`,
		`{"alerts":null}`, `[]`, `"x"`)
}

func FuzzGrafana(f *testing.F) {
	fuzzParser(f, ingest.ParseGrafana, grafanaBody, `{"alerts":[{"status":"firing","fingerprint":"f","valueString":"v"}]}`, `{}`)
}

func FuzzGeneric(f *testing.F) {
	fuzzParser(f, ingest.ParseGeneric,
		`{"title":"t","dedup_key":"k","severity":"info","labels":{"a":"b"}}`,
		`{"alerts":[{"dedup_key":"k","state":"resolved"}]}`, `null`, `{"alerts":{}}`)
}
