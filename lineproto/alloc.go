package lineproto

import "github.com/soltixdb/soltix/model"

// String interning and the slabs that points' tags and fields are cut from.

// intern returns b as a string, sharing one allocation among equal strings.
// It first tries the string at the same position of the previous point,
// since consecutive lines tend to repeat their keys and often their values.
func (p *parser) intern(b []byte) string {
	i := p.tok
	p.tok++
	if i < len(p.recent) && p.recent[i] == string(b) {
		return p.recent[i]
	}
	s := p.lookup(b)
	if i < len(p.recent) {
		p.recent[i] = s
	} else if i == len(p.recent) && i < maxRecent {
		p.recent = append(p.recent, s)
	}
	return s
}

// lookup returns b as a string from the interning map, adding it if there
// is room.
func (p *parser) lookup(b []byte) string {
	if s, ok := p.strs[string(b)]; ok {
		return s
	}
	s := string(b)
	if p.strs == nil {
		p.strs = make(map[string]string, 64)
	}
	if len(p.strs) < maxInterned {
		p.strs[s] = s
	}
	return s
}

// takeTags moves p.tags into the tag slab and returns them.
func (p *parser) takeTags() model.Tags {
	n := len(p.tags)
	if n == 0 {
		return nil
	}
	if len(p.tagSlab)+n > cap(p.tagSlab) {
		size := min(max(2*cap(p.tagSlab), minSlab), maxSlab)
		p.tagSlab = make([]model.Tag, 0, max(size, n))
	}
	l := len(p.tagSlab)
	p.tagSlab = p.tagSlab[:l+n]
	ts := p.tagSlab[l : l+n : l+n]
	for i := range p.tags {
		ts[i] = p.tags[i].tag
	}
	return ts
}

// takeFields moves p.fields into the field slab and returns them.
func (p *parser) takeFields() []model.Field {
	n := len(p.fields)
	if len(p.fieldSlab)+n > cap(p.fieldSlab) {
		size := max(min(max(2*cap(p.fieldSlab), minSlab), maxSlab), n)
		if p.arena != nil {
			p.fieldSlab = p.arena.take(n, size)
		} else {
			p.fieldSlab = make([]model.Field, 0, size)
		}
	}
	l := len(p.fieldSlab)
	p.fieldSlab = append(p.fieldSlab, p.fields...)
	return p.fieldSlab[l : l+n : l+n]
}

// A FieldArena holds the arrays that the Fields of parsed points are cut
// from, so that a caller done with one batch's points has the next batch's
// fields cut from the same arrays instead of new ones (ParseInto). It keeps
// at most maxArenaFields fields' room. The zero value is ready to use; it is
// not safe for concurrent use.
type FieldArena struct {
	slabs [][]model.Field
	next  int // slabs[:next] are in use
	room  int // fields of room in slabs
}

// maxArenaFields bounds the room a FieldArena keeps (about 12 MiB).
const maxArenaFields = 1 << 18

// Reuse declares that no point parsed with a is used any more: the arrays
// their fields were cut from are emptied, and serve the next parse.
func (a *FieldArena) Reuse() {
	for _, s := range a.slabs[:a.next] {
		clear(s[:cap(s)])
	}
	a.next = 0
}

// take returns an empty array of room for at least n fields: the next
// kept one, or a new one of size that is kept if there is room.
func (a *FieldArena) take(n, size int) []model.Field {
	for a.next < len(a.slabs) {
		s := a.slabs[a.next]
		a.next++
		if cap(s) >= n {
			return s[:0]
		}
	}
	s := make([]model.Field, 0, size)
	if a.room+size <= maxArenaFields {
		a.slabs = append(a.slabs, s)
		a.room += size
		a.next = len(a.slabs)
	}
	return s
}
