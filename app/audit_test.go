package app

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/web"
)

// TestAuditRecordsWhatPeopleDo signs in (and fails to), acknowledges an
// alert, starts and ends maintenance, opens and updates an incident, adds a
// user on the dashboard and signs out, and finds each in the audit log,
// which verifies.
func TestAuditRecordsWhatPeopleDo(t *testing.T) {
	t.Parallel()
	s, down := switchSite(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, fmt.Sprintf(`storage: {sqlite: test.db}
defaults: {interval: 1s, timeout: 1s, fail_after: 1}
checks:
  - name: shop
    labels: {tier: web}
    http: {url: "%s/"}
components:
  - {name: Website, checks: {labels: {tier: web}}}
`, s.URL))
	a := startApp(t, cfg)
	admin := adminToken(t, a)
	base := "http://" + a.Addr()
	userToken(t, a, "ana", nightowl.RoleResponder)
	down.Store(true)

	login := func(name, password string) *http.Response {
		resp, _ := call(t, "POST", base+"/api/v1/login", fmt.Sprintf(`{"name": %q, "password": %q}`, name, password), jsonType)
		return resp
	}
	if resp := login("ana", "not her password"); resp.StatusCode != 401 {
		t.Fatalf("wrong password: %d", resp.StatusCode)
	}
	// A password typed into the name field must not be kept.
	if resp := login("hunter2-my-secret", "x"); resp.StatusCode != 401 {
		t.Fatalf("unknown name: %d", resp.StatusCode)
	}
	resp := login("ana", "correct horse battery staple")
	if resp.StatusCode != 200 {
		t.Fatalf("sign in: %d", resp.StatusCode)
	}
	cookie := resp.Cookies()[0]
	csrf := map[string]string{"X-CSRF-Token": csrfOf(t, a, base, cookie), "Content-Type": "application/json"}

	var alertID string
	waitFor(t, "the alert", func() bool {
		open := a.Alerts().Open()
		if len(open) == 1 {
			alertID = open[0].ID
		}
		return alertID != ""
	})
	if resp, body := call(t, "POST", base+"/api/v1/alerts/"+alertID+"/ack", "", csrf, cookie); resp.StatusCode != 200 {
		t.Fatalf("ack: %d %s", resp.StatusCode, body)
	}
	resp, body := call(t, "POST", base+"/api/v1/maintenance", `{"name": "failover", "checks": "tier=web", "expect": ["*"], "for": "1h", "reason": "db move"}`, csrf, cookie)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("start maintenance: %d %s", resp.StatusCode, body)
	}
	var started struct{ Maintenance nightowl.Window }
	json.Unmarshal([]byte(body), &started)
	if resp, body := call(t, "POST", base+"/api/v1/maintenance/failover/end", "", csrf, cookie); resp.StatusCode != 200 {
		t.Fatalf("end maintenance: %d %s", resp.StatusCode, body)
	}
	resp, body = call(t, "POST", base+"/api/v1/incidents", `{"title": "Shop down", "impact": "major", "components": ["Website"], "message": "Looking."}`, csrf, cookie)
	if resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("open incident: %d %s", resp.StatusCode, body)
	}
	var opened struct{ Incident nightowl.Incident }
	json.Unmarshal([]byte(body), &opened)
	if resp, body := call(t, "POST", base+"/api/v1/incidents/"+opened.Incident.ID+"/updates", `{"state": "identified", "message": "Found it."}`, csrf, cookie); resp.StatusCode != 200 && resp.StatusCode != 201 {
		t.Fatalf("update incident: %d %s", resp.StatusCode, body)
	}
	if resp, _ := call(t, "POST", base+"/api/v1/logout", "", csrf, cookie); resp.StatusCode != 200 {
		t.Fatalf("sign out: %d", resp.StatusCode)
	}
	// Signing out again with the ended session is nothing to record.
	call(t, "POST", base+"/api/v1/logout", "", csrf, cookie)

	// An admin adds a user on the dashboard.
	userToken(t, a, "root", nightowl.RoleAdmin)
	root := newBrowser(t, base)
	root.signIn("root")
	// Giving someone a role asks for a recent second factor.
	root.enrol()
	_, page := root.get("/admin/users")
	if resp, body := root.post("/admin/users", url.Values{"csrf": {csrfIn(t, page)}, "name": {"vic"}, "role": {"viewer"}, "password": {"another good password"}}); resp.StatusCode >= 400 {
		t.Fatalf("add user on the dashboard: %d %s", resp.StatusCode, body)
	}

	var got struct{ Entries []nightowl.AuditEntry }
	if code := getJSON(t, admin, "GET", base+"/api/v1/audit?limit=1000", &got); code != 200 {
		t.Fatalf("GET /api/v1/audit: %d", code)
	}
	var lines []string
	factorID := ""
	for _, e := range got.Entries {
		if e.Action == "factor.enrol" {
			factorID = strings.Fields(e.Detail)[1]
			factorID = strings.TrimSuffix(factorID, ";")
		}
	}
	for i := len(got.Entries) - 1; i >= 0; i-- {
		e := got.Entries[i]
		lines = append(lines, strings.Join([]string{e.Actor, e.Action, e.Subject, e.Detail}, " | "))
	}
	want := []string{
		"ana | login.failed | ana | wrong password, from 127.0.0.1",
		"unknown | login.failed | unknown | unknown name, from 127.0.0.1",
		"ana | login | ana | from 127.0.0.1",
		"ana | alert.ack | " + alertID + " | check shop",
		"ana | maintenance.start | " + started.Maintenance.ID + " | name failover; checks tier=web; expect *; until " + started.Maintenance.End.UTC().Format("2006-01-02T15:04:05Z07:00") + "; reason db move",
		"ana | maintenance.end | " + started.Maintenance.ID + " | name failover",
		"ana | incident.open | " + opened.Incident.ID + ` | "Shop down"; impact major; components Website; public true`,
		"ana | incident.update | " + opened.Incident.ID + " | note; state identified",
		"ana | logout | ana | ",
		"root | login | root | from 127.0.0.1",
		"root | factor.enrol | root | totp " + factorID + "; their other sessions ended; 10 new recovery codes",
		"root | user.add | vic | role viewer",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("the audit log:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
	for _, e := range got.Entries {
		if strings.Contains(e.Actor+e.Subject+e.Detail, "hunter2") || strings.Contains(e.Detail, "horse") {
			t.Errorf("a secret in the log: %+v", e)
		}
	}

	if code := getJSON(t, admin, "GET", base+"/api/v1/audit?action=login&actor=ana", &got); code != 200 || len(got.Entries) != 2 {
		t.Errorf("filtered: %d %+v", code, got.Entries)
	}
	if code := getJSON(t, admin, "GET", base+"/api/v1/audit?since=yesterday", nil); code != 400 {
		t.Errorf("a bad since: %d", code)
	}
	if resp, _ := call(t, "GET", base+"/api/v1/audit", "", map[string]string{"Authorization": "Bearer " + userToken(t, a, "ana", nightowl.RoleResponder)}); resp.StatusCode != 403 {
		t.Errorf("a responder reading the audit log: %d, want 403", resp.StatusCode)
	}

	rep, err := audit.Verify(t.Context(), a.store)
	if err != nil || !rep.OK() || rep.Entries != int64(len(want)) {
		t.Fatalf("verify: %v %s", err, rep)
	}
}

// syncBuffer is a log destination that tests read while the server writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestAuditCheckpointsPublished: with audit.signing_key, the server signs
// the head after appends, logs the signed head at info level and serves it
// at /api/v1/audit/head; the signature verifies with the public key.
func TestAuditCheckpointsPublished(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "audit.key")
	pub, err := audit.GenerateKeyFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "nightowl.yaml")
	writeConfig(t, cfg, "storage: {sqlite: test.db}\naudit: {signing_key: audit.key}\n")
	var logs syncBuffer
	a, err := New(context.Background(), Options{ConfigPath: cfg, Listen: "127.0.0.1:0",
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), BcryptCost: testCost, PublicTTL: -1})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Stop(context.Background()) })
	admin := adminToken(t, a)
	base := "http://" + a.Addr()

	var got struct {
		Head       struct{ Seq int64 }
		Checkpoint *web.CheckpointJSON
	}
	if code := getJSON(t, admin, "GET", base+"/api/v1/audit/head", &got); code != 200 || got.Checkpoint != nil {
		t.Fatalf("before any entry: %d %+v", code, got)
	}
	a.audit.Audit(context.Background(), nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: "a-1", Detail: "check shop"})
	a.audit.Audit(context.Background(), nightowl.AuditEntry{Actor: "ana", Action: "alert.ack", Subject: "a-2", Detail: "check shop"})
	waitFor(t, "a checkpoint of both entries", func() bool {
		getJSON(t, admin, "GET", base+"/api/v1/audit/head", &got)
		return got.Checkpoint != nil && got.Checkpoint.Seq == 2
	})
	c := got.Checkpoint
	hash, _ := hex.DecodeString(c.Hash)
	sig, _ := hex.DecodeString(c.Sig)
	if got.Head.Seq != 2 || !audit.VerifyCheckpoint(pub, nightowl.AuditCheckpoint{Seq: c.Seq, Hash: hash, Time: c.Time, KeyID: c.KeyID, Sig: sig}) {
		t.Fatalf("served checkpoint does not verify: %+v", got)
	}
	// The checkpoint is logged once it is stored: the API may show it a
	// moment before the line is written.
	line := fmt.Sprintf(`level=INFO msg="audit checkpoint" seq=2 hash=%s`, c.Hash)
	logged := func() bool {
		return strings.Contains(logs.String(), line) && strings.Contains(logs.String(), "sig="+c.Sig)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !logged() && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if !logged() {
		t.Errorf("the log lacks %s and its signature:\n%s", line, logs.String())
	}
	rep, err := audit.VerifyWith(context.Background(), a.store, audit.VerifyOptions{PublicKeys: []ed25519.PublicKey{pub}, ExpectHead: hash})
	if err != nil || !rep.OK() || rep.Checkpoints == 0 {
		t.Fatalf("verify: %v %s", err, rep)
	}
	viewer := userToken(t, a, "vic", nightowl.RoleViewer)
	req, _ := http.NewRequest("GET", base+"/api/v1/audit/head", nil)
	req.Header.Set("Authorization", "Bearer "+viewer)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a viewer reads the head: %v %v", resp, err)
	}
	if resp, err := http.Get(base + "/api/v1/audit/head"); err != nil || resp.StatusCode != 401 {
		t.Fatalf("without a token: %v %v", resp, err)
	}
}
