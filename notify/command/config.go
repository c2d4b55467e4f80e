// Package command hands alerts to a program of your own: nightowl runs it
// with the configured argv, never through a shell, writes the message as
// JSON to its standard input, and reads the exit status to tell delivered
// (0), try again later (75, EX_TEMPFAIL, or a timeout) and give up (any
// other status).
package command

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/notify/kit"
)

// DefaultTimeout bounds one run of the program.
const DefaultTimeout = 30 * time.Second

// execPath is the PATH of the program's minimal environment, the same as
// exec checks get.
const execPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Config is a command receiver block.
type Config struct {
	// Command is the argv; the first element is looked up in PATH unless
	// it holds a slash.
	Command []string `yaml:"command"`
	// Env is added to the program's minimal environment.
	Env           map[string]string `yaml:"env"`
	Timeout       time.Duration     `yaml:"timeout"`
	TitleTemplate string            `yaml:"title_template"`
	TextTemplate  string            `yaml:"text_template"`
}

// New returns a block with the defaults, for the config decoder to fill.
func New() kit.Spec { return &Config{Timeout: DefaultTimeout} }

// Validate reports what is wrong with the block. It does not look for the
// program: Notifier does, on the machine that will run it.
func (c *Config) Validate() []nightowl.FieldError {
	var errs []nightowl.FieldError
	switch {
	case len(c.Command) == 0:
		errs = append(errs, nightowl.FieldError{Key: "command", Message: "required"})
	case c.Command[0] == "":
		errs = append(errs, nightowl.FieldError{Key: "command", Message: "the program name is empty"})
	}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			errs = append(errs, nightowl.FieldError{Key: "env", Message: fmt.Sprintf("%q is not a variable name", k)})
		case strings.HasPrefix(k, "NIGHTOWL_"):
			errs = append(errs, nightowl.FieldError{Key: "env." + k, Message: "NIGHTOWL_ variables are set for each message"})
		}
	}
	if c.Timeout <= 0 {
		errs = append(errs, nightowl.FieldError{Key: "timeout", Message: "must be more than 0s"})
	}
	errs = append(errs, kit.ValidateTemplates(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})...)
	return errs
}

// Notifier builds the receiver, finding the program now so that a typo
// shows when the config is loaded rather than with the first alert.
func (c *Config) Notifier(deps kit.Deps) (nightowl.Notifier, error) {
	if len(c.Command) == 0 || c.Command[0] == "" {
		return nil, errors.New("command: required")
	}
	r, err := kit.NewRenderer(kit.Templates{Title: c.TitleTemplate, Text: c.TextTemplate})
	if err != nil {
		return nil, err
	}
	path, err := exec.LookPath(c.Command[0])
	if err != nil {
		// The bare reason: the message names the program already.
		var ee *exec.Error
		if errors.As(err, &ee) {
			err = ee.Err
		}
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, fmt.Errorf("command: %s: %w", c.Command[0], err)
	}
	// A relative path would change meaning with the working directory.
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	env := []string{"PATH=" + execPath}
	for _, k := range slices.Sorted(maps.Keys(c.Env)) {
		env = append(env, k+"="+c.Env[k])
	}
	return &Notifier{
		path:    path,
		argv:    append([]string(nil), c.Command...),
		env:     env,
		timeout: timeout,
		render:  r,
	}, nil
}

// AddressKey makes the block a contact kind for a gateway the command
// talks to (an SMS provider's CLI): a person's address rides in the
// message the command reads, as "to".
func (c *Config) AddressKey() string { return "" }

// SetAddress does nothing: the address is in the message.
func (c *Config) SetAddress(string) {}
