package coord

import (
	"cmp"
	"encoding/binary"
	"hash/fnv"
	"slices"
)

// Place returns where group g goes among nodes by rendezvous hashing: the
// n nodes (at most len(nodes), duplicates ignored) with the highest
// score(g, node), best first. The first is the primary, the next ones its
// replicas. Adding a node takes from the others exactly the groups it
// scores highest on, about 1/N of them; removing one moves only its own.
func Place(g int, nodes []string, n int) []string {
	type cand struct {
		id    string
		score uint64
	}
	cs := make([]cand, 0, len(nodes))
	for _, id := range nodes {
		cs = append(cs, cand{id, score(g, id)})
	}
	slices.SortFunc(cs, func(a, b cand) int {
		if c := cmp.Compare(b.score, a.score); c != 0 {
			return c
		}
		return cmp.Compare(a.id, b.id)
	})
	cs = slices.CompactFunc(cs, func(a, b cand) bool { return a.id == b.id })
	out := make([]string, 0, min(n, len(cs)))
	for _, c := range cs[:min(n, len(cs))] {
		out = append(out, c.id)
	}
	return out
}

// score is FNV-1a 64 of the group number (8 bytes, big endian) and the
// node id, finished with SplitMix64's mixer so nearby inputs spread.
func score(g int, node string) uint64 {
	h := fnv.New64a()
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(g))
	h.Write(b[:])
	h.Write([]byte(node))
	x := h.Sum64()
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}
