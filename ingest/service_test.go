package ingest_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/ingest"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// observed is a hand-made alert manager: it keeps the open alerts the
// views it is told of open, as notify.Manager does for down and degraded.
type observed struct {
	mu    sync.Mutex
	views []nightowl.CheckView
	open  map[string]nightowl.Alert
	fail  error
}

func (o *observed) Observe(ctx context.Context, v nightowl.CheckView) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.fail != nil {
		return o.fail
	}
	o.views = append(o.views, v)
	if o.open == nil {
		o.open = map[string]nightowl.Alert{}
	}
	if v.State.Status == nightowl.StatusUp {
		delete(o.open, v.Check.Name)
	} else if _, ok := o.open[v.Check.Name]; !ok {
		o.open[v.Check.Name] = nightowl.Alert{Check: v.Check.Name, Labels: v.Check.Labels, Status: v.State.Status, Cause: v.State.Cause}
	}
	return nil
}

func (o *observed) Open() []nightowl.Alert {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []nightowl.Alert
	for _, a := range o.open {
		out = append(out, a)
	}
	return out
}

func newService(t *testing.T, clock nightowl.Clock, list ...ingest.Integration) (*ingest.Service, *observed) {
	t.Helper()
	o := &observed{}
	s, err := ingest.New(ingest.Options{Observe: o.Observe, Open: o.Open, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	s.SetIntegrations(list)
	return s, o
}

const generic = `{"alerts": [
	{"dedup_key": "disk", "title": "Disk full", "labels": {"service": "shop", "team": "web", "integration": "forged"}},
	{"dedup_key": "cpu", "title": "CPU high", "severity": "warning"}]}`

func TestReceive(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC))
	s, o := newService(t, clock, ingest.Integration{Name: "jobs", Format: "generic", Token: "s3cret", Labels: map[string]string{"team": "infra"}})
	ctx := context.Background()

	for _, tc := range []struct {
		name, integration, token, code string
	}{
		{"unknown integration", "nope", "s3cret", nightowl.ENotFound},
		{"no token", "jobs", "", nightowl.EUnauthorized},
		{"wrong token", "jobs", "s3cre", nightowl.EUnauthorized},
		{"longer token", "jobs", "s3cret!", nightowl.EUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Receive(ctx, ingest.Request{Integration: tc.integration, Token: tc.token, Body: []byte(generic)})
			if nightowl.ErrorCode(err) != tc.code {
				t.Errorf("error %v, want code %s", err, tc.code)
			}
		})
	}
	if len(o.views) != 0 {
		t.Fatalf("refused requests observed %d views", len(o.views))
	}

	rc, err := s.Receive(ctx, ingest.Request{Integration: "jobs", Token: "s3cret", Body: []byte(generic)})
	if err != nil {
		t.Fatal(err)
	}
	if rc != (ingest.Receipt{Firing: 2}) {
		t.Errorf("receipt %+v", rc)
	}
	disk := o.views[0]
	if disk.Check.Name != "integration:jobs:disk" || disk.State.Status != nightowl.StatusDown || disk.State.Cause != "Disk full" {
		t.Errorf("disk view: %+v", disk)
	}
	want := map[string]string{"service": "shop", "team": "infra", "integration": "jobs"}
	for k, v := range want {
		if disk.Check.Labels[k] != v {
			t.Errorf("label %s = %q, want %q (labels %v)", k, disk.Check.Labels[k], v, disk.Check.Labels)
		}
	}
	if cpu := o.views[1]; cpu.State.Status != nightowl.StatusDegraded {
		t.Errorf("a warning is %s, want degraded", cpu.State.Status)
	}
	if !s.Configured("integration:jobs:disk") || s.Configured("integration:other:disk") || s.Configured("shop") {
		t.Error("Configured is wrong")
	}
	if v := s.Views(); len(v) != 2 {
		t.Errorf("Views: %d, want 2", len(v))
	}

	if _, err := s.Receive(ctx, ingest.Request{Integration: "jobs", Token: "s3cret", Body: []byte(`{"dedup_key": "disk", "state": "resolved"}`)}); err != nil {
		t.Fatal(err)
	}
	if last := o.views[len(o.views)-1]; last.State.Status != nightowl.StatusUp || last.Check.Name != "integration:jobs:disk" {
		t.Errorf("resolved view: %+v", last)
	}

	_, err = s.Receive(ctx, ingest.Request{Integration: "jobs", Token: "s3cret", Body: []byte(`{"dedup_key": "disk", "state": "gone"}`)})
	if nightowl.ErrorCode(err) != nightowl.EInvalid {
		t.Errorf("bad body: %v", err)
	}

	o.fail = errors.New("store down")
	if _, err := s.Receive(ctx, ingest.Request{Integration: "jobs", Token: "s3cret", Body: []byte(generic)}); err == nil || nightowl.ErrorCode(err) != nightowl.EInternal {
		t.Errorf("a store that fails: %v", err)
	}
}

