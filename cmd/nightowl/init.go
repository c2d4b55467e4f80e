package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/config"
)

// cmdInit writes the starter config into a directory and creates the first
// admin in its store, so that a new user goes from nothing to a dashboard
// they can sign in to with two commands. It writes nothing over what is
// there, and leaves nothing behind when a step fails.
func cmdInit(e *env, fs *flag.FlagSet) runner {
	dir := fs.String("dir", ".", "the `directory` to write nightowl.yaml (and its database) into")
	admin := fs.String("admin", "admin", "the name of the first admin")
	fromStdin := fs.Bool("password-stdin", false, "read the admin's password from the first line of standard input")
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl init [--dir DIR] [--admin NAME] [--password-stdin]")
			return exitBadConfig
		}
		cfgPath := filepath.Join(*dir, "nightowl.yaml")
		dbPath := filepath.Join(*dir, "nightowl.db")
		for _, p := range []string{cfgPath, dbPath} {
			if _, err := os.Lstat(p); err == nil {
				fmt.Fprintf(e.stderr, "nightowl init: %s exists: nothing was written\n", p)
				return exitBadConfig
			}
		}
		// The password first: a mistake there writes nothing.
		password, err := readPassword(e, *fromStdin)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl init:", err)
			return exitBadConfig
		}
		if err := os.MkdirAll(*dir, 0o755); err != nil {
			fmt.Fprintln(e.stderr, "nightowl init:", err)
			return exitNotUp
		}
		// 0600: a config comes to hold DSNs and tokens.
		f, err := os.OpenFile(cfgPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl init:", err)
			return exitNotUp
		}
		_, err = f.Write(config.Starter)
		err = errors.Join(err, f.Sync(), f.Close())
		code := exitOK
		if err == nil {
			code = withAccess(ctx, e, cfgPath, func(svc accessService) int {
				if _, err := svc.AddUser(ctx, *admin, nightowl.RoleAdmin, password); err != nil {
					fmt.Fprintln(e.stderr, "nightowl init:", nightowl.ErrorMessage(err))
					return exitBadConfig
				}
				return exitOK
			})
		} else {
			fmt.Fprintln(e.stderr, "nightowl init:", err)
			code = exitNotUp
		}
		if code != exitOK {
			for _, p := range []string{cfgPath, dbPath, dbPath + "-wal", dbPath + "-shm"} {
				os.Remove(p)
			}
			return code
		}
		fmt.Fprintf(e.stdout, `wrote %s and added the admin %q.

Start it:           nightowl serve -c %s
Then sign in at:    http://127.0.0.1:8080/admin
`, cfgPath, *admin, cfgPath)
		return exitOK
	}
}
