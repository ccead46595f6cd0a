package state

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The override state file ([health] state_file): the overrides of the
// store, kept across restarts. One writer: changes are
// numbered, and a save returns once a write that began after its change
// has ended, so concurrent changes share writes (a group commit) and
// never race on the file. A write goes to a temporary file of its own in
// the same folder, is synced, renamed over the state file, and the folder
// synced: after a crash the file is the old version or the new one,
// whole. A file that cannot be read at startup is kept aside as
// state.json.corrupt-<UTC time>, and that is shown on the status page,
// in /readyz and in dnslb_state_file_corrupt.

// OverrideStates are the states an override may have ("" clears one, and
// is never written).
var OverrideStates = []string{"drain", "up", "down"}

// OverrideFile is the one writer of the state file, and what startup
// found wrong with it. Its zero value is ready.
type OverrideFile struct {
	mu      sync.Mutex
	cond    sync.Cond // on mu: a write ended
	seq     uint64    // changes numbered so far
	writing bool
	lastSeq uint64 // the last write ended covers changes up to this one
	lastErr error  // and its error
	problem atomic.Pointer[FileProblem]
}

// FileProblem is what was wrong with the state file at startup.
type FileProblem struct {
	File    string
	MovedTo string // where the file as found was kept ("": it could not be)
	Errors  []string
	Time    time.Time
}

// String is p in one line (for /readyz).
func (p *FileProblem) String() string {
	msg := strings.Join(p.Errors, "; ")
	if p.MovedTo != "" {
		msg += " (kept as " + p.MovedTo + ")"
	}
	return msg
}

// Problem is what Load found wrong with the file, or nil.
func (f *OverrideFile) Problem() *FileProblem { return f.problem.Load() }

// Save writes the overrides of st to the state file at path ("": none),
// after every change made before the call.
func (f *OverrideFile) Save(path string, st *Store) error {
	if path == "" {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.cond.L == nil {
		f.cond.L = &f.mu
	}
	f.seq++
	mine := f.seq
	for {
		if !f.writing && f.lastSeq >= mine {
			return f.lastErr
		}
		if !f.writing {
			f.writing = true
			upto := f.seq
			f.mu.Unlock()
			// Read after upto was taken: it holds every change numbered
			// up to there (each is in the store before its number).
			err := writeStateFile(path, st.Overrides())
			f.mu.Lock()
			f.writing, f.lastSeq, f.lastErr = false, upto, err
			f.cond.Broadcast()
			continue
		}
		f.cond.Wait()
	}
}

// writeStateFile replaces the file at path with over, atomically and
// durably.
func writeStateFile(path string, over map[string]string) (err error) {
	data, err := json.MarshalIndent(over, "", "  ")
	if err != nil {
		return err
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, base+".tmp-*")
	if err != nil {
		return fmt.Errorf("save overrides: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
			err = fmt.Errorf("save overrides: %w", err)
		}
	}()
	if _, err = tmp.Write(append(data, '\n')); err != nil {
		return err
	}
	if err = tmp.Chmod(0o644); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readStateFile parses the state file at path: the overrides it holds
// that are valid, and an error for each entry that is not (with its
// line), or for the file when it is not a JSON object of strings. A
// missing file holds no overrides.
func readStateFile(path string) (over map[string]string, entryErrs []string, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	line := func(off int64) int { return 1 + bytes.Count(data[:min(int(off), len(data))], []byte("\n")) }
	bad := func(off int64, format string, args ...any) error {
		return fmt.Errorf("%s:%d: %s", path, line(off), fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	syntax := func(err error) error {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return bad(se.Offset, "%v", se)
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return bad(int64(len(data)), "cut short: want a JSON object of target: state")
		}
		return bad(dec.InputOffset(), "%v", err)
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, nil, syntax(err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, nil, bad(dec.InputOffset(), "want a JSON object of target: state")
	}
	over = make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, syntax(err)
		}
		target, _ := tok.(string)
		at := dec.InputOffset()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, nil, syntax(err)
		}
		st, ok := v.(string)
		switch {
		case !ok:
			entryErrs = append(entryErrs, bad(at, "entry %q: state %s is not a string (want drain, up or down)", target, compactJSON(v)).Error())
		case !slices.Contains(OverrideStates, st):
			entryErrs = append(entryErrs, bad(at, "entry %q: unknown state %q (want drain, up or down)", target, st).Error())
		default:
			over[target] = st
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, syntax(err)
	}
	if dec.More() {
		return nil, nil, bad(dec.InputOffset(), "data after the object")
	}
	return over, entryErrs, nil
}

func compactJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// CheckOverrideFile is what dnslb check says of the state file at path:
// every error, nil when it is valid or absent.
func CheckOverrideFile(path string) error {
	if path == "" {
		return nil
	}
	_, entryErrs, err := readStateFile(path)
	if err != nil {
		return err
	}
	if len(entryErrs) > 0 {
		return errors.New(strings.Join(entryErrs, "\n"))
	}
	return nil
}

// Load applies the state file at path ("": none), if there is one, to st
// at startup. A file that is not entirely valid is kept as it was found
// (path.corrupt-<UTC time>) and reported (the error returned, and
// Problem for the status page, /readyz and the metric); its valid entries
// are applied and written back, so that the next restart keeps them.
// Stale temporary files of a write that was cut short are removed.
func (f *OverrideFile) Load(path string, st *Store) error {
	if path == "" {
		return nil
	}
	if olds, _ := filepath.Glob(globEscape(path) + ".tmp-*"); len(olds) > 0 {
		for _, o := range olds {
			_ = os.Remove(o)
		}
	}
	over, entryErrs, err := readStateFile(path)
	if pe := (*os.PathError)(nil); errors.As(err, &pe) {
		return err // unreadable (permissions, a folder): not corrupt, left alone
	}
	for t, v := range over {
		st.SetOverride(t, v)
	}
	if err == nil && len(entryErrs) == 0 {
		return nil
	}
	p := &FileProblem{File: path, Time: time.Now()}
	if err != nil {
		p.Errors = []string{err.Error()}
	} else {
		p.Errors = entryErrs
	}
	aside := path + ".corrupt-" + p.Time.UTC().Format("20060102T150405Z")
	var kept error
	if err != nil {
		kept = os.Rename(path, aside) // nothing in it can be used
	} else if kept = copyFile(path, aside); kept == nil {
		kept = writeStateFile(path, over) // the valid entries, for the next start
	}
	if kept == nil {
		p.MovedTo = aside
	} else {
		p.Errors = append(p.Errors, "keeping it aside: "+kept.Error())
	}
	f.problem.Store(p)
	msg := strings.Join(p.Errors, "; ")
	if p.MovedTo != "" {
		msg += "; the file as found is kept as " + p.MovedTo
	}
	if err != nil {
		msg += "; no override of it is applied"
	} else {
		msg += "; its other overrides are applied"
	}
	return errors.New(msg)
}

func copyFile(from, to string) error {
	data, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	return os.WriteFile(to, data, 0o644)
}

// globEscape quotes the pattern characters of a path for filepath.Glob.
func globEscape(p string) string {
	var b strings.Builder
	for _, r := range p {
		if strings.ContainsRune(`*?[\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
