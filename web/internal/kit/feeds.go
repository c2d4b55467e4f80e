package kit

import (
	"net/http"
	"strings"

	"github.com/nightowl/nightowl"
)

// MayManageFeed says whether p may create or revoke the calendar feed of
// kind and name: a user's own feed, any schedule's for a responder, any
// feed for an admin. The API and the dashboard both ask it.
func MayManageFeed(p Principal, kind nightowl.FeedKind, name string) error {
	switch {
	case p.Role.Allows(nightowl.RoleAdmin):
		return nil
	case kind == nightowl.FeedUser && p.User != "" && p.User == name:
		return nil
	case kind == nightowl.FeedSchedule && p.Role.Allows(nightowl.RoleResponder):
		return nil
	case kind == nightowl.FeedUser:
		return nightowl.Errorf(nightowl.EForbidden, "only %s, or an admin, manages the calendar feed of user %s", name, name)
	}
	return nightowl.Errorf(nightowl.EForbidden, "a schedule's calendar feed needs the responder role; %s has %s", orAnonymous(p.User), p.Role)
}

func orAnonymous(user string) string {
	if user == "" {
		return "an anonymous request"
	}
	return user
}

// FeedKind reads the kind of a feed as a path names it.
func FeedKind(s string) (nightowl.FeedKind, error) {
	switch k := nightowl.FeedKind(s); k {
	case nightowl.FeedUser, nightowl.FeedSchedule:
		return k, nil
	}
	return "", nightowl.Errorf(nightowl.ENotFound, "a calendar feed is of a user or a schedule, not %q", s)
}

// FeedURL is the address of a calendar feed: under server.public_url when
// set, else under the address the request came to, which is the one its
// maker uses.
func FeedURL(r *http.Request, publicURL, secret string) string {
	base := strings.TrimRight(publicURL, "/")
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	return base + FeedPath(secret)
}

// FeedPath is the path of a calendar feed.
func FeedPath(secret string) string { return "/calendar/" + secret + ".ics" }
