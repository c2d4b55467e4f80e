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
}

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
}

// Session is a signed-in browser. Only a hash of its cookie is kept.
type Session struct {
	Hash      []byte    `json:"-"`
	User      string    `json:"user"`
	CSRF      string    `json:"-"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt moves on while the session is used, up to MaxUntil.
	ExpiresAt time.Time `json:"expires_at"`
	MaxUntil  time.Time `json:"max_until"`
}

// AccessStore keeps users, their tokens and their sessions.
type AccessStore interface {
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
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteSessions signs a user out everywhere.
	DeleteSessions(ctx context.Context, user string) error

	// TouchToken and TouchSession record a use: they update a row that
	// must exist (ENotFound otherwise), and never bring back one that
	// another process deleted meanwhile, as a save would.
	TouchToken(ctx context.Context, id string, lastUsed time.Time) error
	TouchSession(ctx context.Context, hash []byte, expiresAt time.Time) error
}
