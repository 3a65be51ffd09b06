package catalogdoc

import (
	"bytes"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/currents-segment/currents-segment/internal/contract"
	"github.com/currents-segment/currents-segment/internal/currents"
	"github.com/currents-segment/currents-segment/internal/spec"
)

func readme(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestREADMEReferenceIsCurrent(t *testing.T) {
	old := readme(t)
	updated, err := Update(old, currents.DefaultCatalog())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(old, updated) {
		t.Fatal("README.md's generated reference of the catalog is stale: run `go generate ./internal/currents`")
	}
}

// The README's table says of each type what the contract says: its Segment
// event, whether Braze documents it, whether the default selection maps it.
func TestREADMETableAgreesWithTheContract(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme(t))
	body := text[strings.Index(text, begin("event types")):strings.Index(text, end("event types"))]
	rows := map[string][]string{}
	for _, line := range strings.Split(body, "\n") {
		if !strings.HasPrefix(line, "| `") {
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.Trim(strings.TrimSpace(cells[i]), "`")
		}
		rows[cells[0]] = cells[1:]
	}
	if len(rows) != len(events) {
		t.Fatalf("the table has %d types, the contract %d", len(rows), len(events))
	}
	for typ, et := range events {
		row, ok := rows[typ]
		if !ok {
			t.Errorf("%s not in the table", typ)
			continue
		}
		documented := strings.HasPrefix(row[1], "yes")
		inDefault := row[2] == "yes"
		event := contract.EventName(typ, et)
		if f := contract.NameField(typ); f != "" {
			event = "the event's own `" + f // the cell's closing backquote is trimmed
		}
		if row[0] != event || documented != contract.Named(et) || inDefault != contract.InDefault(typ, et) {
			t.Errorf("%s: table says %q, contract: event %q, documented %v, default %v", typ, row, event, contract.Named(et), contract.InDefault(typ, et))
		}
	}
}

// The collision block renames exactly the types whose Segment name the
// contract gives to another type too.
func TestREADMECollisionBlockCoversTheContractsCollisions(t *testing.T) {
	events, err := spec.Events()
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string][]string{}
	for typ, et := range events {
		byName[contract.EventName(typ, et)] = append(byName[contract.EventName(typ, et)], typ)
	}
	var want []string
	for _, ts := range byName {
		if len(ts) > 1 {
			want = append(want, ts...)
		}
	}
	sort.Strings(want)
	text := string(readme(t))
	body := text[strings.Index(text, begin("collision renames")):strings.Index(text, end("collision renames"))]
	var got []string
	renamed := map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), ": ")
		if !ok || !strings.HasPrefix(k, "users.") {
			continue
		}
		got = append(got, k)
		if renamed[v] || byName[v] != nil {
			t.Errorf("%s renamed to %q, a name already taken", k, v)
		}
		renamed[v] = true
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("the block renames %v, the contract's collisions are %v", got, want)
	}
}

func TestUpdateNeedsItsMarkers(t *testing.T) {
	cat := currents.DefaultCatalog()
	if _, err := Update([]byte("# no markers\n"), cat); err == nil {
		t.Fatal("a README without markers was accepted")
	}
	both := begin("event types") + "\nold\n" + end("event types") + "\n" + begin("collision renames") + "\n" + end("collision renames") + "\n"
	out, err := Update([]byte("intro\n"+both+"outro\n"), cat)
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "\nold\n") || !strings.HasPrefix(s, "intro\n") || !strings.HasSuffix(s, "outro\n") || !strings.Contains(s, "| `users.messages.email.Send` | `Email Sent` | yes | yes |") {
		t.Fatalf("sections not rewritten in place:\n%s", s)
	}
	again, _ := Update(out, cat)
	if !bytes.Equal(again, out) {
		t.Fatal("Update is not idempotent")
	}
	twice := begin("event types") + "\n" + end("event types") + "\n"
	if _, err := Update([]byte(both+twice), cat); err == nil {
		t.Fatal("a section given twice was accepted")
	}
}
