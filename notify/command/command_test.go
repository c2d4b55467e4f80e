package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
	"github.com/nightowl/nightowl/notify/notifytest"
)

// fixture is the message every receiver package tests with, so that the
// payloads can be compared side by side.
func fixture(kind nightowl.MessageKind) *nightowl.Message {
	return notifytest.AnaAt0131.Message(kind)
}

func notifier(t *testing.T, c *Config) nightowl.Notifier {
	t.Helper()
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	return notifytest.Notifier(t, c, kit.Deps{})
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestInput(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		msg  *nightowl.Message
	}{
		{"firing", Config{}, fixture(nightowl.MessageFiring)},
		{"repeat", Config{}, fixture(nightowl.MessageRepeat)},
		{"acknowledged", Config{}, fixture(nightowl.MessageAcknowledged)},
		{"resolved", Config{}, fixture(nightowl.MessageResolved)},
		{"custom-template", Config{
			TitleTemplate: `{{.Alert.Check}} is {{.Alert.Status}} ({{index .Alert.Labels "site"}})`,
			TextTemplate:  `{{range .Alert.Failed}}{{.Name}}: {{.Message}}; {{end}}`,
		}, fixture(nightowl.MessageFiring)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "stdin")
			// An argument with spaces and a shell metacharacter arrives
			// as one argument, untouched: there is no shell.
			tc.cfg.Command = []string{"testdata/capture.sh", out, "two words; $HOME"}
			tc.cfg.Env = map[string]string{"PAGER_TEAM": "ops"}
			// Not passed on: the program sees a minimal environment.
			t.Setenv("NIGHTOWL_SECRET", "s3cr3t")
			retry, err := notifier(t, &tc.cfg).Notify(context.Background(), tc.msg)
			if err != nil || retry {
				t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
			}
			if got, want := read(t, out+".args"), out+"\ntwo words; $HOME\n"; got != want {
				t.Errorf("arguments %q, want %q", got, want)
			}
			wantEnv := "NIGHTOWL_ALERT_ID=a1b2c3d4e5f6\nNIGHTOWL_CHECK=math-site\nNIGHTOWL_IDEMPOTENCY_KEY=n-42\nNIGHTOWL_KIND=" + string(tc.msg.Kind) +
				"\nPAGER_TEAM=ops\nPATH=" + execPath + "\n"
			if got := read(t, out+".env"); got != wantEnv {
				t.Errorf("environment:\n%s\nwant:\n%s", got, wantEnv)
			}
			notifytest.GoldenIndent(t, tc.name, []byte(read(t, out)))
		})
	}
}

// gone waits for a process to disappear; a killed orphan lingers as a
// zombie until init reaps it.
func gone(pid int) bool {
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			return true
		}
		// A zombie's /proc/PID/stat says Z.
		if b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat"); err == nil {
			if _, after, ok := strings.Cut(string(b), ") "); ok && strings.HasPrefix(after, "Z") {
				return true
			}
		}
	}
	return false
}

func childPID(t *testing.T, path string) int {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && strings.HasSuffix(string(b), "\n") {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			return pid
		}
	}
	t.Fatal("the child's pid never arrived")
	return 0
}

