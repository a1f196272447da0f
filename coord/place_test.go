package coord

import (
	"fmt"
	"slices"
	"testing"
)

func TestPlace(t *testing.T) {
	nodes := []string{"a", "b", "c", "d", "e"}
	for _, tc := range []struct {
		name  string
		nodes []string
		n     int
		want  int
	}{
		{"primary of five", nodes, 1, 1},
		{"three of five", nodes, 3, 3},
		{"more than there are", nodes[:2], 3, 2},
		{"duplicates count once", []string{"a", "a", "b"}, 3, 2},
		{"none", nil, 1, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for g := range 200 {
				p := Place(g, tc.nodes, tc.n)
				if len(p) != tc.want {
					t.Fatalf("group %d: %v, want %d nodes", g, p, tc.want)
				}
				if len(slices.Compact(slices.Sorted(slices.Values(p)))) != len(p) {
					t.Fatalf("group %d: nodes not distinct: %v", g, p)
				}
				// Deterministic and independent of the input order.
				rev := slices.Clone(tc.nodes)
				slices.Reverse(rev)
				if q := Place(g, rev, tc.n); !slices.Equal(p, q) {
					t.Fatalf("group %d: %v, reversed input %v", g, p, q)
				}
			}
		})
	}
}

// TestPlaceMovesOnlyToTheNewNode: adding a node moves only groups to it,
// about 1/N of them; removing one moves only its groups.
func TestPlaceMovesOnlyToTheNewNode(t *testing.T) {
	const groups = 4096
	for n := 1; n <= 8; n++ {
		var before, after []string
		for i := range n {
			before = append(before, fmt.Sprintf("node-%d", i))
		}
		after = append(slices.Clone(before), "new")
		moved := 0
		for g := range groups {
			from, to := Place(g, before, 1)[0], Place(g, after, 1)[0]
			if from != to {
				if to != "new" {
					t.Fatalf("group %d moved %s → %s, not to the new node", g, from, to)
				}
				moved++
			}
			// Removing the new node again gives the old placement.
			if back := Place(g, after[:n], 1)[0]; back != from {
				t.Fatalf("group %d: %s after removal, was %s", g, back, from)
			}
		}
		want := groups / (n + 1)
		if moved < want*3/4 || moved > want*5/4 {
			t.Fatalf("%d → %d nodes moved %d of %d groups, want about %d", n, n+1, moved, groups, want)
		}
	}
}