func TestRateLimit(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC))
	s, _ := newService(t, clock, ingest.Integration{Name: "jobs", Format: "generic", Token: "t", Rate: ingest.Rate{N: 2, Per: time.Minute}},
		ingest.Integration{Name: "other", Format: "generic", Token: "t"})
	req := ingest.Request{Integration: "jobs", Token: "t", Body: []byte(`{"dedup_key": "k", "title": "t"}`)}
	ctx := context.Background()
	for i := range 2 {
		if _, err := s.Receive(ctx, req); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	_, err := s.Receive(ctx, req)
	after, ok := nightowl.RetryAfter(err)
	if nightowl.ErrorCode(err) != nightowl.ERateLimited || !ok || after != 30*time.Second {
		t.Fatalf("third request: %v (retry after %v)", err, after)
	}
	// A wrong token spends nothing: strangers cannot starve the sender.
	if _, err := s.Receive(ctx, ingest.Request{Integration: "other", Token: "x", Body: req.Body}); nightowl.ErrorCode(err) != nightowl.EUnauthorized {
		t.Fatal(err)
	}
	other := req
	other.Integration = "other"
	if _, err := s.Receive(ctx, other); err != nil {
		t.Errorf("another integration is limited apart: %v", err)
	}
	// A reload that keeps the rate keeps the bucket.
	s.SetIntegrations([]ingest.Integration{{Name: "jobs", Format: "generic", Token: "t", Rate: ingest.Rate{N: 2, Per: time.Minute}}})
	if _, err := s.Receive(ctx, req); nightowl.ErrorCode(err) != nightowl.ERateLimited {
		t.Errorf("after a reload: %v", err)
	}
	clock.Advance(30 * time.Second)
	if _, err := s.Receive(ctx, req); err != nil {
		t.Errorf("after the wait: %v", err)
	}
}

func TestResolveAfter(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC))
	s, o := newService(t, clock,
		ingest.Integration{Name: "am", Format: "generic", Token: "t", ResolveAfter: 10 * time.Minute},
		ingest.Integration{Name: "never", Format: "generic", Token: "t"})
	ctx := context.Background()
	send := func(in, body string) {
		t.Helper()
		if _, err := s.Receive(ctx, ingest.Request{Integration: in, Token: "t", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
	}
	send("am", `{"alerts": [{"dedup_key": "a", "title": "A"}, {"dedup_key": "b", "title": "B"}]}`)
	send("never", `{"dedup_key": "n", "title": "N"}`)
	clock.Advance(6 * time.Minute)
	send("am", `{"dedup_key": "b", "title": "B"}`) // b is sent again, a is not
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	if len(o.Open()) != 3 {
		t.Fatalf("open after 6m: %v", o.Open())
	}
	clock.Advance(5 * time.Minute)
	if err := s.Sweep(ctx); err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	for _, a := range o.Open() {
		open[a.Check] = true
	}
	if open["integration:am:a"] || !open["integration:am:b"] || !open["integration:never:n"] {
		t.Errorf("after 11m, open: %v", open)
	}
	last := o.views[len(o.views)-1]
	if last.Check.Name != "integration:am:a" || last.State.Status != nightowl.StatusUp {
		t.Errorf("last view %+v", last)
	}
	// An alert this service never heard of (one opened before a restart)
	// gets resolve_after from when it is first seen.
	o.Observe(ctx, nightowl.CheckView{Check: nightowl.Check{Name: "integration:am:old"}, State: nightowl.State{Status: nightowl.StatusDown}})
	s.Sweep(ctx)
	clock.Advance(9 * time.Minute)
	s.Sweep(ctx)
	if !open2(o)["integration:am:old"] {
		t.Error("an adopted alert resolved before resolve_after from its adoption")
	}
	clock.Advance(2 * time.Minute)
	s.Sweep(ctx)
	if open2(o)["integration:am:old"] {
		t.Error("an adopted alert did not resolve")
	}
}

func open2(o *observed) map[string]bool {
	open := map[string]bool{}
	for _, a := range o.Open() {
		open[a.Check] = true
	}
	return open
}

func TestForward(t *testing.T) {
	clock := clocktest.New(time.Date(2026, 12, 8, 1, 0, 0, 0, time.UTC))
	o := &observed{}
	var forwarded []ingest.Request
	fail := false
	s, err := ingest.New(ingest.Options{Observe: o.Observe, Open: o.Open, Clock: clock,
		Local: func(in string) bool { return in == "mine" },
		Forward: func(ctx context.Context, r ingest.Request) (ingest.Receipt, error) {
			forwarded = append(forwarded, r)
			if fail {
				return ingest.Receipt{}, errors.New("owner unreachable")
			}
			return ingest.Receipt{Firing: 1}, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	s.SetIntegrations([]ingest.Integration{{Name: "mine", Format: "generic", Token: "t"}, {Name: "theirs", Format: "generic", Token: "t"}})
	body := []byte(`{"dedup_key": "k", "title": "t"}`)
	ctx := context.Background()
	s.Receive(ctx, ingest.Request{Integration: "mine", Token: "t", Body: body})
	s.Receive(ctx, ingest.Request{Integration: "theirs", Token: "t", Body: body})
	if len(forwarded) != 1 || len(o.views) != 1 || forwarded[0].Integration != "theirs" {
		t.Fatalf("forwarded %v, observed %d", forwarded, len(o.views))
	}
	// A forwarded request is taken here, never passed on again.
	s.Receive(ctx, ingest.Request{Integration: "theirs", Token: "t", Body: body, Forwarded: true})
	if len(forwarded) != 1 || len(o.views) != 2 {
		t.Fatalf("a forwarded request went on: forwarded %d, observed %d", len(forwarded), len(o.views))
	}
	// An owner that cannot be reached leaves the alerts here: never lost.
	fail = true
	if _, err := s.Receive(ctx, ingest.Request{Integration: "theirs", Token: "t", Body: body}); err != nil {
		t.Fatal(err)
	}
	if len(o.views) != 3 {
		t.Errorf("observed %d", len(o.views))
	}
}
