package storecopy

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/storetest"
	"github.com/nightowl/nightowl/internal/testdb"
	"github.com/nightowl/nightowl/postgres"
	"github.com/nightowl/nightowl/sqlite"
)

// store is everything both stores keep, as the server uses them.
type store = storetest.Store

// clock is a fixed time, to the microsecond so that PostgreSQL keeps it
// whole; Set moves it.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time                       { return c.t }
func (c *clock) After(time.Duration) <-chan time.Time { return nil }

var t0 = time.Date(2026, 3, 14, 15, 9, 26, 123456000, time.UTC)

// fixture is what populate wrote that the reads cannot give back: the
// secrets of a token and a session, and the audit signer.
type fixture struct {
	token, cookie string
	signer        *audit.Signer
}

// populate writes some of everything into the SQLite store at path,
// through the store's own methods and the access service, as a server
// would.
func populate(t *testing.T, path string) fixture {
	t.Helper()
	ctx := context.Background()
	c := &clock{t: t0}
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}

	// Check history: 130 results of shop wrap its ring of 100, over
	// three hours of rollups; db has a few.
	for i := range 130 {
		at := t0.Add(time.Duration(i) * 2 * time.Minute)
		r := nightowl.Result{Check: "shop", Due: at, Start: at.Add(time.Millisecond), OK: i%7 != 0,
			Duration: nightowl.Seconds(time.Duration(i+1) * time.Millisecond), Status: nightowl.StatusUp,
			Facts: nightowl.Facts{"status_code": 200, "n": i}}
		if !r.OK {
			r.Status, r.Error = nightowl.StatusDown, fmt.Sprintf("status 503 (run %d)", i)
			r.Assertions = []nightowl.AssertionResult{{Name: "status", Severity: nightowl.SeverityCritical, Message: "503, want 200"}}
		}
		s.SaveResult(r)
		if i%50 == 49 {
			// Batches apart, so that the ring wraps over rows written
			// before: their ids are no longer in seq order.
			must(s.Flush(ctx))
		}
	}
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Minute)
		s.SaveResult(nightowl.Result{Check: "db", Due: at, Start: at, OK: true, Duration: nightowl.Seconds(2 * time.Millisecond), Status: nightowl.StatusUp})
	}
	s.SaveState(nightowl.State{Check: "shop", Status: nightowl.StatusDown, Since: t0.Add(time.Hour), Pending: nightowl.StatusUp,
		Streak: 1, LastRun: t0.Add(258 * time.Minute), Cause: "status 503", Runs: 130, Fails: 19})
	s.SaveState(nightowl.State{Check: "db", Status: nightowl.StatusUp, Since: t0, LastRun: t0.Add(2 * time.Minute), Runs: 3})
	for i, to := range []nightowl.Status{nightowl.StatusUp, nightowl.StatusDown} {
		_, err := s.AddEvent(ctx, nightowl.Event{Check: "shop", Time: t0.Add(time.Duration(i) * time.Hour), Kind: nightowl.EventStatus,
			From: nightowl.StatusUnknown, To: to, Cause: "run " + fmt.Sprint(i)})
		must(err)
	}
	must(s.Flush(ctx))

	// A heartbeat with pings, one with a body that holds a NUL.
	code, dur := 3, nightowl.Seconds(1500*time.Millisecond)
	s.SaveHeartbeat(nightowl.Heartbeat{Check: "backup", Token: "tok-backup", LastPing: t0.Add(time.Minute),
		LastSuccess: t0, Started: map[string]time.Time{"r-2": t0.Add(time.Minute + 7)}, LastDuration: &dur,
		ExitCode: &code, Failed: true, Since: t0.Add(time.Minute)})
	s.SavePing(nightowl.Ping{Check: "backup", Time: t0, Kind: nightowl.PingSuccess, Method: "POST", Body: "done\x00ok",
		UserAgent: "curl/8", Remote: "10.0.0.7"})
	s.SavePing(nightowl.Ping{Check: "backup", Time: t0.Add(time.Minute), Kind: nightowl.PingFail, ExitCode: &code,
		RID: "r-1", Duration: &dur, Body: strings.Repeat("x", 100), Truncated: true})
	must(s.Flush(ctx))

	// An open alert with notifications, one of them sent, and a
	// resolved one; the key that signs acknowledgement links.
	open := &nightowl.Alert{ID: "a-shop", Check: "shop", Labels: map[string]string{"tier": "web"}, State: nightowl.AlertFiring,
		Severity: nightowl.SeverityCritical, Status: nightowl.StatusDown, Cause: "status 503", StartsAt: t0.Add(time.Hour),
		Escalation: "web", NextAt: t0.Add(65 * time.Minute), Notified: []string{"primary[0]"}}
	msg := nightowl.Message{Kind: nightowl.MessageFiring, Alert: *open, AckURL: "https://owl.example/ack/k1", IdempotencyKey: "k1"}
	out := []nightowl.Notification{
		{Receiver: "primary[0]", Message: msg, CreatedAt: t0.Add(time.Hour), NextAt: t0.Add(time.Hour)},
		{Receiver: "chat", Message: msg, CreatedAt: t0.Add(time.Hour), NextAt: t0.Add(time.Hour)},
		{Receiver: "contact:c-ana", Message: msg, CreatedAt: t0.Add(time.Hour), NextAt: t0.Add(65 * time.Minute), UntilAck: true},
	}
	must(s.SaveAlert(ctx, open, out))
	sent := out[0]
	sent.State, sent.Attempts, sent.SentAt = nightowl.NotificationSent, 1, t0.Add(time.Hour+time.Second)
	must(s.FinishNotification(ctx, &sent))
	resolved := &nightowl.Alert{ID: "a-old", Check: "db", State: nightowl.AlertResolved, Severity: nightowl.SeverityWarning,
		Status: nightowl.StatusDegraded, Cause: "slow", StartsAt: t0.Add(-time.Hour), ResolvedAt: t0.Add(-30 * time.Minute)}
	must(s.SaveAlert(ctx, resolved, nil))
	_, err = s.Secret(ctx, "ack-key", 32)
	must(err)

	// A maintenance window started by hand, and its progress.
	w := nightowl.Window{ID: "mw-1", Name: "db upgrade", Source: "api", Start: t0, End: t0.Add(2*time.Hour + 123*time.Nanosecond),
		Checks: nightowl.Selector{Names: []string{"db"}}, Expect: []string{"status"}, CreatedBy: "ana", CreatedAt: t0}
	must(s.SaveWindow(ctx, &w))
	must(s.SaveProgress(ctx, nightowl.MaintenanceProgress{Window: "mw-1", EndsAt: w.End, Stage: 1, Due: t0.Add(3*time.Hour + 9)}))

	// An override of a schedule.
	must(s.SaveOverride(ctx, &nightowl.ScheduleOverride{ID: "o-1", Schedule: "primary", User: "cy", From: t0.Add(time.Hour),
		To: t0.Add(9 * time.Hour), Reason: "swap", CreatedBy: "cy", CreatedAt: t0}))

	// People: a user with a token and a session.
	acc, err := access.New(access.Options{Store: s, Clock: c, BcryptCost: 4})
	must(err)
	_, err = acc.AddUser(ctx, "ana", nightowl.RoleAdmin, "correct horse battery")
	must(err)
	_, err = acc.AddUser(ctx, "bo", nightowl.RoleViewer, "another good password")
	must(err)
	_, token, err := acc.CreateToken(ctx, "ana", "ci", nightowl.RoleResponder, 0)
	must(err)
	_, cookie, err := acc.Login(ctx, "bo", "another good password", "10.0.0.9")
	must(err)
	// Ana's second factor, one used, and her recovery codes, one used.
	must(s.SaveFactor(ctx, &nightowl.Factor{ID: "f-ana", User: "ana", Kind: nightowl.FactorTOTP, Name: "phone",
		Secret: []byte("sealed"), CreatedAt: t0, ConfirmedAt: t0.Add(time.Second)}))
	must(s.UseFactorStep(ctx, "f-ana", 12345, t0.Add(time.Minute)))
	must(s.SetRecoveryCodes(ctx, "ana", [][]byte{{1}, {2}, {3}}, t0))
	must(s.UseRecoveryCode(ctx, "ana", []byte{2}, t0.Add(time.Minute)))
	must(s.SaveToken(ctx, &nightowl.Token{ID: "t-approve", Name: "deploy", User: "ana", Role: nightowl.RoleResponder,
		Hash: []byte("approve"), CreatedAt: t0, CanApprove: true}))
	// Ana's contact methods, one verified, one waiting for its code, and
	// her rules.
	must(s.SaveContact(ctx, &nightowl.ContactMethod{ID: "c-ana", User: "ana", Kind: "phone", Label: "mobile", Address: "+4915112345678",
		CreatedAt: t0, VerifiedAt: t0.Add(time.Minute)}))
	must(s.SaveContact(ctx, &nightowl.ContactMethod{ID: "c-ana2", User: "ana", Kind: "email", Address: "ana@example.com",
		CreatedAt: t0.Add(time.Second), CodeHash: []byte{1, 2, 3}, CodeExpires: t0.Add(time.Hour), CodeTries: 2}))
	must(s.SetNotificationRules(ctx, "ana", []nightowl.NotificationRule{{Contact: "c-ana2"}, {Contact: "c-ana", After: 5 * time.Minute}}))
	// ana's calendar feed, which goes with her.
	must(s.SaveFeed(ctx, &nightowl.CalendarFeed{Kind: nightowl.FeedUser, Name: "ana", Hash: []byte("0123456789abcdef0123456789abcdef"), CreatedBy: "ana", CreatedAt: t0}))

	// Incidents, one resolved, with updates.
	inc := &nightowl.Incident{Title: "Website down", State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor,
		Components: []string{"Website"}, CreatedAt: t0, CreatedBy: "ana", UpdatedAt: t0}
	must(s.SaveIncident(ctx, inc, &nightowl.IncidentUpdate{Time: t0, By: "ana", Public: true, State: nightowl.IncidentInvestigating,
		Impact: nightowl.ImpactMajor, Components: []string{"Website"}, Message: "Looking into it."}))
	inc.State, inc.ResolvedAt, inc.UpdatedAt = nightowl.IncidentResolved, t0.Add(time.Hour), t0.Add(time.Hour)
	must(s.SaveIncident(ctx, inc, &nightowl.IncidentUpdate{Time: t0.Add(time.Hour), By: "ana", State: nightowl.IncidentResolved,
		Message: "Fixed; a private note."}))
	must(s.SaveIncident(ctx, &nightowl.Incident{Title: "Slow database", State: nightowl.IncidentIdentified,
		Impact: nightowl.ImpactMinor, CreatedAt: t0.Add(2 * time.Hour), CreatedBy: "bo", UpdatedAt: t0.Add(2 * time.Hour)}, nil))

	// An action request.
	must(s.SaveRequest(ctx, &nightowl.ActionRequest{ID: "r1", Action: "restart-shop", Params: map[string]string{"node": "web-2"},
		Reason: "stuck", RequestedBy: "ana", RequestedAt: t0, ExpiresAt: t0.Add(time.Hour), State: nightowl.RequestPending, Needs: 1}))

	// The audit log, its times to the nanosecond, and a checkpoint.
	for i, a := range []string{"user.add", "token.create", "incident.open"} {
		must(s.AppendAudit(ctx, &nightowl.AuditEntry{Time: t0.Add(time.Duration(i)*time.Second + 17), Actor: "ana", Action: a,
			Subject: "x", Detail: "detail " + fmt.Sprint(i)}))
	}
	_, key, err := ed25519.GenerateKey(nil)
	must(err)
	signer := audit.NewSigner(key)
	head, err := s.AuditHead(ctx)
	must(err)
	must(s.AddAuditCheckpoint(ctx, signer.Sign(head, t0.Add(5*time.Second+3))))
	must(s.Flush(ctx))
	return fixture{token: token, cookie: cookie, signer: signer}
}

