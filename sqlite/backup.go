package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// Backup writes a consistent copy of the database at src to dst, which must
// not exist, while a server may be writing to src: SQLite's VACUUM INTO
// reads one snapshot of the database (WAL readers never block the writer
// nor see half a transaction) and writes it as a compact file of its own,
// which is then checked. A failed backup leaves no file at dst.
func Backup(ctx context.Context, src, dst string) (err error) {
	if _, err := os.Stat(src); err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("back up to %s: the file exists; nothing was written", dst)
	}
	db, err := sql.Open("sqlite", dsn(src, false))
	if err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	defer db.Close()
	defer func() {
		if err != nil {
			os.Remove(dst)
			os.Remove(dst + "-journal")
		}
	}()
	// query_only forbids VACUUM INTO's write to the main database, which
	// it does not make; it writes dst only.
	conn, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "PRAGMA query_only = 0"); err != nil {
		return fmt.Errorf("back up %s: %w", src, err)
	}
	if _, err := conn.ExecContext(ctx, "VACUUM INTO ?", dst); err != nil {
		return fmt.Errorf("back up %s to %s: %w", src, dst, err)
	}
	if err := Verify(ctx, dst); err != nil {
		return fmt.Errorf("back up %s: the copy does not verify: %w", src, err)
	}
	return nil
}

// Verify checks that the file at path is a whole nightowl database:
// SQLite's integrity check passes and it holds nightowl's schema.
func Verify(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite", dsn(path, false))
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.QueryContext(ctx, "PRAGMA integrity_check")
	if err != nil {
		return fmt.Errorf("%s is not a SQLite database: %w", path, err)
	}
	var problems []string
	for rows.Next() {
		var msg string
		if err := rows.Scan(&msg); err != nil {
			rows.Close()
			return err
		}
		if msg != "ok" {
			problems = append(problems, msg)
		}
	}
	if err := errors.Join(rows.Err(), rows.Close()); err != nil {
		return fmt.Errorf("%s is not a SQLite database: %w", path, err)
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s fails SQLite's integrity check: %s", path, strings.Join(problems, "; "))
	}
	var n int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n == 0 {
		return fmt.Errorf("%s holds no nightowl database", path)
	}
	return nil
}

// Restore replaces the database at path with the backup at from, once the
// backup verifies, and only while no server runs on path (ServeLock): the
// server would go on with the old file's pages in memory and corrupt the
// new one. The old file is replaced whole, by a rename, with its WAL and
// shared-memory files removed; from is left as it was.
func Restore(ctx context.Context, from, path string) error {
	if err := Verify(ctx, from); err != nil {
		return fmt.Errorf("restore %s: %w; nothing was changed", from, err)
	}
	unlock, err := ServeLock(path)
	if err != nil {
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	defer unlock()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".restore-*")
	if err != nil {
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	in, err := os.Open(from)
	if err != nil {
		tmp.Close()
		return fmt.Errorf("restore %s: %w", from, err)
	}
	_, err = tmp.ReadFrom(in)
	in.Close()
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("restore into %s: %w", path, err)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("restore into %s: %w", path, err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// ErrServing is ServeLock's answer while a server runs on the database.
var ErrServing = errors.New("a nightowl server is running on this database: stop it first")

// backupPrefix and backupLayout name the backups BackupInto writes:
// nightowl-20261207T043000Z.db, which sort by name in time order.
const (
	backupPrefix = "nightowl-"
	backupLayout = "20060102T150405Z"
)

// BackupInto writes a backup of the database at src into dir (made if
// missing), named by the UTC time now, and removes the oldest of the
// backups there beyond keep; other files in dir are left alone. It returns
// the new backup's path.
func BackupInto(ctx context.Context, src, dir string, keep int, now time.Time) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("back up into %s: %w", dir, err)
	}
	dst := filepath.Join(dir, backupPrefix+now.UTC().Format(backupLayout)+".db")
	if err := Backup(ctx, src, dst); err != nil {
		return "", err
	}
	names, err := filepath.Glob(filepath.Join(dir, backupPrefix+"*.db"))
	if err != nil {
		return dst, err
	}
	var backups []string
	for _, n := range names {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(n), backupPrefix), ".db")
		if _, err := time.Parse(backupLayout, stamp); err == nil {
			backups = append(backups, n)
		}
	}
	sort.Strings(backups)
	var errs []error
	for len(backups) > keep {
		errs = append(errs, os.Remove(backups[0]))
		backups = backups[1:]
	}
	return dst, errors.Join(errs...)
}
