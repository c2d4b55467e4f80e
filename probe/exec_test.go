package probe

import (
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nightowl/nightowl"
	"github.com/nightowl/nightowl/assert"
	"github.com/nightowl/nightowl/internal/testdb"
)

// script is the absolute path of a script in testdata/exec.
func script(t testing.TB, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", "exec", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// judgeDefaults applies a type's default assertions, compiled as the config
// compiles them, and returns the status the result gets.
func judgeDefaults(t *testing.T, typ string, r nightowl.Result) nightowl.Status {
	t.Helper()
	var c assert.Compiler
	for _, d := range Types[typ].Defaults {
		a, err := c.Compile(typ, Types[typ].Facts, d.Name, d.Expr, d.Severity)
		if err != nil {
			t.Fatalf("compile %s: %v", d.Expr, err)
		}
		r.Assertions = append(r.Assertions, a.Eval(r.Facts))
	}
	r.Judge()
	return r.Status
}

// perf builds the expected value of one perfdata label; nil arguments stay
// nil.
func perf(value any, uom string, warn, crit, min, max any, warnRange, critRange any) map[string]any {
	return map[string]any{"value": value, "uom": uom, "warn": warn, "crit": crit, "min": min, "max": max,
		"warn_range": warnRange, "crit_range": critRange}
}

func TestExecExitCodes(t *testing.T) {
	tests := []struct {
		script     string
		exit       int
		status     nightowl.Status
		output     string
		perfLabel  string
		perfValue  float64
		perfUOM    string
		perfWarn   any
		perfCrit   any
		wantFailed []string
	}{
		{"ok.sh", 0, nightowl.StatusUp, "OK - all good", "time", 0.5, "s", 1.0, 2.0, nil},
		{"warning.sh", 1, nightowl.StatusDegraded, "WARNING - load is high", "load1", 5.2, "", 4.0, 8.0, []string{"plugin_warning"}},
		{"critical.sh", 2, nightowl.StatusDown, "CRITICAL - queue is stuck", "depth", 12000, "", 1000.0, 10000.0, []string{"plugin_ok"}},
		{"unknown.sh", 3, nightowl.StatusDown, "UNKNOWN - cannot read /proc/nothing", "", 0, "", nil, nil, []string{"plugin_ok"}},
	}
	for _, tt := range tests {
		t.Run(tt.script, func(t *testing.T) {
			r := runProbe(t, nil, &Exec{Command: []string{script(t, tt.script)}}, 5*time.Second)
			checkError(t, r, true, "")
			checkFacts(t, r.Facts, nightowl.Facts{"exit_code": tt.exit, "output": tt.output})
			perfdata := r.Facts["perfdata"].(map[string]any)
			if tt.perfLabel == "" {
				if len(perfdata) != 0 {
					t.Errorf("perfdata = %v, want none", perfdata)
				}
			} else {
				want := perf(tt.perfValue, tt.perfUOM, tt.perfWarn, tt.perfCrit, 0.0, nil, strconv.FormatFloat(tt.perfWarn.(float64), 'f', -1, 64), strconv.FormatFloat(tt.perfCrit.(float64), 'f', -1, 64))
				if tt.script == "ok.sh" {
					want["max"] = 10.0
				}
				if got := perfdata[tt.perfLabel]; !reflect.DeepEqual(got, want) {
					t.Errorf("perfdata[%q] = %v, want %v", tt.perfLabel, got, want)
				}
			}
			var c assert.Compiler
			var failed []string
			for _, d := range execDefaults {
				a, err := c.Compile("exec", execFacts, d.Name, d.Expr, d.Severity)
				if err != nil {
					t.Fatal(err)
				}
				if res := a.Eval(r.Facts); !res.OK {
					failed = append(failed, res.Name)
				}
			}
			if !reflect.DeepEqual(failed, tt.wantFailed) {
				t.Errorf("failed assertions %v, want %v", failed, tt.wantFailed)
			}
			if got := judgeDefaults(t, "exec", r); got != tt.status {
				t.Errorf("status %s, want %s", got, tt.status)
			}
		})
	}
}

func TestExecPerfdataScript(t *testing.T) {
	r := runProbe(t, nil, &Exec{Command: []string{script(t, "perfdata.sh")}}, 5*time.Second)
	checkError(t, r, true, "")
	wantOutput := "DISK OK - free space: / 3326 MB (56%);\n/ 15272 MB (77%);\n/boot 68 MB (69%);"
	checkFacts(t, r.Facts, nightowl.Facts{"exit_code": 0, "output": wantOutput})
	want := map[string]any{
		"/":            perf(2643.0, "MB", 5948.0, 5958.0, 0.0, 5968.0, "5948", "5958"),
		"tmp dir":      perf(12.0, "%", 80.0, 90.0, nil, nil, "80", "90"),
		"it's":         perf(5.0, "s", nil, nil, nil, nil, "@5:10", "~:20"),
		"latency":      perf(250.0, "ms", nil, nil, 0.0, nil, "10:200", nil),
		"bytes":        perf(1024.0, "B", nil, nil, 0.0, nil, nil, nil),
		"kb":           perf(3.0, "KB", nil, nil, nil, nil, nil, nil),
		"sent":         perf(42.0, "c", nil, nil, nil, nil, nil, nil),
		"undetermined": perf(nil, "", 1.0, 2.0, nil, nil, "1", "2"),
		"/home":        perf(69357.0, "MB", nil, nil, 0.0, 87329.0, nil, nil),
	}
	if got := r.Facts["perfdata"]; !reflect.DeepEqual(got, want) {
		t.Errorf("perfdata:\n got %v\nwant %v", got, want)
	}
	// The documented way to read a label with a slash or a space.
	var c assert.Compiler
	for _, src := range []string{`perfdata["/"].value < 5000`, `perfdata["tmp dir"].value < perfdata["tmp dir"].warn`,
		`perfdata["it's"].warn_range == "@5:10"`, `perfdata.latency.uom == "ms"`} {
		a, err := c.Compile("exec", execFacts, "a", src, "")
		if err != nil {
			t.Fatalf("compile %s: %v", src, err)
		}
		if res := a.Eval(r.Facts); !res.OK {
			t.Errorf("%s: %s", src, res.Message)
		}
	}
}

func TestParsePerfdata(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want map[string]any
	}{
		{"empty", "", map[string]any{}},
		{"value only", "time=0.002", map[string]any{"time": perf(0.002, "", nil, nil, nil, nil, nil, nil)}},
		{"all fields", "time=0.5s;1;2;0;10", map[string]any{"time": perf(0.5, "s", 1.0, 2.0, 0.0, 10.0, "1", "2")}},
		{"check_tcp", "time=0.000158s;;;0.000000;10.000000", map[string]any{"time": perf(0.000158, "s", nil, nil, 0.0, 10.0, nil, nil)}},
		{"check_disk bytes", "/=13674479616B;216442024755;243497277849;0;270552530944",
			map[string]any{"/": perf(13674479616.0, "B", 216442024755.0, 243497277849.0, 0.0, 270552530944.0, "216442024755", "243497277849")}},
		{"negative and exponent", "temp=-4.5C;-10:;;-40;1e2", map[string]any{"temp": perf(-4.5, "C", nil, nil, -40.0, 100.0, "-10:", nil)}},
		{"units", "a=1us b=2ms c=3% d=4KB e=5MB f=6TB g=7c h=8B",
			map[string]any{
				"a": perf(1.0, "us", nil, nil, nil, nil, nil, nil), "b": perf(2.0, "ms", nil, nil, nil, nil, nil, nil),
				"c": perf(3.0, "%", nil, nil, nil, nil, nil, nil), "d": perf(4.0, "KB", nil, nil, nil, nil, nil, nil),
				"e": perf(5.0, "MB", nil, nil, nil, nil, nil, nil), "f": perf(6.0, "TB", nil, nil, nil, nil, nil, nil),
				"g": perf(7.0, "c", nil, nil, nil, nil, nil, nil), "h": perf(8.0, "B", nil, nil, nil, nil, nil, nil)}},
		{"ranges", "x=5;@10:20;~:30", map[string]any{"x": perf(5.0, "", nil, nil, nil, nil, "@10:20", "~:30")}},
		{"empty fields", "x=5;;;;", map[string]any{"x": perf(5.0, "", nil, nil, nil, nil, nil, nil)}},
		{"missing trailing fields", "x=5;1", map[string]any{"x": perf(5.0, "", 1.0, nil, nil, nil, "1", nil)}},
		{"undetermined", "x=U;1;2", map[string]any{"x": perf(nil, "", 1.0, 2.0, nil, nil, "1", "2")}},
		{"quoted label with space", "'free space'=10%", map[string]any{"free space": perf(10.0, "%", nil, nil, nil, nil, nil, nil)}},
		{"escaped quote", "'it''s ''x'''=1", map[string]any{"it's 'x'": perf(1.0, "", nil, nil, nil, nil, nil, nil)}},
		{"quoted label with equals", "'a=b'=1", map[string]any{"a=b": perf(1.0, "", nil, nil, nil, nil, nil, nil)}},
		{"extra spaces and tabs", "  a=1 \t b=2  ", map[string]any{
			"a": perf(1.0, "", nil, nil, nil, nil, nil, nil), "b": perf(2.0, "", nil, nil, nil, nil, nil, nil)}},
		{"garbage skipped", "junk a=1 =2 b= c=x 'open=3 d=4", map[string]any{
			"a": perf(1.0, "", nil, nil, nil, nil, nil, nil), "d": perf(4.0, "", nil, nil, nil, nil, nil, nil)}},
		{"first of a label wins", "a=1 a=2", map[string]any{"a": perf(1.0, "", nil, nil, nil, nil, nil, nil)}},
		{"min max not numbers", "a=1;;;x;5s", map[string]any{"a": perf(1.0, "", nil, nil, nil, nil, nil, nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := map[string]any{}
			parsePerfdata(tt.in, got)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("parsePerfdata(%q)\n got %v\nwant %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestExecOutputParse(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		wantOutput string
		wantLabels []string
	}{
		{"no perfdata", "OK - fine\n", "OK - fine", nil},
		{"first line", "OK - fine|a=1 b=2\n", "OK - fine", []string{"a", "b"}},
		{"empty text", "| a=1\n", "", []string{"a"}},
		{"long text", "OK - fine\nline one\nline two\n", "OK - fine\nline one\nline two", nil},
		{"perfdata on later lines", "OK | a=1\nlong one\nlong two | b=2\nc=3\n'd e'=4\n", "OK\nlong one\nlong two", []string{"a", "b", "c", "d e"}},
		{"bars after the first are not text", "OK\nlong | a=1\nb=2 | c=3\n", "OK\nlong", []string{"a", "b", "c"}},
		{"crlf", "OK - fine | a=1\r\nmore\r\n", "OK - fine\nmore", []string{"a"}},
		{"nothing", "", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, perfdata := parsePluginOutput(tt.in)
			if out != tt.wantOutput {
				t.Errorf("output %q, want %q", out, tt.wantOutput)
			}
			var labels []string
			for l := range perfdata {
				labels = append(labels, l)
			}
			slices.Sort(labels)
			if !reflect.DeepEqual(labels, tt.wantLabels) {
				t.Errorf("labels %v, want %v", labels, tt.wantLabels)
			}
		})
	}
}

// gone reports whether a process no longer runs: it does not exist, or it is
// a zombie waiting for a parent that is not the test.
func gone(pid int) bool {
	if err := syscall.Kill(pid, 0); err == syscall.ESRCH {
		return true
	}
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return os.IsNotExist(err)
	}
	// pid (comm) S …: the state follows the last parenthesis.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitPID reads the PID that a script's grandchild wrote to file.
func waitPID(t *testing.T, file string) int {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		b, err := os.ReadFile(file)
		if err == nil && len(b) > 0 {
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatalf("pid file: %v", err)
			}
			return pid
		}
	}
	t.Fatalf("no pid in %s", file)
	return 0
}

// assertGone waits a little for a killed process to disappear; SIGKILL is
// delivered at once but the process ends asynchronously. It kills the
// process itself if the probe did not, so that a failing test leaves
// nothing behind.
func assertGone(t *testing.T, pid int) {
	t.Helper()
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if gone(pid) {
			return
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
	t.Errorf("grandchild %d still runs", pid)
}

func TestExecTimeoutKillsProcessGroup(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	start := time.Now()
	r := runProbe(t, nil, &Exec{Command: []string{script(t, "sleep.sh"), pidFile}}, time.Second)
	if took := time.Since(start); took > 2500*time.Millisecond {
		t.Errorf("probe took %v with a 1s timeout", took)
	}
	checkError(t, r, false, "timed out after 1s, process group killed")
	checkFacts(t, r.Facts, nightowl.Facts{"exit_code": nil})
	if got := judgeDefaults(t, "exec", r); got != nightowl.StatusDown {
		t.Errorf("status %s, want down", got)
	}
	assertGone(t, waitPID(t, pidFile))
}

func TestExecLeftoverChildKilled(t *testing.T) {
	pidFile := filepath.Join(t.TempDir(), "grandchild.pid")
	start := time.Now()
	r := runProbe(t, nil, &Exec{Command: []string{script(t, "orphan.sh"), pidFile}}, 10*time.Second)
	// The grandchild keeps the output pipe open; the run must end when
	// the plugin does, not when the timeout strikes.
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("probe took %v", took)
	}
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"exit_code": 0, "output": "OK - left a child behind"})
	assertGone(t, waitPID(t, pidFile))
}

