package yamlnode

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// Parse parses the file, which must hold at most one YAML document, and
// returns its root with aliases resolved: nil for an empty file or a null
// document. A syntax error is reported at the best position yaml.v3's
// message allows. The tree may grow to at most maxNodes nodes once its
// aliases (*name) and merge keys (<<) are expanded: a file of a few
// hundred bytes whose anchors each repeat the one before ten times would
// otherwise expand to billions of nodes and keep the walk busy for days.
// ok is false when the file is refused.
func (w *Walker) Parse(maxNodes int) (root *yaml.Node, ok bool) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(w.src))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true
		}
		w.syntaxError(err)
		return nil, false
	}
	var more yaml.Node
	switch err := dec.Decode(&more); {
	case err == nil:
		w.Errorf(&more, "", "only one YAML document is allowed")
		return nil, false
	case !errors.Is(err, io.EOF):
		w.syntaxError(err)
		return nil, false
	}
	root = &doc
	if root.Kind == yaml.DocumentNode {
		if len(root.Content) == 0 {
			return nil, true
		}
		root = root.Content[0]
	}
	if !w.checkExpansion(root, maxNodes) {
		return nil, false
	}
	root = Resolve(root)
	if IsNull(root) {
		return nil, true
	}
	return root, true
}

// yaml.v3 numbers the lines of parser errors from 0 but those of scanner
// errors from 1, and leaves the number out when it is 0; it never gives the
// column. These are the parser's problems, whose line needs one added.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"did not find expected node content":     true,
	"did not find expected key":              true,
	"did not find expected '-' indicator":    true,
	"did not find expected ',' or '}'":       true,
	"did not find expected ',' or ']'":       true,
	"found undefined tag handle":             true,
	"found duplicate %YAML directive":        true,
	"found duplicate %TAG directive":         true,
	"found incompatible YAML document":       true,
}

var (
	yamlLineRE   = regexp.MustCompile(`^line (\d+): (.*)$`)
	yamlAnchorRE = regexp.MustCompile(`^(?:unknown anchor|anchor) '([^']*)'`)
)

// syntaxError reports a YAML syntax error at the best position yaml.v3's
// message allows.
func (w *Walker) syntaxError(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if m := yamlAnchorRE.FindStringSubmatch(msg); m != nil {
		// Errors about aliases carry no position; the alias's first use
		// is the likely culprit.
		for i, l := range strings.Split(string(w.src), "\n") {
			if col := strings.Index(l, "*"+m[1]); col >= 0 {
				w.ErrorAt(i+1, utf8.RuneCountInString(l[:col])+1, "", "%s", msg)
				return
			}
		}
		w.ErrorAt(0, 0, "", "%s", msg)
		return
	}
	line := 0
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	switch {
	case parserProblems[msg]:
		if l := w.problemLine(msg); l > 0 {
			line = l
		} else {
			line++
		}
	case line == 0:
		line = 1
	}
	w.ErrorAt(line, 0, "", "%s", msg)
}

// problemLine finds the line that makes the document fail with msg: the
// first line whose addition turns a prefix of the file that parses into one
// that fails so. yaml.v3 reports parser errors at the start of the
// enclosing collection, which for a misindented key can be far above it.
// It returns 0 when the search does not confirm a line.
func (w *Walker) problemLine(msg string) int {
	lines := strings.SplitAfter(string(w.src), "\n")
	fails := func(k int) (string, bool) {
		var n yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(lines[:k], "")), &n)
		if err == nil {
			return "", false
		}
		m := strings.TrimPrefix(err.Error(), "yaml: ")
		if sub := yamlLineRE.FindStringSubmatch(m); sub != nil {
			m = sub[2]
		}
		return m, true
	}
	// The empty prefix parses and the whole file fails: bisect, in
	// O(log n) parses so that a large file stays quick.
	lo, hi := 0, len(lines)
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if _, failed := fails(mid); failed {
			hi = mid
		} else {
			lo = mid
		}
	}
	if m, failed := fails(hi); failed && m == msg {
		return hi
	}
	return 0
}

// checkExpansion counts the nodes of the tree under root with every alias
// and merge key expanded, and reports the alias whose expansion is the
// largest once the total passes maxNodes. Each node's count is
// remembered, so the count costs as many steps as the file has nodes,
// however far they expand.
func (w *Walker) checkExpansion(root *yaml.Node, maxNodes int) bool {
	sizes := map[*yaml.Node]int{}
	var worst *yaml.Node
	worstSize := 0
	var size func(n *yaml.Node) int
	size = func(n *yaml.Node) int {
		if s, ok := sizes[n]; ok {
			return s
		}
		sizes[n] = maxNodes + 1 // a node being counted: a cycle is too big
		s := 1
		if n.Kind == yaml.AliasNode && n.Alias != nil {
			s += size(n.Alias)
			if s > worstSize {
				worst, worstSize = n, s
			}
		}
		for _, c := range n.Content {
			s = min(s+size(c), maxNodes+1)
		}
		sizes[n] = s
		return s
	}
	if total := size(root); total > maxNodes {
		at := worst
		if at == nil {
			at = root
		}
		w.Errorf(at, pathOf(root, at, ""), "aliases and merge keys (<<) expand this config to more than %d YAML nodes (this alias alone to %s): repeat less, or write the values out", maxNodes, countText(worstSize, maxNodes))
		return false
	}
	return true
}

func countText(n, maxNodes int) string {
	if n > maxNodes {
		return fmt.Sprintf("more than %d", maxNodes)
	}
	return fmt.Sprint(n)
}

// pathOf returns the key path of target in the tree under n as the file
// writes it (aliases not followed); "" when it is not there.
func pathOf(n, target *yaml.Node, path string) string {
	if n == target {
		return path
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if p := pathOf(c, target, path); p != "" {
				return p
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			kp := JoinPath(path, k.Value)
			if k == target {
				return kp
			}
			if p := pathOf(v, target, kp); p != "" {
				return p
			}
		}
	case yaml.SequenceNode:
		for i, c := range n.Content {
			if p := pathOf(c, target, IndexPath(path, i)); p != "" {
				return p
			}
		}
	}
	return ""
}
