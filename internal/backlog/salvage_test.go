package backlog

import (
	"os"
	"strconv"
	"testing"
)

func salvageInto(t *testing.T, path string) (SalvageReport, []int) {
	t.Helper()
	to := open(t, t.TempDir(), Options{ReadRecords: 100000, ReadBytes: 1 << 30, MaxLeasedRecords: 100000})
	rep, err := Salvage(ctxT(t), path, to)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := to.Stats()
	if st.Records != int64(rep.Copied) {
		t.Fatalf("report %+v, backlog %+v", rep, st)
	}
	var got []int
	if rep.Copied > 0 {
		l, err := to.Read(ctxT(t))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range l.Records {
			i, _ := strconv.Atoi(string(r.Body[:6]))
			if string(r.Meta[0].Value) != strconv.Itoa(i) {
				t.Fatalf("record %d has metadata %q", i, r.Meta[0].Value)
			}
			got = append(got, i)
		}
	}
	return rep, got
}

// inOrder fails unless the salvaged record numbers ascend.
func inOrder(t *testing.T, got []int) {
	t.Helper()
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			t.Fatalf("salvaged out of order: %d after %d", got[i], got[i-1])
		}
	}
}

func TestSalvageHealthyFile(t *testing.T) {
	_, path := filled(t, 500, 300)
	rep, got := salvageInto(t, path)
	inOrder(t, got)
	if rep.Scanned || rep.Copied != 500 || got[0] != 0 || got[499] != 499 {
		t.Fatalf("%+v", rep)
	}
}

func TestSalvageTruncatedFile(t *testing.T) {
	_, path := filled(t, 2000, 500)
	info, _ := os.Stat(path)
	os.Truncate(path, info.Size()/2)
	rep, got := salvageInto(t, path)
	inOrder(t, got)
	if !rep.Scanned || rep.Copied < 500 {
		t.Fatalf("%+v", rep)
	}
	t.Logf("%+v", rep)
}

func TestSalvageScribbledFile(t *testing.T) {
	_, path := filled(t, 2000, 500)
	b, _ := os.ReadFile(path)
	for i := len(b) / 3; i < len(b)/3+3*4096; i++ {
		b[i] ^= 0x5a
	}
	for i := 0; i < 8192; i++ { // both meta pages too
		b[i] ^= 0xff
	}
	os.WriteFile(path, b, 0o600)
	rep, got := salvageInto(t, path)
	inOrder(t, got)
	if !rep.Scanned || rep.Copied < 1500 {
		t.Fatalf("%+v", rep)
	}
	t.Logf("%+v", rep)
}
