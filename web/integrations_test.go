package web

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/web/internal/kit"
)

func newIngestHandler(t *testing.T) (http.Handler, *[]nightowl.CheckView) {
	t.Helper()
	var mu sync.Mutex
	var seen []nightowl.CheckView
	clock := &stillClock{t: time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC)}
	svc, err := ingest.New(ingest.Options{Clock: clock, Observe: func(ctx context.Context, v nightowl.CheckView) error {
		mu.Lock()
		defer mu.Unlock()
		seen = append(seen, v)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	svc.SetIntegrations([]ingest.Integration{{Name: "jobs", Format: "generic", Token: "0123456789abcdef", Rate: ingest.Rate{N: 5, Per: time.Minute}}})
	return Handler(Options{Ingester: svc, Clock: clock}), &seen
}

func TestIntegrationEndpoint(t *testing.T) {
	h, seen := newIngestHandler(t)
	const ok = `{"dedup_key": "k", "title": "Backup failed"}`
	for _, tc := range []struct {
		name, path, auth, body string
		status                 int
		code, message          string
	}{
		{"unknown integration", "/api/v1/integrations/nope", "Bearer 0123456789abcdef", ok, 404, nightowl.ENotFound, `no integration named "nope"`},
		{"no token", "/api/v1/integrations/jobs", "", ok, 401, nightowl.EUnauthorized, "missing or wrong token"},
		{"wrong token", "/api/v1/integrations/jobs", "Bearer 0123456789abcdeX", ok, 401, nightowl.EUnauthorized, "missing or wrong token"},
		{"basic auth is no token", "/api/v1/integrations/jobs", "Basic MDEyMzQ1Njc4OWFiY2RlZg==", ok, 401, nightowl.EUnauthorized, "missing or wrong token"},
		{"bad field", "/api/v1/integrations/jobs", "Bearer 0123456789abcdef", `{"dedup_key": "k", "title": "t", "state": "done"}`, 400, nightowl.EInvalid, `state: must be firing or resolved`},
		{"batch field", "/api/v1/integrations/jobs?token=0123456789abcdef", "", `{"alerts": [{"dedup_key": "k", "title": "t"}, {"title": "t"}]}`, 400, nightowl.EInvalid, "alerts[1].dedup_key: required"},
		{"too large", "/api/v1/integrations/jobs", "Bearer 0123456789abcdef", `{"title": "` + strings.Repeat("x", ingest.MaxBody) + `"}`, 400, nightowl.EInvalid, "larger than"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", tc.path, strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			if tc.auth != "" {
				r.Header.Set("Authorization", tc.auth)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			var body kit.ErrorBody
			json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tc.status || body.Error.Code != tc.code || !strings.Contains(body.Error.Message, tc.message) {
				t.Errorf("got %d %+v, want %d %s %q", w.Code, body.Error, tc.status, tc.code, tc.message)
			}
			if strings.Contains(w.Body.String(), "0123456789abcdef") {
				t.Error("the answer shows the token")
			}
		})
	}
	if len(*seen) != 0 {
		t.Fatalf("refused requests stored %d alerts", len(*seen))
	}
	// Bearer (any case) and ?token= both work.
	for i, req := range []struct{ path, auth string }{
		{"/api/v1/integrations/jobs", "Bearer 0123456789abcdef"},
		{"/api/v1/integrations/jobs?token=0123456789abcdef", ""},
		{"/api/v1/integrations/jobs", "bearer 0123456789abcdef"},
	} {
		r := httptest.NewRequest("POST", req.path, strings.NewReader(ok))
		if req.auth != "" {
			r.Header.Set("Authorization", req.auth)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"firing": 1`) {
			t.Errorf("request %d: %d %s", i, w.Code, w.Body)
		}
	}
	// The two refused for their bodies spent a request each (the limit
	// counts what the token let in; the body too large was never read),
	// so this is the sixth in the minute, one too many.
	r := httptest.NewRequest("POST", "/api/v1/integrations/jobs", strings.NewReader(ok))
	r.Header.Set("Authorization", "Bearer 0123456789abcdef")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var body kit.ErrorBody
	json.Unmarshal(w.Body.Bytes(), &body)
	if w.Code != 429 || body.Error.Code != nightowl.ERateLimited || w.Header().Get("Retry-After") == "" {
		t.Errorf("over the rate: %d %s (Retry-After %q)", w.Code, w.Body, w.Header().Get("Retry-After"))
	}
	if len(*seen) != 3 {
		t.Errorf("stored %d alerts, want 3", len(*seen))
	}
}

func TestIntegrationRouteIsPublic(t *testing.T) {
	svc, _ := ingest.New(ingest.Options{Observe: func(context.Context, nightowl.CheckView) error { return nil }})
	for _, rt := range Routes(Options{Ingester: svc}) {
		if rt.Pattern == "POST /api/v1/integrations/{name}" {
			if rt.Role != "" {
				t.Errorf("role %q: the token is the credential", rt.Role)
			}
			return
		}
	}
	t.Error("no route for the integrations")
}

// FuzzIntegrationBody: whatever the body sent to an integration of any
// format, the answer is 200 with as many alerts counted as were stored, or
// 400 with a code and a message and nothing stored.
func FuzzIntegrationBody(f *testing.F) {
	for _, s := range []string{
		`{"dedup_key": "k", "title": "t"}`, `{"alerts": [{"dedup_key": "k", "state": "resolved"}]}`,
		`{"version": "4", "alerts": [{"status": "firing", "fingerprint": "ab", "labels": {"a": "b"}}]}`,
		`{"alerts": [{"status": "resolved", "fingerprint": "ab", "valueString": "x"}], "orgId": 1}`,
		`{"alerts": null}`, `[`, `null`, ``,
	} {
		for format := range 3 {
			f.Add(uint8(format), s)
		}
	}
	f.Fuzz(func(t *testing.T, format uint8, body string) {
		stored := 0
		svc, err := ingest.New(ingest.Options{Clock: &stillClock{}, Observe: func(context.Context, nightowl.CheckView) error {
			stored++
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		names := []string{"alertmanager", "grafana", "generic"}
		name := names[int(format)%len(names)]
		svc.SetIntegrations([]ingest.Integration{{Name: name, Format: name, Token: "0123456789abcdef", Rate: ingest.Rate{N: 1 << 20, Per: time.Second}}})
		r := httptest.NewRequest("POST", "/api/v1/integrations/"+name, strings.NewReader(body))
		r.SetPathValue("name", name)
		r.Header.Set("Authorization", "Bearer 0123456789abcdef")
		w := httptest.NewRecorder()
		receiveAlerts(svc).ServeHTTP(w, r)
		switch w.Code {
		case http.StatusOK:
			var rc ingest.Receipt
			if err := json.Unmarshal(w.Body.Bytes(), &rc); err != nil || rc.Firing+rc.Resolved != stored {
				t.Fatalf("%s %q: 200 %s with %d stored", name, body, w.Body, stored)
			}
		case http.StatusBadRequest:
			var eb kit.ErrorBody
			if err := json.Unmarshal(w.Body.Bytes(), &eb); err != nil || eb.Error.Code != nightowl.EInvalid || eb.Error.Message == "" || stored != 0 {
				t.Fatalf("%s %q: 400 %s with %d stored", name, body, w.Body, stored)
			}
		default:
			t.Fatalf("%s %q: %d %s", name, body, w.Code, w.Body)
		}
	})
}