func TestExecOutputBounded(t *testing.T) {
	r := runProbe(t, nil, &Exec{Command: []string{script(t, "chatty.sh")}}, 10*time.Second)
	checkError(t, r, true, "")
	out := r.Facts["output"].(string)
	if len(out) > outputLimit+100 || len(out) < outputLimit-200 {
		t.Errorf("output is %d bytes, want about %d", len(out), outputLimit)
	}
	if !strings.HasPrefix(out, "OK - chatty\nline 00000: ") || !strings.HasSuffix(out, "\n[output cut at 64 KiB, the rest dropped]") {
		t.Errorf("output starts %q and ends %q", truncate(out, 40), out[max(0, len(out)-80):])
	}
	// The last line kept is whole.
	lines := strings.Split(out, "\n")
	if last := lines[len(lines)-2]; !strings.HasSuffix(last, "lazy dog") {
		t.Errorf("last kept line %q is cut", last)
	}
	checkFacts(t, r.Facts, nightowl.Facts{"exit_code": 0, "perfdata": map[string]any{"lines": perf(20000.0, "", nil, nil, nil, nil, nil, nil)}})
}

func TestExecFailures(t *testing.T) {
	t.Run("killed by a signal", func(t *testing.T) {
		r := runProbe(t, nil, &Exec{Command: []string{script(t, "signal.sh")}}, 5*time.Second)
		checkError(t, r, false, "signal.sh killed by signal 15 (terminated)")
		checkFacts(t, r.Facts, nightowl.Facts{"exit_code": nil, "output": "about to die"})
	})
	t.Run("program removed after load", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "check_gone")
		if err := os.WriteFile(path, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		p, err := (&Exec{Command: []string{path}}).Prober(Env{})
		if err != nil {
			t.Fatal(err)
		}
		os.Remove(path)
		r := p.Probe(t.Context())
		checkError(t, r, false, "start "+path+": no such file or directory")
		if got := judgeDefaults(t, "exec", r); got != nightowl.StatusDown {
			t.Errorf("status %s, want down", got)
		}
	})
	t.Run("bad interpreter", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "check_bad")
		if err := os.WriteFile(path, []byte("#!/nonexistent/interpreter\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		r := runProbe(t, nil, &Exec{Command: []string{path}}, 5*time.Second)
		checkError(t, r, false, "start "+path+": no such file or directory")
	})
}

