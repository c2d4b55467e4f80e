package access

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/nightowl/nightowl"
)

// Passkeys and security keys (WebAuthn). A ceremony's challenge lives in
// memory for ceremonyTTL, keyed by the session that began it: a restart,
// or another node of a cluster, forgets it, and the person tries again.
const ceremonyTTL = 5 * time.Minute

// RP is the relying party a WebAuthn ceremony is for: ID is the host name
// (server.public_url's, or the request's when it is unset), Origin the
// scheme, host and port the browser is on.
type RP struct {
	ID, Origin string
}

type ceremony struct {
	data    webauthn.SessionData
	rp      RP
	expires time.Time
}

// ceremonies are the WebAuthn ceremonies begun and not yet finished.
type ceremonies struct {
	mu sync.Mutex
	m  map[string]ceremony
}

func (c *ceremonies) put(key string, cer ceremony, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]ceremony)
	}
	for k, v := range c.m {
		if now.After(v.expires) {
			delete(c.m, k)
		}
	}
	c.m[key] = cer
}

// take returns the ceremony of key, once.
func (c *ceremonies) take(key string, now time.Time) (ceremony, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cer, ok := c.m[key]
	delete(c.m, key)
	return cer, ok && now.Before(cer.expires)
}

// passkeyUser is a person as go-webauthn sees them. Their handle is their
// name: it never changes.
type passkeyUser struct {
	name  string
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return []byte(u.name) }
func (u passkeyUser) WebAuthnName() string                       { return u.name }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.name }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func (s *Service) relyingParty(rp RP) (*webauthn.WebAuthn, error) {
	w, err := webauthn.New(&webauthn.Config{RPID: rp.ID, RPDisplayName: s.issuer, RPOrigins: []string{rp.Origin}})
	if err != nil {
		return nil, nightowl.Errorf(nightowl.EInvalid, "passkeys are not available at %s: %v", rp.Origin, err)
	}
	return w, nil
}

// passkeys returns user's confirmed WebAuthn factors and their credentials.
func (s *Service) passkeys(ctx context.Context, user string) (passkeyUser, []nightowl.Factor, error) {
	fs, err := s.store.Factors(ctx, user)
	if err != nil {
		return passkeyUser{}, nil, fmt.Errorf("read passkeys of %s: %w", user, err)
	}
	u := passkeyUser{name: user}
	var out []nightowl.Factor
	for _, f := range fs {
		if f.Kind != nightowl.FactorWebAuthn || f.ConfirmedAt.IsZero() {
			continue
		}
		var c webauthn.Credential
		if err := json.Unmarshal(f.Secret, &c); err != nil {
			return passkeyUser{}, nil, fmt.Errorf("passkey %s of %s: %w", f.ID, user, err)
		}
		u.creds = append(u.creds, c)
		out = append(out, f)
	}
	return u, out, nil
}

// BeginPasskey begins registering a passkey for the person of the session
// of cookie: it returns the options for navigator.credentials.create, as
// JSON.
func (s *Service) BeginPasskey(ctx context.Context, cookie, rpID, origin string) ([]byte, error) {
	rp := RP{rpID, origin}
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nil, err
	}
	w, err := s.relyingParty(rp)
	if err != nil {
		return nil, err
	}
	u, _, err := s.passkeys(ctx, sess.User)
	if err != nil {
		return nil, err
	}
	opts, data, err := w.BeginRegistration(u, webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return nil, fmt.Errorf("begin a passkey: %w", err)
	}
	s.ceremonies.put("register "+sess.ID, ceremony{data: *data, rp: rp, expires: s.clock.Now().Add(ceremonyTTL)}, s.clock.Now())
	return json.Marshal(opts)
}

