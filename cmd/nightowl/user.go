package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/access"
	"github.com/nightowl/nightowl/app"
)

// withAccess opens the storage of the config named by -c for a command
// that manages people or tokens, and runs fn. Every change is recorded in
// the audit log as made by cliActor (audit.go).
func withAccess(ctx context.Context, e *env, cfgPath string, fn func(svc accessService) int) int {
	return withStorage(ctx, e, cfgPath, func(st *app.Storage) int {
		return fn(st.Access(cliActor(e)))
	})
}

// accessService is what the user and token commands use of access.Service.
type accessService interface {
	AddUser(ctx context.Context, name string, role nightowl.Role, password string) (nightowl.User, error)
	RemoveUser(ctx context.Context, name string) error
	SetRole(ctx context.Context, name string, role nightowl.Role) error
	SetPassword(ctx context.Context, name, password string) error
	Users(ctx context.Context) ([]nightowl.User, error)
	CreateTokenWith(ctx context.Context, user, name string, role nightowl.Role, ttl time.Duration, opts access.TokenOptions) (nightowl.Token, string, error)
	Tokens(ctx context.Context, user string) ([]nightowl.Token, error)
	RevokeToken(ctx context.Context, id string) error
}

func userAdd(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	role := fs.String("role", "viewer", "viewer, responder or admin")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input")
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil {
			return exitBadConfig
		}
		if len(pos) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl user add [-c FILE] [--role ROLE] [--password-stdin] NAME")
			return exitBadConfig
		}
		password, err := readPassword(e, *fromStdin)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl user add:", err)
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			u, err := svc.AddUser(ctx, pos[0], nightowl.Role(*role), password)
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl user add:", nightowl.ErrorMessage(err))
				return exitNotUp
			}
			fmt.Fprintf(e.stdout, "added %s (%s)\n", u.Name, u.Role)
			return exitOK
		})
	}
}

func userList(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		if _, err := parse(fs, args); err != nil {
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			users, err := svc.Users(ctx)
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl user list:", err)
				return exitNotUp
			}
			tw := newTable(e.stdout, "NAME", "ROLE", "ADDED")
			for _, u := range users {
				tw.row(u.Name, u.Role, u.CreatedAt.Local().Format("2006-01-02 15:04"))
			}
			tw.flush()
			return exitOK
		})
	}
}

func userRole(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) != 2 {
			fmt.Fprintln(e.stderr, "usage: nightowl user role [-c FILE] NAME viewer|responder|admin")
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			if err := svc.SetRole(ctx, pos[0], nightowl.Role(pos[1])); err != nil {
				fmt.Fprintln(e.stderr, "nightowl user role:", nightowl.ErrorMessage(err))
				return exitNotUp
			}
			fmt.Fprintf(e.stdout, "%s is now %s\n", pos[0], pos[1])
			return exitOK
		})
	}
}

func userPassword(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	fromStdin := fs.Bool("password-stdin", false, "read the new password from the first line of standard input")
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl user password [-c FILE] [--password-stdin] NAME")
			return exitBadConfig
		}
		password, err := readPassword(e, *fromStdin)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl user password:", err)
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			if err := svc.SetPassword(ctx, pos[0], password); err != nil {
				fmt.Fprintln(e.stderr, "nightowl user password:", nightowl.ErrorMessage(err))
				return exitNotUp
			}
			fmt.Fprintf(e.stdout, "changed the password of %s; their sessions have ended\n", pos[0])
			return exitOK
		})
	}
}

func userRemove(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) == 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl user remove [-c FILE] NAME...")
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			code := exitOK
			for _, name := range pos {
				if err := svc.RemoveUser(ctx, name); err != nil {
					fmt.Fprintf(e.stderr, "nightowl user remove %s: %s\n", name, nightowl.ErrorMessage(err))
					code = exitNotUp
					continue
				}
				fmt.Fprintf(e.stdout, "removed %s, with their tokens and sessions\n", name)
			}
			return code
		})
	}
}

// readPassword reads a new password: from standard input's first line, or
// asked twice on the terminal without echo.
func readPassword(e *env, fromStdin bool) (string, error) {
	if fromStdin {
		line, err := bufio.NewReader(e.stdin).ReadString('\n')
		if err != nil && line == "" {
			return "", errors.New("no password on standard input")
		}
		return strings.TrimRight(line, "\r\n"), nil
	}
	fd := int(os.Stdin.Fd())
	if e.stdin != os.Stdin || !term.IsTerminal(fd) {
		return "", errors.New("give the password on a terminal, or with --password-stdin")
	}
	fmt.Fprint(e.stderr, "password: ")
	p1, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	fmt.Fprint(e.stderr, "again: ")
	p2, err := term.ReadPassword(fd)
	fmt.Fprintln(e.stderr)
	if err != nil {
		return "", err
	}
	if string(p1) != string(p2) {
		return "", errors.New("the passwords differ")
	}
	return string(p1), nil
}

func tokenCreate(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	user := fs.String("user", "", "whose token (required)")
	name := fs.String("name", "", "what the token is for, such as ci or grafana")
	role := fs.String("role", "", "act with a lesser role than the user's, such as viewer")
	ttl := fs.Duration("expires", 0, "expire after this long, such as 2160h; never when 0")
	canApprove := fs.Bool("can-approve", false, "let the token approve guarded actions (a responder's or admin's token)")
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 || *user == "" {
			fmt.Fprintln(e.stderr, "usage: nightowl token create [-c FILE] --user NAME [--name NAME] [--role ROLE] [--expires DURATION] [--can-approve]")
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			t, secret, err := svc.CreateTokenWith(ctx, *user, *name, nightowl.Role(*role), *ttl, access.TokenOptions{CanApprove: *canApprove})
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl token create:", nightowl.ErrorMessage(err))
				return exitNotUp
			}
			fmt.Fprintf(e.stderr, "token %s for %s (%s); it is shown only now:\n", t.ID, t.User, t.Role)
			fmt.Fprintln(e.stdout, secret)
			return exitOK
		})
	}
}

func tokenList(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	user := fs.String("user", "", "only this user's tokens")
	return func(ctx context.Context, args []string) int {
		if _, err := parse(fs, args); err != nil {
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			ts, err := svc.Tokens(ctx, *user)
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl token list:", err)
				return exitNotUp
			}
			tw := newTable(e.stdout, "ID", "USER", "NAME", "ROLE", "CREATED", "EXPIRES", "LAST USED")
			day := func(t time.Time) string {
				if t.IsZero() {
					return "-"
				}
				return t.Local().Format("2006-01-02 15:04")
			}
			for _, t := range ts {
				role := string(t.Role)
				if t.CanApprove {
					role += ", may approve"
				}
				tw.row(t.ID, t.User, t.Name, role, day(t.CreatedAt), day(t.ExpiresAt), day(t.LastUsed))
			}
			tw.flush()
			return exitOK
		})
	}
}

func tokenRevoke(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) == 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl token revoke [-c FILE] ID...")
			return exitBadConfig
		}
		return withAccess(ctx, e, cfgPath(), func(svc accessService) int {
			code := exitOK
			for _, id := range pos {
				if err := svc.RevokeToken(ctx, id); err != nil {
					fmt.Fprintf(e.stderr, "nightowl token revoke %s: %s\n", id, nightowl.ErrorMessage(err))
					code = exitNotUp
					continue
				}
				fmt.Fprintf(e.stdout, "revoked %s\n", id)
			}
			return code
		})
	}
}