func TestExecEnvironmentAndArgs(t *testing.T) {
	t.Setenv("HOME", "/root/should-not-leak")
	dir := t.TempDir()
	r := runProbe(t, nil, &Exec{Command: []string{script(t, "env.sh")}, Env: map[string]string{"GREETING": "hello world"}, Dir: dir}, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"output": "dir=" + dir + " greeting=hello world lang=C home=unset"})

	// Shell syntax reaches the program untouched.
	args := []string{"a b", "$HOME;", "*", "`id`", "$(touch x)", "'q'", ""}
	r = runProbe(t, nil, &Exec{Command: append([]string{script(t, "args.sh")}, args...), Dir: dir}, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"output": strings.TrimSpace(strings.Join(args, "\n"))})
	if _, err := os.Stat(filepath.Join(dir, "x")); err == nil {
		t.Error("an argument was run by a shell")
	}

	// A bare name is looked up in PATH.
	r = runProbe(t, nil, &Exec{Command: []string{"printf", `%s|x=1s\n`, "via PATH"}}, 5*time.Second)
	checkError(t, r, true, "")
	checkFacts(t, r.Facts, nightowl.Facts{"exit_code": 0, "output": "via PATH",
		"perfdata": map[string]any{"x": perf(1.0, "s", nil, nil, nil, nil, nil, nil)}})
}

