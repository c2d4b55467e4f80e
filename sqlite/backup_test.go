package sqlite

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/internal/clocktest"
)

// TestBackupUnderLoad backs the database up while events and audit entries
// are written to it, restores the copy in another directory and finds in it
// everything written before the backup began, the user, and an audit chain
// that verifies.
func TestBackupUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "nightowl.db")
	s := openTest(t, path, clocktest.New(t0), Options{})
	if err := s.SaveUser(ctx, &nightowl.User{Name: "ana", Role: nightowl.RoleAdmin, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	write := func(i int) {
		if _, err := s.AddEvent(ctx, nightowl.Event{Check: "db", Time: t0.Add(time.Duration(i) * time.Second), Kind: "status", From: nightowl.StatusUp, To: nightowl.StatusDown, Cause: "load"}); err != nil {
			t.Error(err)
		}
		if err := s.AppendAudit(ctx, &nightowl.AuditEntry{Time: t0.Add(time.Duration(i) * time.Second), Actor: "ana", Action: "alert.ack", Subject: "a-1"}); err != nil {
			t.Error(err)
		}
	}
	alert := &nightowl.Alert{ID: "a-db", Check: "db", State: nightowl.AlertFiring, Severity: nightowl.SeverityCritical,
		Status: nightowl.StatusDown, Cause: "refused", StartsAt: t0}
	if err := s.SaveAlert(ctx, alert, nil); err != nil {
		t.Fatal(err)
	}
	inc := &nightowl.Incident{Title: "Database down", State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor,
		Components: []string{"Website"}, CreatedAt: t0, CreatedBy: "ana", UpdatedAt: t0}
	if err := s.SaveIncident(ctx, inc, &nightowl.IncidentUpdate{Time: t0, By: "ana", Public: true,
		State: nightowl.IncidentInvestigating, Impact: nightowl.ImpactMajor, Message: "We are looking into it."}); err != nil {
		t.Fatal(err)
	}
	const before = 50
	for i := range before {
		write(i)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := before; ; i++ {
			select {
			case <-stop:
				return
			default:
				write(i)
			}
		}
	})
	backup := filepath.Join(t.TempDir(), "backup.db")
	err := Backup(ctx, path, backup)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	if err := Backup(ctx, path, backup); err == nil || !strings.Contains(err.Error(), "exists") {
		t.Errorf("a backup over an existing file: %v", err)
	}

	restored := filepath.Join(t.TempDir(), "nightowl.db")
	if err := Restore(ctx, backup, restored); err != nil {
		t.Fatal(err)
	}
	r := openTest(t, restored, clocktest.New(t0), Options{})
	events, err := r.Events(ctx, "db", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(events) < before {
		t.Errorf("the restored database has %d events, want at least the %d written before the backup", len(events), before)
	}
	if u, err := r.User(ctx, "ana"); err != nil || u.Role != nightowl.RoleAdmin {
		t.Errorf("user ana: %+v, %v", u, err)
	}
	if a, err := r.Alert(ctx, "a-db"); err != nil || a.State != nightowl.AlertFiring || a.Cause != "refused" {
		t.Errorf("alert a-db: %+v, %v", a, err)
	}
	if got, err := r.Incident(ctx, inc.ID); err != nil || got.Title != "Database down" {
		t.Errorf("incident %s: %+v, %v", inc.ID, got, err)
	} else if ups, err := r.Updates(ctx, inc.ID); err != nil || len(ups) != 1 || ups[0].Message != "We are looking into it." {
		t.Errorf("updates of %s: %+v, %v", inc.ID, ups, err)
	}
	rep, err := audit.Verify(ctx, r)
	if err != nil || !rep.OK() || rep.Entries < before {
		t.Errorf("audit chain of the restored database: %+v, %v", rep, err)
	}
}

// TestRestoreRefused: a restore changes nothing while a server holds the
// database, or when the backup is not a whole nightowl database.
func TestRestoreRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "nightowl.db")
	s := openTest(t, path, clocktest.New(t0), Options{})
	if err := s.SaveUser(ctx, &nightowl.User{Name: "ana", Role: nightowl.RoleAdmin, CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := Backup(ctx, path, backup); err != nil {
		t.Fatal(err)
	}
	unlock, err := ServeLock(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ServeLock(path); !errors.Is(err, ErrServing) {
		t.Errorf("a second server lock: %v, want ErrServing", err)
	}
	if err := Restore(ctx, backup, path); !errors.Is(err, ErrServing) {
		t.Errorf("restore while serving: %v, want ErrServing", err)
	}
	unlock()

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, []byte(strings.Repeat("not a database ", 1000)), 0o600)
	if err := Restore(ctx, garbage, path); err == nil || !strings.Contains(err.Error(), "nothing was changed") {
		t.Errorf("restore of garbage: %v", err)
	}
	if u, err := s.User(ctx, "ana"); err != nil || u.Name != "ana" {
		t.Errorf("the database changed after refused restores: %+v, %v", u, err)
	}
}

// TestBackupInto: scheduled backups are named by their time and only the
// newest keep stay; files of other names in the directory are left alone.
func TestBackupInto(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "nightowl.db")
	openTest(t, path, clocktest.New(t0), Options{})
	dir := filepath.Join(t.TempDir(), "backups")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "nightowl-mine.db"), []byte("kept"), 0o600)
	var made []string
	for i := range 4 {
		p, err := BackupInto(ctx, path, dir, 2, t0.Add(time.Duration(i)*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		made = append(made, filepath.Base(p))
	}
	if made[0] != "nightowl-20260317T220000Z.db" {
		t.Errorf("first backup named %s", made[0])
	}
	entries, _ := os.ReadDir(dir)
	var left []string
	for _, e := range entries {
		left = append(left, e.Name())
	}
	want := []string{made[2], made[3], "nightowl-mine.db"}
	if strings.Join(left, " ") != strings.Join(want, " ") {
		t.Errorf("left %v, want %v", left, want)
	}
	if err := Verify(ctx, filepath.Join(dir, made[3])); err != nil {
		t.Error(err)
	}
}
