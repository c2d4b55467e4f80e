// Command deb builds nightowl's Debian package from a release binary:
//
//	go -C internal/tools/deb run . --version v1.2.3 --arch amd64 --binary PATH --out DIR
//
// (scripts/deb runs it from the top of the repository). The package holds
// the binary, a starter config in /etc/nightowl (a conffile), a hardened
// systemd unit, a sysusers.d file for the nightowl user, the maintainer
// scripts beside this file, and the bash, zsh and fish completions and the
// man page, which the binary prints from its own command table.
//
// It is a module of its own: nfpm, which writes the package, brings some
// forty modules (go-git among them) that the server has no use for.
package main

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/deb"
	"github.com/goreleaser/nfpm/v2/files"

	"github.com/nightowl/nightowl/config"
)

var (
	//go:embed nightowl.service
	unit []byte
	//go:embed sysusers.conf
	sysusers []byte
	//go:embed postinst
	postinst []byte
	//go:embed prerm
	prerm []byte
	//go:embed postrm
	postrm []byte
	//go:embed lintian-overrides
	lintianOverrides []byte
)

// Where the package puts the config and the data.
const (
	configPath = "/etc/nightowl/nightowl.yaml"
	sqlitePath = "/var/lib/nightowl/nightowl.db"
)

func main() {
	version := flag.String("version", "", "the release version, such as v1.2.3")
	arch := flag.String("arch", "amd64", "the Debian architecture: amd64 or arm64")
	binary := flag.String("binary", "", "the nightowl binary to package, built as scripts/release builds it")
	docsFrom := flag.String("docs-from", "", "a nightowl binary that runs on this machine, to print the completions and the man page (default --binary)")
	out := flag.String("out", ".", "the directory to write the .deb into")
	maintainer := flag.String("maintainer", "nightowl maintainers <maintainers@nightowl.invalid>", "the package's Maintainer field")
	flag.Parse()
	if *version == "" || *binary == "" || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: deb --version VERSION --arch ARCH --binary PATH [--out DIR]")
		os.Exit(2)
	}
	if *docsFrom == "" {
		*docsFrom = *binary
	}
	path, err := build(options{version: *version, arch: *arch, binary: *binary, docsFrom: *docsFrom, out: *out, maintainer: *maintainer})
	if err != nil {
		fmt.Fprintln(os.Stderr, "deb:", err)
		os.Exit(1)
	}
	fmt.Println(path)
}

type options struct {
	version, arch, binary, docsFrom, out, maintainer string
}

var versionRE = regexp.MustCompile(`^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.-]+)?$`)

