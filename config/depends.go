package config

import (
	"strings"
)

// dependsOn checks every check's depends_on against the checks: each name
// must be a configured check other than itself, named once, and following
// depends_on from any check must never come back to it. A cycle is
// reported once, at the entry that closes it, with the whole loop.
func (d *decoder) dependsOn(checks []Check, sc *scope) {
	index := make(map[string]int, len(checks))
	for i, ch := range checks {
		if ch.Name != "" {
			if _, dup := index[ch.Name]; !dup {
				index[ch.Name] = i
			}
		}
	}
	for i := range checks {
		ch := &checks[i]
		seen := map[string]bool{}
		kept := ch.DependsOn[:0]
		for j, name := range ch.DependsOn {
			path := indexPath(indexPath("checks", i)+".depends_on", j)
			switch {
			case d.HasError(path):
				continue
			case name == ch.Name:
				d.Errorf(d.Locate(path), path, "a check cannot depend on itself")
				continue
			case seen[name]:
				d.Errorf(d.Locate(path), path, "%q is named twice", name)
				continue
			case sc.none:
				continue
			case !sc.written[name]:
				d.Errorf(d.Locate(path), path, "unknown check %q (%s)", name, suggest(name, sc.names))
				continue
			}
			seen[name] = true
			if _, ok := index[name]; ok {
				kept = append(kept, name)
			}
		}
		ch.DependsOn = kept
	}
	// Depth-first search in file order; the edge that reaches a check
	// still on the path closes a cycle.
	const (
		unseen = iota
		onPath
		done
	)
	mark := make([]int, len(checks))
	var path []int
	var visit func(i int)
	visit = func(i int) {
		mark[i] = onPath
		path = append(path, i)
		for j, name := range checks[i].DependsOn {
			k := index[name]
			switch mark[k] {
			case unseen:
				visit(k)
			case onPath:
				loop := []string{}
				for p := len(path) - 1; p >= 0; p-- {
					loop = append([]string{checks[path[p]].Name}, loop...)
					if path[p] == k {
						break
					}
				}
				loop = append(loop, name)
				at := indexPath(indexPath("checks", i)+".depends_on", j)
				d.Errorf(d.Locate(at), at, "depends_on makes a cycle: %s", strings.Join(loop, " → "))
			}
		}
		path = path[:len(path)-1]
		mark[i] = done
	}
	for i := range checks {
		if mark[i] == unseen && checks[i].Name != "" {
			visit(i)
		}
	}
}
