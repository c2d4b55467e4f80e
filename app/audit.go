package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/audit"
	"github.com/nightowl/nightowl/config"
	"github.com/nightowl/nightowl/incident"
	"github.com/nightowl/nightowl/web"
)

// What people do is recorded in the audit log here, around the services the
// web layer and the command line call, rather than inside them: the
// services stay unaware of the log, and what the web layer sees (an
// Authenticator, People, Incidents) is the recording wrapper.
//
// What has already happened (an acknowledgement, a window started) cannot
// be taken back when recording it fails: the failure is logged at error
// level and the caller still gets its answer. A sign-in can be: one that
// cannot be recorded is ended and refused.

// newAudit makes the recorder over the store.
func (a *App) newAudit() error {
	rec, err := audit.New(audit.Options{Store: a.store, Clock: a.opts.Clock, Logger: a.log, Signer: a.cfg.Audit.Signer})
	if err != nil {
		return err
	}
	a.audit = rec
	a.registry.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "nightowl_audit_checkpoint_refused_total",
		Help: "Times the head of the audit log was not signed because it does not continue the log signed before: it was cut or rewritten in the store.",
	}, func() float64 { return float64(rec.Refused()) }))
	return nil
}

// Auditor returns the recorder of the audit log, for the parts of the
// server (actions) that record what they do themselves.
func (a *App) Auditor() *audit.Recorder { return a.audit }

// record appends an entry for something that has already happened; a
// failure is logged by the recorder, and cannot undo it.
func (a *App) record(ctx context.Context, actor, action, subject, detail string) {
	if actor == "" {
		actor = "anonymous"
	}
	// The recorder has logged the failure.
	_ = a.audit.Audit(ctx, nightowl.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
}

// recordAck records an acknowledgement that succeeded.
func (a *App) recordAck(ctx context.Context, al nightowl.Alert, by string) {
	a.record(ctx, by, "alert.ack", al.ID, "check "+al.Check)
}

// recordMaintenance records a window started ("maintenance.start") or ended
// ("maintenance.end") by hand.
func (a *App) recordMaintenance(ctx context.Context, action string, w nightowl.Window) {
	by, detail := w.CreatedBy, windowDetail(w)
	if action == "maintenance.end" {
		by, detail = w.EndedBy, "name "+w.Name
	}
	a.record(ctx, by, action, w.ID, detail)
}

func windowDetail(w nightowl.Window) string {
	var parts []string
	if w.Name != "" {
		parts = append(parts, "name "+w.Name)
	}
	var sel []string
	for _, k := range slices.Sorted(maps.Keys(w.Checks.Labels)) {
		sel = append(sel, k+"="+w.Checks.Labels[k])
	}
	sel = append(sel, w.Checks.Names...)
	parts = append(parts, "checks "+strings.Join(sel, ","))
	if len(w.Expect) > 0 {
		parts = append(parts, "expect "+strings.Join(w.Expect, ","))
	}
	if !w.End.IsZero() {
		parts = append(parts, "until "+w.End.UTC().Format(time.RFC3339))
	}
	if w.Reason != "" {
		parts = append(parts, "reason "+w.Reason)
	}
	return strings.Join(parts, "; ")
}

// auditedIncidents is the incident service as the web layer sees it: every
// incident opened or updated by someone is recorded.
type auditedIncidents struct {
	*incident.Service
	a *App
}

// Open implements web.Incidents.
func (s auditedIncidents) Open(ctx context.Context, title string, impact nightowl.Impact, components []string, message string, public bool, by string) (nightowl.Incident, error) {
	inc, err := s.Service.Open(ctx, title, impact, components, message, public, by)
	if err == nil {
		s.a.record(ctx, by, "incident.open", inc.ID,
			fmt.Sprintf("%q; impact %s; components %s; public %t", inc.Title, inc.Impact, strings.Join(inc.Components, ","), public))
	}
	return inc, err
}

// Update implements web.Incidents.
func (s auditedIncidents) Update(ctx context.Context, id string, u nightowl.IncidentUpdate) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	inc, up, err := s.Service.Update(ctx, id, u)
	if err == nil {
		kind := "note"
		if up.Public {
			kind = "public update"
		}
		detail := []string{kind}
		if up.State != "" {
			detail = append(detail, "state "+string(up.State))
		}
		if up.Impact != "" {
			detail = append(detail, "impact "+string(up.Impact))
		}
		if up.Components != nil {
			detail = append(detail, "components "+strings.Join(up.Components, ","))
		}
		s.a.record(ctx, up.By, "incident.update", inc.ID, strings.Join(detail, "; "))
	}
	return inc, up, err
}

