package main

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/app"
	"github.com/nightowl/nightowl/audit"
)

// withStorage opens the storage of the config named by -c for a command that
// works on it directly, and runs fn.
func withStorage(ctx context.Context, e *env, cfgPath string, fn func(st *app.Storage) int) int {
	st, err := app.OpenStorage(ctx, cfgPath)
	if err != nil {
		printConfigError(e, err)
		return exitBadConfig
	}
	defer st.Close()
	return fn(st)
}

// cliActor names who acts through the command line in the audit log. The
// CLI works on the storage with no sign-in, so this is only what the
// environment says: "cli:" and $USER (or $LOGNAME).
func cliActor(e *env) string {
	for _, k := range []string{"USER", "LOGNAME"} {
		if u := e.getenv(k); u != "" {
			return "cli:" + u
		}
	}
	return "cli:unknown"
}

func auditList(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	action := fs.String("action", "", "only actions that start with this, such as login or action.")
	actor := fs.String("actor", "", "only what this user did")
	limit := fs.Int("limit", 50, "at most this many entries, newest first; all when 0")
	asJSON := fs.Bool("json", false, "print JSON")
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 || *limit < 0 {
			fmt.Fprintln(e.stderr, "usage: nightowl audit list [-c FILE] [--action PREFIX] [--actor NAME] [--limit N] [--json]")
			return exitBadConfig
		}
		return withStorage(ctx, e, cfgPath(), func(st *app.Storage) int {
			entries, err := st.AuditLog().AuditEntries(ctx, nightowl.AuditQuery{Action: *action, Actor: *actor, Limit: *limit})
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl audit list:", err)
				return exitNotUp
			}
			if *asJSON {
				if entries == nil {
					entries = []nightowl.AuditEntry{}
				}
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				enc.Encode(map[string]any{"entries": entries})
				return exitOK
			}
			tw := newTable(e.stdout, "SEQ", "TIME", "ACTOR", "ACTION", "SUBJECT", "DETAIL")
			for _, en := range entries {
				tw.row(en.Seq, en.Time.Local().Format("2006-01-02 15:04:05"), en.Actor, en.Action, en.Subject, en.Detail)
			}
			tw.flush()
			return exitOK
		})
	}
}

func auditVerify(e *env, fs *flag.FlagSet) runner {
	cfgPath := configFlag(e, fs)
	var keyFiles fileList
	fs.Var(&keyFiles, "public-key", "a public key `file` that signed checkpoints (repeat for old keys); default the public half of audit.signing_key")
	expect := fs.String("expect-head", "", "a head hash (hex) recorded earlier: fail unless the log holds it")
	usage := "usage: nightowl audit verify [-c FILE] [--public-key FILE]... [--expect-head HASH]"
	return func(ctx context.Context, args []string) int {
		if pos, err := parse(fs, args); err != nil || len(pos) > 0 {
			fmt.Fprintln(e.stderr, usage)
			return exitBadConfig
		}
		var opts audit.VerifyOptions
		if *expect != "" {
			h, err := hex.DecodeString(strings.TrimSpace(*expect))
			if err != nil || len(h) != sha256.Size {
				fmt.Fprintln(e.stderr, "nightowl audit verify: --expect-head must be a SHA-256 hash in hex (64 characters)")
				return exitBadConfig
			}
			opts.ExpectHead = h
		}
		for _, f := range keyFiles {
			data, err := os.ReadFile(f)
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl audit verify:", err)
				return exitBadConfig
			}
			pub, err := audit.ParsePublicKey(data)
			if err != nil {
				fmt.Fprintf(e.stderr, "nightowl audit verify: %s: %v\n", f, err)
				return exitBadConfig
			}
			opts.PublicKeys = append(opts.PublicKeys, pub)
		}
		return withStorage(ctx, e, cfgPath(), func(st *app.Storage) int {
			if len(opts.PublicKeys) == 0 && st.Signer != nil {
				opts.PublicKeys = []ed25519.PublicKey{st.Signer.Public()}
			}
			rep, err := audit.VerifyWith(ctx, st.AuditLog(), opts)
			if err != nil {
				fmt.Fprintln(e.stderr, "nightowl audit verify:", err)
				return exitNotUp
			}
			if !rep.OK() {
				fmt.Fprintf(e.stdout, "FAILED: %s\n", text(rep.String()))
				return exitNotUp
			}
			fmt.Fprintln(e.stdout, text(rep.String()))
			return exitOK
		})
	}
}

// auditKeygen makes a key file for audit.signing_key and prints its
// public half, which verifies checkpoints without the power to sign them.
func auditKeygen(e *env, fs *flag.FlagSet) runner {
	return func(ctx context.Context, args []string) int {
		pos, err := parse(fs, args)
		if err != nil || len(pos) != 1 {
			fmt.Fprintln(e.stderr, "usage: nightowl audit keygen FILE    (writes a new Ed25519 key, mode 0600; prints its public key)")
			return exitBadConfig
		}
		pub, err := audit.GenerateKeyFile(pos[0])
		if err != nil {
			fmt.Fprintln(e.stderr, "nightowl audit keygen:", err)
			return exitNotUp
		}
		fmt.Fprintf(e.stderr, "wrote %s (key %s): name it in audit.signing_key; keep it away from the database and its backups\n", pos[0], audit.KeyID(pub))
		e.stdout.Write(audit.PublicKeyPEM(pub))
		return exitOK
	}
}

// fileList is a flag that may be given several times.
type fileList []string

func (f *fileList) String() string     { return strings.Join(*f, ",") }
func (f *fileList) Set(s string) error { *f = append(*f, s); return nil }
