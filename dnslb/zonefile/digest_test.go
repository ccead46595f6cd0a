package zonefile

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestDigestFilePieces: reading a zone file in pieces, digestFile hashes
// exactly its text and finds the $INCLUDEs that includes finds in the
// whole text, also across the ends of pieces and after a line longer
// than a piece.
func TestDigestFilePieces(t *testing.T) {
	var b strings.Builder
	for i := 0; b.Len() < 3*digestPiece; i++ {
		switch {
		case i%997 == 0:
			fmt.Fprintf(&b, "$INCLUDE inc%d.zone\n", i)
		case i == 5000:
			b.WriteString("long TXT \"" + strings.Repeat("x", digestPiece+digestPiece/2) + "\"\n")
		default:
			fmt.Fprintf(&b, "h%d A 192.0.2.%d\n", i, i%256)
		}
	}
	b.WriteString("$include last.zone") // no newline at the end
	data := []byte(b.String())
	path := filepath.Join(t.TempDir(), "example.org.zone")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	var h bytes.Buffer
	incs, err := digestFile(&h, path)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("%s\x00%d\x00", path, len(data)) + string(data)
	if h.String() != want {
		t.Errorf("digestFile wrote %d bytes, want the %d of the name, size and text", h.Len(), len(want))
	}
	if got, want := incs, includes(data); !slices.EqualFunc(got, want, bytes.Equal) || len(want) < 10 {
		t.Errorf("digestFile found %d includes, want the %d includes finds (at least 10)", len(got), len(want))
	}
}
