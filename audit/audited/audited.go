// Package audited wraps the services people act through (incidents,
// maintenance windows, acknowledgements, people and tokens, schedule
// overrides and calendar feeds) so that what they do is recorded in the
// audit log, rather than inside them: the services stay unaware of the log,
// and what the web layer and the command line use is the recording wrapper.
//
// What has already happened (an acknowledgement, a window started) cannot
// be taken back when recording it fails: the failure is logged by the
// recorder and the caller still gets its answer. A sign-in can be: one that
// cannot be recorded is ended and refused. A change to people or tokens that
// cannot be recorded stands, and the error says so.
package audited

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/contact"
	"github.com/nightowl/nightowl/incident"
	"github.com/nightowl/nightowl/maintenance"
	"github.com/nightowl/nightowl/oncall"
)

// record appends an entry for something that has already happened; the
// recorder logs a failure, which cannot undo it.
func record(ctx context.Context, log nightowl.Auditor, actor, action, subject, detail string) {
	if actor == "" {
		actor = "anonymous"
	}
	_ = log.Audit(ctx, nightowl.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
}

// Acker acknowledges alerts (the alert manager).
type Acker interface {
	Ack(ctx context.Context, id, by string) (nightowl.Alert, bool, error)
}

// Acks records every acknowledgement that changed an alert: repeating one
// is no news.
type Acks struct {
	Acker
	Recorder nightowl.Auditor
}

// Ack acknowledges the alert id on behalf of by, and records it when it
// changed the alert.
func (s Acks) Ack(ctx context.Context, id, by string) (nightowl.Alert, bool, error) {
	al, acked, err := s.Acker.Ack(ctx, id, by)
	if err == nil && acked {
		record(ctx, s.Recorder, by, "alert.ack", al.ID, "check "+al.Check)
	}
	return al, acked, err
}

// Maintenance is the maintenance runner as the web layer sees it
// (web.Maintainer): every window started or ended by hand is recorded.
type Maintenance struct {
	Runner   *maintenance.Runner
	Recorder nightowl.Auditor
}

// MaintenanceList implements web.Maintainer.
func (s Maintenance) MaintenanceList() []nightowl.MaintenanceView { return s.Runner.List() }

// StartMaintenance implements web.Maintainer.
func (s Maintenance) StartMaintenance(ctx context.Context, w nightowl.Window) (nightowl.Window, error) {
	w, err := s.Runner.Start(ctx, w)
	if err == nil {
		record(ctx, s.Recorder, w.CreatedBy, "maintenance.start", w.ID, windowDetail(w))
	}
	return w, err
}

// EndMaintenance implements web.Maintainer.
func (s Maintenance) EndMaintenance(ctx context.Context, id, by string) (nightowl.Window, error) {
	w, err := s.Runner.End(ctx, id, by)
	if err == nil {
		record(ctx, s.Recorder, w.EndedBy, "maintenance.end", w.ID, "name "+w.Name)
	}
	return w, err
}

// Incidents is the incident service as the web layer sees it
// (web.Incidents): every incident opened, updated or published by someone
// is recorded.
type Incidents struct {
	*incident.Service
	Recorder nightowl.Auditor
}

// Open implements web.Incidents.
func (s Incidents) Open(ctx context.Context, title string, impact nightowl.Impact, components []string, message string, public bool, by string) (nightowl.Incident, error) {
	inc, err := s.Service.Open(ctx, title, impact, components, message, public, by)
	if err == nil {
		record(ctx, s.Recorder, by, "incident.open", inc.ID,
			fmt.Sprintf("%q; impact %s; components %s; public %t", inc.Title, inc.Impact, strings.Join(inc.Components, ","), public))
	}
	return inc, err
}

// Update implements web.Incidents.
func (s Incidents) Update(ctx context.Context, id string, u nightowl.IncidentUpdate) (nightowl.Incident, nightowl.IncidentUpdate, error) {
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
		record(ctx, s.Recorder, up.By, "incident.update", inc.ID, strings.Join(detail, "; "))
	}
	return inc, up, err
}

// Publish implements web.Incidents.
func (s Incidents) Publish(ctx context.Context, id, title, message, by string) (nightowl.Incident, nightowl.IncidentUpdate, error) {
	inc, up, err := s.Service.Publish(ctx, id, title, message, by)
	if err == nil {
		detail := "as it stands"
		if up.Public {
			detail = "with a public update"
		}
		record(ctx, s.Recorder, by, "incident.publish", inc.ID, fmt.Sprintf("%q; impact %s; %s", inc.Title, inc.Impact, detail))
	}
	return inc, up, err
}

