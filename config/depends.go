package config

import (
	"strings"
)

// dependsOn checks every check's depends_on against the checks (see
// dependencies), and keeps only the names that are sound.
func (d *decoder) dependsOn(checks []Check, sc *scope) {
	names := make([]string, len(checks))
	deps := make([][]string, len(checks))
	for i, ch := range checks {
		names[i], deps[i] = ch.Name, ch.DependsOn
	}
	graph := dependencyGraph{section: "checks", kind: "check", names: names, deps: deps,
		known:   func(name string) bool { return sc.written[name] },
		suggest: func(name string) string { return suggest(name, sc.names) }, none: sc.none}
	for i, kept := range d.dependencies(graph) {
		checks[i].DependsOn = kept
	}
}

// dependencyGraph is a section's items and what each depends_on.
type dependencyGraph struct {
	section, kind string
	names         []string   // each item's name, "" when it has no valid one
	deps          [][]string // each item's depends_on, as written
	fold          bool       // names are compared without case
	// known says whether a name was written as an item's name (valid or
	// not); suggest says what might have been meant; none is true when
	// the section is not even a list, so that nothing can be checked.
	known   func(string) bool
	suggest func(string) string
	none    bool
}

// dependencies checks each item's depends_on: each name must be another
// item of the section, named once, and following depends_on from any item
// must never come back to it. A cycle is reported once, at the entry that
// closes it, with the whole loop. It returns each item's depends_on with
// only the names that are sound, as the items spell them.
func (d *decoder) dependencies(g dependencyGraph) [][]string {
	key := func(s string) string {
		if g.fold {
			return strings.ToLower(s)
		}
		return s
	}
	index := make(map[string]int, len(g.names))
	for i, n := range g.names {
		if n != "" {
			if _, dup := index[key(n)]; !dup {
				index[key(n)] = i
			}
		}
	}
	kept := make([][]string, len(g.names))
	entry := func(i, j int) string { return indexPath(indexPath(g.section, i)+".depends_on", j) }
	for i := range g.names {
		seen := map[string]bool{}
		for j, name := range g.deps[i] {
			path := entry(i, j)
			switch {
			case d.HasError(path):
				continue
			case g.names[i] != "" && key(name) == key(g.names[i]):
				d.Errorf(d.Locate(path), path, "a %s cannot depend on itself", g.kind)
				continue
			case seen[key(name)]:
				d.Errorf(d.Locate(path), path, "%q is named twice", name)
				continue
			case g.none:
				continue
			case !g.known(name):
				d.Errorf(d.Locate(path), path, "unknown %s %q (%s)", g.kind, name, g.suggest(name))
				continue
			}
			seen[key(name)] = true
			if k, ok := index[key(name)]; ok {
				kept[i] = append(kept[i], g.names[k])
			}
		}
	}
	// Depth-first search in file order; the edge that reaches an item
	// still on the path closes a cycle.
	const (
		unseen = iota
		onPath
		done
	)
	mark := make([]int, len(g.names))
	var path []int
	var visit func(i int)
	visit = func(i int) {
		mark[i] = onPath
		path = append(path, i)
		for _, name := range kept[i] {
			k := index[key(name)]
			switch mark[k] {
			case unseen:
				visit(k)
			case onPath:
				var loop []string
				for p := len(path) - 1; p >= 0; p-- {
					loop = append([]string{g.names[path[p]]}, loop...)
					if path[p] == k {
						break
					}
				}
				loop = append(loop, name)
				// Blame the entry as written, which may differ from
				// the kept name in case.
				for j, w := range g.deps[i] {
					if key(w) == key(name) {
						at := entry(i, j)
						d.Errorf(d.Locate(at), at, "depends_on makes a cycle: %s", strings.Join(loop, " → "))
						break
					}
				}
			}
		}
		path = path[:len(path)-1]
		mark[i] = done
	}
	for i := range g.names {
		if mark[i] == unseen && g.names[i] != "" {
			visit(i)
		}
	}
	return kept
}
