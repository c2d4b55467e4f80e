package command

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/internal/procgroup"
	"github.com/nightowl/nightowl/notify/kit"
)

// exTempFail is EX_TEMPFAIL from sysexits.h, the status mail programs use
// for "failed this time, try again later".
const exTempFail = 75

// stderrLimit is how much of the program's standard error an error quotes.
const stderrLimit = 1 << 10

// waitDelay is how long a program's output may stay open after it exited
// or was killed: a child it left running in the background may hold it.
const waitDelay = time.Second

// Notifier runs one program per message.
type Notifier struct {
	path    string
	argv    []string
	env     []string
	timeout time.Duration
	render  *kit.Renderer
}

// Notify runs the program for m.
func (n *Notifier) Notify(ctx context.Context, m *nightowl.Message) (bool, error) {
	// The message as the API shows it, with the title and text rendered
	// from the receiver's templates. Unescaped, so that "<" in an observed
	// value reads as itself to a script that greps rather than parses; one
	// line, ending in a newline.
	input, err := n.render.JSON(m)
	if err != nil {
		return false, fmt.Errorf("encode message: %w", err)
	}
	name := filepath.Base(n.argv[0])
	if err := ctx.Err(); err != nil {
		return true, fmt.Errorf("%s: not started: %w", name, err)
	}
	runCtx, cancel := context.WithTimeout(ctx, n.timeout)
	defer cancel()

	stderr := &headBuffer{limit: stderrLimit}
	cmd := exec.CommandContext(runCtx, n.path)
	cmd.Args = n.argv
	cmd.Stdin = bytes.NewReader(input)
	cmd.Stderr = stderr
	// A minimal environment, so that a secret in nightowl's own does not
	// reach every script, and the message's identity for scripts that
	// would rather not parse JSON.
	cmd.Env = append(slices.Clip(n.env),
		"NIGHTOWL_ALERT_ID="+m.Alert.ID,
		"NIGHTOWL_CHECK="+m.Alert.Check,
		"NIGHTOWL_KIND="+string(m.Kind),
		"NIGHTOWL_IDEMPOTENCY_KEY="+m.IdempotencyKey,
	)
	// A group of its own, so that a timeout kills what the program
	// started too: a hung curl under a shell script would otherwise
	// outlive it, one per retry.
	procgroup.Start(cmd)
	cmd.WaitDelay = waitDelay

	runErr := cmd.Run()
	ps := cmd.ProcessState
	switch {
	case ps == nil:
		// Not started: the program was removed or lost its execute bit
		// since the config was loaded, or the system is out of
		// processes. Either may be mended before the message expires.
		return true, fmt.Errorf("start %s: %w", name, startReason(runErr))
	case ps.Exited():
		// An exit that beat the kill by a hair still counts.
		switch code := ps.ExitCode(); code {
		case 0:
			return false, nil
		case exTempFail:
			return true, fmt.Errorf("%s exited with %d (temporary failure)%s", name, code, stderr.quote())
		default:
			return false, fmt.Errorf("%s exited with %d%s", name, code, stderr.quote())
		}
	case ctx.Err() != nil:
		return true, fmt.Errorf("%s: %w, process group killed", name, ctx.Err())
	case runCtx.Err() != nil:
		return true, fmt.Errorf("%s: timed out after %s, process group killed%s", name, n.timeout, stderr.quote())
	}
	// Killed by someone else, the OOM killer say: nothing says the
	// message itself is at fault.
	return true, fmt.Errorf("%s: %v%s", name, ps, stderr.quote())
}

func startReason(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// headBuffer keeps the first limit bytes written to it and drops the rest,
// still reading it so that a chatty program never blocks on a full pipe.
type headBuffer struct {
	buf     []byte
	limit   int
	dropped bool
}

func (h *headBuffer) Write(p []byte) (int, error) {
	room := h.limit - len(h.buf)
	if len(p) > room {
		h.buf = append(h.buf, p[:max(room, 0)]...)
		h.dropped = true
	} else {
		h.buf = append(h.buf, p...)
	}
	return len(p), nil
}

// quote is the kept output for an error message, "" when there was none.
func (h *headBuffer) quote() string {
	s := strings.TrimSpace(strings.ToValidUTF8(string(h.buf), "\uFFFD"))
	if s == "" {
		return ""
	}
	if h.dropped {
		s += " …"
	}
	return ": " + s
}
