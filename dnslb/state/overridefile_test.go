package state

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOverrideFile: what Save writes, Load reads back into another store;
// a file with a bad entry is kept aside, its good entries applied and
// written back, and the bad one reported with its line.
func TestOverrideFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.json")
	a, err := NewStore()
	if err != nil {
		t.Fatal(err)
	}
	var fa OverrideFile
	a.SetOverride("192.0.2.1", "drain")
	a.SetOverride("www.example.org.", "down")
	if err := fa.Save(path, a); err != nil {
		t.Fatalf("Save: %v", err)
	}
	b, _ := NewStore()
	var fb OverrideFile
	if err := fb.Load(path, b); err != nil || fb.Problem() != nil {
		t.Fatalf("Load = %v, problem %v", err, fb.Problem())
	}
	if got := b.Overrides(); len(got) != 2 || got["192.0.2.1"] != "drain" || got["www.example.org."] != "down" {
		t.Errorf("Load read %v", got)
	}

	if err := os.WriteFile(path, []byte("{\n  \"192.0.2.1\": \"drain\",\n  \"192.0.2.2\": \"sideways\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c, _ := NewStore()
	var fc OverrideFile
	err = fc.Load(path, c)
	p := fc.Problem()
	if err == nil || p == nil || len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0], path+":3: entry \"192.0.2.2\": unknown state \"sideways\"") {
		t.Fatalf("Load = %v, problem %+v", err, p)
	}
	if got := c.Overrides(); len(got) != 1 || got["192.0.2.1"] != "drain" {
		t.Errorf("good entries applied: %v", got)
	}
	if _, err := os.Stat(p.MovedTo); err != nil {
		t.Errorf("the file as found is not kept aside: %v", err)
	}
	if err := CheckOverrideFile(path); err != nil {
		t.Errorf("the file written back is not valid: %v", err)
	}
}