// FinishPasskey checks the browser's answer to BeginPasskey and keeps the
// passkey, named name, as a second factor: as ConfirmTOTP, the session has
// given a second factor now, the person's other sessions end, and new
// recovery codes come back when there were none.
func (s *Service) FinishPasskey(ctx context.Context, cookie, name, rpID, origin string, body []byte) (nightowl.Session, []string, error) {
	rp := RP{rpID, origin}
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	if name == "" {
		name = "passkey"
	}
	if err := checkFactorName(name); err != nil {
		return nightowl.Session{}, nil, err
	}
	now := s.clock.Now()
	cer, ok := s.ceremonies.take("register "+sess.ID, now)
	if !ok || cer.rp != rp {
		return nightowl.Session{}, nil, nightowl.Errorf(nightowl.EConflict, "no passkey is being added in this session, or it took too long: start again")
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(body)
	if err != nil {
		return nightowl.Session{}, nil, nightowl.Errorf(nightowl.EInvalid, "the browser's answer is not a passkey's")
	}
	w, err := s.relyingParty(rp)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	u, _, err := s.passkeys(ctx, sess.User)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	cred, err := w.CreateCredential(u, cer.data, parsed)
	if err != nil {
		return nightowl.Session{}, nil, nightowl.Errorf(nightowl.EUnauthorized, "the passkey was refused: %v", err)
	}
	secret, err := json.Marshal(cred)
	if err != nil {
		return nightowl.Session{}, nil, err
	}
	f := nightowl.Factor{ID: nightowl.NewID("f-", 8), User: sess.User, Kind: nightowl.FactorWebAuthn, Name: name,
		Secret: secret, CreatedAt: now.UTC(), ConfirmedAt: now.UTC(), LastUsed: now.UTC()}
	if err := s.store.SaveFactor(ctx, &f); err != nil {
		return nightowl.Session{}, nil, fmt.Errorf("keep a passkey: %w", err)
	}
	var codes []string
	if left, err := s.store.RecoveryCodesLeft(ctx, sess.User); err == nil && left == 0 {
		if codes, err = s.newRecoveryCodes(ctx, sess.User); err != nil {
			return nightowl.Session{}, nil, err
		}
	}
	if sess, err = s.factorGiven(ctx, sess, now); err != nil {
		return nightowl.Session{}, nil, err
	}
	return sess, codes, s.endOtherSessions(ctx, sess)
}

// BeginPasskeyLogin begins the second factor with a passkey for the
// session of cookie: the options for navigator.credentials.get, as JSON.
func (s *Service) BeginPasskeyLogin(ctx context.Context, cookie, rpID, origin string) ([]byte, error) {
	rp := RP{rpID, origin}
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nil, err
	}
	w, err := s.relyingParty(rp)
	if err != nil {
		return nil, err
	}
	u, _, err := s.passkeys(ctx, sess.User)
	if err != nil {
		return nil, err
	}
	if len(u.creds) == 0 {
		return nil, nightowl.Errorf(nightowl.ENotFound, "you have no passkey: use a code")
	}
	opts, data, err := w.BeginLogin(u)
	if err != nil {
		return nil, fmt.Errorf("begin a passkey sign-in: %w", err)
	}
	s.ceremonies.put("login "+sess.ID, ceremony{data: *data, rp: rp, expires: s.clock.Now().Add(ceremonyTTL)}, s.clock.Now())
	return json.Marshal(opts)
}

// FinishPasskeyLogin checks the browser's answer to BeginPasskeyLogin: the
// session has then given a second factor now, as VerifyFactor's. Attempts
// are limited as codes are.
func (s *Service) FinishPasskeyLogin(ctx context.Context, cookie, rpID, origin string, body []byte, addr string) (nightowl.Session, error) {
	rp := RP{rpID, origin}
	sess, err := s.sessionOf(ctx, cookie)
	if err != nil {
		return nightowl.Session{}, err
	}
	now := s.clock.Now()
	if err := s.beginCode(sess.User, addr, now); err != nil {
		return nightowl.Session{}, err
	}
	cer, ok := s.ceremonies.take("login "+sess.ID, now)
	if !ok || cer.rp != rp {
		return nightowl.Session{}, nightowl.Errorf(nightowl.EConflict, "no passkey sign-in was begun in this session, or it took too long: start again")
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(body)
	if err != nil {
		return nightowl.Session{}, nightowl.Errorf(nightowl.EInvalid, "the browser's answer is not a passkey's")
	}
	w, err := s.relyingParty(rp)
	if err != nil {
		return nightowl.Session{}, err
	}
	u, fs, err := s.passkeys(ctx, sess.User)
	if err != nil {
		return nightowl.Session{}, err
	}
	cred, err := w.ValidateLogin(u, cer.data, parsed)
	if err != nil {
		return nightowl.Session{}, nightowl.Errorf(nightowl.EUnauthorized, "the passkey was refused")
	}
	for i, c := range u.creds {
		if string(c.ID) == string(cred.ID) {
			// Keep the signature counter, which tells a cloned key.
			f := fs[i]
			if f.Secret, err = json.Marshal(cred); err == nil {
				f.LastUsed = now.UTC()
				err = s.store.SaveFactor(ctx, &f)
			}
			if err != nil {
				s.log.Warn("access: record a passkey's use", "user", sess.User, "factor", f.ID, "err", err)
			}
		}
	}
	s.codeSucceeded(sess.User, addr)
	return s.factorGiven(ctx, sess, now)
}
