package nightowl_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// The import rules of docs/architecture.md. A package of the module may
// import, of the module, only the packages its row names (the domain, the
// root package, always); a package with no row fails the test until it is
// given one here and in the doc. Test files are not held to the rules.
var allowedImports = map[string][]string{
	"":                    {},
	"access":              {},
	"actions":             {},
	"assert":              {"internal/boolexpr"},
	"audit":               {},
	"audit/audited":       {"access", "actions", "contact", "incident", "maintenance", "notify", "oncall"},
	"cluster":             {},
	"cluster/relay":       {"cluster", "heartbeat", "web"},
	"contact":             {"notify", "notify/kit"},
	"config":              {"assert", "audit", "ingest", "internal/yamlnode", "maintenance", "notify", "notify/kit", "notify/email", "notify/receivers", "oncall", "preflight", "probe"},
	"connlimit":           {},
	"engine":              {},
	"heartbeat":           {"probe"},
	"incident":            {},
	"ingest":              {},
	"maintenance":         {},
	"notify":              {"notify/acklink", "notify/kit"},
	"notify/acklink":      {},
	"notify/kit":          {},
	"notify/notifytest":   {"notify/kit"},
	"notify/receivers":    {"notify/kit", "notify/*"},
	"notify/*":            {"notify/kit", "internal/procgroup"},
	"offline":             {},
	"oncall":              {},
	"postgres":            {"internal/checkstore", "internal/records", "internal/schema", "internal/sqlstore"},
	"preflight":           {"internal/boolexpr"},
	"probe":               {"internal/procgroup"},
	"sqlite":              {"internal/checkstore", "internal/records", "internal/schema", "internal/sqlstore"},
	"sso":                 {},
	"statuspage":          {"incident"},
	"watchdog":            {},
	"web":                 {"ingest", "oncall", "statuspage", "web/admin", "web/internal/kit"},
	"web/admin":           {"ingest", "oncall", "sso", "statuspage", "web/internal/kit"},
	"web/internal/kit":    {},
	"internal/boolexpr":   {},
	"internal/checkstore": {},
	"internal/clocktest":  {},
	"internal/records":    {},
	"internal/schema":     {},
	"internal/sqlstore":   {"internal/checkstore", "internal/records"},
	"internal/storecopy":  {},
	"internal/storetest":  {"audit"},
	"internal/testdb":     {},
	"internal/procgroup":  {},
	"internal/oidctest":   {},
	"internal/yamlnode":   {},
}

// wiring may import any package of the module: they build the server.
// (deploy, a module of its own, is not listed by go list ./... here.)
var wiring = []string{"app", "cmd/*", "bench/*", "examples/*", "internal/crashtest", "deploy"}

// drivers are the outside packages that only the stores and the probes
// may import: the web layer and the domain services reach a database only
// through the interfaces of the domain.
var drivers = []string{"github.com/jackc/pgx", "github.com/go-sql-driver/mysql", "modernc.org/sqlite", "database/sql"}

var driverUsers = []string{"sqlite", "postgres", "probe", "internal/sqlstore", "internal/storecopy", "internal/testdb"}

const module = "github.com/nightowl/nightowl"

func TestImportRules(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for line := range strings.SplitSeq(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		pkg := strings.TrimPrefix(strings.TrimPrefix(fields[0], module), "/")
		if matchAny(wiring, pkg) {
			continue
		}
		allowed, ok := rule(pkg)
		if !ok {
			t.Errorf("package %q has no row in the import rules: say in docs/architecture.md what it is and what it may import, and add its row here", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			if matchAny(drivers, imp) && !matchAny(driverUsers, pkg) {
				t.Errorf("%s imports %s: only the stores and the probes talk to databases", name(pkg), imp)
			}
			if imp != module && !strings.HasPrefix(imp, module+"/") {
				continue
			}
			dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
			if dep != "" && !matchAny(allowed, dep) {
				t.Errorf("%s imports %s, which its row in the import rules does not allow (docs/architecture.md)", name(pkg), dep)
			}
		}
	}
}

// rule finds a package's row: its own, or its parent's "dir/*".
func rule(pkg string) ([]string, bool) {
	if r, ok := allowedImports[pkg]; ok {
		return r, true
	}
	if i := strings.LastIndex(pkg, "/"); i > 0 {
		r, ok := allowedImports[pkg[:i]+"/*"]
		return r, ok
	}
	return nil, false
}

// matchAny reports whether s is one of patterns, where "dir/*" stands for
// any package directly below dir and a pattern ending in no "*" also
// matches the packages below it when it is an outside path (a driver).
func matchAny(patterns []string, s string) bool {
	return slices.ContainsFunc(patterns, func(p string) bool {
		if dir, ok := strings.CutSuffix(p, "/*"); ok {
			rest, found := strings.CutPrefix(s, dir+"/")
			return found && !strings.Contains(rest, "/")
		}
		return s == p || (strings.Contains(p, ".") && strings.HasPrefix(s, p+"/"))
	})
}

func name(pkg string) string {
	if pkg == "" {
		return "the root package"
	}
	return pkg
}
