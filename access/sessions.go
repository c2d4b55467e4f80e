package access

import (
	"context"
	"fmt"

	"github.com/nightowl/nightowl"
)

// Sessions lists the live sessions of user, newest first; everyone's when
// user is empty. Those that have ended are left out (and deleted when next
// used or pruned).
func (s *Service) Sessions(ctx context.Context, user string) ([]nightowl.Session, error) {
	all, err := s.store.Sessions(ctx, user)
	if err != nil {
		return nil, fmt.Errorf("list sessions: %w", err)
	}
	now := s.clock.Now()
	out := all[:0]
	for _, ss := range all {
		if now.Before(ss.ExpiresAt) && now.Before(ss.MaxUntil) && ss.ID != "" {
			ss.CSRF = ""
			out = append(out, ss)
		}
	}
	return out, nil
}

// EndSession ends the session id of user (of anyone when user is empty)
// and returns it: ENotFound when there is no such live session.
func (s *Service) EndSession(ctx context.Context, user, id string) (nightowl.Session, error) {
	all, err := s.Sessions(ctx, user)
	if err != nil {
		return nightowl.Session{}, err
	}
	for _, ss := range all {
		if ss.ID == id {
			if err := s.deleteSession(ctx, ss.Hash); err != nil {
				return nightowl.Session{}, fmt.Errorf("end session %s: %w", id, err)
			}
			return ss, nil
		}
	}
	return nightowl.Session{}, nightowl.Errorf(nightowl.ENotFound, "no session %s", id)
}
