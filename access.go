package nightowl

import (
	"context"
	"time"
)

// Role is what a person may do. Each role may do everything the roles below
// it may.
type Role string

const (
	// RoleViewer reads: checks, alerts, maintenance, incidents, the audit
	// log.
	RoleViewer Role = "viewer"
	// RoleResponder also acts on an outage: acknowledges alerts, starts and
	// ends maintenance, runs incidents, requests and approves actions.
	RoleResponder Role = "responder"
	// RoleAdmin also manages people and tokens and reloads the config.
	RoleAdmin Role = "admin"
)

// Roles lists the roles from the least to the most allowed.
var Roles = []Role{RoleViewer, RoleResponder, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleViewer:
		return 1
	case RoleResponder:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return r.rank() > 0 }

// Allows reports whether someone with role r may do what needs role need.
func (r Role) Allows(need Role) bool { return r.Valid() && r.rank() >= need.rank() }

// User is a person who can sign in.
type User struct {
	Name string `json:"name"`
	Role Role   `json:"role"`
	// PasswordHash is a bcrypt hash; never shown.
	PasswordHash string    `json:"-"`
	CreatedAt    time.Time `json:"created_at"`
	// RoleSince is when the user was given their role: when they were
	// created, or their role last changed. Zero for a user whose role has
	// not changed since before it was recorded.
	RoleSince time.Time `json:"role_since,omitzero"`
	// Source is where the user came from: "" for one made by an admin,
	// SourceOIDC for one made at their first single sign-on, whose role
	// follows the identity provider at every sign-in.
	Source string `json:"source,omitempty"`
}

// SourceOIDC is the Source of a user made by single sign-on.
const SourceOIDC = "oidc"

// Token is an API token of a user. Only a hash of its secret is kept: the
// secret is shown once, when the token is created.
type Token struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	User string `json:"user"`
	// Role is the role the token acts with: the user's, or a lesser one
	// it was created with (a read-only token for a dashboard).
	Role      Role      `json:"role"`
	Hash      []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is zero for a token that does not expire.
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	LastUsed  time.Time `json:"last_used,omitzero"`
	// CanApprove lets the token approve and run guarded actions; only an
	// admin can make such a token.
	CanApprove bool `json:"can_approve,omitempty"`
}

// Session is a signed-in browser. Only a hash of its cookie is kept.
type Session struct {
	Hash []byte `json:"-"`
	// ID names the session where people see it (their list of sessions)
	// without its cookie or hash; empty for one begun before IDs.
	ID        string    `json:"id"`
	User      string    `json:"user"`
	CSRF      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt moves on while the session is used, up to MaxUntil.
	ExpiresAt time.Time `json:"expires_at"`
	MaxUntil  time.Time `json:"max_until"`
	SessionInfo
}

