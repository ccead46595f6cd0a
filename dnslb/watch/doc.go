// Package watch reloads when files change: the config, the zone files
// with their $INCLUDEs, the GeoIP files and secrets, and *.zone files that
// appear in or leave zone_dir. fsnotify events on their folders make it
// quick; polling the size and modification time of every file catches
// what events miss (network file systems, a folder made later). Either
// way a reload waits until the files have stayed the same for a short
// settle time, so an editor's half-written file is not loaded; renames
// and in-place writes both work.
//
// It is the only importer of fsnotify. It knows nothing of what the files
// hold or how a reload is done: its owner says which files to watch and
// what to call.
package watch
