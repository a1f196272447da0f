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
		size := max(min(max(2*cap(p.tagSlab), minSlab), maxSlab), n)
		if p.arena != nil {
			p.tagSlab = p.arena.tags.take(n, size)
		} else {
			p.tagSlab = make([]model.Tag, 0, size)
		}
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
			p.fieldSlab = p.arena.fields.take(n, size)
		} else {
			p.fieldSlab = make([]model.Field, 0, size)
		}
	}
	l := len(p.fieldSlab)
	p.fieldSlab = append(p.fieldSlab, p.fields...)
	return p.fieldSlab[l : l+n : l+n]
}

// An Arena holds the arrays that the Tags and Fields of parsed points are
// cut from, so that a caller done with one batch's points has the next
// batch's cut from the same arrays instead of new ones (ParseInto). It
// keeps room for at most maxArenaItems tags and as many fields. The zero
// value is ready to use; it is not safe for concurrent use.
type Arena struct {
	tags   slabs[model.Tag]
	fields slabs[model.Field]
	// points and lines are the room of the last parse's slices of
	// points and their line numbers, for the next parse: fresh ones
	// (72 KiB and 8 KiB for 1,000 lines) were page faults on every
	// write on a machine where a fault costs ~11 us.
	points []model.Point
	lines  []int
}

// maxArenaPoints bounds the points (and line numbers) an Arena keeps
// room for (4.5 MiB).
const maxArenaPoints = 1 << 16

// maxArenaItems bounds the tags, and the fields, an Arena keeps room for
// (about 8 and 12 MiB).
const maxArenaItems = 1 << 18

// Reuse declares that no point parsed with a is used any more, nor its
// Tags or Fields: the arrays they were cut from are emptied, and serve
// the next parse.
func (a *Arena) Reuse() {
	a.tags.reuse()
	a.fields.reuse()
	clear(a.points) // the points of the last parse only: the rest is clear
	a.points, a.lines = a.points[:0], a.lines[:0]
}

// keep holds the room of points and lines for the next parse, when it is
// not too large.
func (a *Arena) keep(points []model.Point, lines []int) {
	if cap(points) <= maxArenaPoints && cap(lines) <= maxArenaPoints {
		a.points, a.lines = points, lines
	}
}

// slabs are the arrays of one kind an Arena keeps.
type slabs[T any] struct {
	kept [][]T
	next int // kept[:next] are in use
	room int // items of room in kept
}

func (s *slabs[T]) reuse() {
	for _, a := range s.kept[:s.next] {
		clear(a[:cap(a)])
	}
	s.next = 0
}

// take returns an empty array of room for at least n items: the next
// kept one, or a new one of size that is kept if there is room.
func (s *slabs[T]) take(n, size int) []T {
	for s.next < len(s.kept) {
		a := s.kept[s.next]
		s.next++
		if cap(a) >= n {
			return a[:0]
		}
	}
	a := make([]T, 0, size)
	if s.room+size <= maxArenaItems {
		s.kept = append(s.kept, a)
		s.room += size
		s.next = len(s.kept)
	}
	return a
}
