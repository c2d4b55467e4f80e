package records

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// The documents below are what databases hold already: a change that
// alters one makes stored records read back differently.

func TestWindowFormat(t *testing.T) {
	base := nightowl.Window{ID: "deploy", Name: "Deploy", Source: "api", Start: t0, End: t0.Add(time.Hour),
		Expect: []string{"status"}}
	for _, tc := range []struct {
		name   string
		verify nightowl.Verify
		stored string
	}{
		{"verified again", nightowl.Verify{Within: 5 * time.Minute, AgainAfter: []time.Duration{time.Hour, 90 * time.Second}},
			`{"id":"deploy","name":"Deploy","source":"api","start":"2026-03-14T15:09:26Z","end":"2026-03-14T16:09:26Z","checks":{},"expect":["status"],"announce":false,"verify":{"within":300,"again_after":[3600,90]}}`},
		{"verified once", nightowl.Verify{Within: 5 * time.Minute},
			`{"id":"deploy","name":"Deploy","source":"api","start":"2026-03-14T15:09:26Z","end":"2026-03-14T16:09:26Z","checks":{},"expect":["status"],"announce":false,"verify":{"within":300}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := base
			w.Verify = tc.verify
			b, err := EncodeWindow(&w)
			if err != nil || string(b) != tc.stored {
				t.Fatalf("EncodeWindow = %s, %v\nwant %s", b, err, tc.stored)
			}
			back, err := DecodeWindow(b)
			if err != nil || !reflect.DeepEqual(back, w) {
				t.Errorf("DecodeWindow = %+v, %v\nwant %+v", back, err, w)
			}
		})
	}
}

func TestIncidentFormat(t *testing.T) {
	inc := nightowl.Incident{ID: "inc-3", Title: "Shop down", State: nightowl.IncidentInvestigating,
		Impact: nightowl.ImpactMajor, Components: []string{"shop"}, CreatedAt: t0, UpdatedAt: t0}
	for _, tc := range []struct {
		name       string
		u          *nightowl.IncidentUpdate
		components []byte
	}{
		{"no update", nil, nil},
		{"an update that leaves the components", &nightowl.IncidentUpdate{Message: "x"}, nil},
		{"an update that sets them", &nightowl.IncidentUpdate{Components: []string{"shop"}}, []byte(`["shop"]`)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := EncodeIncident(&inc, tc.u)
			if err != nil {
				t.Fatal(err)
			}
			// The ID lives in its column; the version written is the
			// next one, over the version it was read at.
			const stored = `{"id":"","title":"Shop down","state":"investigating","impact":"major","components":["shop"],"created_at":"2026-03-14T15:09:26Z","created_by":"","updated_at":"2026-03-14T15:09:26Z","version":1}`
			if rec.What != "incident inc-3" || string(rec.Data) != stored || !bytes.Equal(rec.Components, tc.components) ||
				rec.Was != 0 || rec.Version != 1 {
				t.Errorf("EncodeIncident = %q, %s, %s, version %d over %d", rec.What, rec.Data, rec.Components, rec.Version, rec.Was)
			}
			back, err := DecodeIncident("inc-3", rec.Data)
			want := inc
			want.Version = 1
			if err != nil || !reflect.DeepEqual(back, want) {
				t.Errorf("DecodeIncident = %+v, %v\nwant %+v", back, err, want)
			}
		})
	}
	if _, err := EncodeIncident(&nightowl.Incident{Title: "x"}, nil); err == nil ||
		err.Error() != "save new incident: it needs a title, a state and an impact" {
		t.Errorf("an incident without state or impact: %v", err)
	}
}

func TestLimits(t *testing.T) {
	for _, tc := range []struct {
		name string
		got  int
		want int
	}{
		{"alerts", AlertLimit(nightowl.AlertQuery{}), DefaultLimit},
		{"open alerts, however many", AlertLimit(nightowl.AlertQuery{Open: true, Limit: 1}), 0},
		{"alerts, limited", AlertLimit(nightowl.AlertQuery{Limit: 7}), 7},
		{"notifications", NotificationLimit(nightowl.NotificationQuery{}), DefaultLimit},
		{"incidents", IncidentLimit(nightowl.IncidentQuery{}), DefaultLimit},
		{"open incidents", IncidentLimit(nightowl.IncidentQuery{Open: true}), 0},
		{"open incidents, limited", IncidentLimit(nightowl.IncidentQuery{Open: true, Limit: 2}), 2},
		{"requests", RequestLimit(nightowl.ActionQuery{}), DefaultLimit},
		{"open requests", RequestLimit(nightowl.ActionQuery{Open: true}), 0},
		{"open requests, limited", RequestLimit(nightowl.ActionQuery{Open: true, Limit: 3}), 3},
	} {
		if tc.got != tc.want {
			t.Errorf("%s: limit %d, want %d", tc.name, tc.got, tc.want)
		}
	}
}

func TestAuditChain(t *testing.T) {
	first := NextAudit(nightowl.AuditEntry{Time: t0.Add(123).In(time.FixedZone("x", 3600)), Actor: "ana", Action: "login"}, 0, nil)
	if first.Seq != 1 || first.Prev != nil || !first.Time.Equal(t0.Add(123)) || first.Time.Location() != time.UTC ||
		!bytes.Equal(first.Hash, nightowl.AuditHash(first)) {
		t.Errorf("first entry %+v", first)
	}
	second := NextAudit(nightowl.AuditEntry{Time: t0, Actor: "ana", Action: "logout"}, first.Seq, first.Hash)
	if second.Seq != 2 || !bytes.Equal(second.Prev, first.Hash) || !bytes.Equal(second.Hash, nightowl.AuditHash(second)) {
		t.Errorf("second entry %+v", second)
	}
	if p := AuditPrev(first.Prev); p == nil || len(p) != 0 {
		t.Errorf("the first entry's Prev is stored as %v, want an empty blob", p)
	}
}
