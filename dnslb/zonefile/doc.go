// Package zonefile reads the config's zones from their files: whole files
// only (a file being written is waited for, and a zone that changed while
// it was read is not loaded), a digest of each zone and its $INCLUDEs so
// that a reload reuses the zones whose files did not change, and the
// memory a load takes (GOGC for the first load, a soft limit and a
// give-back around each reload of large zones). Parsing is package
// zones'; what is built from the zones (the generation) is package
// state's, and when to reload is package dnslb's.
package zonefile
