// Package catalogdoc writes the README's reference of the catalog: the table
// of every event type (type, Segment event name, whether Braze documents it,
// whether the default selection maps it) and the event_names block that gives
// the colliding names their channel. Each goes between a pair of markers in
// the README, so that `go generate ./internal/currents` rewrites it and a
// test proves it is current.
package catalogdoc

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"github.com/currents-segment/currents-segment/internal/currents"
)

// A section is the text between its Begin and End marker lines.
type section struct {
	name   string
	render func(*currents.Catalog) (string, error)
}

var sections = []section{
	{"event types", typeTable},
	{"collision renames", collisionRenames},
}

func begin(name string) string {
	return "<!-- BEGIN " + name + ": written by `go generate ./internal/currents` from the catalog; do not edit -->"
}

func end(name string) string { return "<!-- END " + name + " -->" }

// Update returns readme with every section rewritten from the catalog. Each
// pair of markers must be there, once, on lines of their own.
func Update(readme []byte, cat *currents.Catalog) ([]byte, error) {
	out := readme
	for _, s := range sections {
		body, err := s.render(cat)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		b, e := []byte(begin(s.name)+"\n"), []byte("\n"+end(s.name)+"\n")
		if bytes.Count(out, b) != 1 || bytes.Count(out, e) != 1 {
			return nil, fmt.Errorf("the README needs the lines %q and %q, once each", begin(s.name), end(s.name))
		}
		i := bytes.Index(out, b) + len(b)
		j := bytes.Index(out, e)
		if j < i-1 {
			return nil, fmt.Errorf("%q comes before %q", end(s.name), begin(s.name))
		}
		next := append([]byte(nil), out[:i]...)
		next = append(next, body...)
		next = append(next, out[j:]...)
		out = next
	}
	return out, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// typeTable is the table of every type, then the aliases.
func typeTable(cat *currents.Catalog) (string, error) {
	var b strings.Builder
	inDefault, documented := 0, 0
	for _, t := range cat.Types() {
		if t.Default {
			inDefault++
		}
		if t.Status == currents.StatusDocumented {
			documented++
		}
	}
	fmt.Fprintf(&b, "%d types: %d with the Segment name Braze documents; %d in the default selection (`events: []`).\n\n",
		len(cat.Types()), documented, inDefault)
	b.WriteString("| Currents type | Segment `event` | name documented by Braze? | in the default selection? |\n")
	b.WriteString("|---|---|---|---|\n")
	for _, t := range cat.Types() {
		doc := "yes"
		if t.Status != currents.StatusDocumented {
			doc = "no: " + t.Status.String()
		}
		event := "`" + t.SegmentEvent + "`"
		if t.NameField != "" {
			event = "the event's own `" + t.NameField + "`"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", t.Name, event, doc, yesNo(t.Default))
	}
	var aliases []string
	for _, n := range cat.Names() {
		if t, _ := cat.Lookup(n); t.Name != n {
			aliases = append(aliases, fmt.Sprintf("`%s` for `%s`", n, t.Name))
		}
	}
	if len(aliases) > 0 {
		fmt.Fprintf(&b, "\nAlso accepted wherever a type is named: %s.", strings.Join(aliases, ", "))
	}
	return b.String(), nil
}

// collisionRenames is a runnable config whose event_names gives every type
// that shares its Segment name with another type a name prefixed with its
// channel (users.messages.rcs.Abort → RCS Aborted).
func collisionRenames(cat *currents.Catalog) (string, error) {
	byName := map[string][]string{}
	for _, t := range cat.Types() {
		byName[t.SegmentEvent] = append(byName[t.SegmentEvent], t.Name)
	}
	var types []string
	for _, ts := range byName {
		if len(ts) > 1 {
			types = append(types, ts...)
		}
	}
	if len(types) == 0 {
		return "", fmt.Errorf("no two types share a Segment name: drop the section")
	}
	sort.Strings(types)
	var b strings.Builder
	b.WriteString("```yaml\npipeline:\n  processors:\n    - currents_to_segment:\n        event_names:\n")
	for _, name := range types {
		t, _ := cat.Lookup(name)
		parts := strings.Split(name, ".")
		if len(parts) != 4 || parts[0] != "users" || parts[1] != "messages" {
			return "", fmt.Errorf("%s shares its name %q, but is not users.messages.<channel>.<event>", name, t.SegmentEvent)
		}
		fmt.Fprintf(&b, "          %s: %s %s\n", name, strings.ToUpper(parts[2]), t.SegmentEvent)
	}
	b.WriteString("```")
	return b.String(), nil
}