func TestExecValidate(t *testing.T) {
	tests := []struct {
		name string
		spec Exec
		want []FieldError
	}{
		{"ok", Exec{Command: []string{"/usr/lib/nagios/plugins/check_disk", "-w", "20%"}}, nil},
		{"name in PATH", Exec{Command: []string{"check_disk"}}, nil},
		{"missing", Exec{}, []FieldError{{Key: "command", Message: "required"}}},
		{"empty program", Exec{Command: []string{""}}, []FieldError{{Key: "command", Message: "the program (first element) is empty"}}},
		{"relative path", Exec{Command: []string{"./check"}},
			[]FieldError{{Key: "command", Message: "the program (first element) must be an absolute path or a name to look up in PATH"}}},
		{"bad env", Exec{Command: []string{"/bin/true"}, Env: map[string]string{"A=B": "x"}},
			[]FieldError{{Key: "env.A=B", Message: "not a valid environment variable"}}},
		{"relative dir", Exec{Command: []string{"/bin/true"}, Dir: "work"}, []FieldError{{Key: "dir", Message: "must be an absolute path"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.spec.Validate(); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Validate() = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestExecProberErrors(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notExec, []byte("x"), 0o644)
	tests := []struct {
		name string
		spec Exec
		want string
	}{
		{"not in PATH", Exec{Command: []string{"check_nothing_by_this_name"}}, "command: check_nothing_by_this_name: executable file not found in $PATH"},
		{"missing file", Exec{Command: []string{"/nonexistent/check"}}, "command: /nonexistent/check: no such file or directory"},
		{"not executable", Exec{Command: []string{notExec}}, "command: " + notExec + ": permission denied"},
		{"missing dir", Exec{Command: []string{"/bin/true"}, Dir: "/nonexistent/dir"}, "dir: stat /nonexistent/dir: no such file or directory"},
		{"dir is a file", Exec{Command: []string{"/bin/true"}, Dir: notExec}, "dir: " + notExec + " is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.spec.Prober(Env{})
			if err == nil || err.Error() != tt.want {
				t.Errorf("Prober() error %v, want %q", err, tt.want)
			}
		})
	}
}

// pluginDir holds Debian's monitoring-plugins-basic, which scripts/test
// installs.
const pluginDir = "/usr/lib/nagios/plugins"

func needPlugins(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(filepath.Join(pluginDir, "check_disk")); err != nil {
		testdb.SkipUnlessCI(t, "monitoring plugins not installed (apt install monitoring-plugins-basic, or run scripts/test)")
	}
}

func TestExecNagiosPlugins(t *testing.T) {
	needPlugins(t)
	listener := listenTCP(t)
	open := serveTCP(t, listener, func(c net.Conn) {})
	_, openPort, _ := net.SplitHostPort(open)
	_, closedPort, _ := net.SplitHostPort(closedAddr(t))

	tests := []struct {
		name   string
		argv   []string
		exit   int
		status nightowl.Status
		label  string // a perfdata label that must be there
		output string // the output starts with it
		expr   string // holds on the facts
	}{
		// Thresholds low enough for any test machine's disk.
		{"check_disk ok", []string{"check_disk", "-w", "2%", "-c", "1%", "-p", "/"}, 0, nightowl.StatusUp, "/", "DISK OK",
			`perfdata["/"].value <= perfdata["/"].max and perfdata["/"].uom in ["B", "MB"]`},
		// Critical when less than 100% is free: always, short of an empty disk.
		{"check_disk critical", []string{"check_disk", "-w", "100%", "-c", "100%", "-p", "/"}, 2, nightowl.StatusDown, "/", "DISK CRITICAL", `perfdata["/"].value > 0`},
		{"check_tcp ok", []string{"check_tcp", "-H", "127.0.0.1", "-p", openPort}, 0, nightowl.StatusUp, "time", "TCP OK", `perfdata.time.value < 5 and perfdata.time.uom == "s"`},
		{"check_tcp refused", []string{"check_tcp", "-H", "127.0.0.1", "-p", closedPort}, 2, nightowl.StatusDown, "", "connect to address 127.0.0.1 and port " + closedPort + ": Connection refused", `len(perfdata) == 0`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			argv := append([]string{filepath.Join(pluginDir, tt.argv[0])}, tt.argv[1:]...)
			r := runProbe(t, nil, &Exec{Command: argv}, 10*time.Second)
			checkError(t, r, true, "")
			checkFacts(t, r.Facts, nightowl.Facts{"exit_code": tt.exit})
			if out, _ := r.Facts["output"].(string); !strings.HasPrefix(out, tt.output) || strings.Contains(out, "|") {
				t.Errorf("output %q, want it to start with %q and hold no perfdata", out, tt.output)
			}
			perfdata := r.Facts["perfdata"].(map[string]any)
			if tt.label != "" {
				p, ok := perfdata[tt.label].(map[string]any)
				if !ok {
					t.Fatalf("no perfdata %q in %v", tt.label, perfdata)
				}
				if v, ok := p["value"].(float64); !ok || v < 0 {
					t.Errorf("perfdata[%q].value = %#v", tt.label, p["value"])
				}
				if tt.label == "/" && p["uom"] == "" || tt.label == "time" && p["uom"] != "s" {
					t.Errorf("perfdata[%q].uom = %q", tt.label, p["uom"])
				}
				if max, ok := p["max"].(float64); !ok || max <= 0 {
					t.Errorf("perfdata[%q].max = %#v", tt.label, p["max"])
				}
			}
			if res := evalOn(t, "exec", tt.expr, r.Facts); !res.OK {
				t.Errorf("%s", res.Message)
			}
			if got := judgeDefaults(t, "exec", r); got != tt.status {
				t.Errorf("status %s, want %s", got, tt.status)
			}
		})
	}
}
