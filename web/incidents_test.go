package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/nightowl/nightowl"
)

// fakeIncidents is an Incidents whose Publish is a func field; the rest is
// not called by the tests that use it.
type fakeIncidents struct {
	Incidents
	publish func(id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error)
}

func (f fakeIncidents) Publish(_ context.Context, id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	return f.publish(id, title, message, by)
}

// FuzzPublishIncidentBody: whatever the body of POST
// /api/v1/incidents/{id}/publish, the answer is a publication with the
// title and message the body gave, or 400 with nothing published.
func FuzzPublishIncidentBody(f *testing.F) {
	for _, seed := range []string{"", "{}", `{"message": "We are looking into it."}`, `{"message": 1}`, `{"title": "Checkout fails"}`,
		`{"message": "a", "extra": true}`, `{"message": "a"} {"message": "b"}`, "[", "null", `"text"`} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var got *IncidentPublishRequest
		a := &api{log: slog.New(slog.DiscardHandler), incidents: fakeIncidents{publish: func(id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error) {
			got = &IncidentPublishRequest{Title: title, Message: message}
			return nightowl.Incident{ID: id}, nightowl.IncidentUpdate{}, nil
		}}}
		r := httptest.NewRequest("POST", "/api/v1/incidents/inc-1/publish", strings.NewReader(body))
		r.SetPathValue("id", "inc-1")
		w := httptest.NewRecorder()
		a.publishIncident(w, r)
		switch w.Code {
		case http.StatusOK:
			var req IncidentPublishRequest
			if strings.TrimSpace(body) != "" {
				if err := json.Unmarshal([]byte(body), &req); err != nil {
					t.Fatalf("published from a body that is not JSON: %q", body)
				}
			}
			if got == nil || *got != req {
				t.Fatalf("body %q: published with %+v, want %+v", body, got, req)
			}
		case http.StatusBadRequest:
			if got != nil {
				t.Fatalf("body %q was refused, yet published", body)
			}
			if !strings.Contains(w.Body.String(), `"invalid"`) {
				t.Fatalf("body %q: refused without a code: %s", body, w.Body.String())
			}
		default:
			t.Fatalf("body %q: %d %s", body, w.Code, w.Body.String())
		}
	})
}
