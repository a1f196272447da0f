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
		size := min(max(2*cap(p.fieldSlab), minSlab), maxSlab)
		p.fieldSlab = make([]model.Field, 0, max(size, n))
	}
	l := len(p.fieldSlab)
	p.fieldSlab = append(p.fieldSlab, p.fields...)
	return p.fieldSlab[l : l+n : l+n]
}