// Access is the people and tokens service with every sign-in, failed
// sign-in, sign-out and change to users and tokens recorded. The web layer
// uses it as its Authenticator and People; the command line for user and
// token.
type Access struct {
	*access.Service
	Recorder  nightowl.Auditor
	UserStore Users
	// Actor names who is making a change, from the request's context.
	Actor func(ctx context.Context) string
	// Logger logs what could not be undone; slog.Default() when nil.
	Logger *slog.Logger
}

// Users looks people up by name (the store).
type Users interface {
	User(ctx context.Context, name string) (nightowl.User, error)
}

func (s *Access) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.Default()
	}
	return s.Logger
}

func (s *Access) record(ctx context.Context, actor, action, subject, detail string) error {
	return s.Recorder.Audit(ctx, nightowl.AuditEntry{Actor: actor, Action: action, Subject: subject, Detail: detail})
}

// recordDone records a change that is made: a failure cannot undo it, but
// is returned, to be told apart from the change failing.
func (s *Access) recordDone(ctx context.Context, action, subject, detail string) error {
	if err := s.record(ctx, s.Actor(ctx), action, subject, detail); err != nil {
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
func (s *Access) Login(ctx context.Context, name, password, addr string) (nightowl.Session, string, error) {
	return s.LoginWith(ctx, name, password, nightowl.SessionInfo{Address: addr})
}

// LoginWith is Login with what the session records of where it began. A
// sign-in that waits for a second factor says so in its entry.
func (s *Access) LoginWith(ctx context.Context, name, password string, info nightowl.SessionInfo) (nightowl.Session, string, error) {
	addr := info.Address
	sess, cookie, err := s.Service.LoginWith(ctx, name, password, info)
	switch nightowl.ErrorCode(err) {
	case "":
		detail := "from " + addr
		if sess.Pending != "" {
			detail += "; waits for " + strings.ReplaceAll(sess.Pending, "_", " ")
		}
		if rerr := s.record(ctx, sess.User, "login", sess.User, detail); rerr != nil {
			if lerr := s.Service.Logout(context.WithoutCancel(ctx), cookie); lerr != nil {
				s.logger().Error("end a sign-in that could not be recorded", "user", sess.User, "err", lerr)
			}
			return nightowl.Session{}, "", nightowl.Errorf(nightowl.EInternal, "the sign-in could not be recorded in the audit log: try again")
		}
	case nightowl.EUnauthorized:
		actor, detail := "unknown", "unknown name, from "+addr
		if _, uerr := s.UserStore.User(ctx, name); uerr == nil {
			actor, detail = name, "wrong password, from "+addr
			if errors.Is(err, access.ErrPasswordsOff) {
				detail = "password sign-in is off but for the break-glass account, from " + addr
			}
		}
		s.record(ctx, actor, "login.failed", actor, detail)
	}
	return sess, cookie, err
}

// Logout implements web.Authenticator. Ending a session that has already
// ended is no sign-out, and not recorded.
func (s *Access) Logout(ctx context.Context, cookie string) error {
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
func (s *Access) AddUser(ctx context.Context, name string, role nightowl.Role, password string) (nightowl.User, error) {
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
func (s *Access) RemoveUser(ctx context.Context, name string) error {
	if err := s.Service.RemoveUser(ctx, name); err != nil {
		return err
	}
	return s.recordDone(ctx, "user.remove", name, "with their tokens and sessions")
}

// SetRole changes a user's role, recorded.
func (s *Access) SetRole(ctx context.Context, name string, role nightowl.Role) error {
	before, _ := s.UserStore.User(ctx, name)
	if err := s.Service.SetRole(ctx, name, role); err != nil {
		return err
	}
	return s.recordDone(ctx, "user.role", name, fmt.Sprintf("from %s to %s", before.Role, role))
}

// SetPassword gives a user a new password, recorded (without it).
func (s *Access) SetPassword(ctx context.Context, name, password string) error {
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
func (s *Access) ChangePassword(ctx context.Context, name, current, password string) (nightowl.Session, string, error) {
	sess, cookie, err := s.Service.ChangePassword(ctx, name, current, password)
	if err != nil && !errors.Is(err, nightowl.ErrPasswordChanged) {
		return sess, cookie, err
	}
	detail := "their own, on the dashboard; their other sessions ended"
	if err != nil {
		detail = "their own, on the dashboard; then " + nightowl.ErrorMessage(err)
	}
	if rerr := s.record(context.WithoutCancel(ctx), name, "user.password", name, detail); rerr != nil {
		s.logger().Error("a change of password could not be recorded in the audit log", "user", name, "err", rerr)
		if err == nil {
			err = fmt.Errorf("%w, but %w", nightowl.ErrPasswordChanged,
				nightowl.Errorf(nightowl.EInternal, "the change could not be recorded in the audit log: %v", rerr))
		}
	}
	return sess, cookie, err
}

// CreateToken makes an API token, recorded without its secret.
func (s *Access) CreateToken(ctx context.Context, user, name string, role nightowl.Role, ttl time.Duration) (nightowl.Token, string, error) {
	return s.CreateTokenWith(ctx, user, name, role, ttl, access.TokenOptions{})
}

// CreateTokenWith is CreateToken with opts, recorded with them.
func (s *Access) CreateTokenWith(ctx context.Context, user, name string, role nightowl.Role, ttl time.Duration, opts access.TokenOptions) (nightowl.Token, string, error) {
	t, secret, err := s.Service.CreateTokenWith(ctx, user, name, role, ttl, opts)
	if err != nil {
		return t, secret, err
	}
	detail := fmt.Sprintf("for %s; name %s; role %s", t.User, t.Name, t.Role)
	if t.CanApprove {
		detail += "; can approve actions"
	}
	if !t.ExpiresAt.IsZero() {
		detail += "; expires " + t.ExpiresAt.UTC().Format(time.RFC3339)
	}
	if err := s.recordDone(ctx, "token.create", t.ID, detail); err != nil {
		return t, secret, err
	}
	return t, secret, nil
}

// RevokeToken revokes an API token, recorded.
func (s *Access) RevokeToken(ctx context.Context, id string) error {
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

// Contacts is the contact method service as the web layer sees it
// (web.Contacts): every method added, verified or removed, and every
// change of rules, is recorded under its person, never with its address,
// which may be a secret (a chat webhook URL).
type Contacts struct {
	*contact.Service
	Recorder nightowl.Auditor
}

// Add implements web.Contacts.
func (s Contacts) Add(ctx context.Context, user, kind, address, label string) (nightowl.ContactMethod, error) {
	c, err := s.Service.Add(ctx, user, kind, address, label)
	if c.ID != "" {
		record(ctx, s.Recorder, user, "contact.add", c.ID, "kind "+kind)
	}
	return c, err
}

// Verify implements web.Contacts.
func (s Contacts) Verify(ctx context.Context, user, id, code string) (nightowl.ContactMethod, error) {
	before, _ := s.Service.Store().Contact(ctx, id)
	c, err := s.Service.Verify(ctx, user, id, code)
	if err == nil && !before.Verified() {
		record(ctx, s.Recorder, user, "contact.verify", id, "kind "+c.Kind)
	}
	return c, err
}

// Delete implements web.Contacts.
func (s Contacts) Delete(ctx context.Context, user, id string) error {
	err := s.Service.Delete(ctx, user, id)
	if err == nil {
		record(ctx, s.Recorder, user, "contact.remove", id, "")
	}
	return err
}

// SetRules implements web.Contacts.
func (s Contacts) SetRules(ctx context.Context, user string, rules []nightowl.NotificationRule) error {
	err := s.Service.SetRules(ctx, user, rules)
	if err == nil {
		parts := make([]string, len(rules))
		for i, r := range rules {
			parts[i] = r.Contact + " after " + nightowl.FormatDuration(r.After)
		}
		record(ctx, s.Recorder, user, "contact.rules", user, strings.Join(parts, ", "))
	}
	return err
}

// Oncall is the roster as the web layer sees it (web.Oncall): every
// override added or deleted and every calendar feed created or revoked is
// recorded, never a feed's secret.
type Oncall struct {
	*oncall.Roster
	Recorder nightowl.Auditor
}

// AddOverride implements web.Oncall.
func (s Oncall) AddOverride(ctx context.Context, o nightowl.ScheduleOverride) (nightowl.ScheduleOverride, error) {
	o, err := s.Roster.AddOverride(ctx, o)
	if err == nil {
		record(ctx, s.Recorder, o.CreatedBy, "override.add", o.ID, overrideDetail(o))
	}
	return o, err
}

// DeleteOverride implements web.Oncall.
func (s Oncall) DeleteOverride(ctx context.Context, schedule, id, by string) (nightowl.ScheduleOverride, error) {
	o, err := s.Roster.DeleteOverride(ctx, schedule, id)
	if err == nil {
		record(ctx, s.Recorder, by, "override.delete", o.ID, overrideDetail(o))
	}
	return o, err
}

func overrideDetail(o nightowl.ScheduleOverride) string {
	d := fmt.Sprintf("schedule %s; user %s; from %s to %s", o.Schedule, o.User, o.From.UTC().Format(time.RFC3339), o.To.UTC().Format(time.RFC3339))
	if o.Reason != "" {
		d += fmt.Sprintf("; reason %q", o.Reason)
	}
	return d
}

// CreateFeed implements web.Oncall.
func (s Oncall) CreateFeed(ctx context.Context, kind nightowl.FeedKind, name, by string) (string, error) {
	secret, err := s.Roster.CreateFeed(ctx, kind, name, by)
	if err == nil {
		record(ctx, s.Recorder, by, "feed.create", string(kind)+" "+name, "a new secret; the old one, if any, no longer works")
	}
	return secret, err
}

// RevokeFeed implements web.Oncall.
func (s Oncall) RevokeFeed(ctx context.Context, kind nightowl.FeedKind, name, by string) error {
	err := s.Roster.RevokeFeed(ctx, kind, name)
	if err == nil {
		record(ctx, s.Recorder, by, "feed.revoke", string(kind)+" "+name, "")
	}
	return err
}

// ConfirmTOTP enrols a TOTP key, recorded (without the key or the codes).
func (s *Access) ConfirmTOTP(ctx context.Context, cookie, id, code, addr string) (nightowl.Session, []string, error) {
	sess, codes, err := s.Service.ConfirmTOTP(ctx, cookie, id, code, addr)
	if sess.User == "" {
		return sess, codes, err
	}
	detail := "totp " + id + "; their other sessions ended"
	if codes != nil {
		detail += fmt.Sprintf("; %d new recovery codes", len(codes))
	}
	if rerr := s.record(context.WithoutCancel(ctx), sess.User, "factor.enrol", sess.User, detail); rerr != nil && err == nil {
		err = nightowl.Errorf(nightowl.EInternal, "the second factor was added, but could not be recorded in the audit log: %v", rerr)
	}
	return sess, codes, err
}

// RemoveFactor removes a second factor, recorded.
func (s *Access) RemoveFactor(ctx context.Context, cookie, id string) (nightowl.Factor, error) {
	f, err := s.Service.RemoveFactor(ctx, cookie, id)
	if f.User == "" {
		return f, err
	}
	if rerr := s.record(context.WithoutCancel(ctx), f.User, "factor.remove", f.User, f.Kind+" "+f.ID+"; their other sessions ended"); rerr != nil && err == nil {
		err = nightowl.Errorf(nightowl.EInternal, "the second factor was removed, but could not be recorded in the audit log: %v", rerr)
	}
	return f, err
}

// VerifyFactor takes a second factor; the use of a recovery code is
// recorded, and so is a wrong code (never the code itself).
func (s *Access) VerifyFactor(ctx context.Context, cookie, code, addr string) (nightowl.Session, string, int, error) {
	sess, used, left, err := s.Service.VerifyFactor(ctx, cookie, code, addr)
	switch {
	case err == nil && used == access.CodeRecovery:
		if rerr := s.record(ctx, sess.User, "factor.recovery", sess.User, fmt.Sprintf("used a recovery code, from %s; %d left", addr, left)); rerr != nil {
			return sess, used, left, nightowl.Errorf(nightowl.EInternal, "the recovery code was used, but could not be recorded in the audit log: %v", rerr)
		}
	case nightowl.ErrorCode(err) == nightowl.EUnauthorized:
		if who, _, serr := s.Service.Session(ctx, cookie); serr == nil {
			s.record(ctx, who.User, "factor.failed", who.User, "wrong code, from "+addr)
		}
	}
	return sess, used, left, err
}

// NewRecoveryCodes replaces a person's recovery codes, recorded.
func (s *Access) NewRecoveryCodes(ctx context.Context, cookie string) ([]string, error) {
	who, _, serr := s.Service.Session(ctx, cookie)
	codes, err := s.Service.NewRecoveryCodes(ctx, cookie)
	if err != nil || serr != nil {
		return codes, err
	}
	if rerr := s.record(ctx, who.User, "factor.recovery_codes", who.User, fmt.Sprintf("%d new recovery codes; the old ones no longer work", len(codes))); rerr != nil {
		return nil, nightowl.Errorf(nightowl.EInternal, "new recovery codes could not be recorded in the audit log: try again")
	}
	return codes, nil
}

// EndSession ends a session; ending someone else's is recorded.
func (s *Access) EndSession(ctx context.Context, user, id string) (nightowl.Session, error) {
	sess, err := s.Service.EndSession(ctx, user, id)
	if err != nil {
		return sess, err
	}
	if actor := s.Actor(ctx); actor != sess.User {
		if err := s.recordDone(ctx, "session.end", sess.User, "session "+sess.ID+" from "+sess.Address); err != nil {
			return sess, err
		}
	}
	return sess, nil
}

// FinishPasskey keeps a passkey, recorded as ConfirmTOTP's key is.
func (s *Access) FinishPasskey(ctx context.Context, cookie, name, rpID, origin string, body []byte) (nightowl.Session, []string, error) {
	sess, codes, err := s.Service.FinishPasskey(ctx, cookie, name, rpID, origin, body)
	if sess.User == "" {
		return sess, codes, err
	}
	detail := "passkey " + name + "; their other sessions ended"
	if codes != nil {
		detail += fmt.Sprintf("; %d new recovery codes", len(codes))
	}
	if rerr := s.record(context.WithoutCancel(ctx), sess.User, "factor.enrol", sess.User, detail); rerr != nil && err == nil {
		err = nightowl.Errorf(nightowl.EInternal, "the passkey was added, but could not be recorded in the audit log: %v", rerr)
	}
	return sess, codes, err
}

// oidcActor is the actor of the changes single sign-on makes to an
// account: the identity provider's groups, not a person here.
const oidcActor = "oidc"

// SignInOIDC implements admin.OIDCAccounts: it signs in someone the
// identity provider vouched for, making their account at their first
// sign-in (user.add) and bringing its role in line with their groups
// (user.role), both with the actor oidc, then records the sign-in
// (login, with the method). A sign-in that cannot be recorded is ended
// and refused, as a password's.
func (s *Access) SignInOIDC(ctx context.Context, name string, role nightowl.Role, info nightowl.SessionInfo) (nightowl.Session, string, error) {
	res, err := s.Service.SignInExternal(ctx, access.External{Name: name, Role: role, Source: nightowl.SourceOIDC}, info)
	if err != nil {
		s.OIDCFailed(ctx, name, nightowl.ErrorMessage(err), info.Address)
		return nightowl.Session{}, "", err
	}
	// The account's changes stand: record them even if the caller has
	// gone.
	rctx := context.WithoutCancel(ctx)
	if res.Created {
		if rerr := s.record(rctx, oidcActor, "user.add", name, "role "+string(role)+"; at their first single sign-on"); rerr != nil {
			s.logger().Error("an account made by single sign-on could not be recorded in the audit log", "user", name, "err", rerr)
		}
	}
	if res.RoleBefore != "" {
		detail := fmt.Sprintf("from %s to %s, by their groups at the identity provider", res.RoleBefore, role)
		if rerr := s.record(rctx, oidcActor, "user.role", name, detail); rerr != nil {
			s.logger().Error("a role set by single sign-on could not be recorded in the audit log", "user", name, "err", rerr)
		}
	}
	if rerr := s.record(ctx, name, "login", name, "with oidc, from "+info.Address); rerr != nil {
		if lerr := s.Service.Logout(rctx, res.Cookie); lerr != nil {
			s.logger().Error("end a sign-in that could not be recorded", "user", name, "err", lerr)
		}
		return nightowl.Session{}, "", nightowl.Errorf(nightowl.EInternal, "the sign-in could not be recorded in the audit log: try again")
	}
	return res.Session, res.Cookie, nil
}

// OIDCFailed implements admin.OIDCAccounts: a refused single sign-on is
// recorded as login.failed, under the name when the provider's answer
// got that far, with why (never a code or a token) and from where.
func (s *Access) OIDCFailed(ctx context.Context, name, why, addr string) {
	actor := name
	if actor == "" {
		actor = "unknown"
	}
	s.record(ctx, actor, "login.failed", actor, "oidc: "+why+"; from "+addr)
}