// dump is everything a store gives back through its reads.
type dump struct {
	States        []nightowl.State
	Results       map[string][]nightowl.Result
	Events        []nightowl.Event
	Rollups       map[string][]nightowl.Rollup
	Pings         []nightowl.Ping
	Heartbeats    []nightowl.Heartbeat
	Alerts        []nightowl.Alert
	Notifications []nightowl.Notification
	Secret        []byte
	Windows       []nightowl.Window
	Progress      []nightowl.MaintenanceProgress
	Users         []nightowl.User
	Tokens        []nightowl.Token
	Contacts      []nightowl.ContactMethod
	Rules         []nightowl.NotificationRule
	Incidents     []nightowl.Incident
	Updates       map[string][]nightowl.IncidentUpdate
	Requests      []nightowl.ActionRequest
	Audit         []nightowl.AuditEntry
	Head          nightowl.AuditHead
	Checkpoints   []nightowl.AuditCheckpoint
	Overrides     []nightowl.ScheduleOverride
	Feeds         []nightowl.CalendarFeed
	Factors       []nightowl.Factor
	RecoveryLeft  int
}

func read(t *testing.T, s store) dump {
	t.Helper()
	ctx := context.Background()
	var d dump
	var errs []error
	keep := func(err error) { errs = append(errs, err) }
	var err error
	d.States, err = s.States(ctx)
	keep(err)
	d.Results, d.Rollups = map[string][]nightowl.Result{}, map[string][]nightowl.Rollup{}
	for _, c := range []string{"shop", "db"} {
		d.Results[c], err = s.Results(ctx, c, 0)
		keep(err)
		for _, p := range []nightowl.Period{nightowl.Hourly, nightowl.Daily} {
			r, err := s.Rollups(ctx, c, p, time.Time{})
			keep(err)
			d.Rollups[c+"/"+string(p)] = r
		}
	}
	d.Events, err = s.Events(ctx, "", 0)
	keep(err)
	d.Pings, err = s.Pings(ctx, "backup", 0)
	keep(err)
	d.Heartbeats, err = s.Heartbeats(ctx)
	keep(err)
	d.Alerts, err = s.Alerts(ctx, nightowl.AlertQuery{})
	keep(err)
	d.Notifications, err = s.Notifications(ctx, nightowl.NotificationQuery{})
	keep(err)
	d.Secret, err = s.Secret(ctx, "ack-key", 32)
	keep(err)
	d.Windows, err = s.Windows(ctx)
	keep(err)
	d.Progress, err = s.Progress(ctx)
	keep(err)
	d.Users, err = s.Users(ctx)
	keep(err)
	d.Tokens, err = s.Tokens(ctx, "ana")
	keep(err)
	d.Contacts, err = s.Contacts(ctx, "ana")
	keep(err)
	d.Rules, err = s.NotificationRules(ctx, "ana")
	keep(err)
	d.Incidents, err = s.Incidents(ctx, nightowl.IncidentQuery{})
	keep(err)
	d.Updates = map[string][]nightowl.IncidentUpdate{}
	for _, inc := range d.Incidents {
		d.Updates[inc.ID], err = s.Updates(ctx, inc.ID)
		keep(err)
	}
	d.Requests, err = s.Requests(ctx, nightowl.ActionQuery{})
	keep(err)
	d.Audit, err = s.AuditEntries(ctx, nightowl.AuditQuery{})
	keep(err)
	d.Head, err = s.AuditHead(ctx)
	keep(err)
	d.Checkpoints, err = s.AuditCheckpoints(ctx, 0)
	keep(err)
	d.Overrides, err = s.Overrides(ctx, "")
	keep(err)
	d.Feeds, err = s.Feeds(ctx)
	keep(err)
	d.Factors, err = s.Factors(ctx, "ana")
	keep(err)
	d.RecoveryLeft, err = s.RecoveryCodesLeft(ctx, "ana")
	keep(err)
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	return d
}

