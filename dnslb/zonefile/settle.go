package zonefile

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Zone files are loaded whole: an editor or a deploy script that writes a
// zone file in place (not by rename) leaves it half written for a moment,
// and a reload (SIGHUP, the watcher) in that moment would load the records
// written so far, with the new serial. So a changed zone is loaded only
// once its files (the zone and its $INCLUDEs) look the same, size and
// modification time, twice zoneSettle apart, and still so after it
// parsed; meanwhile the old zone keeps serving. A file written too
// slowly to settle within zoneSettleMax fails the reload (the watcher
// tries again when it changes next).
const (
	zoneSettle    = 50 * time.Millisecond
	zoneSettleMax = 2 * time.Second
	// zoneSettled is how old every file's modification time must be to
	// need no second look (longer than the 1 s and 2 s timestamps of
	// some file systems).
	zoneSettled = 2 * time.Second
)

// fileLook is what a look at a file sees.
type fileLook struct {
	size  int64
	mtime time.Time
	err   bool
}

func lookAt(files []string) []fileLook {
	out := make([]fileLook, len(files))
	for i, f := range files {
		fi, err := os.Stat(f)
		if err != nil {
			out[i].err = true
			continue
		}
		out[i] = fileLook{size: fi.Size(), mtime: fi.ModTime()}
	}
	return out
}

// awaitSettled waits until files look the same twice zoneSettle apart
// (at once if each was last changed zoneSettled ago or more), and returns
// that look; an error if they keep changing for zoneSettleMax.
func awaitSettled(zone string, files []string) ([]fileLook, error) {
	prev := lookAt(files)
	old := true
	for _, l := range prev {
		old = old && !l.err && time.Since(l.mtime) >= zoneSettled
	}
	if old {
		return prev, nil
	}
	deadline := time.Now().Add(zoneSettleMax)
	for {
		time.Sleep(zoneSettle)
		cur := lookAt(files)
		if slices.Equal(cur, prev) {
			return cur, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%s: zone file still being written (it changed within %v, again and again for %v): not loaded, the old zone keeps serving", zone, zoneSettle, zoneSettleMax)
		}
		prev = cur
	}
}

// stillSettled reports an error if files changed since look was taken
// (while the zone was parsed).
func stillSettled(zone string, files []string, look []fileLook) error {
	if !slices.Equal(lookAt(files), look) {
		return fmt.Errorf("%s: zone file changed while it was read: not loaded, the old zone keeps serving", zone)
	}
	return nil
}

// includeAtRE is an $INCLUDE directive at the start of its input, to
// digest included files too.
var includeAtRE = regexp.MustCompile(`\A(?i)\$INCLUDE[ \t]+("[^"]*"|\S+)`)

// includes returns the file names of data's $INCLUDE directives: what
// (?mi)^\$INCLUDE[ \t]+("[^"]*"|\S+) finds, which took a second over all
// of a 1,000,000-record zone, twice per load. This tries includeAtRE only
// where a line starts with "$".
func includes(data []byte) [][]byte {
	var out [][]byte
	for i := 0; i < len(data); {
		j := bytes.IndexByte(data[i:], '$')
		if j < 0 {
			break
		}
		i += j
		if i == 0 || data[i-1] == '\n' {
			if m := includeAtRE.FindSubmatch(data[i:]); m != nil {
				out = append(out, m[1])
				i += len(m[0])
				continue
			}
		}
		i++
	}
	return out
}

// zoneDigest hashes a zone file and, recursively, the files it includes.
// It also returns every path read, for the file watcher.
func zoneDigest(path string) ([32]byte, []string, error) {
	h := sha256.New()
	var files []string
	var walk func(p string, depth int) error
	walk = func(p string, depth int) error {
		incs, err := digestFile(h, p)
		if err != nil {
			return err
		}
		files = append(files, p)
		if depth > 7 {
			return nil
		}
		for _, m := range incs {
			inc := strings.Trim(string(m), `"`)
			if !filepath.IsAbs(inc) {
				inc = filepath.Join(filepath.Dir(p), inc)
			}
			_ = walk(inc, depth+1) // a missing include is the zone loader's error to report
		}
		return nil
	}
	err := walk(path, 0)
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum, files, err
}

// digestPiece is how much of a zone file zoneDigest reads at a time: a
// large zone's text is not held whole (it was 27 MB of garbage, twice a
// reload, for a zone of a million records).
const digestPiece = 1 << 20

// digestFile writes path's name, size and text into h, reading it in
// pieces that end at a line's end, and returns the files it includes.
func digestFile(h io.Writer, path string) ([][]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(h, "%s\x00%d\x00", path, fi.Size())
	var incs [][]byte
	buf := make([]byte, 0, digestPiece)
	for {
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		end := len(buf) // what is read so far, up to its last whole line
		if err == nil {
			end = bytes.LastIndexByte(buf, '\n') + 1
		}
		h.Write(buf[:end])
		for _, m := range includes(buf[:end]) {
			incs = append(incs, bytes.Clone(m))
		}
		rest := copy(buf, buf[end:])
		buf = buf[:rest]
		if len(buf) == cap(buf) {
			// A line longer than the buffer: make room for it.
			buf = append(buf, 0)[:rest]
		}
		if err == io.EOF {
			return incs, nil
		}
		if err != nil {
			return nil, err
		}
	}
}
