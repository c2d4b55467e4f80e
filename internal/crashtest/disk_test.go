package crashtest

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
)

var unwritten = regexp.MustCompile(`(?m)^nightowl_store_unwritten\{kind="alerts"\} (\d+)$`)

// storeFaultConfig is the config of the storage fault tests: three HTTP
// checks on the site, every alert to the webhook "ops".
func storeFaultConfig(s *site, in *inbox) string {
	var b []byte
	b = fmt.Appendf(b, "defaults: {interval: 500ms, timeout: 500ms, fail_after: 1, recover_after: 1}\nchecks:\n")
	for _, c := range []string{"steady", "victim", "acked"} {
		b = fmt.Appendf(b, "  - name: %s\n    http: {url: %q}\n", c, s.url(c))
	}
	b = fmt.Appendf(b, "notify:\n  receivers:\n    ops: [{webhook: {url: %q}}]\n", in.url("ops"))
	b = fmt.Appendf(b, "  routes: [{escalation: ops}]\n  escalations:\n    ops: {steps: [{notify: ops}]}\n")
	return string(b)
}

// storeFault drives a server through a fault of its SQLite storage: break
// starts the fault and returns once the server has been refused a write
// (it waits for what refused says in the server's output); mend ends it.
// While the storage refuses writes, checks go on running, an alert that
// fires goes out, and an acknowledgement is taken; once it takes writes
// again, all of it is written, and a restart finds it.
func storeFault(t *testing.T, dir string, refused string, broke, mend func()) {
	s, in := newSite(t), newInbox(t)
	s.set("acked", true)
	srv := newServer(t, filepath.Join(dir, "nightowl.db"), storeFaultConfig(s, in))
	srv.start()
	var acked hookMsg
	waitFor(t, 20*time.Second, "the first alert sent", in.String, func() bool {
		got := in.find("ops", nightowl.MessageFiring, "acked")
		if len(got) > 0 {
			acked = got[0]
		}
		return len(got) > 0
	})

	broke()
	broken := time.Now()
	waitFor(t, 30*time.Second, "a write refused: "+refused, srv.tail, func() bool {
		return srv.logged("level=ERROR", refused)
	})
	t.Logf("a write was refused %s after the fault began", time.Since(broken).Round(time.Millisecond))

	// An alert fires while nothing can be written: it goes out all the
	// same.
	s.set("victim", true)
	downAt := time.Now()
	waitFor(t, 20*time.Second, "the alert of a check that went down during the fault sent", in.String, func() bool {
		return len(in.find("ops", nightowl.MessageFiring, "victim")) > 0
	})
	t.Logf("alerted %s after the check went down", time.Since(downAt).Round(time.Millisecond))
	// An acknowledgement is taken.
	if code, b := srv.call("POST", "/api/v1/alerts/"+acked.alert.ID+"/ack", nil); code != http.StatusOK {
		t.Fatalf("ack during the fault: %d %s", code, b)
	}
	// The checks run on, at their interval, and the API shows their
	// results.
	from := time.Now()
	waitFor(t, 10*time.Second, "three more runs of every check", srv.tail, func() bool {
		return s.hitsSince("steady", from) >= 3 && s.hitsSince("victim", from) >= 3
	})
	cs := srv.checks()
	if c := cs["steady"]; c.Status != nightowl.StatusUp || c.LastRun == nil || c.LastRun.Before(broken) {
		t.Errorf("during the fault the API says of steady: %+v", c)
	}
	if c := cs["victim"]; c.Status != nightowl.StatusDown || c.LastRun == nil || c.LastRun.Before(downAt) {
		t.Errorf("during the fault the API says of victim: %+v", c)
	}
	if n := s.hitsSince("steady", broken); float64(n) < 0.5*time.Since(broken).Seconds()/0.5 {
		t.Errorf("steady ran %d times in the %s of the fault, at a 500ms interval", n, time.Since(broken).Round(time.Millisecond))
	}
	// What could not be written is kept in memory meanwhile: at least
	// the new alert and the acknowledgement.
	code, metrics := srv.call("GET", "/metrics", nil)
	if m := unwritten.FindSubmatch(metrics); code != http.StatusOK || m == nil || string(m[1]) == "0" {
		t.Errorf("during the fault /metrics (%d) says %q of alerts kept in memory, want some", code, m)
	}

	// The storage takes writes again: what happened is written without
	// a restart.
	mend()
	mended := time.Now()
	db := readDB(t, srv.db)
	victim := in.find("ops", nightowl.MessageFiring, "victim")[0].alert.ID
	waitFor(t, 30*time.Second, "the fault's alert, notification, acknowledgement and event written", srv.tail, func() bool {
		return count(t, db, `SELECT count(*) FROM alerts WHERE id = ?`, victim) == 1 &&
			count(t, db, `SELECT count(*) FROM outbox WHERE alert_id = ? AND state = 'sent'`, victim) == 1 &&
			count(t, db, `SELECT count(*) FROM alerts WHERE id = ? AND state = 'acknowledged'`, acked.alert.ID) == 1 &&
			count(t, db, `SELECT count(*) FROM events e JOIN checks c ON c.id = e.check_id
				WHERE c.name = 'victim' AND e.to_status = 'down' AND e.time >= ?`, downAt.Add(-time.Second).UnixNano()) == 1
	})
	t.Logf("written %s after the storage took writes again", time.Since(mended).Round(time.Millisecond))

	// A restart keeps all of it, and sends nothing again.
	srv.stop()
	srv.start()
	waitFor(t, 10*time.Second, "the restarted server to run its checks", srv.tail, func() bool {
		c := srv.checks()["victim"]
		return c.LastRun != nil && c.LastRun.After(srv.p.started)
	})
	open := map[string]nightowl.Alert{}
	for _, a := range srv.alerts("state=open") {
		open[a.ID] = a
	}
	if a := open[acked.alert.ID]; a.State != nightowl.AlertAcknowledged || a.AckedBy != "ana" {
		t.Errorf("after a restart the acknowledged alert is %+v", a)
	}
	if a := open[victim]; a.State != nightowl.AlertFiring || a.Check != "victim" {
		t.Errorf("after a restart the fault's alert is %+v", a)
	}
	if n := len(in.find("", nightowl.MessageFiring, "")); n != 2 {
		t.Errorf("%d firing messages, want one for each of the two alerts; %s", n, in)
	}
}