// compare reports every part of got that differs from want.
func compare(t *testing.T, got, want dump) {
	t.Helper()
	g, w := reflect.ValueOf(got), reflect.ValueOf(want)
	for i := range g.NumField() {
		if !reflect.DeepEqual(g.Field(i).Interface(), w.Field(i).Interface()) {
			t.Errorf("%s after the copy:\n got %+v\nwant %+v", g.Type().Field(i).Name, g.Field(i).Interface(), w.Field(i).Interface())
		}
	}
}

// source populates a SQLite store and returns its path, what it holds
// and its fixture.
func source(t *testing.T) (string, dump, fixture) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "nightowl.db")
	fx := populate(t, path)
	s, err := sqlite.Open(context.Background(), sqlite.Options{Path: path, Now: (&clock{t: t0}).Now})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	want := read(t, s)
	if len(want.Results["shop"]) != 100 || len(want.Pings) != 2 || len(want.Audit) != 3 || len(want.Checkpoints) != 1 ||
		len(want.Notifications) != 3 || len(want.Contacts) != 2 || len(want.Rules) != 2 || len(want.Incidents) != 2 || len(want.Rollups["shop/hour"]) < 3 {
		t.Fatalf("the source holds less than populate wrote: %+v", want)
	}
	return path, want, fx
}

