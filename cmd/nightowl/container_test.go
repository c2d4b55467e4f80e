package main

import (
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/nightowl/nightowl/config"
)

// repoRoot is where the Containerfile, compose.yaml and container/ are.
const repoRoot = "../.."

// containerfile reads the image's config path and port out of the
// Containerfile, which no Go code builds from.
func containerfile(t *testing.T) (configPath, port string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot, "Containerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*NIGHTOWL_CONFIG=(\S+)`).FindSubmatch(b)
	p := regexp.MustCompile(`(?m)^EXPOSE (\d+)$`).FindSubmatch(b)
	if m == nil || p == nil {
		t.Fatalf("the Containerfile sets no NIGHTOWL_CONFIG or EXPOSEs no port")
	}
	return string(m[1]), string(p[1])
}

// TestImageConfig: the config the image carries is valid, keeps its store
// in the volume and listens on the port the image exposes, on every
// interface of the container.
func TestImageConfig(t *testing.T) {
	_, port := containerfile(t)
	path := filepath.Join(repoRoot, "container", "nightowl.yaml")
	if code, out, errOut := runCmd(t, nil, "validate", "-c", path); code != 0 {
		t.Fatalf("validate: exit %d: %s%s", code, out, errOut)
	}
	cfg, err := config.Load(path, config.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Server.Listen != "0.0.0.0:"+port {
		t.Errorf("server.listen %q, want 0.0.0.0:%s", cfg.Server.Listen, port)
	}
	if cfg.Storage.SQLite != "/var/lib/nightowl/nightowl.db" {
		t.Errorf("storage.sqlite %q is not in the volume", cfg.Storage.SQLite)
	}
}

// composeFile is what the tests read of compose.yaml.
type composeFile struct {
	Services map[string]struct {
		Image       string            `yaml:"image"`
		Environment map[string]string `yaml:"environment"`
		Volumes     []string          `yaml:"volumes"`
		Ports       []string          `yaml:"ports"`
	} `yaml:"services"`
	Volumes map[string]any `yaml:"volumes"`
}

// composeVar is compose's interpolation: ${VAR}, ${VAR:-default} and
// ${VAR:?message}.
var composeVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?::([-?])([^}]*))?\}`)

// interpolate does what compose does to a value, with vars as the shell's
// environment (and .env); a ${VAR:?} that is unset fails the test.
func interpolate(t *testing.T, s string, vars map[string]string) string {
	t.Helper()
	return composeVar.ReplaceAllStringFunc(s, func(m string) string {
		sub := composeVar.FindStringSubmatch(m)
		if v, ok := vars[sub[1]]; ok && v != "" {
			return v
		}
		if sub[2] == "-" {
			return sub[3]
		}
		t.Errorf("compose needs %s: %s", sub[1], sub[3])
		return ""
	})
}

// TestComposeCluster reads compose.yaml as compose would and checks that
// its nightowl services make a cluster: every file it mounts exists, the
// config each node reads is valid with the environment compose gives it,
// and the nodes have names of their own and addresses the others reach.
func TestComposeCluster(t *testing.T) {
	configPath, port := containerfile(t)
	raw, err := os.ReadFile(filepath.Join(repoRoot, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var cf composeFile
	if err := yaml.Unmarshal(raw, &cf); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	shell := map[string]string{"POSTGRES_PASSWORD": "0123456789abcdef"}
	if _, ok := cf.Services["postgres"]; !ok {
		t.Fatal("compose.yaml has no postgres service")
	}
	var nodes []string
	for name, svc := range cf.Services {
		for _, v := range svc.Volumes {
			src, _, _ := strings.Cut(v, ":")
			if strings.HasPrefix(src, "./") {
				if _, err := os.Stat(filepath.Join(repoRoot, src)); err != nil {
					t.Errorf("%s mounts %s: %v", name, src, err)
				}
			} else if _, ok := cf.Volumes[src]; !ok && !strings.HasPrefix(src, "/") {
				t.Errorf("%s mounts the volume %s, which compose.yaml does not declare", name, src)
			}
		}
		if !strings.HasPrefix(interpolate(t, svc.Image, shell), "nightowl:") {
			continue
		}
		t.Run(name, func(t *testing.T) {
			environ := map[string]string{}
			for k, v := range svc.Environment {
				environ[k] = interpolate(t, v, shell)
			}
			target := configPath
			if p, ok := environ["NIGHTOWL_CONFIG"]; ok {
				target = p
			}
			var src string
			for _, v := range svc.Volumes {
				parts := strings.Split(v, ":")
				if len(parts) >= 2 && parts[1] == target {
					src = filepath.Join(repoRoot, parts[0])
				}
			}
			if src == "" {
				t.Fatalf("no file is mounted at %s, the config the image reads", target)
			}
			// validate reads ${VAR} from the process's environment, as
			// in the container.
			for k, v := range environ {
				t.Setenv(k, v)
			}
			if code, out, errOut := runCmd(t, environ, "validate", "-c", src); code != 0 {
				t.Fatalf("validate %s with %s's environment: exit %d: %s%s", src, name, code, out, errOut)
			}
			cfg, err := config.Load(src, config.Options{Getenv: func(k string) (string, bool) { v, ok := environ[k]; return v, ok }})
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Storage.Postgres == "" {
				t.Fatal("not on PostgreSQL: the nodes would not share a store")
			}
			if u, err := url.Parse(cfg.Storage.Postgres); err != nil || u.Hostname() != "postgres" {
				t.Errorf("storage.postgres is not the postgres service: %v", err)
			}
			if cfg.Cluster.Node != name {
				t.Errorf("cluster.node %q, want the service's name %q", cfg.Cluster.Node, name)
			}
			nodes = append(nodes, cfg.Cluster.Node)
			host, aport, err := net.SplitHostPort(cfg.Cluster.Advertise)
			if err != nil || host != name || aport != port {
				t.Errorf("cluster.advertise %q, want %s:%s, where the others reach this node", cfg.Cluster.Advertise, name, port)
			}
			if _, lport, _ := net.SplitHostPort(cfg.Server.Listen); lport != port {
				t.Errorf("server.listen %q is not on the image's port %s", cfg.Server.Listen, port)
			}
			for _, p := range svc.Ports {
				if !strings.HasSuffix(p, ":"+port) {
					t.Errorf("ports: %q does not publish the container's port %s", p, port)
				}
			}
		})
	}
	slices.Sort(nodes)
	if len(nodes) < 2 || len(slices.Compact(slices.Clone(nodes))) != len(nodes) {
		t.Errorf("nodes %q: want two or more, each named once", nodes)
	}
}
