package records

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/nightowl/nightowl"
)

// CheckUser is the check a user passes before it is saved.
func CheckUser(u *nightowl.User) error {
	if u.Name == "" || !u.Role.Valid() {
		return nightowl.Errorf(nightowl.EInvalid, "user %q needs a name and a role (one of viewer, responder, admin)", u.Name)
	}
	return nil
}

// CheckToken is the check a token passes before it is saved.
func CheckToken(t *nightowl.Token) error {
	if t.ID == "" || t.User == "" || len(t.Hash) == 0 || !t.Role.Valid() {
		return nightowl.Errorf(nightowl.EInvalid, "token %q needs an id, a user, a hash and a role", t.ID)
	}
	return nil
}

// CheckSession is the check a session passes before it is saved.
func CheckSession(ss *nightowl.Session) error {
	if len(ss.Hash) == 0 || ss.User == "" {
		return nightowl.Errorf(nightowl.EInvalid, "session needs a hash and a user")
	}
	return nil
}

// A Refusal is what a store's driver says of a failed upsert: which
// constraint, if any, refused it.
type Refusal int

const (
	NotRefused Refusal = iota
	// ForeignKey: the user the token or session belongs to is not there.
	ForeignKey
	// Unique: another row has the same secret.
	Unique
)

// TokenSaved is the error of the upsert that saves t: err told apart by
// what refused it, or a conflict when it wrote no row (another token has
// the ID, with another hash or user).
func TokenSaved(t *nightowl.Token, err error, by Refusal, changed int64) error {
	switch {
	case by == ForeignKey:
		return NotFound("user", t.User)
	case by == Unique:
		return nightowl.Errorf(nightowl.EConflict, "another token has the same secret")
	case err == nil && changed == 0:
		return nightowl.Errorf(nightowl.EConflict, "another token has the id %q", t.ID)
	}
	return err
}

// SessionSaved is the error of the upsert that saves ss: a missing user, or
// a conflict when it wrote no row (a session never changes hands).
func SessionSaved(ss *nightowl.Session, err error, by Refusal, changed int64) error {
	switch {
	case by == ForeignKey:
		return NotFound("user", ss.User)
	case err == nil && changed == 0:
		return nightowl.Errorf(nightowl.EConflict, "another user has the same session")
	}
	return err
}

// SaveRequest saves r through write, which writes data (r with its next
// version) over the stored request only when the stored one still has
// version from, and says how many rows it changed. On success r has its
// new version; when no row changed, another write came first, and the
// error is a conflict.
func SaveRequest(r *nightowl.ActionRequest, write func(data []byte, from int64) (changed int64, err error)) error {
	from := r.Version
	r.Version = from + 1
	data, err := EncodeRequest(r)
	if err != nil {
		r.Version = from
		return err
	}
	n, err := write(data, from)
	if err == nil && n == 0 {
		err = RequestChanged(r.ID)
	}
	if err != nil {
		r.Version = from
		return err
	}
	return nil
}

// RequestChanged is the error of a save that lost to another write of the
// same request.
func RequestChanged(id string) error {
	return nightowl.Errorf(nightowl.EConflict, "action request %s changed meanwhile", id)
}

// EncodeRequest checks r and encodes it as both stores keep it: whole.
func EncodeRequest(r *nightowl.ActionRequest) ([]byte, error) {
	if r.ID == "" || r.Action == "" || r.State == "" || r.RequestedAt.IsZero() {
		return nil, nightowl.Errorf(nightowl.EInvalid, "action request needs an id, an action, a state and a time")
	}
	data, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("save action request %s: %w", r.ID, err)
	}
	return data, nil
}

// StartRequest saves r, which the caller has just moved to running, as
// SaveRequest does, but only when no other request of its action started
// within cooldown before r.StartedAt: the cooldown and the run are claimed
// together. write runs in one transaction that the store serialises per
// action: unless since is zero (no cooldown), it returns when another
// request of the action last started after since, writing nothing then;
// else it writes data over version from as SaveRequest's write does. StartRequest returns that time when the
// cooldown refused the run; r is then unchanged.
func StartRequest(r *nightowl.ActionRequest, cooldown time.Duration, write func(data []byte, from int64, since time.Time) (changed int64, last time.Time, err error)) (time.Time, error) {
	if r.State != nightowl.RequestRunning || r.StartedAt.IsZero() {
		return time.Time{}, nightowl.Errorf(nightowl.EInvalid, "action request %s is started only as running, with a start time", r.ID)
	}
	from := r.Version
	r.Version = from + 1
	data, err := EncodeRequest(r)
	if err != nil {
		r.Version = from
		return time.Time{}, err
	}
	var since time.Time // zero: no cooldown to check
	if cooldown > 0 {
		since = r.StartedAt.Add(-cooldown)
	}
	n, last, err := write(data, from, since)
	switch {
	case err != nil:
	case !last.IsZero():
		r.Version = from
		return last, nil
	case n == 0:
		err = RequestChanged(r.ID)
	}
	if err != nil {
		r.Version = from
		return time.Time{}, err
	}
	return time.Time{}, nil
}
