package dnslb

import "testing"

// TestCheckStateFileFolder: a state_file in a folder that does not exist
// is a config error, with its line, rather than a failure at the first
// drain (which would then not outlive a restart).
func TestCheckStateFileFolder(t *testing.T) {
	_, _, err := Check("testdata/bad/state_file.toml")
	want := "testdata/bad/state_file.toml:4: health.state_file: folder testdata/bad/no-such-folder of testdata/bad/no-such-folder/overrides.json does not exist"
	if err == nil || err.Error() != want {
		t.Errorf("Check(state_file.toml) = %v, want %s", err, want)
	}
}