func build(o options) (string, error) {
	if !versionRE.MatchString(o.version) {
		return "", fmt.Errorf("version %q: want one like v1.2.3 or v1.2.3-rc.1", o.version)
	}
	if o.arch != "amd64" && o.arch != "arm64" {
		return "", fmt.Errorf("arch %q: amd64 or arm64", o.arch)
	}
	if o.docsFrom == o.binary && o.arch != runtime.GOARCH {
		return "", fmt.Errorf("a %s binary does not run on this %s machine: name one that does with --docs-from", o.arch, runtime.GOARCH)
	}
	st, err := os.Stat(o.binary)
	if err != nil {
		return "", err
	}
	// The files' time: $SOURCE_DATE_EPOCH (scripts/deb sets the commit's
	// time, as scripts/release stamps it), so that the same commit gives
	// the same package; else the binary's.
	mtime := st.ModTime().UTC().Truncate(time.Second)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		sec, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return "", fmt.Errorf("SOURCE_DATE_EPOCH %q: %w", s, err)
		}
		mtime = time.Unix(sec, 0).UTC()
	}

	tmp, err := os.MkdirTemp("", "nightowl-deb-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	write := func(name string, data []byte) (string, error) {
		p := filepath.Join(tmp, name)
		return p, os.WriteFile(p, data, 0o644)
	}

	// What the binary prints of itself: the completions and the man page.
	generated := map[string][]string{
		"nightowl.bash": {"completion", "bash"},
		"_nightowl":     {"completion", "zsh"},
		"nightowl.fish": {"completion", "fish"},
		"nightowl.1":    {"man"},
	}
	for name, args := range generated {
		var stdout, stderr bytes.Buffer
		cmd := exec.Command(o.docsFrom, args...)
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			return "", fmt.Errorf("%s %v: %w: %s", o.docsFrom, args, err, stderr.Bytes())
		}
		data := stdout.Bytes()
		if name == "nightowl.1" {
			name, data = name+".gz", gzipped(data)
		}
		if _, err := write(name, data); err != nil {
			return "", err
		}
	}
	for name, data := range map[string][]byte{
		"nightowl.yaml":     config.StarterWithSQLite(sqlitePath),
		"nightowl.service":  unit,
		"sysusers.conf":     sysusers,
		"postinst":          postinst,
		"prerm":             prerm,
		"postrm":            postrm,
		"lintian-overrides": lintianOverrides,
	} {
		if _, err := write(name, data); err != nil {
			return "", err
		}
	}

	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: mode, MTime: mtime, Owner: "root", Group: "root"}}
	}
	t := func(name string) string { return filepath.Join(tmp, name) }
	conf := file(t("nightowl.yaml"), configPath, 0o640)
	conf.Type = files.TypeConfig
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:        "nightowl",
		Arch:        o.arch,
		Platform:    "linux",
		Version:     o.version,
		Section:     "net",
		Priority:    "optional",
		Maintainer:  o.maintainer,
		Description: "monitoring server that keeps watch while its operators sleep\nnightowl runs checks (HTTP, DNS, TLS, databases, Nagios plugins, heartbeats),\nalerts the people on call, and serves a dashboard, a JSON API and a public\nstatus page. This package runs it as the nightowl system user under systemd.",
		MTime:       mtime,
		Overridables: nfpm.Overridables{
			// The postinst makes the user with systemd-sysusers where it
			// exists, else with adduser.
			Depends: []string{"adduser"},
			Contents: files.Contents{
				file(o.binary, "/usr/bin/nightowl", 0o755),
				conf,
				file(t("nightowl.service"), "/usr/lib/systemd/system/nightowl.service", 0o644),
				file(t("sysusers.conf"), "/usr/lib/sysusers.d/nightowl.conf", 0o644),
				file(t("nightowl.bash"), "/usr/share/bash-completion/completions/nightowl", 0o644),
				file(t("_nightowl"), "/usr/share/zsh/vendor-completions/_nightowl", 0o644),
				file(t("nightowl.fish"), "/usr/share/fish/vendor_completions.d/nightowl.fish", 0o644),
				file(t("nightowl.1.gz"), "/usr/share/man/man1/nightowl.1.gz", 0o644),
				file(t("lintian-overrides"), "/usr/share/lintian/overrides/nightowl", 0o644),
			},
			Scripts: nfpm.Scripts{PostInstall: t("postinst"), PreRemove: t("prerm"), PostRemove: t("postrm")},
			Deb:     nfpm.Deb{Compression: "xz"},
		},
	})
	if err := nfpm.PrepareForPackager(info, "deb"); err != nil {
		return "", err
	}
	if err := os.MkdirAll(o.out, 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(o.out, deb.Default.ConventionalFileName(info))
	f, err := os.Create(path)
	if err != nil {
		return "", err
	}
	if err := deb.Default.Package(info, f); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", errors.Join(err, os.Remove(path))
	}
	return path, nil
}

// gzipped compresses data as a man page is shipped: best compression, and
// no name or time in the header, so that the same page gives the same bytes.
func gzipped(data []byte) []byte {
	var b bytes.Buffer
	w, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	w.Write(data)
	w.Close()
	return b.Bytes()
}