// TestSQLiteDiskFull fills the file system of the SQLite file while the
// server runs, and frees it again.
func TestSQLiteDiskFull(t *testing.T) {
	t.Parallel()
	dir := mountTmpfs(t, 8<<20)
	var filler string
	storeFault(t, dir, "disk is full", func() {
		filler = fill(t, dir)
	}, func() {
		if err := os.Remove(filler); err != nil {
			t.Fatal(err)
		}
	})
}

// TestSQLiteReadOnly makes the directory of the SQLite file and the files
// the server writes read-only while it runs, and writable again. Linux
// refuses to remount a file system read-only while a process has a file
// open for writing on it, and permission bits do not bind root, who runs
// these tests; the immutable attribute (chattr +i) binds everyone and,
// on ext4, files already open too. The shared-memory index (-shm) is left
// alone: SQLite maps it into memory, and a write through the mapping to an
// immutable file would kill the process with SIGBUS, which no read-only
// file system does to a mapping made before it went read-only.
func TestSQLiteReadOnly(t *testing.T) {
	t.Parallel()
	chattr := tool(t, "chattr")
	dir := mountExt4(t, 16<<20)
	paths := func() []string {
		db := filepath.Join(dir, "nightowl.db")
		return []string{dir, db, db + "-wal"}
	}
	attr := func(flag string) {
		t.Helper()
		if out, err := exec.Command(chattr, append([]string{flag}, paths()...)...).CombinedOutput(); err != nil {
			t.Fatalf("chattr %s: %v\n%s", flag, err, out)
		}
	}
	storeFault(t, dir, "disk I/O error", func() {
		attr("+i")
		t.Cleanup(func() { exec.Command(chattr, append([]string{"-i"}, paths()...)...).Run() })
	}, func() { attr("-i") })
}
