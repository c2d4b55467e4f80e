package web

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/clocktest"
	"github.com/nightowl/nightowl/web/internal/kit"
)

// fakeMaintainer keeps the windows it was asked to start.
type fakeMaintainer struct {
	Maintainer
	started []nightowl.Window
}

func (m *fakeMaintainer) StartMaintenance(_ context.Context, w nightowl.Window) (nightowl.Window, error) {
	m.started = append(m.started, w)
	return w, nil
}

// FuzzMaintenanceBody: whatever the body of POST /api/v1/maintenance, the
// answer is 201 with one window that ends after it starts and says what the
// body said, or 400 with a code and no window.
func FuzzMaintenanceBody(f *testing.F) {
	for _, s := range []string{
		"", "{}", `{"name": "db upgrade", "checks": "tier=db,site=a", "for": "2h", "reason": "v16"}`,
		`{"checks": {"labels": {"tier": "web"}, "names": ["shop"]}, "for": 3600, "expect": ["c1"]}`,
		`{"checks": "shop", "start": "2026-05-04T10:00:00Z", "end": "2026-05-04T12:00:00Z"}`,
		`{"checks": "shop", "for": "2h", "end": "2026-05-04T12:00:00Z"}`,
		`{"checks": "shop", "for": 1e10}`, `{"checks": "shop", "for": -1}`, `{"checks": "shop", "for": "-2h"}`,
		`{"checks": {"labels": {"t": "w"}, "other": 1}, "for": 1}`, `{"checks": 5, "for": 1}`,
		`{"name": "a\u202eb", "checks": "x", "for": 1}`, `{"for": 1, "verify": {"within": "5m", "again_after": [60, "1h"]}}`,
		`{"for": 1} {"for": 2}`, "[", "null",
	} {
		f.Add(s)
	}
	now := time.Date(2026, 5, 4, 10, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, body string) {
		m := &fakeMaintainer{}
		a := &api{log: slog.New(slog.DiscardHandler), maint: m, clock: clocktest.New(now)}
		w := httptest.NewRecorder()
		a.startMaintenance(w, httptest.NewRequest("POST", "/api/v1/maintenance", strings.NewReader(body)))
		switch w.Code {
		case http.StatusCreated:
			if len(m.started) != 1 {
				t.Fatalf("%q: 201 with %d windows", body, len(m.started))
			}
			var req MaintenanceRequest
			if err := json.Unmarshal([]byte(body), &req); err != nil {
				t.Fatalf("%q: started from a body that is not JSON", body)
			}
			win := m.started[0]
			if !win.End.After(win.Start) && req.For > 0 || win.End.IsZero() {
				t.Fatalf("%q: window from %v to %v", body, win.Start, win.End)
			}
			if req.For > 0 && win.End.Sub(win.Start) != time.Duration(req.For) {
				t.Fatalf("%q: window of %v, want %v", body, win.End.Sub(win.Start), time.Duration(req.For))
			}
			if win.Name != req.Name || win.Reason != req.Reason || !reflect.DeepEqual(win.Expect, req.Expect) {
				t.Fatalf("%q: window %+v", body, win)
			}
			if !json.Valid(w.Body.Bytes()) {
				t.Fatalf("%q: 201 with %q", body, w.Body)
			}
		case http.StatusBadRequest:
			if len(m.started) != 0 {
				t.Fatalf("%q: refused, yet started", body)
			}
			if !strings.Contains(w.Body.String(), `"invalid"`) {
				t.Fatalf("%q: refused without a code: %s", body, w.Body)
			}
		default:
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}

// FuzzDuration: a duration in a body is a Go duration or a number of
// seconds that fits; one that does not fit is refused, not wrapped round.
func FuzzDuration(f *testing.F) {
	for _, s := range []string{`"2h"`, `3600`, `0.5`, `-1`, `9.2e9`, `"300000h"`, `null`, `"x"`, `1e400`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var d Duration
		if err := json.Unmarshal([]byte(s), &d); err != nil {
			return
		}
		var secs float64
		if json.Unmarshal([]byte(s), &secs) != nil {
			return // a string, as time.ParseDuration reads it
		}
		if got := time.Duration(d).Seconds(); math.Abs(got-secs) > 1e-9*math.Max(1, math.Abs(secs)) {
			t.Fatalf("%s read as %v", s, time.Duration(d))
		}
	})
}

// fakeActioner keeps the requests it was asked to make or deny.
type fakeActioner struct {
	Actioner
	calls []actionRequestBody
}

func (f *fakeActioner) RequestAction(_ context.Context, name string, params map[string]string, reason, confirm, by string) (nightowl.ActionRequest, error) {
	f.calls = append(f.calls, actionRequestBody{Params: params, Reason: reason, Confirm: confirm})
	return nightowl.ActionRequest{Action: name}, nil
}

func (f *fakeActioner) DenyAction(_ context.Context, id, by, reason string) (nightowl.ActionRequest, error) {
	f.calls = append(f.calls, actionRequestBody{Reason: reason})
	return nightowl.ActionRequest{ID: id}, nil
}

// FuzzActionRequestBody: whatever the body of a request for an action (or
// of a denial), the action is asked for with exactly the parameters,
// reason and confirmation the body gave, or refused with 400 and a code.
func FuzzActionRequestBody(f *testing.F) {
	for _, s := range []string{
		"", "{}", `{"params": {"host": "db1"}, "reason": "stuck", "confirm": "restart db1"}`,
		`{"params": {"host": 1}}`, `{"params": {"a": "x\u001b[2J"}}`, `{"reason": "a\nb"}`, `{"reason": "a\u202eb"}`,
		`{"Params": {"A": "b"}, "REASON": "c"}`, `{"params": null}`, `{"other": 1}`, `{"reason": "a"} x`, "[", `"text"`,
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, deny bool) {
		fa := &fakeActioner{}
		a := &api{log: slog.New(slog.DiscardHandler), actions: fa}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/actions/restart/requests", strings.NewReader(body))
		ok := http.StatusCreated
		if deny {
			r.SetPathValue("id", "ar-1")
			a.denyAction(w, r)
			ok = http.StatusOK
		} else {
			r.SetPathValue("name", "restart")
			a.requestAction(w, r)
		}
		switch w.Code {
		case ok:
			var req actionRequestBody
			if strings.TrimSpace(body) != "" {
				if err := json.Unmarshal([]byte(body), &req); err != nil {
					t.Fatalf("%q: asked from a body that is not JSON", body)
				}
			}
			if deny {
				req = actionRequestBody{Reason: req.Reason}
			}
			if len(fa.calls) != 1 || !reflect.DeepEqual(fa.calls[0], req) {
				t.Fatalf("%q: asked with %+v, want %+v", body, fa.calls, req)
			}
			for _, v := range append([]string{req.Reason}, mapValues(req.Params)...) {
				if kit.CheckText("x", v, kit.LinesText) != nil {
					t.Fatalf("%q: took %q", body, v)
				}
			}
		case http.StatusBadRequest:
			if len(fa.calls) != 0 {
				t.Fatalf("%q: refused, yet asked", body)
			}
			if !strings.Contains(w.Body.String(), `"invalid"`) {
				t.Fatalf("%q: refused without a code: %s", body, w.Body)
			}
		default:
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}

func mapValues(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

// recordingIncidents keeps what it was asked to open or record.
type recordingIncidents struct {
	Incidents
	opened  []IncidentRequest
	updates []nightowl.IncidentUpdate
}

func (f *recordingIncidents) Open(_ context.Context, title string, impact nightowl.Impact, components []string, message string, public bool, by string) (nightowl.Incident, error) {
	f.opened = append(f.opened, IncidentRequest{Title: title, Impact: impact, Components: components, Message: message, Public: &public})
	return nightowl.Incident{ID: "inc-1"}, nil
}

func (f *recordingIncidents) Get(context.Context, string) (nightowl.Incident, []nightowl.IncidentUpdate, error) {
	return nightowl.Incident{ID: "inc-1"}, nil, nil
}

func (f *recordingIncidents) Update(_ context.Context, id string, u nightowl.IncidentUpdate) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	f.updates = append(f.updates, u)
	return nightowl.Incident{ID: id}, u, nil
}

// FuzzIncidentBody: whatever the body of POST /api/v1/incidents (or of an
// update), the incident is opened (or updated) once with exactly what the
// body said, public unless it says otherwise when opened, or the body is
// refused with 400, a code and nothing recorded.
func FuzzIncidentBody(f *testing.F) {
	for _, s := range []string{
		"", "{}", `{"title": "Checkout fails", "impact": "major", "components": ["shop"], "message": "Looking."}`,
		`{"title": "x", "public": false}`, `{"title": "a\nb"}`, `{"message": "a\nb\u0007"}`, `{"state": "resolved", "public": true}`,
		`{"components": [1]}`, `{"title": "x"} {}`, `{"unknown": 1}`, "[", `{"public": null}`,
	} {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, body string, update bool) {
		inc := &recordingIncidents{}
		a := &api{log: slog.New(slog.DiscardHandler), incidents: inc}
		w := httptest.NewRecorder()
		r := httptest.NewRequest("POST", "/api/v1/incidents", strings.NewReader(body))
		if update {
			r.SetPathValue("id", "inc-1")
			a.updateIncident(w, r)
		} else {
			a.openIncident(w, r)
		}
		calls := len(inc.opened) + len(inc.updates)
		switch w.Code {
		case http.StatusCreated:
			if calls != 1 {
				t.Fatalf("%q: 201 with %d calls", body, calls)
			}
			if update {
				var req IncidentUpdateRequest
				if strings.TrimSpace(body) != "" {
					if err := json.Unmarshal([]byte(body), &req); err != nil {
						t.Fatalf("%q: recorded from a body that is not JSON", body)
					}
				}
				want := nightowl.IncidentUpdate{State: req.State, Impact: req.Impact, Components: req.Components, Message: req.Message, Public: req.Public, By: "anonymous"}
				if !reflect.DeepEqual(inc.updates[0], want) {
					t.Fatalf("%q: recorded %+v, want %+v", body, inc.updates[0], want)
				}
				return
			}
			var req IncidentRequest
			if strings.TrimSpace(body) != "" {
				if err := json.Unmarshal([]byte(body), &req); err != nil {
					t.Fatalf("%q: opened from a body that is not JSON", body)
				}
			}
			if req.Public == nil {
				req.Public = new(true)
			}
			if !reflect.DeepEqual(inc.opened[0], req) {
				t.Fatalf("%q: opened %+v, want %+v", body, inc.opened[0], req)
			}
		case http.StatusBadRequest:
			if calls != 0 {
				t.Fatalf("%q: refused, yet recorded", body)
			}
			if !strings.Contains(w.Body.String(), `"invalid"`) {
				t.Fatalf("%q: refused without a code: %s", body, w.Body)
			}
		default:
			t.Fatalf("%q: %d %s", body, w.Code, w.Body)
		}
	})
}
