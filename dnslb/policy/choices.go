package policy

import (
	"net/netip"
	"sync/atomic"
)

// Records is a Locator that can tell which record of its data a client's
// location comes from without making the Location: geo selection on the
// memo's hits keys its choices on the record (Choices), not on the client.
type Records interface {
	// Record returns the identity of addr's location for the fields
	// need, and the length of its network (Location.Prefix): every
	// address of one identity has the same Location but for Prefix. The
	// lookup counts as a Lookup does. ok is false when the data cannot
	// tell (the caller then uses Lookup).
	Record(addr netip.Addr, need Fields) (id uint64, prefix int, ok bool)
	// RecordLocation returns the Location of identity id, Prefix 0, and
	// whether the data knew it (Lookup's ok). It is not counted.
	RecordLocation(id uint64) (Location, bool)
}

// Choices is one goroutine's memo of geo choices: for a policy, a family
// and a location record (Records), the group the select step chose. The
// memo's hits run selection again for each query; with Choices they skip
// making the client's Location and running the rules on it, and only
// check that the group kept still has an address up. It must be Reset
// with every new generation (the choices depend on its health), and used
// only with Records of that generation's GeoIP data. A fixed table:
// a record's choice overwrites whatever shared its slot.
type Choices struct {
	slots []choiceSlot
}

type choiceSlot struct {
	p   *Policy
	id  uint64
	fam Family
	gi  int32
}

// choiceSlots is the size of one goroutine's table (24 bytes a slot):
// distinct records of the geo names asked for between two generations.
const choiceSlots = 1 << 12

// Reset forgets every choice.
func (c *Choices) Reset() { clear(c.slots) }

// slot is where the choice for (p, fam, id) is, or goes.
func (c *Choices) slot(p *Policy, fam Family, id uint64) *choiceSlot {
	if c.slots == nil {
		c.slots = make([]choiceSlot, choiceSlots)
	}
	h := mix64(p.seq<<32 ^ id<<8 ^ uint64(fam))
	return &c.slots[h&(choiceSlots-1)]
}

// policySeq numbers the policies compiled (Policy.seq).
var policySeq atomic.Uint64