// Publish implements web.Incidents.
func (s auditedIncidents) Publish(ctx context.Context, id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	inc, up, err := s.Service.Publish(ctx, id, title, message, by)
	if err == nil {
		detail := "as it stands"
		if up.Public {
			detail = "with a public update"
		}
		s.a.record(ctx, by, "incident.publish", inc.ID, fmt.Sprintf("%q; impact %s; %s", inc.Title, inc.Impact, detail))
	}
	return inc, up, err
}

// AuditedAccess is the people and tokens service with every sign-in, failed
// sign-in, sign-out and change to users and tokens recorded. The web layer
// uses it as its Authenticator and People; the command line for user and
// token.
type AuditedAccess struct {
	*access.Service
	audit nightowl.Auditor
	users interface {
		User(ctx context.Context, name string) (nightowl.User, error)
	}
	// actor names who is making a change, from the request's context.
	actor func(ctx context.Context) string
	log   *slog.Logger
}

// webActor is who makes a change through the web: the signed-in user or the
// token's.
func webActor(ctx context.Context) string {
	if p, ok := web.PrincipalFrom(ctx); ok && p.User != "" {
		return p.User
	}
	return "anonymous"
}

// webAccess returns the service as the web layer uses it.
func (a *App) webAccess() *AuditedAccess {
	return &AuditedAccess{Service: a.access, audit: a.audit, users: a.store, actor: webActor, log: a.log}
}