// target returns a DSN of an empty PostgreSQL schema with nightowl's
// tables, as the server leaves it when it first starts.
func target(t testing.TB) string {
	t.Helper()
	dsn := testdb.PostgresSchema(t)
	s, err := postgres.Open(context.Background(), postgres.Options{DSN: dsn})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	return dsn
}

func copyCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestCopy(t *testing.T) {
	path, want, fx := source(t)
	dsn := target(t)
	counts, err := Copy(copyCtx(t), Options{SQLite: path, Postgres: dsn})
	if err != nil {
		t.Fatal(err)
	}
	byTable := map[string]int64{}
	for _, c := range counts {
		byTable[c.Table] = c.Rows
	}
	for table, n := range map[string]int64{"checks": 3, "results": 103, "events": 2, "pings": 2, "heartbeats": 1, "alerts": 2,
		"outbox": 3, "users": 2, "contact_methods": 2, "notification_rules": 2, "tokens": 2, "sessions": 1, "second_factors": 1, "recovery_codes": 3, "incidents": 2, "incident_updates": 2, "action_requests": 1,
		"audit_log": 3, "audit_head": 1, "audit_checkpoints": 1, "maintenance_windows": 1, "maintenance_progress": 1,
		"schedule_overrides": 1, "calendar_feeds": 1} {
		if byTable[table] != n {
			t.Errorf("copied %d rows of %s, want %d (all: %v)", byTable[table], table, n, counts)
		}
	}
	if len(counts) != len(tables) {
		t.Errorf("counts of %d tables, want %d", len(counts), len(tables))
	}

	ctx := context.Background()
	c := &clock{t: t0.Add(5 * time.Hour)}
	pg, err := postgres.Open(ctx, postgres.Options{DSN: dsn, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	compare(t, read(t, pg), want)

	t.Run("people sign in as before", func(t *testing.T) {
		acc, err := access.New(access.Options{Store: pg, Clock: c, BcryptCost: 4})
		if err != nil {
			t.Fatal(err)
		}
		if _, u, _, err := acc.Authenticate(ctx, fx.token); err != nil || u.Name != "ana" {
			t.Errorf("the token authenticates as %q, %v; want ana", u.Name, err)
		}
		if _, u, err := acc.Session(ctx, fx.cookie); err != nil || u.Name != "bo" {
			t.Errorf("the session is %q's, %v; want bo's", u.Name, err)
		}
		if _, _, err := acc.Login(ctx, "ana", "correct horse battery", "10.0.0.9"); err != nil {
			t.Errorf("password: %v", err)
		}
	})

	t.Run("the audit chain verifies and goes on", func(t *testing.T) {
		keys := []ed25519.PublicKey{fx.signer.Public()}
		rep, err := audit.VerifyWith(ctx, pg, audit.VerifyOptions{PublicKeys: keys, ExpectHead: want.Head.Hash})
		if err != nil || !rep.OK() || rep.Entries != 3 || rep.Checkpoints != 1 {
			t.Fatalf("verify after the copy: %v, %v", rep, err)
		}
		e := &nightowl.AuditEntry{Actor: "bo", Action: "login", Subject: "bo"}
		if err := pg.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.Seq != 4 || !slices.Equal(e.Prev, want.Head.Hash) {
			t.Errorf("the next entry is %d after %x; want 4 after the copied head %x", e.Seq, e.Prev, want.Head.Hash)
		}
		if rep, err := audit.VerifyWith(ctx, pg, audit.VerifyOptions{PublicKeys: keys}); err != nil || !rep.OK() || rep.Entries != 4 {
			t.Errorf("verify after an append: %v, %v", rep, err)
		}
	})

	t.Run("history goes on", func(t *testing.T) {
		next := nightowl.Result{Check: "shop", Due: c.Now(), Start: c.Now(), OK: true, Duration: nightowl.Seconds(10 * time.Millisecond), Status: nightowl.StatusUp}
		pg.SaveResult(next)
		ping := nightowl.Ping{Check: "backup", Time: c.Now(), Kind: nightowl.PingSuccess}
		pg.SavePing(ping)
		if err := pg.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		got, err := pg.Results(ctx, "shop", 0)
		if err != nil || len(got) != 100 || !got[0].Start.Equal(next.Start) || !reflect.DeepEqual(got[1], want.Results["shop"][0]) {
			t.Errorf("results after a new one: %d, newest %+v then %+v, %v; want 100, the new one then the newest copied",
				len(got), got[0], got[1], err)
		}
		pings, err := pg.Pings(ctx, "backup", 0)
		if err != nil || len(pings) != 3 || !pings[0].Time.Equal(ping.Time) || !reflect.DeepEqual(pings[1:], want.Pings) {
			t.Errorf("pings after a new one: %+v, %v", pings, err)
		}
		ev, err := pg.AddEvent(ctx, nightowl.Event{Check: "db", Time: c.Now(), Kind: nightowl.EventStatus, To: nightowl.StatusDown})
		if err != nil || ev.ID <= want.Events[0].ID {
			t.Errorf("new event's id %d, %v; want past the copied %d", ev.ID, err, want.Events[0].ID)
		}
	})

	t.Run("numbers go on", func(t *testing.T) {
		inc := &nightowl.Incident{Title: "Again", State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMinor,
			CreatedAt: c.Now(), CreatedBy: "ana", UpdatedAt: c.Now()}
		u := &nightowl.IncidentUpdate{Time: c.Now(), By: "ana", State: nightowl.IncidentInvestigating, Message: "x"}
		if err := pg.SaveIncident(ctx, inc, u); err != nil || inc.ID != "inc-3" {
			t.Errorf("new incident %q, %v; want inc-3", inc.ID, err)
		}
		if u.ID <= want.Updates["inc-1"][len(want.Updates["inc-1"])-1].ID {
			t.Errorf("new update's id %d: not past the copied ones %+v", u.ID, want.Updates)
		}
		a := &nightowl.Alert{ID: "a-new", Check: "db", State: nightowl.AlertFiring, Status: nightowl.StatusDown, StartsAt: c.Now()}
		out := []nightowl.Notification{{Receiver: "chat", Message: nightowl.Message{Kind: nightowl.MessageFiring, Alert: *a},
			CreatedAt: c.Now(), NextAt: c.Now()}}
		if err := pg.SaveAlert(ctx, a, out); err != nil {
			t.Fatal(err)
		}
		if out[0].ID <= want.Notifications[0].ID {
			t.Errorf("new notification's id %d: not past the copied %d", out[0].ID, want.Notifications[0].ID)
		}
		shop := want.Alerts[slices.IndexFunc(want.Alerts, func(a nightowl.Alert) bool { return a.ID == "a-shop" })]
		shop.State, shop.AckedBy, shop.AckedAt = nightowl.AlertAcknowledged, "ana", c.Now()
		if err := pg.SaveAlert(ctx, &shop, nil); err != nil {
			t.Errorf("acknowledge a copied alert: %v", err)
		}
	})
}

func TestCopyRefusesATargetWithData(t *testing.T) {
	path, _, _ := source(t)
	dsn := target(t)
	if _, err := Copy(copyCtx(t), Options{SQLite: path, Postgres: dsn}); err != nil {
		t.Fatal(err)
	}
	_, err := Copy(copyCtx(t), Options{SQLite: path, Postgres: dsn})
	if !errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "rows in checks") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("second copy: %v; want %v naming the tables", err, ErrNotEmpty)
	}
	if strings.Contains(err.Error(), "postgres://") {
		t.Errorf("the error shows the connection string: %v", err)
	}
}