// SessionInfo is how a session began, and what it has proved since.
type SessionInfo struct {
	// Method is how its person signed in: SignInPassword, SignInOIDC or
	// SignInProxy.
	Method string `json:"method,omitempty"`
	// Address and UserAgent are where and with what it signed in.
	Address   string `json:"address,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// FactorAt is when its person last gave a second factor, or signed in
	// afresh at the identity provider: what a step-up asks to be recent.
	// Zero for never.
	FactorAt time.Time `json:"factor_at,omitzero"`
	// Pending, when set, is what the person must still do before the
	// session may do anything else: SessionNeedsFactor,
	// SessionNeedsEnrolment.
	Pending string `json:"pending,omitempty"`
}

// How sessions begin, and what they may still be waiting for.
const (
	SignInPassword = "password"
	SignInOIDC     = "oidc"
	SignInProxy    = "proxy"

	SessionNeedsFactor    = "second_factor"
	SessionNeedsEnrolment = "enrol"
)

// Kinds of second factor.
const (
	FactorTOTP     = "totp"
	FactorWebAuthn = "webauthn"
)

// Factor is a second factor of a user who signs in with a password: a TOTP
// key or a WebAuthn credential (a passkey, a security key).
type Factor struct {
	ID   string `json:"id"`
	User string `json:"user"`
	// Kind is FactorTOTP or FactorWebAuthn.
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Secret is what a code or signature is checked against: a TOTP key
	// sealed with the server's factor key, a WebAuthn credential as JSON.
	// Never shown.
	Secret    []byte    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ConfirmedAt is when a code or signature first proved the factor
	// works; zero while it is being enrolled, when it does not count.
	ConfirmedAt time.Time `json:"confirmed_at,omitzero"`
	LastUsed    time.Time `json:"last_used,omitzero"`
	// LastStep is the TOTP time step of the last code taken: a code is
	// good once.
	LastStep int64 `json:"-"`
}

// TOTPEnrolment is a TOTP key being enrolled, shown once to its person:
// the secret as text, its otpauth:// URL and that URL as a QR code (PNG).
type TOTPEnrolment struct {
	ID     string
	Secret string
	URL    string
	QR     []byte
}

// FactorStore keeps second factors and recovery codes.
type FactorStore interface {
	// SaveFactor creates a factor or updates its name, secret, and times.
	SaveFactor(ctx context.Context, f *Factor) error
	// Factors lists a user's factors, oldest first.
	Factors(ctx context.Context, user string) ([]Factor, error)
	// DeleteFactor removes a user's factor; ENotFound when there is none.
	DeleteFactor(ctx context.Context, user, id string) error
	// UseFactorStep records that a TOTP code of time step step was taken
	// at at, only if no code of that step or a later one was: EConflict
	// otherwise, so that two nodes cannot both take the same code.
	UseFactorStep(ctx context.Context, id string, step int64, at time.Time) error
	// SetRecoveryCodes replaces a user's recovery codes with hashes.
	SetRecoveryCodes(ctx context.Context, user string, hashes [][]byte, at time.Time) error
	// UseRecoveryCode marks the code of hash used, once: ENotFound when
	// the user has no such code left.
	UseRecoveryCode(ctx context.Context, user string, hash []byte, at time.Time) error
	// RecoveryCodesLeft counts a user's unused recovery codes.
	RecoveryCodesLeft(ctx context.Context, user string) (int, error)
}

// AccessStore keeps users, their tokens and their sessions.
type AccessStore interface {
	FactorStore

	// SaveUser creates or updates a user.
	SaveUser(ctx context.Context, u *User) error
	User(ctx context.Context, name string) (User, error)
	Users(ctx context.Context) ([]User, error)
	// DeleteUser removes a user with their tokens and sessions.
	DeleteUser(ctx context.Context, name string) error

	SaveToken(ctx context.Context, t *Token) error
	// TokenByHash finds a token by the hash of its secret.
	TokenByHash(ctx context.Context, hash []byte) (Token, error)
	// Tokens lists a user's tokens; every token when user is empty.
	Tokens(ctx context.Context, user string) ([]Token, error)
	DeleteToken(ctx context.Context, id string) error

	SaveSession(ctx context.Context, s *Session) error
	SessionByHash(ctx context.Context, hash []byte) (Session, error)
	// Sessions lists a user's sessions, newest first; everyone's when user
	// is empty.
	Sessions(ctx context.Context, user string) ([]Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteSessions signs a user out everywhere.
	DeleteSessions(ctx context.Context, user string) error

	// TouchToken and TouchSession record a use: they update a row that
	// must exist (ENotFound otherwise), and never bring back one that
	// another process deleted meanwhile, as a save would.
	TouchToken(ctx context.Context, id string, lastUsed time.Time) error
	TouchSession(ctx context.Context, hash []byte, expiresAt time.Time) error
}

type stepUpKey struct{}

// WithStepUp returns ctx for a request that passed a step-up with the
// second factor its session gave at at, so that the audit entry of what it
// does can say how fresh the factor was.
func WithStepUp(ctx context.Context, at time.Time) context.Context {
	return context.WithValue(ctx, stepUpKey{}, at)
}

// StepUpFrom returns when the second factor of the step-up that ctx's
// request passed was given; false when it passed none (a token's request).
func StepUpFrom(ctx context.Context) (time.Time, bool) {
	at, ok := ctx.Value(stepUpKey{}).(time.Time)
	return at, ok
}