func TestOutcomes(t *testing.T) {
	for _, tc := range []struct {
		name       string
		argv       func(dir string) []string
		timeout    time.Duration
		ctxTimeout time.Duration
		wantRetry  bool
		wantErr    string
		// wantKilled: the child the program started is gone afterwards.
		wantKilled bool
	}{
		{name: "temporary failure", argv: func(string) []string { return []string{"testdata/fail.sh", "75"} },
			wantRetry: true, wantErr: "fail.sh exited with 75 (temporary failure): mail relay said no"},
		{name: "permanent failure", argv: func(string) []string { return []string{"testdata/fail.sh", "1"} },
			wantErr: "fail.sh exited with 1: mail relay said no"},
		{name: "stderr cut at 1 KiB", argv: func(string) []string { return []string{"testdata/fail.sh", "2", "5000"} },
			wantErr: "fail.sh exited with 2: mail relay said no\n" + strings.Repeat("x", stderrLimit-len("mail relay said no\n")) + " …"},
		// The script must have started its child and written to
		// standard error before the time is up, even on a busy
		// machine: it is given two seconds.
		{name: "timeout", argv: func(dir string) []string { return []string{"testdata/hang.sh", filepath.Join(dir, "pid")} },
			timeout: 2 * time.Second, wantRetry: true, wantKilled: true,
			wantErr: "hang.sh: timed out after 2s, process group killed: waiting for the relay"},
		{name: "context deadline", argv: func(dir string) []string { return []string{"testdata/hang.sh", filepath.Join(dir, "pid")} },
			ctxTimeout: 2 * time.Second, wantRetry: true, wantKilled: true,
			wantErr: "hang.sh: context deadline exceeded, process group killed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			n := notifier(t, &Config{Command: tc.argv(dir), Timeout: tc.timeout})
			start := time.Now()
			retry, err := n.Notify(ctx, fixture(nightowl.MessageFiring))
			if err == nil {
				t.Fatal("Notify succeeded")
			}
			if retry != tc.wantRetry {
				t.Errorf("retry = %v, want %v (%v)", retry, tc.wantRetry, err)
			}
			if err.Error() != tc.wantErr {
				t.Errorf("error\n%q\nwant\n%q", err, tc.wantErr)
			}
			if tc.wantKilled {
				// The child sleeps for five minutes: Notify did not
				// wait for it.
				if took := time.Since(start); took > time.Minute {
					t.Errorf("took %v", took)
				}
				if pid := childPID(t, filepath.Join(dir, "pid")); !gone(pid) {
					syscall.Kill(pid, syscall.SIGKILL)
					t.Errorf("child %d outlived the timeout", pid)
				}
			}
		})
	}
}

// A program that exits at once but leaves a child holding its standard
// error counts as done, after a short wait rather than the child's life.
func TestBackgroundChild(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "pid")
	n := notifier(t, &Config{Command: []string{"testdata/background.sh", pidFile}})
	start := time.Now()
	retry, err := n.Notify(context.Background(), fixture(nightowl.MessageFiring))
	pid := childPID(t, pidFile)
	defer syscall.Kill(pid, syscall.SIGKILL)
	if err != nil || retry {
		t.Fatalf("Notify = %v, %v; want false, nil", retry, err)
	}
	if took := time.Since(start); took > waitDelay+2*time.Second {
		t.Errorf("took %v", took)
	}
}

func TestProgramGone(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	n := notifier(t, &Config{Command: []string{prog}})
	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	// Removed between loading and sending, as during a deploy: it may be
	// back before the message expires.
	retry, err := n.Notify(context.Background(), fixture(nightowl.MessageFiring))
	if !retry || err == nil || err.Error() != "start notify.sh: no such file or directory" {
		t.Errorf("Notify = %v, %v; want true, start notify.sh: no such file or directory", retry, err)
	}

	_, err = (&Config{Command: []string{"nightowl-no-such-program"}, Timeout: time.Second}).Notifier(kit.Deps{})
	if err == nil || err.Error() != `command: nightowl-no-such-program: executable file not found in $PATH` {
		t.Errorf("Notifier = %v", err)
	}
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  Config
		want []nightowl.FieldError
	}{
		{"argv", Config{Command: []string{"/usr/local/bin/page", "--team", "ops"}, Timeout: DefaultTimeout}, nil},
		{"no command", Config{Timeout: DefaultTimeout}, []nightowl.FieldError{{Key: "command", Message: "required"}}},
		{"empty program", Config{Command: []string{"", "x"}, Timeout: DefaultTimeout},
			[]nightowl.FieldError{{Key: "command", Message: "the program name is empty"}}},
		{"zero timeout", Config{Command: []string{"page"}}, []nightowl.FieldError{{Key: "timeout", Message: "must be more than 0s"}}},
		{"env", Config{Command: []string{"page"}, Timeout: time.Second, Env: map[string]string{"TEAM": "ops", "A=B": "c", "NIGHTOWL_KIND": "x"}},
			[]nightowl.FieldError{{Key: "env", Message: `"A=B" is not a variable name`}, {Key: "env.NIGHTOWL_KIND", Message: "NIGHTOWL_ variables are set for each message"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			notifytest.FieldErrors(t, tc.cfg.Validate(), tc.want)
		})
	}
	valid := func() *Config { return &Config{Command: []string{"page"}, Timeout: time.Second} }
	notifytest.Validate(t, valid, notifytest.TemplateChanges(func(c *Config, title, text string) { c.TitleTemplate, c.TextTemplate = title, text }))
	if c := New().(*Config); c.Timeout != DefaultTimeout {
		t.Errorf("default timeout %v", c.Timeout)
	}
}