// A copy that fails at its last table writes nothing at all.
func TestCopyFailingLeavesTheTargetEmpty(t *testing.T) {
	path, _, _ := source(t)
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// PostgreSQL's text takes no NUL: this checkpoint cannot be copied.
	_, err = db.Exec(`INSERT INTO audit_checkpoints (seq, time, hash, key_id, sig) VALUES (99, 1, x'00', ?, x'00')`, "k\x00")
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	dsn := target(t)
	_, err = Copy(copyCtx(t), Options{SQLite: path, Postgres: dsn})
	if err == nil || !strings.Contains(err.Error(), "copy audit_checkpoints") || !strings.Contains(err.Error(), "nothing was written") {
		t.Fatalf("copy = %v; want it to fail at audit_checkpoints", err)
	}
	if held := rowsIn(t, dsn); len(held) > 0 {
		t.Errorf("a failed copy left rows in %v", held)
	}
	// Run again, it meets the same row, not rows of its first try.
	if _, err := Copy(copyCtx(t), Options{SQLite: path, Postgres: dsn}); errors.Is(err, ErrNotEmpty) || !strings.Contains(err.Error(), "copy audit_checkpoints") {
		t.Errorf("copy again = %v; want it to fail at audit_checkpoints again", err)
	}
}

// A copy that runs out of time writes nothing either.
func TestCopyOutOfTime(t *testing.T) {
	path, _, _ := source(t)
	dsn := target(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	time.Sleep(2 * time.Millisecond)
	if _, err := Copy(ctx, Options{SQLite: path, Postgres: dsn}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("copy = %v; want the deadline", err)
	}
	if held := rowsIn(t, dsn); len(held) > 0 {
		t.Errorf("a copy out of time left rows in %v", held)
	}
}

// rowsIn names the tables of the target that hold rows.
func rowsIn(t *testing.T, dsn string) []string {
	t.Helper()
	ctx := copyCtx(t)
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tx, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if err := claimEmpty(ctx, tx); err != nil {
		return []string{err.Error()}
	}
	return nil
}

// The list of tables says what becomes of every column of both schemas:
// a migration that adds a column or a table fails here until the copy
// knows it.
func TestTablesCoverBothSchemas(t *testing.T) {
	ctx := copyCtx(t)
	path := filepath.Join(t.TempDir(), "nightowl.db")
	s, err := sqlite.Open(ctx, sqlite.Options{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	db, err := sql.Open("sqlite", readDSN(path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sqliteCols := map[string][]string{}
	rows, err := db.QueryContext(ctx, `SELECT m.name, p.name FROM sqlite_schema m, pragma_table_info(m.name) p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY m.name, p.cid`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var tbl, col string
		if err := rows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		sqliteCols[tbl] = append(sqliteCols[tbl], col)
	}
	rows.Close()

	conn, err := pgx.Connect(ctx, target(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	pgCols := map[string][]string{}
	prows, err := conn.Query(ctx, `SELECT table_name, column_name FROM information_schema.columns
		WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position`)
	if err != nil {
		t.Fatal(err)
	}
	for prows.Next() {
		var tbl, col string
		if err := prows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		pgCols[tbl] = append(pgCols[tbl], col)
	}
	prows.Close()

	// What is deliberately not carried, and why (see tables).
	notCopied := map[string][]string{
		"sqlite:results":    {"id", "slot", "seq"},
		"sqlite:pings":      {"id", "slot", "seq"},
		"sqlite:outbox":     {"claimed_by", "claimed_until"},
		"sqlite:ring_heads": nil, "sqlite:schema_migrations": nil,
		"postgres:results": {"id"}, "postgres:pings": {"id"},
		"postgres:schema_migrations": nil, "postgres:incident_counter": nil,
		"postgres:cluster_nodes": nil, "postgres:check_leases": nil,
	}
	mapped := map[string]map[string]bool{}
	for _, tb := range tables {
		mapped["sqlite:"+tb.name], mapped["postgres:"+tb.name] = map[string]bool{}, map[string]bool{}
		for _, c := range tb.cols {
			mapped["postgres:"+tb.name][c.pg] = true
			switch {
			case c.sqlite == "":
				mapped["sqlite:"+tb.name][c.pg] = true
			case c.sqlite != "NULL":
				mapped["sqlite:"+tb.name][c.sqlite] = true
			}
		}
	}
	for side, schema := range map[string]map[string][]string{"sqlite": sqliteCols, "postgres": pgCols} {
		for tbl, cols := range schema {
			key := side + ":" + tbl
			skip, known := notCopied[key]
			if known && skip == nil {
				continue
			}
			m, ok := mapped[key]
			if !ok {
				t.Errorf("%s table %s is not copied: add it to tables, or say why not", side, tbl)
				continue
			}
			for _, col := range cols {
				if !m[col] && !slices.Contains(skip, col) {
					t.Errorf("%s column %s.%s is not copied: add it to tables, or say why not", side, tbl, col)
				}
			}
			for col := range m {
				if !slices.Contains(cols, col) {
					t.Errorf("tables copies %s column %s.%s, which is not in the schema", side, tbl, col)
				}
			}
		}
	}
	for _, tb := range tables {
		if sqliteCols[tb.name] == nil || pgCols[tb.name] == nil {
			t.Errorf("table %s is not in both schemas", tb.name)
		}
	}
}
