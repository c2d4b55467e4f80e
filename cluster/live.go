package cluster

import "github.com/nightowl/nightowl"

// LiveNames names the live nodes among nodes, as Owner takes them.
func LiveNames(nodes []nightowl.Node) []string {
	var out []string
	for _, n := range nodes {
		if n.Live {
			out = append(out, n.Name)
		}
	}
	return out
}