func (s *AuditedAccess) record(ctx context.Context, actor, action, subject, detail string) error {
	return s.audit.Audit(ctx, nightowl.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
}

// recordDone records a change that is made: a failure cannot undo it, but
// is returned, to be told apart from the change failing.
func (s *AuditedAccess) recordDone(ctx context.Context, action, subject, detail string) error {
	if err := s.record(ctx, s.actor(ctx), action, subject, detail); err != nil {
		return nightowl.Errorf(nightowl.EInternal, "%s %s was done, but could not be recorded in the audit log: %v", action, subject, err)
	}
	return nil
}

// Login implements web.Authenticator. A sign-in is recorded with the
// address it came from, a failure too; a refusal by the rate limit is not,
// since it checks no password and costs an attacker nothing: the failures
// that set the limit off are there. A failed sign-in names the user only
// when there is one of that name: people type passwords into the name
// field, and the log keeps what it is given for good.
func (s *AuditedAccess) Login(ctx context.Context, name, password, addr string) (nightowl.Session, string, error) {
	sess, cookie, err := s.Service.Login(ctx, name, password, addr)
	switch nightowl.ErrorCode(err) {
	case "":
		if rerr := s.record(ctx, sess.User, "login", sess.User, "from "+addr); rerr != nil {
			if lerr := s.Service.Logout(context.WithoutCancel(ctx), cookie); lerr != nil {
				s.log.Error("end a sign-in that could not be recorded", "user", sess.User, "err", lerr)
			}
			return nightowl.Session{}, "", nightowl.Errorf(nightowl.EInternal, "the sign-in could not be recorded in the audit log: try again")
		}
	case nightowl.EUnauthorized:
		actor, detail := "unknown", "unknown name, from "+addr
		if _, uerr := s.users.User(ctx, name); uerr == nil {
			actor, detail = name, "wrong password, from "+addr
		}
		s.record(ctx, actor, "login.failed", actor, detail)
	}
	return sess, cookie, err
}

// Logout implements web.Authenticator. Ending a session that has already
// ended is no sign-out, and not recorded.
func (s *AuditedAccess) Logout(ctx context.Context, cookie string) error {
	_, u, serr := s.Service.Session(ctx, cookie)
	if err := s.Service.Logout(ctx, cookie); err != nil {
		return err
	}
	if serr == nil {
		s.record(ctx, u.Name, "logout", u.Name, "")
	}
	return nil
}

// AddUser implements web.People.
func (s *AuditedAccess) AddUser(ctx context.Context, name string, role nightowl.Role, password string) (nightowl.User, error) {
	u, err := s.Service.AddUser(ctx, name, role, password)
	if err != nil {
		return u, err
	}
	if err := s.recordDone(ctx, "user.add", u.Name, "role "+string(u.Role)); err != nil {
		return u, err
	}
	return u, nil
}

// RemoveUser implements web.People.
func (s *AuditedAccess) RemoveUser(ctx context.Context, name string) error {
	if err := s.Service.RemoveUser(ctx, name); err != nil {
		return err
	}
	return s.recordDone(ctx, "user.remove", name, "with their tokens and sessions")
}

// SetRole changes a user's role, recorded.
func (s *AuditedAccess) SetRole(ctx context.Context, name string, role nightowl.Role) error {
	before, _ := s.users.User(ctx, name)
	if err := s.Service.SetRole(ctx, name, role); err != nil {
		return err
	}
	return s.recordDone(ctx, "user.role", name, fmt.Sprintf("from %s to %s", before.Role, role))
}

// SetPassword gives a user a new password, recorded (without it).
func (s *AuditedAccess) SetPassword(ctx context.Context, name, password string) error {
	if err := s.Service.SetPassword(ctx, name, password); err != nil {
		return err
	}
	return s.recordDone(ctx, "user.password", name, "their sessions ended")
}

// ChangePassword implements web.PasswordChanger: a user's change of their
// own password, recorded (without it) as made by them. A change that was
// made is recorded even when no new session could be started after it;
// when recording fails, the change stands and its new session is
// returned with an error that wraps nightowl.ErrPasswordChanged.
func (s *AuditedAccess) ChangePassword(ctx context.Context, name, current, password string) (nightowl.Session, string, error) {
	sess, cookie, err := s.Service.ChangePassword(ctx, name, current, password)
	if err != nil && !errors.Is(err, nightowl.ErrPasswordChanged) {
		return sess, cookie, err
	}
	detail := "their own, on the dashboard; their other sessions ended"
	if err != nil {
		detail = "their own, on the dashboard; then " + nightowl.ErrorMessage(err)
	}
	if rerr := s.record(context.WithoutCancel(ctx), name, "user.password", name, detail); rerr != nil {
		s.log.Error("a change of password could not be recorded in the audit log", "user", name, "err", rerr)
		if err == nil {
			err = fmt.Errorf("%w, but %w", nightowl.ErrPasswordChanged,
				nightowl.Errorf(nightowl.EInternal, "the change could not be recorded in the audit log: %v", rerr))
		}
	}
	return sess, cookie, err
}

// CreateToken makes an API token, recorded without its secret.
func (s *AuditedAccess) CreateToken(ctx context.Context, user, name string, role nightowl.Role, ttl time.Duration) (nightowl.Token, string, error) {
	t, secret, err := s.Service.CreateToken(ctx, user, name, role, ttl)
	if err != nil {
		return t, secret, err
	}
	detail := fmt.Sprintf("for %s; name %s; role %s", t.User, t.Name, t.Role)
	if !t.ExpiresAt.IsZero() {
		detail += "; expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if err := s.recordDone(ctx, "token.create", t.ID, detail); err != nil {
		return t, secret, err
	}
	return t, secret, nil
}

// RevokeToken revokes an API token, recorded.
func (s *AuditedAccess) RevokeToken(ctx context.Context, id string) error {
	var detail string
	if ts, err := s.Service.Tokens(ctx, ""); err == nil {
		for _, t := range ts {
			if t.ID == id {
				detail = fmt.Sprintf("of %s; name %s", t.User, t.Name)
			}
		}
	}
	if err := s.Service.RevokeToken(ctx, id); err != nil {
		return err
	}
	return s.recordDone(ctx, "token.revoke", id, detail)
}

// Storage is the store of a config, opened for the commands that work on it
// directly, without a server: user, token and audit.
type Storage struct {
	store    store
	access   *access.Service
	recorder *audit.Recorder
	// Signer is the audit.signing_key of the config; nil without one.
	Signer *audit.Signer
}

// OpenStorage opens the store of the config at path.
func OpenStorage(ctx context.Context, path string) (*Storage, error) {
	cfg, err := config.LoadContext(ctx, path, config.Options{})
	if err != nil {
		return nil, err
	}
	store, err := openStore(ctx, cfg, nil, nil)
	if err != nil {
		return nil, err
	}
	svc, err := access.New(access.Options{Store: store})
	if err != nil {
		store.Close()
		return nil, err
	}
	rec, err := audit.New(audit.Options{Store: store, Signer: cfg.Audit.Signer})
	if err != nil {
		store.Close()
		return nil, err
	}
	return &Storage{store: store, access: svc, recorder: rec, Signer: cfg.Audit.Signer}, nil
}

// Access returns the people and tokens service, recording every change as
// made by actor.
func (s *Storage) Access(actor string) *AuditedAccess {
	return &AuditedAccess{Service: s.access, audit: s.recorder, users: s.store,
		actor: func(context.Context) string { return actor }, log: slog.Default()}
}

// AuditLog returns the audit log, to list and verify.
func (s *Storage) AuditLog() nightowl.AuditStore { return s.store }

// Close signs a checkpoint of what the command appended to the audit log,
// if it appended anything and the config names a signing key, and closes
// the store.
func (s *Storage) Close() error {
	err := s.recorder.CheckpointOwn(context.Background())
	return errors.Join(err, s.store.Close())
}
